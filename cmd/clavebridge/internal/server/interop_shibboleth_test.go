package server

// Interoperability with the Shibboleth SP 3 (Debian libapache2-mod-shib and
// shibboleth-sp-utils): mod_shib in Debian's Apache on a loopback port and
// shibd beside it, both children of the test. The SP fetches the bridge's
// IdP metadata by URL and checks its signature against the bridge's
// metadata signing certificate, as a federation member does; the bridge
// registers the SP from the SP's own signed metadata (/Shibboleth.sso/Metadata),
// under the explicit allowance a loopback http URL needs. A browser asks
// Apache for a protected page and ends on it with the attributes mod_shib
// mapped through Debian's stock attribute-map.xml (its LDAP and SCHAC
// blocks uncommented, as the members of SIR, the Spanish research and
// education federation, run it); then SP-initiated single logout ends the
// bridge's session too.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/apachetest"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	shibdBin         = "/usr/sbin/shibd"
	debianAttrMap    = "/etc/shibboleth/attribute-map.xml"
	shibSPEntityID   = "https://shibboleth-sp.interop.test/shibboleth"
	nameIDPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
)

// shibbolethSP is one Shibboleth SP: its Apache and its shibd.
type shibbolethSP struct {
	Apache   *apachetest.Server
	Dir      string // the SP's folder: configuration, keys, socket, logs
	SignCert string // its signing certificate (it signs its metadata with it)
}

// shibTemplateData fills the templates of testdata/realsp/shibboleth.
type shibTemplateData struct {
	Dir, Socket, EntityID           string
	IdPEntityID, IdPMetadataURL     string
	IdPSigningCert, LoA, Comparison string
}

// newShibbolethSP reserves the SP's Apache port and writes its keys; the
// SP starts with start, once the bridge serves.
func newShibbolethSP(t *testing.T) *shibbolethSP {
	t.Helper()
	requirePeer(t, "Shibboleth SP 3 (Debian shibboleth-sp-utils: "+shibdBin+")", func() bool {
		_, err := os.Stat(shibdBin)
		return err == nil
	})
	apachetest.RequireModule(t, "mod_shib.so", "libapache2-mod-shib")
	a := apachetest.New(t)
	sp := &shibbolethSP{Apache: a, Dir: a.Path("shibboleth")}
	// TEST KEYS, made for this test.
	sp.SignCert = sp.writePair(t, "sp-signing", samlxmltest.NewRSA(t, "Shibboleth SP interop signing (test key)"))
	sp.writePair(t, "sp-encrypt", samlxmltest.NewRSA(t, "Shibboleth SP interop encryption (test key)"))
	return sp
}

func (sp *shibbolethSP) writePair(t *testing.T, name string, p samlxmltest.Pair) (certFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = sp.Apache.WriteFile("shibboleth/"+name+"-cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw}))
	sp.Apache.WriteFile("shibboleth/"+name+"-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return certFile
}

// MetadataURL is where the SP serves its (signed) metadata.
func (sp *shibbolethSP) MetadataURL() string { return sp.Apache.URL + "/Shibboleth.sso/Metadata" }

// start writes the SP's configuration for the bridge at bridgeURL, asking
// for loa (with comparison: minimum, better…), and starts shibd, then
// Apache with mod_shib.
func (sp *shibbolethSP) start(t *testing.T, bridgeURL, loa, comparison string) {
	t.Helper()
	data := shibTemplateData{
		Dir: sp.Dir, Socket: filepath.Join(sp.Dir, "shibd.sock"), EntityID: shibSPEntityID,
		IdPEntityID: bridgeURL + "/saml2/metadata", IdPMetadataURL: bridgeURL + "/saml2/metadata",
		IdPSigningCert: repoPath("testdata", "keys", "bridge-sign.crt"), LoA: loa, Comparison: comparison,
	}
	for _, name := range []string{"shibboleth2.xml", "shibd.logger", "native.logger", "apache.conf"} {
		sp.Apache.WriteFile(filepath.Join("shibboleth", name), fillTemplate(t, repoPath("testdata", "realsp", "shibboleth", name), data))
	}
	sp.Apache.WriteFile("shibboleth/attribute-map.xml", sirAttributeMap(t))
	cgi := sp.Apache.WriteFile("shibboleth/cgi/attributes", readFile(t, repoPath("testdata", "realsp", "shibboleth", "attributes.cgi")))
	if err := os.Chmod(cgi, 0o755); err != nil {
		t.Fatal(err)
	}
	sp.Apache.WriteFile("htdocs/loggedout.html", []byte("<!DOCTYPE html><title>Logged out</title><p>Logged out.</p>\n"))
	for _, log := range []string{"shibd.log", "native.log"} {
		sp.Apache.WriteFile(filepath.Join("shibboleth", "logs", log), nil)
	}

	sp.startShibd(t, data.Socket)
	sp.Apache.Start(apachetest.Config{
		Modules:   []string{"mod_shib=mod_shib.so"},
		Conf:      string(readFile(t, filepath.Join(sp.Dir, "apache.conf"))),
		ReadyPath: "/Shibboleth.sso/Status",
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shibd log:\n%s", readFile(t, filepath.Join(sp.Dir, "logs", "shibd.log")))
			t.Logf("mod_shib log:\n%s", readFile(t, filepath.Join(sp.Dir, "logs", "native.log")))
		}
	})
}

// startShibd runs shibd in the foreground as a child of the test, with the
// same shibboleth2.xml as mod_shib, and waits for its socket.
func (sp *shibbolethSP) startShibd(t *testing.T, socket string) {
	t.Helper()
	cmd := exec.Command(shibdBin, "-F", "-f", "-c", filepath.Join(sp.Dir, "shibboleth2.xml"),
		"-p", filepath.Join(sp.Dir, "shibd.pid"), "-w", "30")
	cmd.Dir = sp.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting shibd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("shibd output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fi, err := os.Stat(socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("shibd exited before listening: %v\n%s\n%s", err, out.String(), readFile(t, filepath.Join(sp.Dir, "logs", "shibd.log")))
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("shibd did not listen on %s within 30s:\n%s", socket, out.String())
		}
	}
}

