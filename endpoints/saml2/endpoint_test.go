package saml2

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	base     = "https://bridge.example"
	spID     = "https://sp.example/metadata"
	spACS    = "https://sp.example/acs"
	spACS2   = "https://sp.example/acs2"
	gateway  = "https://gateway.example/Proxy2/ServiceProvider"
	ssoURL   = base + "/saml2/sso"
	entityID = base + "/saml2/metadata"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

type fixture struct {
	web   *web.Server
	ep    *Endpoint
	up    *bridgetest.Upstream
	store *store.Memory
	sp    samlxmltest.Pair
	idp   samlxmltest.Pair
	spReg *bridge.ServiceProvider
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{up: &bridgetest.Upstream{URL: gateway}, sp: samlxmltest.Committed(t, "demo-sp"), idp: samlxmltest.Committed(t, "bridge-sign")}
	now := func() time.Time { return t0 }
	f.store = store.NewMemory(now, 0)
	f.spReg = &bridge.ServiceProvider{
		ID: spID, Dialect: DialectName, SigningCerts: []*x509.Certificate{f.sp.Cert}, EncryptionCert: f.sp.Cert,
		ACS:                   []bridge.Endpoint{{URL: spACS, Index: 0}, {URL: spACS2, Index: 3}},
		Policy:                bridge.Policy{MinLoA: translate.LoALow},
		RequireSignedRequests: true, SignatureAlgorithm: samlxml.RSASHA256,
		KeyTransport: samlxml.RSAOAEPMGF1P, DataEncryption: samlxml.AES256GCM, AttributeNames: "friendly",
	}
	reg := bridgetest.Registry{DialectName + " " + spID: f.spReg}
	flw := &flow.Flow{Store: f.store, Upstream: f.up, Registry: reg, Log: zap.NewNop(), Now: now, Rand: rand.Reader, PendingTTL: time.Minute, Seal: bridgetest.Seal(t)}
	f.ep = New(Config{
		Flow: flw, Registry: reg, Signer: samlxml.Signer{Key: f.idp.Key, Cert: f.idp.Cert},
		Guard:    bridge.RequestGuard{Replay: f.store, Now: now, Skew: 10 * time.Second},
		EntityID: entityID, SSOURL: ssoURL, Now: now, Rand: rand.Reader, Log: zap.NewNop(),
		Metadata: func() ([]byte, error) { return []byte("<md/>"), nil },
	})
	flw.Register(f.ep)
	f.web = web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
	f.web.Mount(f.ep.Routes()...)
	return f
}

func goodRequest() *clave2msg.AuthnRequest {
	return &clave2msg.AuthnRequest{
		ID: "_r1", IssueInstant: t0, Destination: ssoURL, ACS: spACS, Issuer: spID,
		NameIDFormat: nameIDPersistent, Comparison: "minimum", LoAs: []string{translate.LoASubstantial.EIDAS()},
	}
}

func (f *fixture) postXML(t *testing.T, xml []byte, relay string) *httptest.ResponseRecorder {
	t.Helper()
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}}
	if relay != "" {
		form.Set("RelayState", relay)
	}
	return f.postForm(form)
}

