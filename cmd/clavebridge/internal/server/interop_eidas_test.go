package server

// Interoperability of the Cl@ve 2 inbound endpoint (/Proxy2/*) with tools we
// did not write: python3-cryptography decrypts the answers' assertions
// (both RSA-OAEP variants, both AES-GCM key sizes), xml-crypto (node)
// verifies the RSA-PSS Response signatures eIDAS nodes require, xmlsec1
// verifies the PKCS#1 v1.5 signatures Cl@ve 2.0 kits get and the published
// metadata, and pysaml2 logs in as an eIDAS-profile SP (SPType,
// RequestedAttributes, signed metadata) and accepts the answer.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// kitLoginResponse logs the citizen in (AFIRMA, DNIe) through a fresh bridge
// as sp, registered with edits, validates the answer as the kit does and
// returns the Response XML as posted.
func kitLoginResponse(t *testing.T, sp *kitSP, edits ...func(*config.SPConfig)) []byte {
	t.Helper()
	h, _ := startKitHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"), sp.register(edits...))
	req, lc := sp.login(t, h, kitOptions{LoA: "substantial"})
	ans := sp.validate(t, h, req, lc.SPResponse)
	if ans.Status != clave2msg.StatusSuccess {
		t.Fatalf("login failed: %s / %s: %s", ans.Status, ans.SubStatus, ans.Message)
	}
	return ans.Response
}

func spAlgorithms(signature, transport, data string) func(*config.SPConfig) {
	return func(c *config.SPConfig) {
		c.SignatureAlgorithm, c.KeyTransport, c.DataEncryption = signature, transport, data
	}
}

// TestPythonCryptographyDecryptsClave2Answers: python3-cryptography (OpenSSL)
// opens the bridge's EncryptedAssertion with the SP's key, for each key
// transport (rsa-oaep-mgf1p: SHA-1/MGF1-SHA-1; xmlenc11#rsa-oaep: SHA-256/
// MGF1-SHA-256, read from the DigestMethod and xenc11:MGF) and AES-GCM size,
// and for the eIDAS-profile defaults.
func TestPythonCryptographyDecryptsClave2Answers(t *testing.T) {
	requirePeer(t, "python3-cryptography", haveCryptography)
	script := repoPath("testdata", "interop", "decrypt_assertion.py")
	tests := []struct {
		name            string
		eidas           bool
		transport, data string
		wantLine        string // the script's --algorithms line
	}{
		{"kit, rsa-oaep-mgf1p + aes128-gcm", false, "rsa-oaep-mgf1p", "aes128-gcm", "data=aes128-gcm transport=rsa-oaep-mgf1p oaep-digest=sha1 mgf1=sha1"},
		{"kit, rsa-oaep-mgf1p + aes256-gcm", false, "rsa-oaep-mgf1p", "aes256-gcm", "data=aes256-gcm transport=rsa-oaep-mgf1p oaep-digest=sha1 mgf1=sha1"},
		{"kit, rsa-oaep + aes128-gcm", false, "rsa-oaep", "aes128-gcm", "data=aes128-gcm transport=rsa-oaep oaep-digest=sha256 mgf1=sha256"},
		{"kit, rsa-oaep + aes256-gcm", false, "rsa-oaep", "aes256-gcm", "data=aes256-gcm transport=rsa-oaep oaep-digest=sha256 mgf1=sha256"},
		{"eIDAS-profile defaults", true, "", "", "data=aes256-gcm transport=rsa-oaep oaep-digest=sha256 mgf1=sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := newKitSP(t)
			if tt.eidas {
				sp = newEIDASProfileSP(t)
			}
			doc := kitLoginResponse(t, sp, spAlgorithms("", tt.transport, tt.data))
			if bytes.Contains(doc, []byte("99999999R")) {
				t.Fatalf("the Response shows the identifier in clear:\n%s", doc)
			}
			file := writeInteropFile(t, t.TempDir(), "answer.xml", doc)
			out, err := runPeer(t, nil, python3Bin, script, "--algorithms", "--key", sp.KeyFile, file)
			if err != nil {
				t.Fatalf("python3-cryptography could not decrypt the assertion: %v", err)
			}
			line, plain, _ := strings.Cut(string(out), "\n")
			if line != tt.wantLine {
				t.Errorf("algorithms read from the XML: %q, want %q", line, tt.wantLine)
			}
			for _, want := range []string{"Assertion", ">ES/ES/99999999R<", nsNatural + "PersonIdentifier", "http://eidas.europa.eu/LoA/high"} {
				if !strings.Contains(plain, want) {
					t.Errorf("decrypted assertion lacks %q:\n%s", want, plain)
				}
			}
			// Another key must not open it.
			if out, err := runPeer(t, nil, python3Bin, script, "--key", repoPath("testdata", "keys", "bridge-enc.key"), file); err == nil {
				t.Errorf("decryption with another key succeeded:\n%s", out)
			}
		})
	}
}

