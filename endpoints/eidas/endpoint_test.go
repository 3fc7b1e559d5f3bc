package eidas

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
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
	ssoURL   = base + SSOPath
	entityID = base + MetadataPath
	gateway  = "https://gateway.example/Proxy2/ServiceProvider"

	// The Cl@ve 2.0 kit SP, identified by the provider part of ProviderName.
	kitID   = "S2800000X_E00000001"
	kitApp  = "app"
	kitACS  = "https://kit.example/SP2/ReturnPage"
	kitACS2 = "https://kit.example/SP2/ReturnPage2"

	// The eIDAS-profile SP, identified by its Issuer (its metadata URL).
	eidasID   = "https://sp.example/metadata"
	eidasACS  = "https://sp.example/acs" // the metadata's default
	eidasACS2 = "https://sp.example/acs2"

	kitRelayAttr = "Xy7pQ2aZ"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

type fixture struct {
	web    *web.Server
	ep     *Endpoint
	flow   *flow.Flow
	up     *bridgetest.Upstream
	store  *store.Memory
	now    time.Time
	kitKey samlxmltest.Pair // signs the Cl@ve kit's requests
	spKey  samlxmltest.Pair // signs and decrypts for the eIDAS SP
	bridge samlxmltest.Pair // our signing key
	kit    *bridge.ServiceProvider
	eidas  *bridge.ServiceProvider
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		up: &bridgetest.Upstream{URL: gateway}, now: t0,
		kitKey: samlxmltest.Committed(t, "demo-sp"), spKey: samlxmltest.Committed(t, "simulator-sign"),
		bridge: samlxmltest.Committed(t, "bridge-sign"),
	}
	now := func() time.Time { return f.now }
	f.store = store.NewMemory(now, 0)
	f.kit = &bridge.ServiceProvider{
		ID: kitID, Name: "Cl@ve kit", Dialect: DialectName, Profile: ProfileClave2,
		SigningCerts:          []*x509.Certificate{f.kitKey.Cert},
		ACS:                   []bridge.Endpoint{{URL: kitACS, Index: 0}, {URL: kitACS2, Index: 1}},
		Policy:                bridge.Policy{MinLoA: translate.LoALow},
		RequireSignedRequests: true, EncryptAssertions: true,
		SignatureAlgorithm: samlxml.RSASHA512, KeyTransport: samlxml.RSAOAEPMGF1P, DataEncryption: samlxml.AES256GCM,
		AttributeNames: "friendly",
	}
	f.eidas = &bridge.ServiceProvider{
		ID: eidasID, Name: "eIDAS SP", Dialect: DialectName, Profile: ProfileEIDAS,
		SigningCerts: []*x509.Certificate{f.spKey.Cert}, EncryptionCert: f.spKey.Cert,
		ACS:                   []bridge.Endpoint{{URL: eidasACS, Index: 0}, {URL: eidasACS2, Index: 1}},
		Policy:                bridge.Policy{MinLoA: translate.LoALow},
		RequireSignedRequests: true, EncryptAssertions: true,
		SignatureAlgorithm: samlxml.RSAPSSSHA512, KeyTransport: samlxml.RSAOAEP, DataEncryption: samlxml.AES256GCM,
		AttributeNames: "friendly",
	}
	reg := bridgetest.Registry{DialectName + " " + kitID: f.kit, DialectName + " " + eidasID: f.eidas}
	f.flow = &flow.Flow{Store: f.store, Upstream: f.up, Registry: reg, Log: zap.NewNop(), Now: now, Rand: rand.Reader, PendingTTL: time.Minute, Seal: bridgetest.Seal(t)}
	f.ep = New(Config{
		Flow: f.flow, Registry: reg, Signer: samlxml.Signer{Key: f.bridge.Key, Cert: f.bridge.Cert},
		Guard:    bridge.RequestGuard{Replay: f.store, Now: now, Skew: 10 * time.Second},
		EntityID: entityID, SSOURL: ssoURL, Now: now, Rand: rand.Reader, Log: zap.NewNop(),
		Metadata:     func() ([]byte, error) { return []byte("<md/>"), nil },
		Certificates: func() ([]byte, error) { return []byte("<certs/>"), nil },
	})
	f.flow.Register(f.ep)
	f.web = web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
	f.web.Mount(f.ep.Routes()...)
	return f
}

