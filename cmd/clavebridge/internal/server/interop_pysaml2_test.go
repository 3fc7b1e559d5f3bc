package server

// Interoperability with pysaml2 (Debian python3-pysaml2, verifying and
// decrypting through the xmlsec1 command line) as a real SAML2 SP: it signs
// its AuthnRequests, the bridge logs the citizen in through the simulator,
// and pysaml2 checks the answer with its own code.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// pySAML2SP drives testdata/interop/pysaml2_sp.py.
type pySAML2SP struct {
	EntityID    string `json:"entity_id"`
	ACSURL      string `json:"acs_url"`
	KeyFile     string `json:"key_file"`
	CertFile    string `json:"cert_file"`
	EncKeyFile  string `json:"enc_key_file,omitempty"`
	EncCertFile string `json:"enc_cert_file,omitempty"`
	IdPMetadata string `json:"idp_metadata_file,omitempty"`
}

type pySAML2Request struct {
	ID     string            `json:"id"`
	URL    string            `json:"url"`
	Action string            `json:"action"`
	Fields map[string]string `json:"fields"`
}

type pySAML2Result struct {
	AVA          map[string][]string `json:"ava"`
	NameID       string              `json:"name_id"`
	NameIDFormat string              `json:"name_id_format"`
	AuthnContext []string            `json:"authn_context"`
	InResponseTo string              `json:"in_response_to"`
	Issuer       string              `json:"issuer"`
	SessionIndex string              `json:"session_index"`
}

// call runs one subcommand with the SP parameters plus extra on stdin.
func (sp pySAML2SP) call(t *testing.T, extra map[string]string, args ...string) ([]byte, error) {
	t.Helper()
	params := map[string]string{}
	base, _ := json.Marshal(sp)
	if err := json.Unmarshal(base, &params); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		params[k] = v
	}
	in, _ := json.Marshal(params)
	script := repoPath("testdata", "interop", "pysaml2_sp.py")
	return runPeer(t, in, python3Bin, append([]string{script}, args...)...)
}

func (sp pySAML2SP) metadata(t *testing.T) []byte {
	t.Helper()
	out, err := sp.call(t, nil, "metadata")
	if err != nil {
		t.Fatalf("pysaml2 metadata: %v", err)
	}
	var md struct{ XML string }
	if err := json.Unmarshal(out, &md); err != nil || md.XML == "" {
		t.Fatalf("pysaml2 metadata: bad output %q (%v)", out, err)
	}
	return []byte(md.XML)
}

func (sp pySAML2SP) request(t *testing.T, binding, relayState string) pySAML2Request {
	t.Helper()
	out, err := sp.call(t, map[string]string{"relay_state": relayState}, "request", "--binding", binding)
	if err != nil {
		t.Fatalf("pysaml2 request: %v", err)
	}
	var r pySAML2Request
	if err := json.Unmarshal(out, &r); err != nil || r.ID == "" {
		t.Fatalf("pysaml2 request: bad output %q (%v)", out, err)
	}
	return r
}

// response hands a SAMLResponse to pysaml2 with one outstanding request ID.
func (sp pySAML2SP) response(t *testing.T, samlResponse, outstanding string) (*pySAML2Result, error) {
	t.Helper()
	out, err := sp.call(t, map[string]string{"saml_response": samlResponse, "outstanding_id": outstanding}, "response")
	if err != nil {
		return nil, err
	}
	var r pySAML2Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pysaml2 response: bad output %q (%v)", out, err)
	}
	return &r, nil
}