// Node and xml-crypto.
var (
	haveNodeAndNPM = func() bool { return peerRuns("node", "--version")() && peerRuns("npm", "--version")() }
	nodeModules    struct {
		once sync.Once
		err  error
	}
)

// requireXMLCrypto installs testdata/interop's locked node packages (npm ci)
// unless the locked xml-crypto is installed already.
func requireXMLCrypto(t *testing.T) {
	t.Helper()
	requirePeer(t, "node and npm", haveNodeAndNPM)
	dir := repoPath("testdata", "interop")
	nodeModules.once.Do(func() {
		if lockedXMLCryptoInstalled(dir) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "npm", "ci", "--prefix", dir, "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			nodeModules.err = &peerError{err: err, stderr: string(out)}
		}
	})
	if nodeModules.err != nil {
		t.Fatalf("npm ci --prefix testdata/interop: %v", nodeModules.err)
	}
}

// lockedXMLCryptoInstalled reports whether node_modules holds the
// xml-crypto version package-lock.json pins.
func lockedXMLCryptoInstalled(dir string) bool {
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	var installed struct{ Version string }
	data, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil || json.Unmarshal(data, &lock) != nil {
		return false
	}
	data, err = os.ReadFile(filepath.Join(dir, "node_modules", "xml-crypto", "package.json"))
	if err != nil || json.Unmarshal(data, &installed) != nil {
		return false
	}
	want := lock.Packages["node_modules/xml-crypto"].Version
	return want != "" && installed.Version == want
}

// xmlCryptoVerify runs verify_xmlcrypto.js on doc against certFile.
func xmlCryptoVerify(t *testing.T, doc []byte, certFile string, pssSHA512 bool) (string, error) {
	t.Helper()
	file := writeInteropFile(t, t.TempDir(), "message.xml", doc)
	args := []string{repoPath("testdata", "interop", "verify_xmlcrypto.js"), "--cert", certFile}
	if pssSHA512 {
		args = append(args, "--pss-sha512")
	}
	out, err := runPeer(t, nil, "node", append(args, file)...)
	return strings.TrimSpace(string(out)), err
}

// TestXMLCryptoVerifiesEIDASSignatures: xml-crypto checks the Response
// signatures of answers to an eIDAS-profile SP: RSA-PSS SHA-256 with stock
// xml-crypto 6.3.2, RSA-PSS SHA-512 (the eIDAS default, which xml-crypto
// lacks) with the algorithm registered through its extension point, and
// the Cl@ve kit's rsa-sha512 as a control; trusting bridge-sign.crt only.
func TestXMLCryptoVerifiesEIDASSignatures(t *testing.T) {
	requireXMLCrypto(t)
	bridgeCert := repoPath("testdata", "keys", "bridge-sign.crt")
	otherCert := repoPath("testdata", "keys", "simulator-sign.crt")
	tests := []struct {
		name      string
		eidas     bool
		signature string // per-SP signature_algorithm ("" = the profile's default)
		method    string
		pssSHA512 bool
	}{
		{"eIDAS profile, rsa-pss-sha256", true, "rsa-pss-sha256", samlxml.RSAPSSSHA256, false},
		{"eIDAS profile default, rsa-pss-sha512", true, "", samlxml.RSAPSSSHA512, true},
		{"Cl@ve kit default, rsa-sha512", false, "", samlxml.RSASHA512, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := newKitSP(t)
			if tt.eidas {
				sp = newEIDASProfileSP(t)
			}
			doc := kitLoginResponse(t, sp, spAlgorithms(tt.signature, "", ""))
			if !bytes.Contains(doc, []byte(`<ds:SignatureMethod Algorithm="`+tt.method+`"/>`)) {
				t.Fatalf("the Response is not signed with %s:\n%.2000s", tt.method, doc)
			}
			respID, _ := samlMessageIDs(t, doc)
			out, err := xmlCryptoVerify(t, doc, bridgeCert, tt.pssSHA512)
			if err != nil {
				t.Fatalf("xml-crypto rejected the Response: %v", err)
			}
			if want := "ok " + tt.method + " #" + respID; out != want {
				t.Errorf("xml-crypto said %q, want %q", out, want)
			}
			if tt.pssSHA512 {
				_, err := xmlCryptoVerify(t, doc, bridgeCert, false)
				t.Logf("stock xml-crypto 6.3.2 on sha512-rsa-MGF1: %v", err)
			}
			tampered := replaceOnce(t, doc, `Destination="`+sp.ACS+`"`, `Destination="https://evil.example/acs"`)
			if out, err := xmlCryptoVerify(t, tampered, bridgeCert, tt.pssSHA512); err == nil {
				t.Errorf("xml-crypto accepted a tampered Response: %s", out)
			}
			if out, err := xmlCryptoVerify(t, doc, otherCert, tt.pssSHA512); err == nil {
				t.Errorf("xml-crypto accepted the Response against another certificate: %s", out)
			}
		})
	}
}

