package server

// Interoperability with crewjam/saml's samlsp as an in-process Go SP on its
// own loopback port: it signs its AuthnRequests (rsa-sha256), reads the
// bridge from its published metadata, and checks the Response with its own
// code (goxmldsig), its request tracker (InResponseTo) and its session.
// crewjam decrypts AES-128-GCM only (not the bridge's AES-256-GCM default),
// so the encrypted case asks for aes128-gcm.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// crewjamSeen is what the protected handler saw in its SAML session.
type crewjamSeen struct {
	PersonIdentifier string
	Subject          string
	Attributes       map[string][]string
}

// crewjamSP is a samlsp middleware on its own loopback port, with its
// protected page and what it saw. It serves once srv is started, when the
// IdP metadata is known.
type crewjamSP struct {
	*samlsp.Middleware
	URL    string
	srv    *httptest.Server
	seen   chan crewjamSeen
	errors chan error // samlsp's private reasons for refusing a response
}

func newCrewjamSP(t *testing.T, binding string) *crewjamSP {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	t.Cleanup(srv.Close)
	u := &url.URL{Scheme: "http", Host: srv.Listener.Addr().String()}
	pair := samlxmltest.NewRSA(t, "crewjam SP")
	m, err := samlsp.New(samlsp.Options{
		URL: *u, Key: pair.Key, Certificate: pair.Cert,
		SignRequest: true, AllowIDPInitiated: false,
	})
	if err != nil {
		t.Fatal(err)
	}
	m.ServiceProvider.SignatureMethod = dsig.RSASHA256SignatureMethod
	m.Binding = binding
	sp := &crewjamSP{Middleware: m, URL: u.String(), srv: srv, seen: make(chan crewjamSeen, 4), errors: make(chan error, 4)}
	m.OnError = func(w http.ResponseWriter, _ *http.Request, err error) {
		var invalid *saml.InvalidResponseError
		if errors.As(err, &invalid) {
			err = invalid.PrivateErr
		}
		sp.errors <- err
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
	}
	mux.Handle("/saml/", m)
	mux.Handle("/private/page", m.RequireAccount(http.HandlerFunc(sp.protected)))
	return sp
}

func (sp *crewjamSP) protected(w http.ResponseWriter, r *http.Request) {
	s := crewjamSeen{PersonIdentifier: samlsp.AttributeFromContext(r.Context(), "PersonIdentifier")}
	if claims, ok := samlsp.SessionFromContext(r.Context()).(samlsp.JWTSessionClaims); ok {
		s.Subject, s.Attributes = claims.Subject, claims.Attributes
	}
	sp.seen <- s
	_ = json.NewEncoder(w).Encode(s)
}

// register is the harness edit adding the SP from its own metadata (whose
// encryption KeyDescriptor is the SP's one certificate); dataEnc, if set,
// makes the bridge encrypt assertions with it.
func (sp *crewjamSP) register(t *testing.T, dataEnc string) func(*config.Config) {
	t.Helper()
	md, err := xml.MarshalIndent(sp.ServiceProvider.Metadata(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	file := writeInteropFile(t, t.TempDir(), "crewjam-sp.xml", md)
	return func(cfg *config.Config) {
		yes := true
		cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{
			ID: sp.ServiceProvider.MetadataURL.String(), Name: "crewjam samlsp", Dialect: "saml2", Metadata: file,
			MinLoA: "low", AttributeNames: "friendly", SignatureAlgorithm: "rsa-sha256", RequireSigned: &yes,
			EncryptAssertions: dataEnc != "", DataEncryption: dataEnc,
		})
	}
}

// refusal returns samlsp's reason for the last refused response.
func (sp *crewjamSP) refusal(t *testing.T) error {
	t.Helper()
	select {
	case err := <-sp.errors:
		return err
	default:
		t.Fatal("samlsp answered 403 without calling OnError")
		return nil
	}
}

func TestCrewjamSAMLSPLogin(t *testing.T) {
	tests := []struct {
		name    string
		binding string // the SP's choice; "" lets samlsp pick (Redirect)
		dataEnc string // encrypt assertions with this, if set
	}{
		{"redirect", "", ""},
		{"post", saml.HTTPPostBinding, ""},
		{"redirect, encrypted aes128-gcm + rsa-oaep-mgf1p", "", "aes128-gcm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newCrewjamSP(t, tt.binding)
			h := startHarness(t, func(cfg *config.Config) {
				autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
				sp.register(t, tt.dataEnc)(cfg)
			})
			idp, err := samlsp.ParseMetadata(fetchOK(t, h.URL+"/saml2/metadata"))
			if err != nil {
				t.Fatalf("crewjam cannot read the bridge's IdP metadata: %v", err)
			}
			sp.ServiceProvider.IDPMetadata = idp
			sp.srv.Start()

			acs := crewjamLogin(t, h, sp.URL+"/private/page", tt.binding)
			if acs.Action != sp.URL+"/saml/acs" {
				t.Fatalf("the bridge answers to %s, want the SP's ACS", acs.Action)
			}
			raw := decodeSAMLField(t, acs, "SAMLResponse")
			if got, want := bytes.Contains(raw, []byte("EncryptedAssertion")), tt.dataEnc != ""; got != want {
				t.Fatalf("EncryptedAssertion present = %v, want %v:\n%s", got, want, raw)
			}
			if tt.dataEnc != "" && !bytes.Contains(raw, []byte(`Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"`)) {
				t.Fatalf("the assertion is not encrypted with aes128-gcm:\n%s", raw)
			}
			crewjamRefusesWithOtherIdPKey(t, sp, idp, acs)

			// Without the request tracker's cookie (another browser) the
			// same response is unsolicited, which samlsp must refuse.
			stranger := browser.New(http.DefaultTransport)
			if page, err := stranger.Post(acs.Action, acs.Fields); err != nil {
				t.Fatal(err)
			} else if page.Status != http.StatusForbidden {
				t.Errorf("samlsp did not refuse the response in another browser: status %d at %s", page.Status, page.URL)
			} else if err := sp.refusal(t); !strings.Contains(err.Error(), "InResponseTo") {
				t.Errorf("samlsp refused the unsolicited response for another reason: %v", err)
			} else {
				t.Logf("another browser, as expected: %v", err)
			}

			page, err := h.Browser.Post(acs.Action, acs.Fields)
			if err != nil {
				t.Fatal(err)
			}
			if page.Status != http.StatusOK || page.URL.Path != "/private/page" {
				select {
				case err := <-sp.errors:
					t.Fatalf("samlsp refused the bridge's response: %v", err)
				default:
				}
				t.Fatalf("the login did not end on the protected page: %s status %d:\n%.3000s", page.URL, page.Status, page.Body)
			}
			var s crewjamSeen
			select {
			case s = <-sp.seen:
			default:
				t.Fatalf("the protected handler never ran:\n%s", page.Body)
			}
			if s.PersonIdentifier != "ES/ES/99999999R" {
				t.Errorf("PersonIdentifier = %q, want ES/ES/99999999R (session %+v)", s.PersonIdentifier, s)
			}
			want := map[string]string{"FirstName": "JUAN", "FamilyName": "ESPAÑOL PRUEBAS", "SelectedIdP": "AFIRMA"}
			for name, value := range want {
				if got := s.Attributes[name]; len(got) != 1 || got[0] != value {
					t.Errorf("attribute %s = %q, want [%q]", name, got, value)
				}
			}
			if s.Subject == "" || strings.Contains(s.Subject, "99999999R") {
				t.Errorf("NameID = %q, want a fresh transient identifier", s.Subject)
			}
			if len(s.Attributes["SessionIndex"]) != 1 || s.Attributes["SessionIndex"][0] == "" {
				t.Errorf("no SessionIndex in the session: %v", s.Attributes)
			}
		})
	}
}