func (f *fixture) postForm(form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/saml2/sso", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	f.web.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) get(rawQuery string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/saml2/sso", nil)
	req.URL.RawQuery = rawQuery // as the server received it, even if malformed
	f.web.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) signed(t testing.TB, ar *clave2msg.AuthnRequest, key samlxmltest.Pair) []byte {
	t.Helper()
	el := ar.Element()
	if err := key.Signer(samlxml.RSASHA256).Sign(el); err != nil {
		t.Fatal(err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

func unsigned(t testing.TB, ar *clave2msg.AuthnRequest) []byte {
	t.Helper()
	xml, err := samlxml.Serialize(ar.Element())
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

func TestSignedPostStartsLogin(t *testing.T) {
	f := newFixture(t)
	rec := f.postXML(t, f.signed(t, goodRequest(), f.sp), "state-1")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), gateway) {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if len(f.up.Begun) != 1 {
		t.Fatalf("upstream logins = %d", len(f.up.Begun))
	}
	req := f.up.Begun[0].Request
	if req.SP != spID || req.ID != "_r1" || req.ReturnURL != spACS || req.RelayState != "state-1" || req.MinLoA != translate.LoASubstantial {
		t.Fatalf("normalised request = %+v", req)
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("POST form without CSP: %q", rec.Header().Get("Content-Security-Policy"))
	}
}

func TestSignedRedirectStartsLogin(t *testing.T) {
	f := newFixture(t)
	signer := f.sp.Signer(samlxml.RSASHA256)
	loc, err := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", unsigned(t, goodRequest()), "rs", &signer)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	if rec := f.get(u.RawQuery); rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
		t.Fatalf("status %d, upstream %d: %s", rec.Code, len(f.up.Begun), rec.Body)
	}
	if f.up.Begun[0].Request.RelayState != "rs" {
		t.Fatalf("relay state lost")
	}
}

// TestBadRequestsGetErrorPage: malformed or unauthorised requests get a 400
// page with a trace id, and nothing is sent upstream or stored as pending.
func TestBadRequestsGetErrorPage(t *testing.T) {
	other := other(t)
	mut := func(change func(*clave2msg.AuthnRequest)) *clave2msg.AuthnRequest {
		ar := goodRequest()
		change(ar)
		return ar
	}
	tests := []struct {
		name string
		body func(f *fixture) url.Values
	}{
		{"unsigned", func(f *fixture) url.Values { return b64(unsigned(t, goodRequest())) }},
		{"wrong key", func(f *fixture) url.Values { return b64(f.signed(t, goodRequest(), other)) }},
		{"tampered", func(f *fixture) url.Values {
			return b64(bytes.Replace(f.signed(t, goodRequest(), f.sp), []byte(spACS), []byte(spACS2), 1))
		}},
		{"unknown SP", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) { a.Issuer = "https://evil.example" }), f.sp))
		}},
		{"no issuer", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) { a.Issuer = "" }), f.sp))
		}},
		{"ACS not registered", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) { a.ACS = "https://evil.example/acs" }), f.sp))
		}},
		{"javascript ACS", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) { a.ACS = "javascript:alert(1)" }), f.sp))
		}},
		{"ACS index not registered", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) { a.ACS, a.ACSIndex = "", "7" }), f.sp))
		}},
		{"artifact binding", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) {
				a.ProtocolBinding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
			}), f.sp))
		}},
		{"wrong destination", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) { a.Destination = "https://other.example/sso" }), f.sp))
		}},
		{"stale", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) { a.IssueInstant = t0.Add(-time.Hour) }), f.sp))
		}},
		{"future", func(f *fixture) url.Values {
			return b64(f.signed(t, mut(func(a *clave2msg.AuthnRequest) { a.IssueInstant = t0.Add(time.Hour) }), f.sp))
		}},
		{"doctype", func(f *fixture) url.Values {
			return b64([]byte(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`))
		}},
		{"not base64", func(f *fixture) url.Values { return url.Values{"SAMLRequest": {"***"}} }},
		{"no SAMLRequest", func(f *fixture) url.Values { return url.Values{"RelayState": {"x"}} }},
		{"two SAMLRequests", func(f *fixture) url.Values {
			v := b64(f.signed(t, goodRequest(), f.sp))
			v.Add("SAMLRequest", v.Get("SAMLRequest"))
			return v
		}},
		{"oversized", func(f *fixture) url.Values {
			return b64(append([]byte("<r>"), bytes.Repeat([]byte("a"), samlxml.DefaultMaxMessageBytes)...))
		}},
		{"relay state too long", func(f *fixture) url.Values {
			v := b64(f.signed(t, goodRequest(), f.sp))
			v.Set("RelayState", strings.Repeat("r", 81))
			return v
		}},
		{"not an AuthnRequest", func(f *fixture) url.Values {
			return b64([]byte(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.postForm(tt.body(f))
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), rec.Header().Get("X-Trace-Id")) {
				t.Fatalf("status %d, want 400 with the trace id: %.300s", rec.Code, rec.Body)
			}
			if len(f.up.Begun) != 0 {
				t.Fatal("a refused request went upstream")
			}
		})
	}
}

func b64(xml []byte) url.Values {
	return url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}}
}

func TestReplayedRequestRefused(t *testing.T) {
	f := newFixture(t)
	xml := f.signed(t, goodRequest(), f.sp)
	if rec := f.postXML(t, xml, ""); rec.Code != http.StatusOK {
		t.Fatalf("first: %d", rec.Code)
	}
	if rec := f.postXML(t, xml, ""); rec.Code != http.StatusBadRequest {
		t.Fatalf("replay: %d", rec.Code)
	}
	if len(f.up.Begun) != 1 {
		t.Fatalf("upstream logins = %d", len(f.up.Begun))
	}
}

func TestRedirectBadInput(t *testing.T) {
	f := newFixture(t)
	var bomb bytes.Buffer
	w, _ := flate.NewWriter(&bomb, flate.BestCompression)
	_, _ = w.Write(bytes.Repeat([]byte("A"), 20<<20))
	_ = w.Close()
	signer := other(t).Signer(samlxml.RSASHA256)
	wrongKey, err := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", unsigned(t, goodRequest()), "", &signer)
	if err != nil {
		t.Fatal(err)
	}
	unsignedLoc, _ := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", unsigned(t, goodRequest()), "", nil)
	for name, q := range map[string]string{
		"deflate bomb": "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(bomb.Bytes())),
		"bad deflate":  "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("not deflate"))),
		"wrong key":    mustQuery(wrongKey),
		"unsigned":     mustQuery(unsignedLoc),
		"empty":        "",
	} {
		if rec := f.get(q); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d", name, rec.Code)
		}
	}
	if len(f.up.Begun) != 0 {
		t.Fatal("bad redirect went upstream")
	}
}

func other(t *testing.T) samlxmltest.Pair { return samlxmltest.Committed(t, "simulator-sign") }

func mustQuery(loc string) string {
	u, _ := url.Parse(loc)
	return u.RawQuery
}

// TestRefusalsPostStatusToSP: well-formed requests that cannot be served
// get a signed SAML error status at the registered ACS.
func TestRefusalsPostStatusToSP(t *testing.T) {
	tests := []struct {
		name   string
		change func(*clave2msg.AuthnRequest)
		sub    string
	}{
		{"passive", func(a *clave2msg.AuthnRequest) { a.IsPassive = true }, "NoPassive"},
		{"unknown class", func(a *clave2msg.AuthnRequest) {
			a.LoAs = []string{"https://refeds.org/profile/mfa"}
		}, "NoAuthnContext"},
		{"better than high", func(a *clave2msg.AuthnRequest) {
			a.Comparison, a.LoAs = "better", []string{translate.LoAHigh.EIDAS()}
		}, "NoAuthnContext"},
		{"unknown comparison", func(a *clave2msg.AuthnRequest) { a.Comparison = "most" }, "NoAuthnContext"},
		{"email NameID", func(a *clave2msg.AuthnRequest) {
			a.NameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
		}, "InvalidNameIDPolicy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ar := goodRequest()
			tt.change(ar)
			rec := f.postXML(t, f.signed(t, ar, f.sp), "")
			if rec.Code != http.StatusOK || len(f.up.Begun) != 0 {
				t.Fatalf("status %d, upstream %d", rec.Code, len(f.up.Begun))
			}
			resp := f.readResponse(t, rec.Body.String())
			st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status")
			sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
			sub, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode")
			if sub == nil || sub.SelectAttrValue("Value", "") != clave2msg.StatusPrefix+tt.sub {
				t.Fatalf("status = %v", sub)
			}
			if len(samlxml.Children(resp, samlxml.NSAssertion, "Assertion")) != 0 {
				t.Fatal("error response carries an assertion")
			}
		})
	}
}

// readResponse extracts the SAMLResponse posted to the SP's ACS and verifies
// its signature with the IdP certificate.
func (f *fixture) readResponse(t *testing.T, page string) *etree.Element {
	t.Helper()
	if !strings.Contains(page, `action="`+spACS+`"`) {
		t.Fatalf("form not posted to the registered ACS: %.300s", page)
	}
	i := strings.Index(page, `name="SAMLResponse" value="`)
	if i < 0 {
		t.Fatal("no SAMLResponse")
	}
	v := page[i+len(`name="SAMLResponse" value="`):]
	v = v[:strings.IndexByte(v, '"')]
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	verified, err := samlxml.Verifier{Certs: []*x509.Certificate{f.idp.Cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatalf("response signature: %v", err)
	}
	return verified.Element
}