// TestXmlsec1VerifiesClave2Answers: xmlsec1 checks the PKCS#1 v1.5 Response
// signatures of answers to a Cl@ve 2.0 kit (success and refusal), and the
// signed /Proxy2/metadata.
func TestXmlsec1VerifiesClave2Answers(t *testing.T) {
	requirePeer(t, "xmlsec1", haveXmlsec1)
	bridgeCert := repoPath("testdata", "keys", "bridge-sign.crt")
	otherCert := repoPath("testdata", "keys", "demo-sp.crt")
	for _, tt := range []struct{ name, signature, method string }{
		{"answer, kit default rsa-sha512", "", samlxml.RSASHA512},
		{"answer, rsa-sha256", "rsa-sha256", samlxml.RSASHA256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := newKitSP(t)
			doc := kitLoginResponse(t, sp, spAlgorithms(tt.signature, "", ""))
			if !bytes.Contains(doc, []byte(`<ds:SignatureMethod Algorithm="`+tt.method+`"/>`)) {
				t.Fatalf("the Response is not signed with %s:\n%.2000s", tt.method, doc)
			}
			dir := t.TempDir()
			respID, _ := samlMessageIDs(t, doc)
			file := writeInteropFile(t, dir, "answer.xml", doc)
			expectXmlsecVerify(t, "the Response", file, bridgeCert, respID, true)
			expectXmlsecVerify(t, "the Response against another certificate", file, otherCert, respID, false)
			tampered := replaceOnce(t, doc, `InResponseTo="`, `InResponseTo="x`)
			expectXmlsecVerify(t, "a Response with a changed InResponseTo", writeInteropFile(t, dir, "tampered.xml", tampered), bridgeCert, respID, false)
		})
	}
	t.Run("refusal", func(t *testing.T) {
		t.Parallel()
		sp := newKitSP(t)
		h, _ := startKitHarness(t, autoLogin("SEGSOC", "00000000T", ""), sp.register())
		req, lc := sp.login(t, h, kitOptions{LoA: "high"})
		ans := sp.validate(t, h, req, lc.SPResponse)
		if ans.SubStatus != clave2msg.StatusRequestDenied {
			t.Fatalf("status %s / %s, want RequestDenied", ans.Status, ans.SubStatus)
		}
		dir := t.TempDir()
		respID, _ := samlMessageIDs(t, ans.Response)
		expectXmlsecVerify(t, "the refusal", writeInteropFile(t, dir, "refusal.xml", ans.Response), bridgeCert, respID, true)
		tampered := replaceOnce(t, ans.Response, clave2msg.StatusRequestDenied, clave2msg.StatusNoPassive)
		expectXmlsecVerify(t, "a refusal with a changed status", writeInteropFile(t, dir, "tampered.xml", tampered), bridgeCert, respID, false)
	})
	t.Run("/Proxy2/metadata", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, nil)
		md := fetchOK(t, h.URL+kitMetadataPath)
		entityID := `entityID="` + h.URL + kitMetadataPath + `"`
		if !bytes.Contains(md, []byte(entityID)) || !bytes.Contains(md, []byte(`Location="`+h.URL+kitProxyPath+`"`)) {
			t.Fatalf("metadata does not describe %s with SSO at %s:\n%s", entityID, kitProxyPath, md)
		}
		dir := t.TempDir()
		file := writeInteropFile(t, dir, "proxy2-metadata.xml", md)
		expectXmlsecVerify(t, "/Proxy2/metadata", file, bridgeCert, "", true)
		expectXmlsecVerify(t, "/Proxy2/metadata against another certificate", file, otherCert, "", false)
		tampered := replaceOnce(t, md, entityID, `entityID="https://evil.example/metadata"`)
		expectXmlsecVerify(t, "/Proxy2/metadata with a changed entityID", writeInteropFile(t, dir, "tampered.xml", tampered), bridgeCert, "", false)
	})
}