// stateOf is the endpoint's state kept with req.
func stateOf(t testing.TB, req bridge.Request) requestState {
	t.Helper()
	var st requestState
	if err := bridge.DecodeState(req.State, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func wire(a translate.Attr, required bool) clave2msg.RequestedAttribute {
	w, ok := translate.Wire(a)
	if !ok {
		panic("no wire name for " + a)
	}
	return clave2msg.RequestedAttribute{Name: w.Name, FriendlyName: w.FriendlyName, Required: required}
}

func idpFlag(idp translate.IdP) clave2msg.RequestedAttribute {
	return clave2msg.RequestedAttribute{Name: idp.DisableAttribute(), FriendlyName: idp.DisableFriendlyName()}
}

func relayAttr(v string) clave2msg.RequestedAttribute {
	return clave2msg.RequestedAttribute{Name: translate.ClaveRelayStateAttr, FriendlyName: "RelayState", Values: []string{v}}
}

// kitRequest is what a Cl@ve 2.0 kit sends: no Issuer, ProviderName
// "<provider>;<application>", NameIDPolicy, the RelayState attribute, IdP
// flags and a minimum LoA.
func kitRequest() *clave2msg.AuthnRequest {
	return &clave2msg.AuthnRequest{
		ID: "_kit1", IssueInstant: t0, Destination: ssoURL, ACS: kitACS2, ProviderName: kitID + ";" + kitApp,
		Consent: clave2msg.ConsentUnspec, HasNameIDPolicy: true, NameIDFormat: clave2msg.NameIDUnspec,
		Comparison: "minimum", LoAs: []string{translate.LoASubstantial.EIDAS()},
		Attributes: []clave2msg.RequestedAttribute{
			wire(translate.AttrPersonIdentifier, true), wire(translate.AttrGivenName, true), wire(translate.AttrFamilyName, false),
			idpFlag(translate.IdPAfirma), idpFlag(translate.IdPSegSoc), relayAttr(kitRelayAttr),
		},
	}
}

// eidasRequest is what a stock eIDAS SP sends: Issuer = its metadata URL,
// ForceAuthn, SPType in the request.
func eidasRequest() *clave2msg.AuthnRequest {
	return &clave2msg.AuthnRequest{
		ID: "_eid1", IssueInstant: t0, Destination: ssoURL, ACS: eidasACS, Issuer: eidasID, ProviderName: "Example SP",
		ForceAuthn: true, SPType: "public", HasNameIDPolicy: true, NameIDFormat: clave2msg.NameIDPersist,
		Comparison: "minimum", LoAs: []string{translate.LoAHigh.EIDAS()},
		Attributes: []clave2msg.RequestedAttribute{
			wire(translate.AttrPersonIdentifier, true), wire(translate.AttrFamilyName, true),
			wire(translate.AttrGivenName, true), wire(translate.AttrDateOfBirth, true),
		},
	}
}

func signXML(t testing.TB, ar *clave2msg.AuthnRequest, key samlxmltest.Pair, method string) []byte {
	t.Helper()
	el := ar.Element()
	if err := key.Signer(method).Sign(el); err != nil {
		t.Fatal(err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

func (f *fixture) signedKit(t testing.TB, ar *clave2msg.AuthnRequest) []byte {
	return signXML(t, ar, f.kitKey, samlxml.RSASHA512)
}

func (f *fixture) signedEIDAS(t testing.TB, ar *clave2msg.AuthnRequest) []byte {
	return signXML(t, ar, f.spKey, samlxml.RSAPSSSHA512)
}

func unsignedXML(t testing.TB, ar *clave2msg.AuthnRequest) []byte {
	t.Helper()
	xml, err := samlxml.Serialize(ar.Element())
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

func b64(xml []byte) url.Values {
	return url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}}
}

func (f *fixture) postXML(xml []byte, relay string) *httptest.ResponseRecorder {
	form := b64(xml)
	if relay != "" {
		form.Set("RelayState", relay)
	}
	return f.postForm(form)
}

func (f *fixture) postForm(form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, SSOPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	f.web.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) get(rawQuery string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, SSOPath, nil)
	req.URL.RawQuery = rawQuery // as the server received it, even if malformed
	rec := httptest.NewRecorder()
	f.web.ServeHTTP(rec, req)
	return rec
}

// redirectQuery is the Redirect binding of xml (signed inside) without a
// query signature.
func redirectQuery(t testing.TB, xml []byte, relay string) string {
	t.Helper()
	loc, err := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", xml, relay, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.RawQuery
}

// formField returns the value of a hidden input of an auto-POST page.
func formField(page, name string) (string, bool) {
	marker := `name="` + html.EscapeString(name) + `" value="`
	i := strings.Index(page, marker)
	if i < 0 {
		return "", false
	}
	v := page[i+len(marker):]
	return html.UnescapeString(v[:strings.IndexByte(v, '"')]), true
}

// formAction returns where an auto-POST page posts to.
func formAction(page string) string {
	const marker = `action="`
	i := strings.Index(page, marker)
	if i < 0 {
		return ""
	}
	v := page[i+len(marker):]
	return html.UnescapeString(v[:strings.IndexByte(v, '"')])
}

func TestGoodClave2RequestStartsLogin(t *testing.T) {
	bindings := map[string]func(f *fixture, xml []byte, relay string) *httptest.ResponseRecorder{
		"POST": func(f *fixture, xml []byte, relay string) *httptest.ResponseRecorder { return f.postXML(xml, relay) },
		"Redirect": func(f *fixture, xml []byte, relay string) *httptest.ResponseRecorder {
			return f.get(redirectQuery(t, xml, relay))
		},
	}
	for name, send := range bindings {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			rec := send(f, f.signedKit(t, kitRequest()), "kit-state")
			if rec.Code != http.StatusOK || formAction(rec.Body.String()) != gateway {
				t.Fatalf("status %d, want the form to the gateway: %.400s", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("POST form without CSP: %q", rec.Header().Get("Content-Security-Policy"))
			}
			if len(f.up.Begun) != 1 {
				t.Fatalf("upstream logins = %d, want 1", len(f.up.Begun))
			}
			req := f.up.Begun[0].Request
			if req.SP != kitID || req.Dialect != DialectName || req.ID != "_kit1" || req.ReturnURL != kitACS2 ||
				req.RelayState != "kit-state" || req.MinLoA != translate.LoASubstantial {
				t.Fatalf("normalised request = %+v", req)
			}
			if want := []translate.IdP{translate.IdPAfirma, translate.IdPSegSoc}; !slices.Equal(req.DisabledIdPs, want) {
				t.Errorf("disabled IdPs = %v, want %v", req.DisabledIdPs, want)
			}
			want := []bridge.RequestedAttr{
				{Name: translate.AttrPersonIdentifier, Required: true}, {Name: translate.AttrGivenName, Required: true},
				{Name: translate.AttrFamilyName}, {Name: translate.AttrSelectedIdP}, {Name: translate.AttrFirstSurname},
			}
			if !slices.Equal(req.Attributes, want) {
				t.Errorf("attributes = %+v, want %+v", req.Attributes, want)
			}
			if req.LegalPerson {
				t.Error("natural-person request marked as legal person")
			}
			wantState := requestState{
				Profile: ProfileClave2, Signer: fingerprint(f.kitKey.Cert), Application: kitApp,
				NameIDFormat: clave2msg.NameIDUnspec, HasRelayAttr: true, RelayAttr: kitRelayAttr,
			}
			if st := stateOf(t, req); st != wantState {
				t.Errorf("state = %+v, want %+v", st, wantState)
			}
		})
	}
}

func TestGoodEIDASRequestStartsLogin(t *testing.T) {
	for name, change := range map[string]func(*clave2msg.AuthnRequest){
		"ACS named":            func(*clave2msg.AuthnRequest) {},
		"no ACS (the default)": func(a *clave2msg.AuthnRequest) { a.ACS = "" },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			ar := eidasRequest()
			change(ar)
			rec := f.postXML(f.signedEIDAS(t, ar), "eidas-state")
			if rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
				t.Fatalf("status %d, upstream %d: %.400s", rec.Code, len(f.up.Begun), rec.Body)
			}
			req := f.up.Begun[0].Request
			if req.SP != eidasID || req.ReturnURL != eidasACS || req.MinLoA != translate.LoAHigh || !req.ForceAuthn ||
				req.RelayState != "eidas-state" || stateOf(t, req).Profile != ProfileEIDAS {
				t.Fatalf("normalised request = %+v", req)
			}
			if len(req.DisabledIdPs) != 0 {
				t.Errorf("disabled IdPs = %v", req.DisabledIdPs)
			}
			for _, a := range req.Attributes {
				if a.Name == translate.AttrSelectedIdP || a.Name == translate.AttrFirstSurname {
					t.Errorf("Cl@ve-only attribute %s added to an eIDAS request", a.Name)
				}
			}
			if len(req.Attributes) != 4 {
				t.Errorf("attributes = %+v", req.Attributes)
			}
		})
	}
}