// crewjamRefusesWithOtherIdPKey parses the response with a copy of the SP
// whose IdP metadata names another signing certificate: crewjam's own
// signature check must refuse it, which shows the successful login relied
// on it.
func crewjamRefusesWithOtherIdPKey(t *testing.T, sp *crewjamSP, idp *saml.EntityDescriptor, acs *browser.Form) {
	t.Helper()
	other := *idp
	other.IDPSSODescriptors = append([]saml.IDPSSODescriptor(nil), idp.IDPSSODescriptors...)
	d := &other.IDPSSODescriptors[0]
	cert := base64.StdEncoding.EncodeToString(samlxmltest.NewRSA(t, "not the bridge").Cert.Raw)
	d.KeyDescriptors = []saml.KeyDescriptor{{Use: "signing", KeyInfo: saml.KeyInfo{
		X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: cert}}}}}}
	copySP := sp.ServiceProvider
	copySP.IDPMetadata = &other

	raw, err := base64.StdEncoding.DecodeString(acs.Fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	var resp saml.Response
	if err := xml.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, acs.Action, strings.NewReader(acs.Fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := req.ParseForm(); err != nil {
		t.Fatal(err)
	}
	_, err = copySP.ParseResponse(req, []string{resp.InResponseTo})
	var invalid *saml.InvalidResponseError
	switch {
	case err == nil:
		t.Errorf("crewjam accepted the response with another IdP certificate configured")
	case !errors.As(err, &invalid) || !strings.Contains(invalid.PrivateErr.Error(), "signature"):
		t.Errorf("crewjam refused the response for another reason than its signature: %v", err)
	default:
		t.Logf("another IdP certificate, as expected: %v", invalid.PrivateErr)
	}
}

// crewjamLogin opens a protected page of the SP and follows the login
// (SP → bridge → simulator → bridge) up to the form the bridge posts to
// the SP's ACS, which it returns unposted.
func crewjamLogin(t *testing.T, h *harness, protected, binding string) *browser.Form {
	t.Helper()
	page, err := h.Browser.Get(protected)
	if err != nil {
		t.Fatal(err)
	}
	if binding == saml.HTTPPostBinding {
		// samlsp's own auto-submitting form (a script by element id, which
		// browsertest does not recognise): submit it as a browser would.
		forms := page.Forms()
		if len(forms) != 1 || forms[0].Action != h.URL+"/saml2/sso" || forms[0].Fields.Get("SAMLRequest") == "" {
			t.Fatalf("samlsp did not answer with a POST form to the bridge (status %d):\n%.3000s", page.Status, page.Body)
		}
		if page, err = h.Browser.Post(forms[0].Action, forms[0].Fields); err != nil {
			t.Fatal(err)
		}
	} else if !strings.HasPrefix(page.URL.String(), h.URL+"/saml2/sso?") {
		t.Fatalf("samlsp did not redirect to the bridge: %s", page.URL)
	}
	spACS := strings.TrimSuffix(protected, "/private/page") + "/saml/acs"
	return followInteropLogin(t, h, page, spACS).SPResponse
}