// eIDAS attribute URIs pysaml2 requests.
var pySAML2EIDASAttributes = []string{
	nsNatural + "PersonIdentifier", nsNatural + "CurrentGivenName", nsNatural + "CurrentFamilyName",
}

// pySAML2EIDAS is pysaml2 configured as an eIDAS-profile SP.
type pySAML2EIDAS struct {
	pySAML2SP
	LoA string
}

func (sp pySAML2EIDAS) params(extra map[string]string) map[string]string {
	p := map[string]string{
		"eidas_sp_type":              "public",
		"eidas_requested_attributes": strings.Join(pySAML2EIDASAttributes, " "),
		"eidas_loa":                  sp.LoA,
		"eidas_name_id_format":       clave2msg.NameIDPersist,
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// signedMetadata is pysaml2's metadata (which has no ID) with an ID, signed
// by the federation key.
func (sp pySAML2EIDAS) signedMetadata(t *testing.T, fed samlxmltest.Pair) []byte {
	t.Helper()
	out, err := sp.call(t, sp.params(nil), "metadata")
	if err != nil {
		t.Fatalf("pysaml2 metadata: %v", err)
	}
	var md struct{ XML string }
	if err := json.Unmarshal(out, &md); err != nil || md.XML == "" {
		t.Fatalf("pysaml2 metadata: bad output %q (%v)", out, err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(md.XML); err != nil {
		t.Fatal(err)
	}
	if doc.Root().SelectAttr("ID") == nil {
		doc.Root().CreateAttr("ID", "_pysaml2-eidas-sp")
	}
	text, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return signedXML(t, text, fed)
}

func (sp pySAML2EIDAS) request(t *testing.T, binding, relayState string) pySAML2Request {
	t.Helper()
	out, err := sp.call(t, sp.params(map[string]string{"relay_state": relayState}), "request", "--binding", binding)
	if err != nil {
		t.Fatalf("pysaml2 request: %v", err)
	}
	var r pySAML2Request
	if err := json.Unmarshal(out, &r); err != nil || r.ID == "" {
		t.Fatalf("pysaml2 request: bad output %q (%v)", out, err)
	}
	return r
}

type pySAML2EIDASResult struct {
	pySAML2Result
	Audience []string `json:"audience"`
}

func (sp pySAML2EIDAS) response(t *testing.T, samlResponse, outstanding string) (*pySAML2EIDASResult, error) {
	t.Helper()
	out, err := sp.call(t, sp.params(map[string]string{"saml_response": samlResponse, "outstanding_id": outstanding}), "response")
	if err != nil {
		return nil, err
	}
	var r pySAML2EIDASResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pysaml2 response: bad output %q (%v)", out, err)
	}
	return &r, nil
}

// TestPySAML2EIDASLogin: pysaml2 as an eIDAS-profile SP through
// /Proxy2/ServiceProvider. Its request carries eidas:SPType and
// eidas:RequestedAttributes, ForceAuthn, IsPassive=false and one minimum LoA;
// its metadata is registered signed. pysaml2 verifies the Response signature
// against /Proxy2/metadata, checks InResponseTo and the Audience (its
// entityID), and decrypts the assertion with its encryption key.
//
// pysaml2 7.0.1 verifies and decrypts through xmlsec1 1.2.37, which has
// neither RSA-PSS nor xmlenc11#rsa-oaep: the SP is registered with
// signature_algorithm rsa-sha256 and key_transport rsa-oaep-mgf1p instead
// of the eIDAS defaults (those are checked by xml-crypto and
// python3-cryptography above).
func TestPySAML2EIDASLogin(t *testing.T) {
	requirePeer(t, "python3-pysaml2 with /usr/bin/xmlsec1", pySAML2AndXmlsec1)
	dir := t.TempDir()
	encCert, encKey := writeInteropPair(t, dir, "pysaml2-eidas-enc", kitKey(t, "pysaml2 eIDAS SP encryption"))
	base := pySAML2EIDAS{
		pySAML2SP: pySAML2SP{
			EntityID: "https://pysaml2-eidas-sp.interop.test/metadata",
			ACSURL:   "https://pysaml2-eidas-sp.interop.test/acs",
			KeyFile:  repoPath("testdata", "keys", "demo-sp.key"), CertFile: repoPath("testdata", "keys", "demo-sp.crt"),
			EncKeyFile: encKey, EncCertFile: encCert,
		},
		LoA: "http://eidas.europa.eu/LoA/substantial",
	}
	fed := kitKey(t, "metadata federation")
	fedCert, _ := writeInteropPair(t, dir, "federation", fed)
	mdFile := writeInteropFile(t, dir, "pysaml2-eidas-sp.xml", base.signedMetadata(t, fed))

	for _, binding := range []string{"post", "redirect"} {
		t.Run(binding, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, func(cfg *config.Config) {
				autoLogin("SEGSOC", "00000000T", "")(cfg)
				cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{
					ID: base.EntityID, Name: "pysaml2 eIDAS SP", Dialect: "eidas", Profile: "eidas",
					Metadata: mdFile, MetadataSigningCert: fedCert, MinLoA: "low", AttributeNames: "friendly",
					// xmlsec1 1.2.37 under pysaml2: no RSA-PSS, no xmlenc11#rsa-oaep.
					SignatureAlgorithm: "rsa-sha256", KeyTransport: "rsa-oaep-mgf1p",
					// pysaml2 7.0.1 refuses AttributeValues whose xsi:type is
					// not an XML Schema type (its issue #544): eidas-natural
					// types become xs:string for this SP.
					StringValueTypes: true,
				})
			})
			sp := base
			sp.IdPMetadata = writeInteropFile(t, t.TempDir(), "proxy2-metadata.xml", fetchOK(t, h.URL+kitMetadataPath))
			relay := "pysaml2-eidas-" + binding
			req := sp.request(t, binding, relay)
			page := sendPySAML2Request(t, h, req, binding)
			if page.Status != http.StatusOK {
				t.Fatalf("the bridge refused pysaml2's %s request (status %d): %q", binding, page.Status, refusals(h))
			}
			lc := followInteropLogin(t, h, page, sp.ACSURL)
			if got := lc.SPResponse.Fields.Get("RelayState"); got != relay {
				t.Errorf("RelayState came back as %q, want %q", got, relay)
			}
			raw := decodeSAMLField(t, lc.SPResponse, "SAMLResponse")
			for _, want := range []string{"EncryptedAssertion", samlxml.RSAOAEPMGF1P, samlxml.AES256GCM, `Algorithm="` + samlxml.RSASHA256 + `"`} {
				if !bytes.Contains(raw, []byte(want)) {
					t.Errorf("the answer lacks %s:\n%.3000s", want, raw)
				}
			}
			samlResponse := lc.SPResponse.Fields.Get("SAMLResponse")
			res, err := sp.response(t, samlResponse, req.ID)
			if err != nil {
				t.Fatalf("pysaml2 refused the bridge's answer: %v\n%.3000s", pySAML2Verdict(err), raw)
			}
			checkPySAML2EIDASResult(t, h, sp, res, req.ID)
			if binding != "post" {
				return
			}
			// pysaml2 refuses the same answer when it is not the one it
			// waits for, when it was changed, and when it is for another SP.
			if _, err := sp.response(t, samlResponse, "id-"+strings.Repeat("0", 32)); err == nil ||
				!strings.Contains(pySAML2Verdict(err), "UnsolicitedResponse") {
				t.Errorf("another outstanding ID: %v, want UnsolicitedResponse", err)
			}
			tampered := base64.StdEncoding.EncodeToString(replaceOnce(t, raw, `Destination="`+sp.ACSURL+`"`, `Destination="`+sp.ACSURL+`/x"`))
			if _, err := sp.response(t, tampered, req.ID); err == nil || !strings.Contains(pySAML2Verdict(err), "SignatureError") {
				t.Errorf("a tampered answer: %v, want a SignatureError", err)
			}
			other := sp
			other.EntityID = "https://other-sp.interop.test/metadata"
			if res, err := other.response(t, samlResponse, req.ID); err == nil {
				t.Errorf("pysaml2 with another entityID accepted an answer for %s: %+v", sp.EntityID, res)
			} else if !strings.Contains(pySAML2Verdict(err), "AudienceRestrictions") {
				t.Errorf("pysaml2 with another entityID refused the answer for another reason than its audience: %v", err)
			}
		})
	}
}