// TestPolicyRaisesLoAAndHidesIdPs: the SP's policy is applied before the
// login goes upstream.
func TestPolicyRaisesLoAAndHidesIdPs(t *testing.T) {
	f := newFixture(t)
	f.kit.Policy = bridge.Policy{MinLoA: translate.LoAHigh, DenyIdPs: []translate.IdP{translate.IdPClaveMovil}}
	if rec := f.postXML(f.signedKit(t, kitRequest()), "s"); rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
		t.Fatalf("status %d, upstream %d", rec.Code, len(f.up.Begun))
	}
	req := f.up.Begun[0].Request
	want := []translate.IdP{translate.IdPAfirma, translate.IdPSegSoc, translate.IdPClaveMovil}
	if req.MinLoA != translate.LoAHigh || !slices.Equal(req.DisabledIdPs, want) {
		t.Fatalf("MinLoA %v, disabled %v", req.MinLoA, req.DisabledIdPs)
	}
}

func TestServesDocuments(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{MetadataPath: "<md/>", CertificatesPath: "<certs/>"} {
		rec := httptest.NewRecorder()
		f.web.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Body)
		}
	}
}

func mutKit(change func(*clave2msg.AuthnRequest)) *clave2msg.AuthnRequest {
	ar := kitRequest()
	change(ar)
	return ar
}