func TestPySAML2Login(t *testing.T) {
	requirePeer(t, "python3-pysaml2 with /usr/bin/xmlsec1", pySAML2AndXmlsec1)
	dir := t.TempDir()
	encCert, encKey := writeInteropPair(t, dir, "pysaml2-enc", samlxmltest.NewRSA(t, "pysaml2 SP encryption"))
	sp := pySAML2SP{
		EntityID: "https://pysaml2-sp.interop.test/metadata",
		ACSURL:   "https://pysaml2-sp.interop.test/acs",
		KeyFile:  repoPath("testdata", "keys", "demo-sp.key"), CertFile: repoPath("testdata", "keys", "demo-sp.crt"),
		EncKeyFile: encKey, EncCertFile: encCert,
	}
	md := sp.metadata(t)
	for _, want := range []string{`AuthnRequestsSigned="true"`, `use="encryption"`, sp.ACSURL} {
		if !bytes.Contains(md, []byte(want)) {
			t.Fatalf("pysaml2 SP metadata lacks %s:\n%s", want, md)
		}
	}
	mdFile := writeInteropFile(t, dir, "pysaml2-sp.xml", md)

	tests := []struct {
		name      string
		binding   string // redirect or post
		dataEnc   string // if set, the bridge encrypts the assertion with it (rsa-oaep-mgf1p key transport)
		negatives bool   // also check refusals: another outstanding ID, a tampered response
	}{
		{name: "redirect", binding: "redirect"},
		{name: "post", binding: "post", negatives: true},
		{name: "post, encrypted aes256-gcm + rsa-oaep-mgf1p", binding: "post", dataEnc: "aes256-gcm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			encrypt := tt.dataEnc != ""
			h := startHarness(t, func(cfg *config.Config) {
				autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
				yes := true
				cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{
					ID: sp.EntityID, Name: "pysaml2", Dialect: "saml2", Metadata: mdFile,
					MinLoA: "low", AttributeNames: "friendly", SignatureAlgorithm: "rsa-sha256",
					RequireSigned: &yes, EncryptAssertions: encrypt, DataEncryption: tt.dataEnc,
				})
			})
			spc := sp
			spc.IdPMetadata = writeInteropFile(t, t.TempDir(), "bridge-idp.xml", fetchOK(t, h.URL+"/saml2/metadata"))
			relay := "pysaml2-" + tt.binding
			req := spc.request(t, tt.binding, relay)

			var page *browser.Page
			var err error
			switch tt.binding {
			case "redirect":
				if !strings.HasPrefix(req.URL, h.URL+"/saml2/sso?") || !strings.Contains(req.URL, "Signature=") {
					t.Fatalf("pysaml2 redirect URL is not a signed request to the bridge: %s", req.URL)
				}
				page, err = h.Browser.Get(req.URL)
			case "post":
				if req.Action != h.URL+"/saml2/sso" || req.Fields["SAMLRequest"] == "" {
					t.Fatalf("pysaml2 POST form does not go to the bridge: %+v", req)
				}
				xml, _ := base64.StdEncoding.DecodeString(req.Fields["SAMLRequest"])
				if !bytes.Contains(xml, []byte("SignatureValue")) {
					t.Fatalf("pysaml2 POST request is not signed:\n%s", xml)
				}
				fields := url.Values{}
				for k, v := range req.Fields {
					fields.Set(k, v)
				}
				page, err = h.Browser.Post(req.Action, fields)
			}
			if err != nil {
				t.Fatal(err)
			}
			lc := followInteropLogin(t, h, page, sp.ACSURL)
			if got := lc.SPResponse.Fields.Get("RelayState"); got != relay {
				t.Errorf("RelayState came back as %q, want %q", got, relay)
			}
			samlResponse := lc.SPResponse.Fields.Get("SAMLResponse")
			raw := decodeSAMLField(t, lc.SPResponse, "SAMLResponse")
			if got := bytes.Contains(raw, []byte("EncryptedAssertion")); got != encrypt {
				t.Fatalf("EncryptedAssertion present = %v, want %v:\n%s", got, encrypt, raw)
			}
			if encrypt && !bytes.Contains(raw, []byte(`Algorithm="http://www.w3.org/2009/xmlenc11#`+tt.dataEnc+`"`)) {
				t.Fatalf("the assertion is not encrypted with %s:\n%s", tt.dataEnc, raw)
			}

			res, err := spc.response(t, samlResponse, req.ID)
			if err != nil {
				t.Fatalf("pysaml2 refused the bridge's response: %v\n%s", err, raw)
			}
			checkPySAML2Result(t, h, res, req.ID)

			if encrypt {
				// Only the SP's encryption key opens the assertion: with
				// another one configured, pysaml2 must fail.
				other := spc
				other.EncKeyFile, other.EncCertFile = spc.KeyFile, spc.CertFile
				res, err := other.response(t, samlResponse, req.ID)
				switch {
				case err == nil:
					t.Errorf("pysaml2 read the encrypted assertion without its encryption key: %+v", res)
				case !strings.Contains(pySAML2Verdict(err), "not decrypted"):
					t.Errorf("pysaml2 refused the response for another reason than decryption: %v", err)
				default:
					t.Logf("without its key, as expected: %s", pySAML2Verdict(err))
				}
			}
			if !tt.negatives {
				return
			}
			// pysaml2 enforces InResponseTo: another outstanding request
			// makes the same response unsolicited.
			if _, err := spc.response(t, samlResponse, "id-"+strings.Repeat("0", 32)); err == nil {
				t.Errorf("pysaml2 accepted the response for a request it never sent")
			} else if !strings.Contains(pySAML2Verdict(err), "UnsolicitedResponse") {
				t.Errorf("pysaml2 refused the unsolicited response for another reason: %v", err)
			} else {
				t.Logf("another outstanding ID, as expected: %s", pySAML2Verdict(err))
			}
			// And it verifies the signatures against the bridge's metadata.
			tampered := base64.StdEncoding.EncodeToString(replaceOnce(t, raw, ">JUAN<", ">JUANA<"))
			if res, err := spc.response(t, tampered, req.ID); err == nil {
				t.Errorf("pysaml2 accepted a tampered response: %+v", res)
			} else if !strings.Contains(pySAML2Verdict(err), "SignatureError") {
				t.Errorf("pysaml2 refused the tampered response for another reason than its signature: %v", err)
			} else {
				t.Logf("tampered, as expected: %s", pySAML2Verdict(err))
			}
		})
	}
}