// refusals are the errors the bridge logged for its error pages.
func refusals(h *harness) []string {
	var out []string
	for _, e := range h.Logs.FilterMessage("request refused").All() {
		out = append(out, fmt.Sprint(e.ContextMap()["error"]))
	}
	return out
}

// sendPySAML2Request submits pysaml2's request to /Proxy2/ServiceProvider.
func sendPySAML2Request(t *testing.T, h *harness, req pySAML2Request, binding string) *browser.Page {
	t.Helper()
	var page *browser.Page
	var err error
	switch binding {
	case "redirect":
		if !strings.HasPrefix(req.URL, h.URL+kitProxyPath+"?") {
			t.Fatalf("pysaml2 redirect URL does not go to %s: %s", kitProxyPath, req.URL)
		}
		page, err = h.Browser.Get(req.URL)
	default:
		if req.Action != h.URL+kitProxyPath {
			t.Fatalf("pysaml2 POST form does not go to %s: %+v", kitProxyPath, req)
		}
		xml, _ := base64.StdEncoding.DecodeString(req.Fields["SAMLRequest"])
		for _, want := range []string{"SignatureValue", "SPType>public<", "RequestedAttribute", `ForceAuthn="true"`, `Comparison="minimum"`} {
			if !bytes.Contains(xml, []byte(want)) {
				t.Fatalf("pysaml2's request lacks %s:\n%s", want, xml)
			}
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
	return page
}

func checkPySAML2EIDASResult(t *testing.T, h *harness, sp pySAML2EIDAS, res *pySAML2EIDASResult, reqID string) {
	t.Helper()
	// pysaml2 names eIDAS attributes by its saml_uri map's FriendlyNames.
	want := map[string]string{
		"PersonIdentifier": "ES/ES/00000000T",
		"FirstName":        "MARÍA",
		"FamilyName":       "PERMANENTE GARCÍA",
	}
	for name, value := range want {
		if got := res.AVA[name]; len(got) != 1 || got[0] != value {
			t.Errorf("attribute %s = %q, want [%q] (ava %v)", name, got, value, res.AVA)
		}
	}
	for name := range res.AVA {
		if _, ok := want[name]; !ok {
			t.Errorf("unrequested attribute %s = %q", name, res.AVA[name])
		}
	}
	switch {
	case res.InResponseTo != reqID:
		t.Errorf("InResponseTo = %q, want %q", res.InResponseTo, reqID)
	case res.Issuer != h.URL+kitMetadataPath:
		t.Errorf("Issuer = %q, want %s", res.Issuer, h.URL+kitMetadataPath)
	case len(res.Audience) != 1 || res.Audience[0] != sp.EntityID:
		t.Errorf("Audience = %q, want [%s]", res.Audience, sp.EntityID)
	case len(res.AuthnContext) != 1 || res.AuthnContext[0] != "http://eidas.europa.eu/LoA/substantial":
		t.Errorf("AuthnContextClassRef = %q, want substantial", res.AuthnContext)
	case res.NameID != "ES/ES/00000000T" || res.NameIDFormat != clave2msg.NameIDPersist:
		t.Errorf("NameID = %q (%s), want the PersonIdentifier, persistent", res.NameID, res.NameIDFormat)
	}
}
