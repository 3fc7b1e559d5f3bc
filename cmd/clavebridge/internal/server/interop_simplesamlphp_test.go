package server

// Interoperability with SimpleSAMLphp 1.19 (Debian's simplesamlphp) as a
// SAML 2.0 SP (a saml:SP authentication source) behind Debian's Apache 2.4
// with mod_php on a loopback port. The bridge is its remote IdP (its
// metadata converted to saml20-idp-remote.php by SimpleSAMLphp's own
// parser); the bridge registers the SP from the SP's own signed metadata,
// fetched from the SP's metadata URL. The browser asks a protected page,
// SimpleSAMLphp sends its signed Redirect AuthnRequest with
// RequestedAuthnContext, the simulator logs the citizen in, and the page
// shows what SimpleSAMLphp took from the bridge's Response; then
// SP-initiated single logout ends the bridge's session too.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/apachetest"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	sspRoot   = "/usr/share/simplesamlphp"
	sspPHPMod = "libphp8.2.so" // libapache2-mod-php on bookworm
	phpCLI    = "/usr/bin/php"
	sspAuthID = "default-sp"

	nameIDTransientURI  = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDPersistentURI = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
)

// sspSP is one SimpleSAMLphp SP: its Apache and the values its templates
// (testdata/realsp/simplesamlphp) are filled with.
type sspSP struct {
	apache *apachetest.Server

	Dir                    string // SimpleSAMLphp's files: config, metadata, cert, protected pages, run-time folders
	BaseURL                string // http://127.0.0.1:<port>
	HostPort               string
	SecretSalt             string
	AdminPassword          string
	MapOIDs                bool // authproc.sp core:AttributeMap oid2name
	EntityID               string
	IdPEntityID            string
	RequireEncryption      string // PHP true/false: assertion.encryption
	NameIDFormat           string
	AuthnContextClassRef   string
	AuthnContextComparison string

	MetadataSigningCert string // outside Dir, for the bridge
}

func (sp *sspSP) metadataURL() string {
	return sp.BaseURL + "/simplesamlphp/module.php/saml/sp/metadata.php/" + sspAuthID
}

func (sp *sspSP) acsURL() string {
	return sp.BaseURL + "/simplesamlphp/module.php/saml/sp/saml2-acs.php/" + sspAuthID
}

