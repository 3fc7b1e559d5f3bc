package server

// Interoperability with mod_auth_mellon (Debian libapache2-mod-auth-mellon,
// Lasso) behind Debian's Apache 2.4 on a loopback port: the bridge is
// mellon's only IdP, mellon is registered at the bridge from the metadata
// it serves itself, and a browser goes from mellon's protected page through
// the bridge and the simulator back to the page, which shows what mellon
// put in the environment. Then mellon's logout ends the bridge's session.

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"regexp"
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
	eidasLoASubstantial = "http://eidas.europa.eu/LoA/substantial"
	eidasLoAHigh        = "http://eidas.europa.eu/LoA/high"
	nameIDTransient     = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
)

// mellonSP is one Apache with mod_auth_mellon in front of the bridge.
type mellonSP struct {
	apache   *apachetest.Server
	entityID string
	acs      string
	metadata []byte // as mellon serves it at /mellon/metadata
}

// startMellon starts Apache with testdata/realsp/mellon/mellon.conf.tmpl,
// trusting the bridge at bridgeURL through its published IdP metadata and
// accepting the eIDAS levels loas (the lowest first: its minimum).
func startMellon(t *testing.T, bridgeURL string, loas ...string) *mellonSP {
	t.Helper()
	a := apachetest.New(t)
	// A fresh key pair for the SP (signing its requests and logout
	// messages, and decrypting assertions encrypted to it).
	pair := samlxmltest.NewRSA(t, "mod_auth_mellon interop SP (test key)")
	der, err := x509.MarshalPKCS8PrivateKey(pair.Key)
	if err != nil {
		t.Fatal(err)
	}
	a.WriteFile("mellon/sp.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	a.WriteFile("mellon/sp.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair.Cert.Raw}))
	a.WriteFile("mellon/idp-metadata.xml", fetchOK(t, bridgeURL+"/saml2/metadata"))
	cgi, err := os.ReadFile(repoPath("testdata", "realsp", "mellon", "attributes.cgi"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(a.WriteFile("mellon/attributes.cgi", cgi), 0o755); err != nil {
		t.Fatal(err)
	}
	a.WriteFile("htdocs/loggedout.html", []byte("logged out\n"))

	tmpl, err := template.ParseFiles(repoPath("testdata", "realsp", "mellon", "mellon.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var conf bytes.Buffer
	if err := tmpl.Execute(&conf, map[string]any{"Dir": a.Dir, "URL": a.URL, "LoAs": loas}); err != nil {
		t.Fatal(err)
	}
	a.Start(apachetest.Config{
		Modules:   []string{"auth_mellon"},
		Conf:      conf.String(),
		LogLevel:  "info auth_mellon:debug",
		ReadyPath: "/loggedout.html",
	})
	return &mellonSP{
		apache:   a,
		entityID: a.URL + "/mellon/metadata",
		acs:      a.URL + "/mellon/postResponse",
		metadata: fetchOK(t, a.URL+"/mellon/metadata"),
	}
}

// registration is the SP's entry at the bridge, from mellon's own metadata
// (a file: mellon serves it unsigned, and the bridge takes metadata from a
// URL only with a signature it can check).
func (m *mellonSP) registration(mdFile string, encrypt bool, edits ...func(*config.SPConfig)) func(*config.Config) {
	return func(cfg *config.Config) {
		yes := true
		sp := config.SPConfig{
			ID: m.entityID, Name: "mod_auth_mellon", Dialect: "saml2", Metadata: mdFile,
			MinLoA: "low", AttributeNames: "friendly", RequireSigned: &yes, EncryptAssertions: encrypt,
		}
		for _, e := range edits {
			e(&sp)
		}
		cfg.ServiceProviders = append(cfg.ServiceProviders, sp)
	}
}

// mellonLogin is what one visit of a protected page showed.
type mellonLogin struct {
	AuthnRequest []byte            // the request mellon sent (Redirect binding), nil if none
	SigAlg       string            // its SigAlg
	Capture      *interopCapture   // the bridge's messages; Capture.UpstreamRequest nil: no gateway login
	Response     []byte            // the bridge's Response to mellon
	Final        *browser.Page     // the page the browser ended on
	Env          map[string]string // the page's MELLON_* variables (status 200 only)
}

// visit opens a protected page of the SP in b and follows the login
// through the bridge back to the page.
func (m *mellonSP) visit(t *testing.T, b *browser.Browser, bridgeURL, path string) *mellonLogin {
	t.Helper()
	res := &mellonLogin{}
	b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return http.ErrUseLastResponse
		}
		if strings.HasPrefix(req.URL.String(), bridgeURL+"/saml2/sso?") {
			msg, err := samlxml.DecodeRedirect(req.URL.RawQuery, 1<<20)
			if err != nil {
				t.Errorf("mellon's AuthnRequest does not decode: %v", err)
				return nil
			}
			res.AuthnRequest, res.SigAlg = msg.XML, msg.SigAlg
		}
		return nil
	}
	defer func() { b.Client.CheckRedirect = nil }()
	page, err := b.Get(m.apache.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	res.Capture = followInteropLogin(t, &harness{URL: bridgeURL, Browser: b}, page, m.acs)
	res.Response = decodeSAMLField(t, res.Capture.SPResponse, "SAMLResponse")
	res.Final, err = b.Post(res.Capture.SPResponse.Action, res.Capture.SPResponse.Fields)
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.Status == http.StatusOK {
		if err := json.Unmarshal([]byte(res.Final.Body), &res.Env); err != nil {
			t.Fatalf("the protected page %s is not the JSON of mellon's environment: %v\n%.2000s", res.Final.URL, err, res.Final.Body)
		}
	}
	return res
}

var (
	authnClassRefRe = regexp.MustCompile(`<(?:\w+:)?AuthnContextClassRef>([^<]+)<`)
	nameIDFormatRe  = regexp.MustCompile(`<(?:\w+:)?NameID\b[^>]*\bFormat="([^"]+)"`)
	nameIDPolicyRe  = regexp.MustCompile(`<(?:\w+:)?NameIDPolicy\b[^>]*\bFormat="([^"]+)"`)
	comparisonRe    = regexp.MustCompile(`<(?:\w+:)?RequestedAuthnContext\b[^>]*\bComparison="([^"]+)"`)
	statusCodeRe    = regexp.MustCompile(`<(?:\w+:)?StatusCode\b[^>]*\bValue="([^"]+)"`)
)

func allSubmatches(re *regexp.Regexp, doc []byte) []string {
	var out []string
	for _, m := range re.FindAllSubmatch(doc, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

func TestInteropMellon(t *testing.T) {
	apachetest.RequireModule(t, "mod_auth_mellon.so", "libapache2-mod-auth-mellon")
	requirePeer(t, "Debian's python3 (the protected page's CGI)", peerRuns(python3Bin, "-c", ""))

	h := startReloadable(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	m := startMellon(t, h.URL, eidasLoASubstantial, eidasLoAHigh)
	for _, want := range []string{`AuthnRequestsSigned="true"`, `use="encryption"`, m.acs, `entityID="` + m.entityID + `"`} {
		if !bytes.Contains(m.metadata, []byte(want)) {
			t.Fatalf("mellon's metadata lacks %s:\n%s", want, m.metadata)
		}
	}
	mdFile := writeInteropFile(t, t.TempDir(), "mellon-sp.xml", m.metadata)
	// The operator's way: add the SP to the configuration and reload.
	register := func(t *testing.T, edits ...func(*config.Config)) {
		t.Helper()
		if err := h.rl.Reload(h.configWith(t, edits...)); err != nil {
			t.Fatalf("registering mellon at the bridge: %v", err)
		}
	}

	t.Run("login, single logout, login again", func(t *testing.T) {
		register(t, m.registration(mdFile, false))
		b := browser.New(http.DefaultTransport)
		first := m.visit(t, b, h.URL, "/secret/attributes")
		t.Logf("mellon's AuthnRequest:\n%s", first.AuthnRequest)
		checkMellonRequest(t, first, eidasLoASubstantial)
		if first.Capture.UpstreamRequest == nil {
			t.Fatalf("the first login did not go to the gateway")
		}
		// The minimum of mellon's list is what the gateway is asked for.
		if up := decodeSAMLField(t, first.Capture.UpstreamRequest, "SAMLRequest"); !bytes.Contains(up, []byte(">"+eidasLoASubstantial+"<")) {
			t.Errorf("the bridge did not ask the gateway for substantial:\n%s", up)
		}
		if bytes.Contains(first.Response, []byte("EncryptedAssertion")) {
			t.Errorf("the assertion is encrypted, but encrypt_assertions is off:\n%s", first.Response)
		}
		checkMellonPage(t, first, h.URL)

		// mellon's local session alone ends: the bridge's session logs the
		// citizen in again without the gateway (SSO), so what comes after
		// the single logout below proves that the logout ended it.
		if p, err := b.Get(m.apache.URL + "/mellon/invalidate?ReturnTo=" + url.QueryEscape(m.apache.URL+"/loggedout.html")); err != nil || p.Status != http.StatusOK {
			t.Fatalf("mellon's invalidate endpoint: %v %+v", err, p)
		}
		sso := m.visit(t, b, h.URL, "/secret/attributes")
		if sso.Capture.UpstreamRequest != nil {
			t.Errorf("with the bridge's session alive, the login went to the gateway again")
		}
		checkMellonPage(t, sso, h.URL)

		// SP-initiated single logout at mellon's logout endpoint.
		var hops []string
		b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			hops = append(hops, req.URL.String())
			if len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		}
		page, err := b.Get(m.apache.URL + "/mellon/logout?ReturnTo=" + url.QueryEscape(m.apache.URL+"/loggedout.html"))
		if err != nil {
			t.Fatal(err)
		}
		if page, _, err = b.FollowPosts(page, nil); err != nil {
			t.Fatal(err)
		}
		if page.Status != http.StatusOK || page.URL.String() != m.apache.URL+"/loggedout.html" {
			t.Fatalf("mellon's logout ended at %s (status %d), want %s:\n%.2000s", page.URL, page.Status, m.apache.URL+"/loggedout.html", page.Body)
		}
		b.Client.CheckRedirect = nil
		var request, response int
		for _, hop := range hops {
			switch {
			case strings.HasPrefix(hop, h.URL+"/saml2/slo?SAMLRequest=") && strings.Contains(hop, "&Signature="):
				request++
			case strings.HasPrefix(hop, m.apache.URL+"/mellon/logout?SAMLResponse=") && strings.Contains(hop, "&Signature="):
				response++
			}
		}
		if request != 1 || response != 1 {
			t.Errorf("logout went through %d signed LogoutRequests to the bridge and %d signed LogoutResponses to mellon, want 1 and 1: %q",
				request, response, hops)
		}
		again := m.visit(t, b, h.URL, "/secret/attributes")
		if again.Capture.UpstreamRequest == nil {
			t.Errorf("after single logout the bridge logged the citizen in from its old session, without the gateway")
		}
		checkMellonPage(t, again, h.URL)
	})

	t.Run("encrypted assertion", func(t *testing.T) {
		register(t, m.registration(mdFile, true))
		b := browser.New(http.DefaultTransport)
		res := m.visit(t, b, h.URL, "/secret/attributes")
		if !bytes.Contains(res.Response, []byte("EncryptedAssertion")) || bytes.Contains(res.Response, []byte("99999999R")) {
			t.Fatalf("the assertion is not encrypted:\n%s", res.Response)
		}
		checkMellonPage(t, res, h.URL)
	})

	t.Run("SIR attribute profile", func(t *testing.T) {
		register(t, m.registration(mdFile, false, func(sp *config.SPConfig) { sp.AttributeProfile = "sir" }))
		b := browser.New(http.DefaultTransport)
		res := m.visit(t, b, h.URL, "/secret/attributes")
		if res.Final.Status != http.StatusOK {
			t.Fatalf("mellon's protected page answered %d:\n%.2000s", res.Final.Status, res.Final.Body)
		}
		// Through mellon's attribute map (MellonSetEnv of the urn:oid: names).
		want := map[string]string{
			"MELLON_schacPersonalUniqueID": "urn:schac:personalUniqueID:es:DNI:99999999R",
			"MELLON_givenName":             "JUAN",
			"MELLON_sn":                    "ESPAÑOL PRUEBAS",
			"MELLON_FirstSurname":          "ESPAÑOL", // no SIR name: its eIDAS one
			"MELLON_SelectedIdP":           "AFIRMA",
		}
		for name, value := range want {
			if got := res.Env[name]; got != value {
				t.Errorf("%s = %q, want %q (page: %v)", name, got, value, res.Env)
			}
		}
		for _, gone := range []string{"MELLON_PersonIdentifier", "MELLON_FirstName", "MELLON_FamilyName"} {
			if v, ok := res.Env[gone]; ok {
				t.Errorf("%s = %q arrived under its eIDAS name too", gone, v)
			}
		}
	})

	t.Run("requested LoA the login does not reach", func(t *testing.T) {
		// Cl@ve permanente reaches substantial; this SP asks for high.
		high := startMellon(t, h.URL, eidasLoAHigh)
		highMD := writeInteropFile(t, t.TempDir(), "mellon-high-sp.xml", high.metadata)
		register(t, high.registration(highMD, false), autoLogin("SEGSOC", "00000000T", ""))
		b := browser.New(http.DefaultTransport)
		res := high.visit(t, b, h.URL, "/secret/attributes")
		checkMellonRequest(t, res, eidasLoAHigh)
		if up := decodeSAMLField(t, res.Capture.UpstreamRequest, "SAMLRequest"); !bytes.Contains(up, []byte(">"+eidasLoAHigh+"<")) {
			t.Errorf("the bridge did not ask the gateway for high:\n%s", up)
		}
		codes := allSubmatches(statusCodeRe, res.Response)
		if len(codes) == 0 || codes[0] == "urn:oasis:names:tc:SAML:2.0:status:Success" {
			t.Fatalf("the bridge answered %v to a request for high that the login did not reach:\n%s", codes, res.Response)
		}
		t.Logf("the bridge's status: %v", codes)
		if bytes.Contains(res.Response, []byte("Assertion")) {
			t.Errorf("a refusal carries an assertion:\n%s", res.Response)
		}
		if res.Final.Status == http.StatusOK {
			t.Errorf("mellon served the page after a refusal: %v", res.Env)
		}
	})
}

// checkMellonRequest checks mellon's AuthnRequest: signed with RSA-SHA256
// in the Redirect binding, asking for minLoA as its minimum.
func checkMellonRequest(t *testing.T, res *mellonLogin, minLoA string) {
	t.Helper()
	if res.AuthnRequest == nil {
		t.Fatalf("mellon sent no AuthnRequest to the bridge by the Redirect binding")
	}
	if res.SigAlg != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" {
		t.Errorf("mellon's AuthnRequest SigAlg = %q, want rsa-sha256", res.SigAlg)
	}
	refs := allSubmatches(authnClassRefRe, res.AuthnRequest)
	if len(refs) == 0 || refs[0] != minLoA || allSubmatches(comparisonRe, res.AuthnRequest)[0] != "minimum" {
		t.Errorf("mellon's RequestedAuthnContext = %v, want minimum %s first:\n%s", refs, minLoA, res.AuthnRequest)
	}
}

// checkMellonPage checks what mellon's protected page shows after a login
// as 99999999R with DNIe through @firma.
func checkMellonPage(t *testing.T, res *mellonLogin, bridgeURL string) {
	t.Helper()
	if res.Final.Status != http.StatusOK {
		t.Fatalf("mellon's protected page answered %d at %s:\n%.2000s\nthe bridge's response:\n%s",
			res.Final.Status, res.Final.URL, res.Final.Body, res.Response)
	}
	want := map[string]string{
		"MELLON_PersonIdentifier": "ES/ES/99999999R",
		"MELLON_FirstName":        "JUAN",
		"MELLON_FamilyName":       "ESPAÑOL PRUEBAS",
		"MELLON_SelectedIdP":      "AFIRMA",
	}
	for name, value := range want {
		if got := res.Env[name]; got != value {
			t.Errorf("%s = %q, want %q (page: %v)", name, got, value, res.Env)
		}
	}
	if id := res.Env["MELLON_NAME_ID"]; id == "" || strings.Contains(id, "99999999R") {
		t.Errorf("MELLON_NAME_ID = %q, want a transient identifier", id)
	}
	// What mellon received and checked: the Response in MELLON_SAML_RESPONSE.
	dump, err := base64.StdEncoding.DecodeString(res.Env["MELLON_SAML_RESPONSE"])
	if err != nil || !bytes.Equal(dump, res.Response) {
		t.Fatalf("MELLON_SAML_RESPONSE is not the bridge's Response (%v)", err)
	}
	if bytes.Contains(dump, []byte("EncryptedAssertion")) {
		// Mellon decrypted it (the attributes above came from it) and
		// checked its AuthnContextClassRef against its list; what it read
		// is not in the environment.
		return
	}
	if issuer := bridgeURL + "/saml2/metadata"; !bytes.Contains(dump, []byte(">"+issuer+"</saml2:Issuer>")) {
		t.Errorf("the assertion's Issuer is not %s", issuer)
	}
	if refs := allSubmatches(authnClassRefRe, dump); len(refs) != 1 || refs[0] != eidasLoAHigh {
		t.Errorf("mellon received AuthnContextClassRef %v, want [%s]", refs, eidasLoAHigh)
	}
	formats := allSubmatches(nameIDFormatRe, dump)
	asked := allSubmatches(nameIDPolicyRe, res.AuthnRequest)
	wantFormat := nameIDTransient
	if len(asked) > 0 {
		wantFormat = asked[0]
	}
	if len(formats) == 0 || formats[0] != wantFormat {
		t.Errorf("mellon received NameID format %v, want %s (asked: %v)", formats, wantFormat, asked)
	}
}