func fillTemplate(t *testing.T, path string, data any) []byte {
	t.Helper()
	tmpl, err := template.New(filepath.Base(path)).Option("missingkey=error").ParseFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b.Bytes()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sirAttributeMap is Debian's stock attribute-map.xml with its LDAP and
// SCHAC blocks uncommented, as SIR members run it: nothing added for the
// bridge.
func sirAttributeMap(t *testing.T) []byte {
	t.Helper()
	text := string(readFile(t, debianAttrMap))
	for _, heading := range []string{"<!-- Older LDAP-defined attributes", "<!-- SCHAC attributes"} {
		i := strings.Index(text, heading)
		if i < 0 {
			t.Fatalf("%s has no block %q: not Debian's stock map", debianAttrMap, heading)
		}
		end := i + strings.Index(text[i:], "-->") + len("-->") // the heading's own comment
		open := strings.Index(text[end:], "<!--")
		if open < 0 {
			t.Fatalf("%s: no commented block after %q", debianAttrMap, heading)
		}
		open += end
		closing := strings.Index(text[open:], "-->")
		if closing < 0 {
			t.Fatalf("%s: unterminated block after %q", debianAttrMap, heading)
		}
		closing += open
		text = text[:open] + text[open+len("<!--"):closing] + text[closing+len("-->"):]
	}
	return []byte(text)
}

// shibEnv reads the protected page's JSON.
func shibEnv(t *testing.T, page *browser.Page) map[string]string {
	t.Helper()
	if page.Status != http.StatusOK || page.URL.Path != "/secure/" {
		t.Fatalf("did not reach the protected page: %s (status %d)\n%.3000s", page.URL, page.Status, page.Body)
	}
	env := map[string]string{}
	if err := json.Unmarshal([]byte(page.Body), &env); err != nil {
		t.Fatalf("protected page is not JSON: %v\n%.2000s", err, page.Body)
	}
	return env
}

// shibRequest decodes the AuthnRequest mod_shib sent (Redirect binding) on
// the way to the bridge.
func shibRequest(t *testing.T, h *harness, page *browser.Page) *samlxml.RedirectMessage {
	t.Helper()
	if !strings.HasPrefix(page.URL.String(), h.URL+"/saml2/sso?") {
		t.Fatalf("the protected page did not send the browser to the bridge's SSO (Redirect): %s", page.URL)
	}
	msg, err := samlxml.DecodeRedirect(page.URL.RawQuery, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatalf("mod_shib's AuthnRequest: %v", err)
	}
	return msg
}

const (
	loaSubstantial = "http://eidas.europa.eu/LoA/substantial"
	loaHigh        = "http://eidas.europa.eu/LoA/high"
)

func TestInteropShibbolethSP(t *testing.T) {
	tests := []struct {
		name       string
		encrypt    bool
		loa        string // what the SP asks for, as a minimum
		citizen    string
		idp        string
		method     string
		comparison string // RequestedAuthnContext's (default minimum)
		refusal    string // the status the bridge answers instead of an assertion
		wantLoA    string
		wantGiven  string
		wantSN     string
	}{
		{name: "signed assertion", loa: loaSubstantial, idp: "AFIRMA", citizen: "99999999R", method: "dnie",
			wantLoA: loaHigh, wantGiven: "JUAN", wantSN: "ESPAÑOL PRUEBAS"},
		{name: "encrypted assertion", encrypt: true, loa: loaSubstantial, idp: "SEGSOC", citizen: "00000000T",
			wantLoA: loaSubstantial},
		// The gateway cannot reach high with Cl@ve permanente: its refusal
		// reaches the SP.
		{name: "level the gateway cannot reach", loa: loaHigh, idp: "SEGSOC", citizen: "00000000T",
			refusal: "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"},
		// Nothing is better than high: the bridge refuses at once.
		{name: "level nobody can meet", loa: loaHigh, comparison: "better", idp: "AFIRMA", citizen: "99999999R", method: "dnie",
			refusal: "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newShibbolethSP(t)
			h := startHarness(t, func(cfg *config.Config) {
				autoLogin(tt.idp, tt.citizen, tt.method)(cfg)
				cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{
					ID: shibSPEntityID, Name: "Shibboleth SP", Dialect: "saml2",
					// Registered as an operator would: from the SP's own
					// signed metadata, fetched from its URL, with the
					// explicit allowance a loopback http URL needs.
					Metadata: sp.MetadataURL(), MetadataSigningCert: sp.SignCert,
					MetadataAllowHTTP: true, MetadataAllowPrivate: true,
					MinLoA: "low", SignatureAlgorithm: "rsa-sha256",
					AttributeProfile: "sir", EncryptAssertions: tt.encrypt,
				})
			})
			// The bridge started before the SP could serve its metadata: it
			// refuses the SP until a refresh gets it.
			if _, err := h.Server.Registry.Lookup("saml2", shibSPEntityID); err == nil {
				t.Fatalf("the SP was registered before its metadata could be fetched")
			}
			comparison := tt.comparison
			if comparison == "" {
				comparison = "minimum"
			}
			sp.start(t, h.URL, tt.loa, comparison)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			h.Server.RefreshMetadata(ctx)
			reg, err := h.Server.Registry.Lookup("saml2", shibSPEntityID)
			if err != nil {
				for _, e := range h.Logs.FilterMessage("SP metadata").All() {
					t.Logf("bridge: %s %v", e.Message, e.ContextMap())
				}
				t.Fatalf("the SP is not registered from its metadata URL: %v", err)
			}
			if len(reg.SigningCerts) != 1 || !reg.SigningCerts[0].Equal(readCert(t, sp.SignCert)) || reg.EncryptionCert == nil ||
				!reg.RequireSignedRequests {
				t.Fatalf("the registration does not take the SP's keys and AuthnRequestsSigned from its metadata: %+v", reg)
			}

			// The protected page: mod_shib asks the bridge (Redirect,
			// signed) for a persistent NameID and a minimum level.
			page, err := h.Browser.Get(sp.Apache.URL + "/secure/")
			if err != nil {
				t.Fatal(err)
			}
			req := shibRequest(t, h, page)
			for _, want := range []string{
				`Format="` + nameIDPersistent + `"`, `Comparison="` + comparison + `"`, ">" + tt.loa + "<",
				`AssertionConsumerServiceURL="` + sp.Apache.URL + `/Shibboleth.sso/SAML2/POST"`,
			} {
				if !bytes.Contains(req.XML, []byte(want)) {
					t.Errorf("mod_shib's AuthnRequest lacks %s:\n%s", want, req.XML)
				}
			}
			if req.SigAlg != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" || len(req.Signature) == 0 {
				t.Errorf("mod_shib's AuthnRequest is not signed with rsa-sha256 (SigAlg %q)", req.SigAlg)
			}
			lc := followInteropLogin(t, h, page, sp.Apache.URL+"/Shibboleth.sso/SAML2/POST")
			raw := decodeSAMLField(t, lc.SPResponse, "SAMLResponse")
			last, err := h.Browser.Post(lc.SPResponse.Action, lc.SPResponse.Fields)
			if err != nil {
				t.Fatal(err)
			}
			if tt.refusal != "" {
				if !bytes.Contains(raw, []byte(`<saml2p:StatusCode Value="`+tt.refusal+`"/>`)) || bytes.Contains(raw, []byte("Assertion")) {
					t.Fatalf("the bridge's answer is not a %s failure:\n%s", tt.refusal, raw)
				}
				if got := lc.UpstreamRequest != nil; got != strings.HasSuffix(tt.refusal, "RequestDenied") {
					t.Errorf("the bridge asked the gateway = %v", got)
				}
				// mod_shib reads the status and makes no session.
				if last.URL.Path == "/secure/" && last.Status == http.StatusOK {
					t.Fatalf("mod_shib opened the protected page after a refusal:\n%.2000s", last.Body)
				}
				// Its error page (sessionError.html) shows the IdP's status.
				if body := html.UnescapeString(last.Body); !strings.Contains(body, "Sub-Status:</strong> "+tt.refusal) {
					t.Errorf("mod_shib's error page does not name the status (%s, %d):\n%.3000s", last.URL, last.Status, last.Body)
				}
				return
			}
			if got := bytes.Contains(raw, []byte("EncryptedAssertion")); got != tt.encrypt {
				t.Fatalf("EncryptedAssertion present = %v, want %v", got, tt.encrypt)
			}
			env := shibEnv(t, last)
			checkShibEnv(t, h, env, tt.citizen, tt.wantLoA, tt.wantGiven, tt.wantSN)
			assertNoPersonalData(t, h.Logs, tt.citizen, "JUAN", "PRUEBAS")

			// Single logout started at the SP ends the bridge's session too.
			page, err = h.Browser.Get(sp.Apache.URL + "/Shibboleth.sso/Logout?return=" +
				url.QueryEscape(sp.Apache.URL+"/loggedout.html"))
			if err != nil {
				t.Fatal(err)
			}
			// mod_shib sends its signed LogoutRequest (Redirect) for the
			// persistent NameID and session it holds; the bridge ends its
			// session (and the gateway's) and answers mod_shib.
			if !strings.HasPrefix(page.URL.String(), h.URL+"/saml2/slo?") {
				t.Fatalf("mod_shib's logout did not go to the bridge's SingleLogoutService: %s", page.URL)
			}
			logout, err := samlxml.DecodeRedirect(page.URL.RawQuery, samlxml.DefaultMaxMessageBytes)
			if err != nil {
				t.Fatalf("mod_shib's LogoutRequest: %v", err)
			}
			if !bytes.Contains(logout.XML, []byte("LogoutRequest")) || !bytes.Contains(logout.XML, []byte(`Format="`+nameIDPersistent+`"`)) ||
				!bytes.Contains(logout.XML, []byte("SessionIndex")) || len(logout.Signature) == 0 {
				t.Fatalf("mod_shib's LogoutRequest is not a signed one for its persistent NameID and session (SigAlg %q):\n%s", logout.SigAlg, logout.XML)
			}
			if page, _, err = h.Browser.FollowPosts(page, nil); err != nil {
				t.Fatal(err)
			}
			if page.URL.String() != sp.Apache.URL+"/loggedout.html" || page.Status != http.StatusOK {
				t.Fatalf("single logout did not come back to the SP's return page: %s (status %d)\n%.3000s", page.URL, page.Status, page.Body)
			}
			// The next protected page needs a new login: mod_shib has no
			// session, and the bridge asks the gateway anew.
			page, err = h.Browser.Get(sp.Apache.URL + "/secure/")
			if err != nil {
				t.Fatal(err)
			}
			shibRequest(t, h, page)
			lc = followInteropLogin(t, h, page, sp.Apache.URL+"/Shibboleth.sso/SAML2/POST")
			if lc.UpstreamRequest == nil {
				t.Fatalf("after single logout the bridge answered without asking the gateway (its session outlived the logout)")
			}
		})
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkShibEnv checks what mod_shib gave the application: the attributes
// under the ids of the SIR-style attribute map, the level, the IdP and the
// persistent NameID. CGI names the variables with "_" for "-".
func checkShibEnv(t *testing.T, h *harness, env map[string]string, dni, loa, given, sn string) {
	t.Helper()
	idp := h.URL + "/saml2/metadata"
	want := map[string]string{
		"schacPersonalUniqueID":   "urn:schac:personalUniqueID:es:DNI:" + dni,
		"Shib_AuthnContext_Class": loa,
		"Shib_Identity_Provider":  idp,
		"Shib_Application_ID":     "default",
	}
	if given != "" {
		want["givenName"], want["sn"] = given, sn
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if v, ok := env["mail"]; ok {
		t.Errorf("mail = %q, but the simulator's citizens have none", v)
	}
	// attribute-map.xml maps the persistent NameID format only, to
	// persistent-id "<IdP>!<SP>!<value>": its presence is the format.
	pid := strings.Split(env["persistent_id"], "!")
	if len(pid) != 3 || pid[0] != idp || pid[1] != shibSPEntityID || pid[2] == "" {
		t.Errorf("persistent_id = %q, want %s!%s!<NameID>", env["persistent_id"], idp, shibSPEntityID)
	}
	if env["REMOTE_USER"] != env["persistent_id"] {
		t.Errorf("REMOTE_USER = %q, want the persistent NameID", env["REMOTE_USER"])
	}
}