func sspTemplate(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath("testdata", "realsp", "simplesamlphp", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fill fills a template; the values end up in single-quoted PHP strings
// and Apache directives, so quotes and backslashes are refused.
func (sp *sspSP) fill(t *testing.T, name string) []byte {
	t.Helper()
	for _, v := range []string{sp.Dir, sp.BaseURL, sp.EntityID, sp.IdPEntityID, sp.NameIDFormat, sp.AuthnContextClassRef} {
		if strings.ContainsAny(v, `'"\`) {
			t.Fatalf("simplesamlphp template value %q has a quote or backslash", v)
		}
	}
	tmpl, err := template.New(name).Option("missingkey=error").Parse(string(sspTemplate(t, name)))
	if err != nil {
		t.Fatalf("template %s: %v", name, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, sp); err != nil {
		t.Fatalf("template %s: %v", name, err)
	}
	return b.Bytes()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newSSPSP makes the SP's Apache and files (not yet started): its keys are
// made now, test keys that live only in the test's folders.
func newSSPSP(t *testing.T, sp sspSP) *sspSP {
	t.Helper()
	sp.apache = apachetest.New(t)
	sp.Dir = sp.apache.Path("ssp")
	sp.BaseURL = sp.apache.URL
	sp.HostPort = "127.0.0.1:" + strconv.Itoa(sp.apache.Port)
	sp.SecretSalt, sp.AdminPassword = randomHex(t, 16), randomHex(t, 16)
	sp.EntityID = sp.metadataURL()
	for _, d := range []string{"config", "metadata", "cert", "protected", "logs", "data", "tmp", "sessions"} {
		if err := os.MkdirAll(filepath.Join(sp.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	certDir := filepath.Join(sp.Dir, "cert")
	writeInteropPair(t, certDir, "sp", samlxmltest.NewRSA(t, "SimpleSAMLphp interop SP (test key)"))
	signCert, _ := writeInteropPair(t, certDir, "metadata-signing", samlxmltest.NewRSA(t, "SimpleSAMLphp interop SP metadata (test key)"))
	// The bridge reads the metadata signing certificate from a folder of
	// the test's own, as an operator keeps the one the SP gave them.
	pem, err := os.ReadFile(signCert)
	if err != nil {
		t.Fatal(err)
	}
	sp.MetadataSigningCert = writeInteropFile(t, t.TempDir(), "ssp-metadata-signing.crt", pem)
	for _, f := range []string{"sp.key", "metadata-signing.key"} { // Apache's workers read them
		if err := os.Chmod(filepath.Join(certDir, f), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	pages := map[string]string{"protected.php": "index.php", "logout.php": "logout.php",
		"loggedout.php": "loggedout.php", "local-logout.php": "local-logout.php"}
	for src, dst := range pages {
		sp.apache.WriteFile(filepath.Join("ssp", "protected", dst), sspTemplate(t, src))
	}
	return &sp
}

// start writes the configuration and starts Apache; idp is the bridge's
// entityID (its metadata comes later, see trustBridge).
func (sp *sspSP) start(t *testing.T, idp string) {
	t.Helper()
	sp.IdPEntityID = idp
	sp.apache.WriteFile("ssp/config/config.php", sp.fill(t, "config.php.tmpl"))
	sp.apache.WriteFile("ssp/config/authsources.php", sp.fill(t, "authsources.php.tmpl"))
	sp.apache.Start(apachetest.Config{
		Modules:   []string{"php_module=" + sspPHPMod},
		Conf:      string(sp.fill(t, "apache.conf.tmpl")),
		ReadyPath: "/simplesamlphp/module.php/saml/sp/metadata.php/" + sspAuthID,
	})
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(sp.Dir, "logs", "simplesamlphp.log"))
			t.Logf("simplesamlphp log:\n%s", log)
		}
	})
}

// trustBridge converts the bridge's IdP metadata into
// metadata/saml20-idp-remote.php with SimpleSAMLphp's own parser.
func (sp *sspSP) trustBridge(t *testing.T, idpMetadata []byte) {
	t.Helper()
	// The converter runs with a configuration of its own (logging to
	// stderr), so that it leaves no root-owned file in the SP's folders.
	convDir := t.TempDir()
	writeInteropFile(t, convDir, "config.php", []byte("<?php\n$config = ['logging.handler' => 'stderr', 'logging.level' => 4, "+
		"'secretsalt' => '"+randomHex(t, 16)+"', 'tempdir' => '"+convDir+"'];\n"))
	cmd := exec.Command(phpCLI, repoPath("testdata", "realsp", "simplesamlphp", "convert-idp-metadata.php"))
	cmd.Env = append(os.Environ(), "SIMPLESAMLPHP_CONFIG_DIR="+convDir)
	cmd.Stdin = bytes.NewReader(idpMetadata)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || !bytes.Contains(out, []byte("$metadata[")) {
		t.Fatalf("converting the bridge's metadata for SimpleSAMLphp: %v\n%s\n%s", err, stderr.String(), out)
	}
	sp.apache.WriteFile("ssp/metadata/saml20-idp-remote.php", out)
}

// sspPage is what the protected page shows.
type sspPage struct {
	Attributes   map[string][]string `json:"attributes"`
	NameID       string              `json:"name_id"`
	NameIDFormat string              `json:"name_id_format"`
	AuthnContext string              `json:"authn_context"`
	IdP          string              `json:"idp"`
	SessionIndex string              `json:"session_index"`
}

// sspLogin asks the protected page and follows the login to the bridge's
// answer to the SP's ACS (not yet posted); it returns the AuthnRequest the
// SP sent in the Redirect binding and the login's messages.
func sspLogin(t *testing.T, h *harness, sp *sspSP) (*samlxml.RedirectMessage, *interopCapture) {
	t.Helper()
	var authnRequest *samlxml.RedirectMessage
	client := *h.Browser.Client
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return http.ErrUseLastResponse
		}
		if strings.HasPrefix(req.URL.String(), h.URL+"/saml2/sso?") {
			m, err := samlxml.DecodeRedirect(req.URL.RawQuery, 1<<20)
			if err != nil {
				t.Errorf("SimpleSAMLphp's Redirect AuthnRequest does not decode: %v", err)
			}
			authnRequest = m
		}
		return nil
	}
	b := &browser.Browser{Client: &client}
	page, err := b.Get(sp.BaseURL + "/protected/")
	if err != nil {
		t.Fatal(err)
	}
	if authnRequest == nil {
		t.Fatalf("the protected page did not send the browser to the bridge; it stopped at %s (%d):\n%.2000s", page.URL, page.Status, page.Body)
	}
	return authnRequest, followInteropLogin(t, h, page, sp.acsURL())
}

// sspDeliver posts the bridge's answer to the SP's ACS and reads the page
// SimpleSAMLphp redirects to.
func sspDeliver(t *testing.T, h *harness, lc *interopCapture) *browser.Page {
	t.Helper()
	page, err := h.Browser.Post(lc.SPResponse.Action, lc.SPResponse.Fields)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func sspResult(t *testing.T, page *browser.Page) *sspPage {
	t.Helper()
	var res sspPage
	if page.Status != http.StatusOK || !strings.HasSuffix(page.URL.Path, "/protected/") || json.Unmarshal([]byte(page.Body), &res) != nil {
		t.Fatalf("SimpleSAMLphp did not show the protected page: %s (%d):\n%.3000s", page.URL, page.Status, page.Body)
	}
	return &res
}

func haveSimpleSAMLphp() bool {
	for _, f := range []string{sspRoot + "/lib/_autoload.php", apachetest.ModulesDir + "/" + sspPHPMod, phpCLI} {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return true
}

func TestInteropSimpleSAMLphp(t *testing.T) {
	apachetest.Require(t)
	requirePeer(t, "simplesamlphp with libapache2-mod-php and php-cli", haveSimpleSAMLphp)

	pid := "http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier"
	tests := []struct {
		name       string
		encrypt    bool   // the bridge encrypts the assertion; SimpleSAMLphp refuses plain ones
		nameID     string // NameIDPolicy Format
		attrNames  string // attribute_names at the bridge
		profile    string // attribute_profile at the bridge
		release    []string
		mapOIDs    bool // SimpleSAMLphp maps urn:oid: names with oid2name
		want       map[string]string
		absent     []string
		comparison string
		classRef   string
		wantLoA    string    // the AuthnContextClassRef SimpleSAMLphp received
		citizen    [3]string // IdP, citizen, method of the simulator's auto-login
		refused    string    // the bridge answers with this second-level status
		atOnce     bool      // refused before the gateway is asked
		logout     bool      // SSO reuse, single logout, login anew
	}{
		{
			name: "signed redirect, transient, eIDAS friendly names, SLO", nameID: nameIDTransientURI, attrNames: "friendly",
			comparison: "minimum", classRef: "http://eidas.europa.eu/LoA/substantial", wantLoA: "http://eidas.europa.eu/LoA/high",
			citizen: [3]string{"AFIRMA", "99999999R", "dnie"}, logout: true,
			want: map[string]string{"PersonIdentifier": "ES/ES/99999999R", "FirstName": "JUAN",
				"FamilyName": "ESPAÑOL PRUEBAS", "SelectedIdP": "AFIRMA"},
		},
		{
			name: "encrypted assertion, pairwise persistent, eIDAS URIs", encrypt: true, nameID: nameIDPersistentURI, attrNames: "uri",
			release:    []string{"CurrentGivenName", "CurrentFamilyName"},
			comparison: "minimum", classRef: "http://eidas.europa.eu/LoA/low", wantLoA: "http://eidas.europa.eu/LoA/high",
			citizen: [3]string{"AFIRMA", "99999999R", "dnie"},
			want: map[string]string{"http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName": "JUAN",
				"http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName": "ESPAÑOL PRUEBAS"},
			absent: []string{pid},
		},
		{
			name: "SIR profile through oid2name, exact LoA", encrypt: true, nameID: nameIDTransientURI, profile: "sir", mapOIDs: true,
			release:    []string{"PersonIdentifier", "CurrentGivenName", "CurrentFamilyName"},
			comparison: "exact", classRef: "http://eidas.europa.eu/LoA/substantial", wantLoA: "http://eidas.europa.eu/LoA/substantial",
			citizen: [3]string{"AFIRMA", "99999999R", "dnie"},
			want: map[string]string{"schacPersonalUniqueID": "urn:schac:personalUniqueID:es:DNI:99999999R",
				"givenName": "JUAN", "sn": "ESPAÑOL PRUEBAS"},
			absent: []string{pid, "PersonIdentifier", "urn:oid:1.3.6.1.4.1.25178.1.2.15"},
		},
		{
			name: "minimum LoA the login does not reach", nameID: nameIDTransientURI, attrNames: "friendly",
			comparison: "minimum", classRef: "http://eidas.europa.eu/LoA/high",
			citizen: [3]string{"SEGSOC", "00000000T", ""}, refused: "urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
		},
		{
			name: "better than high", nameID: nameIDTransientURI, attrNames: "friendly",
			comparison: "better", classRef: "http://eidas.europa.eu/LoA/high",
			citizen: [3]string{"AFIRMA", "99999999R", "dnie"}, refused: "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext", atOnce: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := newSSPSP(t, sspSP{
				RequireEncryption: strconv.FormatBool(tt.encrypt), NameIDFormat: tt.nameID, MapOIDs: tt.mapOIDs,
				AuthnContextClassRef: tt.classRef, AuthnContextComparison: tt.comparison,
			})
			h := startHarness(t, func(cfg *config.Config) {
				autoLogin(tt.citizen[0], tt.citizen[1], tt.citizen[2])(cfg)
				// SimpleSAMLphp must serve its metadata before the bridge
				// fetches it while it starts.
				sp.start(t, cfg.Server.BaseURL+"/saml2/metadata")
				yes := true
				cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{
					ID: sp.EntityID, Name: "simplesamlphp", Dialect: "saml2",
					Metadata: sp.metadataURL(), MetadataSigningCert: sp.MetadataSigningCert,
					MetadataAllowHTTP: true, MetadataAllowPrivate: true,
					MinLoA: "low", AttributeNames: tt.attrNames, SignatureAlgorithm: "rsa-sha256",
					RequireSigned: &yes, EncryptAssertions: tt.encrypt,
					AttributeProfile: tt.profile, Attributes: tt.release,
				})
			})
			sp.trustBridge(t, fetchOK(t, h.URL+"/saml2/metadata"))

			req, lc := sspLogin(t, h, sp)
			checkSSPAuthnRequest(t, req, sp, tt.nameID, tt.comparison, tt.classRef)
			if got := lc.UpstreamRequest != nil; got == tt.atOnce {
				t.Fatalf("the first login went to the gateway: %v, want %v", got, !tt.atOnce)
			}
			raw := decodeSAMLField(t, lc.SPResponse, "SAMLResponse")
			if got := bytes.Contains(raw, []byte("EncryptedAssertion")); got != (tt.encrypt && tt.refused == "") {
				t.Fatalf("EncryptedAssertion present = %v, want %v:\n%s", got, tt.encrypt, raw)
			}
			if tt.logout { // unencrypted: SimpleSAMLphp checks the signature
				tampered := *lc.SPResponse
				tampered.Fields = url.Values{"RelayState": {lc.SPResponse.Fields.Get("RelayState")},
					"SAMLResponse": {base64.StdEncoding.EncodeToString(replaceOnce(t, raw, ">JUAN<", ">JUANA<"))}}
				if page := sspDeliver(t, h, &interopCapture{SPResponse: &tampered}); strings.HasSuffix(page.URL.Path, "/protected/") ||
					!strings.Contains(page.Body, "Reference validation failed") {
					t.Fatalf("SimpleSAMLphp did not refuse a tampered response for its signature: %s (%d):\n%.3000s", page.URL, page.Status, page.Body)
				}
			}
			page := sspDeliver(t, h, lc)
			if tt.refused != "" {
				if !bytes.Contains(raw, []byte(`Value="`+tt.refused+`"`)) {
					t.Fatalf("the bridge's answer lacks status %s:\n%s", tt.refused, raw)
				}
				// SimpleSAMLphp shows its error page naming the status.
				if page.Status == http.StatusOK && strings.HasSuffix(page.URL.Path, "/protected/") || !strings.Contains(page.Body, strings.TrimPrefix(tt.refused, "urn:oasis:names:tc:SAML:2.0:status:")) {
					t.Fatalf("SimpleSAMLphp did not refuse the login with %s: %s (%d):\n%.3000s", tt.refused, page.URL, page.Status, page.Body)
				}
				return
			}
			res := sspResult(t, page)
			checkSSPResult(t, h, res, tt.want, tt.absent, tt.wantLoA, tt.nameID)

			if !tt.logout {
				return
			}
			// Control: with only the SP's own session gone, the bridge's
			// SSO session serves the next login without the gateway.
			if _, err := h.Browser.Get(sp.BaseURL + "/protected/local-logout.php"); err != nil {
				t.Fatal(err)
			}
			_, lc = sspLogin(t, h, sp)
			if lc.UpstreamRequest != nil {
				t.Fatalf("the bridge asked the gateway again although its SSO session was alive")
			}
			again := sspResult(t, sspDeliver(t, h, lc))
			checkSSPResult(t, h, again, tt.want, tt.absent, tt.wantLoA, tt.nameID)

			// SP-initiated single logout, through the bridge and back.
			out, err := h.Browser.Get(sp.BaseURL + "/protected/logout.php")
			if err != nil {
				t.Fatal(err)
			}
			out, _, err = h.Browser.FollowPosts(out, nil)
			if err != nil {
				t.Fatal(err)
			}
			var lo struct {
				LoggedOut bool `json:"logged_out"`
				Status    struct {
					Code string `json:"Code"`
				} `json:"status"`
			}
			if !strings.HasSuffix(out.URL.Path, "/protected/loggedout.php") || json.Unmarshal([]byte(out.Body), &lo) != nil {
				t.Fatalf("single logout did not come back to SimpleSAMLphp: %s (%d):\n%.3000s", out.URL, out.Status, out.Body)
			}
			if !lo.LoggedOut || lo.Status.Code != "urn:oasis:names:tc:SAML:2.0:status:Success" {
				t.Fatalf("SimpleSAMLphp's logout outcome: %s", out.Body)
			}
			// The bridge's session is gone: the next login goes to the gateway.
			_, lc = sspLogin(t, h, sp)
			if lc.UpstreamRequest == nil {
				t.Fatalf("after single logout the bridge reused its SSO session")
			}
			fresh := sspResult(t, sspDeliver(t, h, lc))
			checkSSPResult(t, h, fresh, tt.want, tt.absent, tt.wantLoA, tt.nameID)
			if fresh.SessionIndex == res.SessionIndex {
				t.Errorf("the login after logout has the old SessionIndex %q", res.SessionIndex)
			}
		})
	}
}

// checkSSPAuthnRequest: SimpleSAMLphp signs its Redirect AuthnRequest, asks
// for the NameID format and the minimum LoA it is configured with.
func checkSSPAuthnRequest(t *testing.T, m *samlxml.RedirectMessage, sp *sspSP, nameID, comparison, classRef string) {
	t.Helper()
	if len(m.Signature) == 0 || m.SigAlg != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" {
		t.Errorf("the AuthnRequest is not signed with rsa-sha256 (SigAlg %q)", m.SigAlg)
	}
	// SimpleSAMLphp leaves out Comparison="exact", the default.
	if comparison == "exact" {
		if bytes.Contains(m.XML, []byte(`Comparison=`)) && !bytes.Contains(m.XML, []byte(`Comparison="exact"`)) {
			t.Errorf("SimpleSAMLphp's AuthnRequest asks for another comparison than exact:\n%s", m.XML)
		}
	} else if !bytes.Contains(m.XML, []byte(`Comparison="`+comparison+`"`)) {
		t.Errorf("SimpleSAMLphp's AuthnRequest lacks Comparison=%q:\n%s", comparison, m.XML)
	}
	for _, want := range []string{
		`Format="` + nameID + `"`,
		classRef + `</saml:AuthnContextClassRef>`,
		`AssertionConsumerServiceURL="` + sp.acsURL() + `"`,
		`>` + sp.EntityID + `</saml:Issuer>`,
	} {
		if !bytes.Contains(m.XML, []byte(want)) {
			t.Errorf("SimpleSAMLphp's AuthnRequest lacks %s:\n%s", want, m.XML)
		}
	}
}

func checkSSPResult(t *testing.T, h *harness, res *sspPage, want map[string]string, absent []string, loa, nameID string) {
	t.Helper()
	for name, value := range want {
		if got := res.Attributes[name]; len(got) != 1 || got[0] != value {
			t.Errorf("attribute %s = %q, want [%q] (attributes %v)", name, got, value, res.Attributes)
		}
	}
	for _, name := range absent {
		if got, ok := res.Attributes[name]; ok {
			t.Errorf("attribute %s = %q, want none", name, got)
		}
	}
	if res.AuthnContext != loa {
		t.Errorf("AuthnContext = %q, want %s", res.AuthnContext, loa)
	}
	if res.IdP != h.URL+"/saml2/metadata" {
		t.Errorf("IdP = %q, want the bridge's entityID", res.IdP)
	}
	if res.NameIDFormat != nameID || res.NameID == "" || strings.Contains(res.NameID, "99999999R") {
		t.Errorf("NameID = %q (%s), want an opaque one of format %s", res.NameID, res.NameIDFormat, nameID)
	}
	if res.SessionIndex == "" {
		t.Errorf("no SessionIndex")
	}
}