// pySAML2Verdict is the script's one-line failure reason ("pysaml2 response
// failed: <exception class>: <message>"), without xmlsec1's log lines.
func pySAML2Verdict(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "pysaml2 response failed: "); i >= 0 {
		msg = msg[i:]
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}

func checkPySAML2Result(t *testing.T, h *harness, res *pySAML2Result, reqID string) {
	t.Helper()
	want := map[string]string{
		"PersonIdentifier": "ES/ES/99999999R",
		"FirstName":        "JUAN",
		"FamilyName":       "ESPAÑOL PRUEBAS",
		"FirstSurname":     "ESPAÑOL",
		"SelectedIdP":      "AFIRMA",
	}
	for name, value := range want {
		if got := res.AVA[name]; len(got) != 1 || got[0] != value {
			t.Errorf("attribute %s = %q, want [%q] (ava %v)", name, got, value, res.AVA)
		}
	}
	if res.InResponseTo != reqID {
		t.Errorf("InResponseTo = %q, want %q", res.InResponseTo, reqID)
	}
	if res.Issuer != h.URL+"/saml2/metadata" {
		t.Errorf("Issuer = %q, want the bridge's entityID", res.Issuer)
	}
	if len(res.AuthnContext) != 1 || res.AuthnContext[0] != "http://eidas.europa.eu/LoA/high" {
		t.Errorf("AuthnContextClassRef = %q, want eIDAS LoA high", res.AuthnContext)
	}
	if res.NameIDFormat != "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" || res.NameID == "" ||
		strings.Contains(res.NameID, "99999999R") {
		t.Errorf("NameID = %q (%s), want a fresh transient one", res.NameID, res.NameIDFormat)
	}
	if res.SessionIndex == "" {
		t.Errorf("no SessionIndex in the AuthnStatement")
	}
}