func mutEIDAS(change func(*clave2msg.AuthnRequest)) *clave2msg.AuthnRequest {
	ar := eidasRequest()
	change(ar)
	return ar
}

// TestBadRequestsGetErrorPage: requests that cannot be tied to a registered
// SP's key, or that may not come from the SP at all, get a 400 page with a
// trace id, and nothing goes upstream.
func TestBadRequestsGetErrorPage(t *testing.T) {
	unregistered := func(t testing.TB) samlxmltest.Pair { return samlxmltest.Committed(t, "bridge-enc") }
	tests := []struct {
		name  string
		setup func(f *fixture)
		send  func(t *testing.T, f *fixture) *httptest.ResponseRecorder
	}{
		{name: "unsigned", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(unsignedXML(t, kitRequest()), "s")
		}},
		{name: "unsigned eIDAS", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(unsignedXML(t, eidasRequest()), "s")
		}},
		{name: "unsigned, by Redirect", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.get(redirectQuery(t, unsignedXML(t, kitRequest()), "s"))
		}},
		{name: "signed by an unregistered key", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(signXML(t, kitRequest(), unregistered(t), samlxml.RSASHA512), "s")
		}},
		{name: "signed by another SP's key", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(signXML(t, kitRequest(), f.spKey, samlxml.RSASHA512), "s")
		}},
		{name: "eIDAS signed by an unregistered key", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(signXML(t, eidasRequest(), unregistered(t), samlxml.RSAPSSSHA512), "s")
		}},
		{name: "tampered after signing", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			xml := f.signedKit(t, kitRequest())
			return f.postXML([]byte(strings.Replace(string(xml), kitACS2, kitACS, 1)), "s")
		}},
		{name: "tampered LoA", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			xml := f.signedKit(t, kitRequest())
			return f.postXML([]byte(strings.Replace(string(xml), translate.LoASubstantial.EIDAS(), translate.LoALow.EIDAS(), 1)), "s")
		}},
		{name: "unknown provider", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.ProviderName = "Q0000000J_E99999999;app" })), "s")
		}},
		{name: "ProviderName without ;", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.ProviderName = kitID })), "s")
		}},
		{name: "ProviderName without application", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.ProviderName = kitID + ";" })), "s")
		}},
		{name: "no Issuer and no ProviderName", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.ProviderName = "" })), "s")
		}},
		{name: "Issuer of a clave2 SP", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.Issuer = kitID })), "s")
		}},
		{name: "ProviderName of an eIDAS SP", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedEIDAS(t, mutEIDAS(func(a *clave2msg.AuthnRequest) {
				a.Issuer, a.ProviderName = "", eidasID+";app"
			})), "s")
		}},
		{name: "unknown Issuer", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedEIDAS(t, mutEIDAS(func(a *clave2msg.AuthnRequest) { a.Issuer = "https://evil.example/metadata" })), "s")
		}},
		{name: "ACS not registered", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.ACS = "https://evil.example/acs" })), "s")
		}},
		{name: "javascript ACS", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.ACS = "javascript:alert(1)" })), "s")
		}},
		{name: "eIDAS ACS registered but not the metadata default", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedEIDAS(t, mutEIDAS(func(a *clave2msg.AuthnRequest) { a.ACS = eidasACS2 })), "s")
		}},
		{name: "wrong Destination", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.Destination = gateway })), "s")
		}},
		{name: "missing Destination", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.Destination = "" })), "s")
		}},
		{name: "stale", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.IssueInstant = t0.Add(-5*time.Minute - 11*time.Second) })), "s")
		}},
		{name: "future", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.IssueInstant = t0.Add(11 * time.Second) })), "s")
		}},
		{name: "replayed", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			xml := f.signedKit(t, kitRequest())
			if rec := f.postXML(xml, "s"); rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
				t.Fatalf("first: status %d, upstream %d", rec.Code, len(f.up.Begun))
			}
			f.up.Begun = nil
			f.now = t0.Add(time.Minute)
			return f.postXML(xml, "s")
		}},
		{name: "replayed by the other binding", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			xml := f.signedKit(t, kitRequest())
			if rec := f.postXML(xml, "s"); rec.Code != http.StatusOK {
				t.Fatalf("first: status %d", rec.Code)
			}
			f.up.Begun = nil
			return f.get(redirectQuery(t, xml, "s"))
		}},
		{name: "DOCTYPE", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML([]byte(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`), "s")
		}},
		{name: "DOCTYPE before a signed request", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(append([]byte(`<!DOCTYPE saml2p:AuthnRequest>`), f.signedKit(t, kitRequest())...), "s")
		}},
		{name: "bad base64", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postForm(url.Values{"SAMLRequest": {"***not base64***"}})
		}},
		{name: "no SAMLRequest", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postForm(url.Values{"RelayState": {"s"}})
		}},
		{name: "empty SAMLRequest", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postForm(url.Values{"SAMLRequest": {""}})
		}},
		{name: "two SAMLRequest fields", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			v := b64(f.signedKit(t, kitRequest()))
			v.Add("SAMLRequest", v.Get("SAMLRequest"))
			return f.postForm(v)
		}},
		{name: "two RelayState fields", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			v := b64(f.signedKit(t, kitRequest()))
			v.Add("RelayState", "a")
			v.Add("RelayState", "b")
			return f.postForm(v)
		}},
		{name: "over 131072 bytes", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			ar := kitRequest()
			ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{
				Name: "urn:example:padding", Values: []string{strings.Repeat("p", maxRequestBytes)},
			})
			return f.postXML(f.signedKit(t, ar), "s")
		}},
		{name: "over 131072 bytes, by Redirect", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			ar := kitRequest()
			ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{
				Name: "urn:example:padding", Values: []string{strings.Repeat("p", maxRequestBytes)},
			})
			return f.get(redirectQuery(t, f.signedKit(t, ar), "s"))
		}},
		{name: "RelayState over 256 bytes", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.postXML(f.signedKit(t, kitRequest()), strings.Repeat("r", maxRelayState+1))
		}},
		{name: "RelayState over 256 bytes, by Redirect", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.get(redirectQuery(t, f.signedKit(t, kitRequest()), strings.Repeat("r", maxRelayState+1)))
		}},
		{name: "LogoutRequest", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			lr := etree.NewElement("saml2p:LogoutRequest")
			lr.CreateAttr("xmlns:saml2p", samlxml.NSProtocol)
			lr.CreateAttr("xmlns:saml2", samlxml.NSAssertion)
			lr.CreateAttr("ID", "_lo1")
			lr.CreateAttr("Version", "2.0")
			lr.CreateAttr("IssueInstant", samlxml.FormatTime(t0))
			lr.CreateAttr("Destination", ssoURL)
			lr.CreateAttr("ProviderName", kitID+";"+kitApp)
			nid := lr.CreateElement("saml2:NameID")
			nid.SetText(kitID)
			if err := f.kitKey.Signer(samlxml.RSASHA512).Sign(lr); err != nil {
				t.Fatal(err)
			}
			xml, err := samlxml.Serialize(lr)
			if err != nil {
				t.Fatal(err)
			}
			return f.postXML(xml, "s")
		}},
		{name: "Redirect deflate bomb", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.get(redirectQuery(t, []byte(strings.Repeat("A", 20<<20)), ""))
		}},
		{name: "Redirect bad deflate", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			return f.get("SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("not deflate"))))
		}},
		{name: "Redirect SAMLResponse", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			loc, err := samlxml.EncodeRedirect(ssoURL, "SAMLResponse", f.signedKit(t, kitRequest()), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(loc)
			return f.get(u.RawQuery)
		}},
		{name: "Redirect with a bad query signature", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder {
			signer := samlxmltest.Committed(t, "bridge-enc").Signer(samlxml.RSASHA256)
			loc, err := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", f.signedKit(t, kitRequest()), "s", &signer)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(loc)
			return f.get(u.RawQuery)
		}},
		{name: "empty Redirect", send: func(t *testing.T, f *fixture) *httptest.ResponseRecorder { return f.get("") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			rec := tt.send(t, f)
			trace := rec.Header().Get("X-Trace-Id")
			if rec.Code != http.StatusBadRequest || trace == "" || !strings.Contains(rec.Body.String(), trace) {
				t.Fatalf("status %d, want 400 with the trace id: %.400s", rec.Code, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "SAMLResponse") {
				t.Fatal("error page carries a SAML response")
			}
			if len(f.up.Begun) != 0 {
				t.Fatal("a refused request went upstream")
			}
		})
	}
}

// TestRequestWindowEdges: a request is accepted up to the skew in the future
// and MaxRequestAge plus the skew in the past.
func TestRequestWindowEdges(t *testing.T) {
	for name, at := range map[string]time.Time{
		"skew in the future":   t0.Add(10 * time.Second),
		"max age and the skew": t0.Add(-5*time.Minute - 10*time.Second),
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.postXML(f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.IssueInstant = at })), "s")
			if rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
				t.Fatalf("status %d, upstream %d", rec.Code, len(f.up.Begun))
			}
		})
	}
}

// TestReplayRefusedWhileAcceptable: a request stays in the replay cache for
// as long as its IssueInstant is acceptable, up to the last instant.
func TestReplayRefusedWhileAcceptable(t *testing.T) {
	// The latest acceptable IssueInstant (now + skew) gives the longest
	// window: it is acceptable until IssueInstant + MaxRequestAge + skew.
	issued := t0.Add(10 * time.Second)
	f := newFixture(t)
	xml := f.signedKit(t, mutKit(func(a *clave2msg.AuthnRequest) { a.IssueInstant = issued }))
	if rec := f.postXML(xml, "s"); rec.Code != http.StatusOK {
		t.Fatalf("first: %d", rec.Code)
	}
	for _, at := range []time.Time{
		t0.Add(time.Minute),
		issued.Add(5*time.Minute + 10*time.Second - time.Millisecond),
		issued.Add(5*time.Minute + 10*time.Second), // last instant the IssueInstant is accepted
	} {
		f.now = at
		if rec := f.postXML(xml, "s"); rec.Code != http.StatusBadRequest {
			t.Errorf("replay at %s: status %d, want 400", at.Sub(t0), rec.Code)
		}
	}
	if len(f.up.Begun) != 1 {
		t.Fatalf("upstream logins = %d, want 1", len(f.up.Begun))
	}
}

// TestClave2Accepts: what the Cl@ve 2.0 gateway accepts from a kit beyond
// the canonical request.
func TestClave2Accepts(t *testing.T) {
	tests := []struct {
		name   string
		change func(*clave2msg.AuthnRequest)
		relay  string
		check  func(t *testing.T, req bridge.Request)
	}{
		{"ForceAuthn false", func(a *clave2msg.AuthnRequest) { a.ForceAuthn = false }, "s", func(t *testing.T, req bridge.Request) {
			if req.ForceAuthn {
				t.Error("ForceAuthn set")
			}
		}},
		{"no ACS: the first registered one", func(a *clave2msg.AuthnRequest) { a.ACS = "" }, "s", func(t *testing.T, req bridge.Request) {
			if req.ReturnURL != kitACS {
				t.Errorf("ReturnURL %q", req.ReturnURL)
			}
		}},
		{"no RelayState field", func(*clave2msg.AuthnRequest) {}, "", func(t *testing.T, req bridge.Request) {
			if req.RelayState != "" {
				t.Errorf("RelayState %q", req.RelayState)
			}
		}},
		{"no RelayState attribute", func(a *clave2msg.AuthnRequest) { a.Attributes = a.Attributes[:5] }, "s", func(t *testing.T, req bridge.Request) {
			if st := stateOf(t, req); st.HasRelayAttr || st.RelayAttr != "" {
				t.Errorf("state %+v", st)
			}
		}},
		{"NameIDPolicy without Format", func(a *clave2msg.AuthnRequest) { a.NameIDFormat = "" }, "s", func(t *testing.T, req bridge.Request) {
			if got := stateOf(t, req).NameIDFormat; got != "" {
				t.Errorf("format %q", got)
			}
		}},
		{"transient NameID", func(a *clave2msg.AuthnRequest) { a.NameIDFormat = nameIDTransient }, "s", func(t *testing.T, req bridge.Request) {
			if got := stateOf(t, req).NameIDFormat; got != nameIDTransient {
				t.Errorf("format %q", got)
			}
		}},
		{"unknown attribute dropped", func(a *clave2msg.AuthnRequest) {
			a.Attributes = append(a.Attributes, clave2msg.RequestedAttribute{Name: "urn:example:shoeSize", Required: true})
		}, "s", func(t *testing.T, req bridge.Request) {
			if len(req.Attributes) != 5 {
				t.Errorf("attributes %+v", req.Attributes)
			}
		}},
		{"low LoA", func(a *clave2msg.AuthnRequest) { a.LoAs = []string{translate.LoALow.EIDAS()} }, "s", func(t *testing.T, req bridge.Request) {
			if req.MinLoA != translate.LoALow {
				t.Errorf("MinLoA %v", req.MinLoA)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ar := kitRequest()
			tt.change(ar)
			rec := f.postXML(f.signedKit(t, ar), tt.relay)
			if rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
				t.Fatalf("status %d, upstream %d: %.300s", rec.Code, len(f.up.Begun), rec.Body)
			}
			tt.check(t, f.up.Begun[0].Request)
		})
	}
}

// TestRedirectWithQuerySignature: a Redirect request may carry a query
// signature besides the embedded one; both must then verify.
func TestRedirectWithQuerySignature(t *testing.T) {
	f := newFixture(t)
	signer := f.kitKey.Signer(samlxml.RSASHA512)
	loc, err := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", f.signedKit(t, kitRequest()), "rs", &signer)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	if rec := f.get(u.RawQuery); rec.Code != http.StatusOK || len(f.up.Begun) != 1 || f.up.Begun[0].Request.RelayState != "rs" {
		t.Fatalf("status %d, upstream %d: %.300s", rec.Code, len(f.up.Begun), rec.Body)
	}
	// A changed RelayState breaks the query signature.
	f = newFixture(t)
	tampered := strings.Replace(u.RawQuery, "RelayState=rs", "RelayState=xx", 1)
	if rec := f.get(tampered); rec.Code != http.StatusBadRequest || len(f.up.Begun) != 0 {
		t.Fatalf("tampered RelayState: status %d, upstream %d", rec.Code, len(f.up.Begun))
	}
}

// TestRelayStateEscaped: the RelayState echoed in the auto-POST page is
// HTML-escaped.
func TestRelayStateEscaped(t *testing.T) {
	f := newFixture(t)
	const evil = `"><script>alert(1)</script>`
	ar := kitRequest()
	ar.IsPassive = true // refused, so the page goes back to the SP with the RelayState
	rec := f.postXML(f.signedKit(t, ar), evil)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "<script>alert") {
		t.Fatalf("status %d: %.600s", rec.Code, rec.Body)
	}
	if got, _ := formField(rec.Body.String(), "RelayState"); got != evil {
		t.Fatalf("RelayState %q", got)
	}
}

// TestLegalPersonAllowed: legal-person attributes make a legal-person
// request, which goes upstream when the policy admits legal persons.
func TestLegalPersonAllowed(t *testing.T) {
	f := newFixture(t)
	f.eidas.Policy.LegalPersons = true
	ar := eidasRequest()
	ar.Attributes = append(ar.Attributes, wire(translate.AttrLegalName, true))
	if rec := f.postXML(f.signedEIDAS(t, ar), ""); rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
		t.Fatalf("status %d, upstream %d", rec.Code, len(f.up.Begun))
	}
	req := f.up.Begun[0].Request
	if !req.LegalPerson || !slices.Contains(req.Attributes, bridge.RequestedAttr{Name: translate.AttrLegalName, Required: true}) {
		t.Fatalf("request = %+v", req)
	}
}
