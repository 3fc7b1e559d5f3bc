package eidas

// Cl@ve 2.0 single logout: the kit (S2800000X_E00000001), a second kit and
// a Cl@ve 1 SP (served by the stork endpoint on the same flow) share a
// session; a kit starts the logout with a logoutRequest posted to
// /Proxy2/ServiceProvider.

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/endpoints/stork"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	kitLogout     = kitACS // the kit's registered logout URL (its Issuer): its SP2/ReturnPage, also its ACS
	kit2ID        = "S2800000Y_E00000002"
	kit2Logout    = "https://kit2.example/SP2/ReturnPage"
	storkID       = "e00000001_miapp"
	storkLogout   = "https://sp.example.es/SP/logoutResponse"
	storkLogoutAt = base + stork.LogoutPath
	sloSession    = "_session0123456789abcdef0123456789"
	kitRelay      = "kit-relay"

	statusUnknownPrincipal = clave2msg.StatusPrefix + "UnknownPrincipal"
)

// listRegistry lets the endpoints find an SP by its logout URL.
type listRegistry struct{ bridgetest.Registry }

func (r listRegistry) All() []*bridge.ServiceProvider {
	var out []*bridge.ServiceProvider
	for _, sp := range r.Registry {
		out = append(out, sp)
	}
	return out
}

// sloFixture is the eidas fixture with SSO sessions, logout URLs for both
// kits (and, to show it is refused anyway, for the eIDAS-profile SP), and
// the stork endpoint serving a Cl@ve 1 SP on the same flow.
type sloFixture struct {
	*fixture
	kit2     *bridge.ServiceProvider
	storkSP  *bridge.ServiceProvider
	storkKey samlxmltest.Pair
	logs     *observer.ObservedLogs
}

func newSLOFixture(t testing.TB) *sloFixture {
	t.Helper()
	f := &sloFixture{fixture: newFixture(t), storkKey: samlxmltest.Committed(t, "simulator-sign")}
	core, logs := observer.New(zap.DebugLevel)
	f.logs = logs
	log := zap.New(core)
	f.flow.Log = log
	now := func() time.Time { return f.now }
	f.flow.Sessions = &session.Sessions{Store: f.store, Lifetime: time.Hour, Now: now, Rand: rand.Reader, Seal: bridgetest.Seal(t)}
	f.kit.Logout = []bridge.Endpoint{{URL: kitLogout}}
	f.eidas.Logout = []bridge.Endpoint{{URL: "https://sp.example/slo"}}
	f.kit2 = &bridge.ServiceProvider{
		ID: kit2ID, Dialect: DialectName, Profile: ProfileClave2, SigningCerts: []*x509.Certificate{f.kitKey.Cert},
		ACS: []bridge.Endpoint{{URL: "https://kit2.example/SP2/acs"}}, Logout: []bridge.Endpoint{{URL: kit2Logout}},
		SignatureAlgorithm: samlxml.RSASHA512,
	}
	f.storkSP = &bridge.ServiceProvider{
		ID: storkID, Dialect: stork.DialectName, SigningCerts: []*x509.Certificate{f.storkKey.Cert},
		ACS: []bridge.Endpoint{{URL: "https://sp.example.es/SP/ReturnPage"}}, Logout: []bridge.Endpoint{{URL: storkLogout}},
		SignatureAlgorithm: samlxml.RSASHA256,
	}
	reg := f.ep.cfg.Registry.(bridgetest.Registry)
	reg[DialectName+" "+kit2ID] = f.kit2
	reg[stork.DialectName+" "+storkID] = f.storkSP
	list := listRegistry{reg}
	f.flow.Registry = list
	cfg := f.ep.cfg
	cfg.Registry, cfg.Log = list, log
	f.ep = New(cfg)
	f.flow.Register(f.ep)
	legacy := stork.New(stork.Config{
		Flow: f.flow, Registry: list, Signer: samlxml.Signer{Key: f.bridge.Key, Cert: f.bridge.Cert},
		SSOURL: base + stork.SSOPath, Guard: f.ep.cfg.Guard, Now: now, Rand: rand.Reader, Log: log,
	})
	f.flow.Register(legacy)
	f.web = web.New(web.Options{Log: log, Rand: rand.Reader})
	f.web.Mount(f.ep.Routes()...)
	f.web.Mount(legacy.Routes()...)
	return f
}

var (
	kitPart   = bridge.Participant{SP: kitID, Dialect: DialectName, At: t0}
	kit2Part  = bridge.Participant{SP: kit2ID, Dialect: DialectName, At: t0}
	storkPart = bridge.Participant{SP: storkID, Dialect: stork.DialectName, At: t0}
	eidasPart = bridge.Participant{SP: eidasID, Dialect: DialectName, At: t0}
)

func (f *sloFixture) putSession(t testing.TB, ps ...bridge.Participant) {
	t.Helper()
	sess := session.Session{
		ID: sloSession, Result: bridge.Result{Status: bridge.Status{Code: bridge.StatusSuccess}, Subject: "ES/ES/99999999R"},
		Created: f.now.Add(-time.Minute), Expires: f.now.Add(time.Hour), Participants: ps,
	}
	if _, err := f.flow.Sessions.Save(context.Background(), &sess); err != nil { // sealed, as the flow keeps it
		t.Fatal(err)
	}
}

func (f *sloFixture) sessionKept(t testing.TB) bool {
	t.Helper()
	_, err := f.store.GetSession(context.Background(), sloSession)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// refusal is the reason of the last error page.
func (f *sloFixture) refusal() string {
	es := f.logs.FilterMessage("request refused").All()
	if len(es) == 0 {
		return ""
	}
	reason, _ := es[len(es)-1].ContextMap()["error"].(string)
	return reason
}

func cookieCleared(rec *httptest.ResponseRecorder) bool {
	for _, c := range rec.Result().Cookies() {
		if c.Name == web.SessionCookie && c.Value == "" && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// post sends form to path, with the session cookie when withCookie.
func (f *sloFixture) post(path string, form url.Values, withCookie bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if withCookie {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: sloSession})
	}
	rec := httptest.NewRecorder()
	f.web.ServeHTTP(rec, req)
	return rec
}

// kitLogoutRequest is what the kit's engine (marshallLogoutRequest) sends.
func kitLogoutRequest(id string) *clave2msg.LogoutRequest {
	return &clave2msg.LogoutRequest{
		ID: id, IssueInstant: t0, Destination: ssoURL, Issuer: kitLogout, NameID: kitID,
		NameIDFormat: clave2msg.NameIDUnspec, SPNameQualifier: kitLogout, NotOnOrAfter: t0.Add(5 * time.Minute),
		Reason: clave2msg.LogoutReasonUser,
	}
}

func signEl(t testing.TB, el *etree.Element, key samlxmltest.Pair, method string) []byte {
	t.Helper()
	if key.Key != nil {
		if err := key.Signer(method).Sign(el); err != nil {
			t.Fatal(err)
		}
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

func logoutForm(field string, xml []byte, relay string) url.Values {
	form := url.Values{field: {base64.StdEncoding.EncodeToString(xml)}}
	if relay != "" {
		form.Set("RelayState", relay)
	}
	return form
}

func (f *sloFixture) kitLogoutForm(t testing.TB, lr *clave2msg.LogoutRequest) url.Values {
	t.Helper()
	return logoutForm(fieldLogoutRequest, signEl(t, lr.Element(), f.kitKey, samlxml.RSASHA512), kitRelay)
}

// posted reads the message field of an auto-POST page to action, verified
// with the bridge's certificate, with the raw root and the RelayState.
func (f *sloFixture) posted(t testing.TB, rec *httptest.ResponseRecorder, action, field string) (raw, verified *etree.Element, relay string) {
	t.Helper()
	page := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %.600s", rec.Code, page)
	}
	if got := formAction(page); got != action {
		t.Fatalf("posted to %q, want %q: %.400s", got, action, page)
	}
	v, ok := formField(page, field)
	if !ok {
		t.Fatalf("no %s field: %.400s", field, page)
	}
	data, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	relay, _ = formField(page, "RelayState")
	return doc.Root(), ver.Element, relay
}

func sigMethod(root *etree.Element) string {
	if m := root.FindElement("./Signature/SignedInfo/SignatureMethod"); m != nil {
		return m.SelectAttrValue("Algorithm", "")
	}
	return ""
}

// kitAnswer reads the logoutResponse posted back to the kit.
func (f *sloFixture) kitAnswer(t testing.TB, rec *httptest.ResponseRecorder) *clave2msg.LogoutResponse {
	t.Helper()
	raw, v, relay := f.posted(t, rec, kitLogout, fieldLogoutResponse)
	if relay != kitRelay || sigMethod(raw) != samlxml.RSASHA512 || raw.FindElement("./Signature/KeyInfo/X509Data/X509Certificate") == nil {
		t.Errorf("RelayState %q, signature method %q", relay, sigMethod(raw))
	}
	lr, err := clave2msg.ParseLogoutResponse(v)
	if err != nil {
		t.Fatal(err)
	}
	if lr.Destination != kitLogout || lr.Issuer != ssoURL {
		t.Errorf("LogoutResponse %+v", lr)
	}
	if lr.Status.Message == "" {
		t.Error("LogoutResponse without StatusMessage")
	}
	return lr
}

// TestClave2LogoutInitiator: the kit is the only participant; the session
// and cookie go and the kit gets a signed Success at its logout URL.
func TestClave2LogoutInitiator(t *testing.T) {
	f := newSLOFixture(t)
	f.putSession(t, kitPart)
	rec := f.post(SSOPath, f.kitLogoutForm(t, kitLogoutRequest("_lo1")), true)
	lr := f.kitAnswer(t, rec)
	if lr.InResponseTo != "_lo1" || lr.Status != (clave2msg.Status{Code: clave2msg.StatusSuccess, Message: clave2msg.StatusSuccess}) {
		t.Errorf("LogoutResponse %+v", lr)
	}
	if f.sessionKept(t) || !cookieCleared(rec) {
		t.Errorf("session kept %v, cookie cleared %v", f.sessionKept(t), cookieCleared(rec))
	}
	if len(f.up.Begun) != 0 {
		t.Error("a logout started a login")
	}
}

// TestClave2LogoutRefusedToTheKit: no session is answered with a
// Requester status and destroys nothing. (A session the kit is not part
// of waits for the citizen's confirmation and, declined, is answered
// RequestDenied: TestClave2LogoutNotParticipant.)
func TestClave2LogoutRefusedToTheKit(t *testing.T) {
	tests := []struct {
		name    string
		session []bridge.Participant
		sub     string
	}{
		{"no session", nil, statusUnknownPrincipal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			if tt.session != nil {
				f.putSession(t, tt.session...)
			}
			lr := f.kitAnswer(t, f.post(SSOPath, f.kitLogoutForm(t, kitLogoutRequest("_lo1")), true))
			if lr.Status.Code != clave2msg.StatusRequester || lr.Status.SubCode != tt.sub || lr.Status.Message == clave2msg.StatusSuccess {
				t.Errorf("status %+v", lr.Status)
			}
			if tt.session != nil && !f.sessionKept(t) {
				t.Error("the session was destroyed")
			}
		})
	}
}

// TestClave2LogoutBadRequests: what cannot be verified, or would send the
// answer elsewhere, gets the error page and the session stays.
func TestClave2LogoutBadRequests(t *testing.T) {
	other := samlxmltest.Committed(t, "bridge-enc")
	signed := func(change func(*clave2msg.LogoutRequest)) func(*sloFixture) url.Values {
		return func(f *sloFixture) url.Values {
			lr := kitLogoutRequest("_bad")
			change(lr)
			return f.kitLogoutForm(t, lr)
		}
	}
	tests := []struct {
		name   string
		form   func(*sloFixture) url.Values
		reason string
	}{
		{"unsigned", func(f *sloFixture) url.Values {
			return logoutForm(fieldLogoutRequest, signEl(t, kitLogoutRequest("_bad").Element(), samlxmltest.Pair{}, ""), kitRelay)
		}, "unsigned"},
		{"wrong key", func(f *sloFixture) url.Values {
			return logoutForm(fieldLogoutRequest, signEl(t, kitLogoutRequest("_bad").Element(), other, samlxml.RSASHA512), kitRelay)
		}, "certificate not trusted"},
		{"unregistered return URL", signed(func(lr *clave2msg.LogoutRequest) { lr.Issuer = "https://evil.example/SP2/ReturnPage" }), "not a logout URL registered"},
		{"an ACS as return URL", signed(func(lr *clave2msg.LogoutRequest) { lr.Issuer = kitACS2 }), "not a logout URL registered"},
		{"unknown NameID", signed(func(lr *clave2msg.LogoutRequest) { lr.NameID = "X0000000X_E99999999" }), "unknown service provider"},
		{"eIDAS-profile SP", func(f *sloFixture) url.Values {
			lr := kitLogoutRequest("_bad")
			lr.NameID, lr.Issuer = eidasID, "https://sp.example/slo"
			return logoutForm(fieldLogoutRequest, signEl(t, lr.Element(), f.spKey, samlxml.RSAPSSSHA512), kitRelay)
		}, "the eIDAS profile has no single logout"},
		{"no Destination", signed(func(lr *clave2msg.LogoutRequest) { lr.Destination = "" }), "not our logout URL"},
		{"wrong Destination", signed(func(lr *clave2msg.LogoutRequest) {
			lr.Destination = "https://pasarela.clave.gob.es/Proxy2/ServiceProvider"
		}), "not our logout URL"},
		{"expired NotOnOrAfter", signed(func(lr *clave2msg.LogoutRequest) { lr.NotOnOrAfter = t0.Add(-time.Minute) }), "expired"},
		{"stale", signed(func(lr *clave2msg.LogoutRequest) { lr.IssueInstant = t0.Add(-time.Hour); lr.NotOnOrAfter = time.Time{} }), "outside the accepted window"},
		{"with a SAMLRequest", func(f *sloFixture) url.Values {
			form := f.kitLogoutForm(t, kitLogoutRequest("_bad"))
			form.Set("SAMLRequest", base64.StdEncoding.EncodeToString(f.signedKit(t, kitRequest())))
			return form
		}, "no SAMLRequest"},
		{"an AuthnRequest as logoutRequest", func(f *sloFixture) url.Values {
			return logoutForm(fieldLogoutRequest, f.signedKit(t, kitRequest()), kitRelay)
		}, "not a LogoutRequest"},
		{"RelayState too long", func(f *sloFixture) url.Values {
			form := f.kitLogoutForm(t, kitLogoutRequest("_bad"))
			form.Set("RelayState", strings.Repeat("r", maxRelayState+1))
			return form
		}, "RelayState"},
		{"empty logoutRequest", func(*sloFixture) url.Values { return url.Values{fieldLogoutRequest: {""}} }, "empty POST value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			f.putSession(t, kitPart, eidasPart)
			rec := f.post(SSOPath, tt.form(f), true)
			if rec.Code != http.StatusBadRequest || strings.Contains(rec.Body.String(), "<form") {
				t.Fatalf("status %d, want the error page: %.400s", rec.Code, rec.Body)
			}
			if !f.sessionKept(t) || cookieCleared(rec) {
				t.Error("a refused logout request ended the session")
			}
			if got := f.refusal(); !strings.Contains(got, tt.reason) {
				t.Errorf("refused for %q, want %q", got, tt.reason)
			}
		})
	}
}

// TestClave2LogoutReplay: a LogoutRequest is accepted once.
func TestClave2LogoutReplay(t *testing.T) {
	f := newSLOFixture(t)
	form := f.kitLogoutForm(t, kitLogoutRequest("_lo1"))
	f.kitAnswer(t, f.post(SSOPath, form, false)) // UnknownPrincipal, the ID is used
	f.putSession(t, kitPart)
	if rec := f.post(SSOPath, form, true); rec.Code != http.StatusBadRequest || !f.sessionKept(t) {
		t.Fatalf("replay: status %d, session kept %v", rec.Code, f.sessionKept(t))
	}
	if !strings.Contains(f.refusal(), "replayed") {
		t.Errorf("refused for %q", f.refusal())
	}
}

// storkAnswer is the Cl@ve 1 SP's signed samlResponseLogout.
func (f *sloFixture) storkAnswer(t testing.TB, inResponseTo, status string) []byte {
	t.Helper()
	el := (&clave2msg.LogoutResponse{
		ID: "_storkanswer", InResponseTo: inResponseTo, IssueInstant: f.now, Destination: storkLogoutAt,
		Issuer: storkID, Status: clave2msg.Status{Code: status},
	}).Element()
	return signEl(t, el, f.storkKey, samlxml.RSASHA256)
}

// TestClave2LogoutPropagatesToClave1: the Cl@ve 1 participant gets its
// STORK LogoutRequest (five namespaces, NameID its ProviderName, Issuer our
// /Proxy/LogoutAction) as samlRequestLogout; its samlResponseLogout
// continues to the kit's answer, partial when it did not log out.
func TestClave2LogoutPropagatesToClave1(t *testing.T) {
	for name, tt := range map[string]struct{ status, wantSub string }{
		"logged out": {clave2msg.StatusSuccess, ""},
		"failed":     {clave2msg.StatusResponder, clave2msg.StatusPartialLogout},
	} {
		t.Run(name, func(t *testing.T) {
			f := newSLOFixture(t)
			f.putSession(t, storkPart, kitPart)
			rec := f.post(SSOPath, f.kitLogoutForm(t, kitLogoutRequest("_lo1")), true)
			if f.sessionKept(t) || !cookieCleared(rec) {
				t.Fatal("the session outlived the start of the logout")
			}
			raw, v, relay := f.posted(t, rec, storkLogout, "samlRequestLogout")
			for prefix, ns := range map[string]string{
				"saml2p": samlxml.NSProtocol, "ds": samlxml.NSDSig, "saml2": samlxml.NSAssertion,
				"stork": stork.NSStork, "storkp": stork.NSStorkP,
			} {
				if raw.SelectAttrValue("xmlns:"+prefix, "") != ns {
					t.Errorf("xmlns:%s not declared on the root", prefix)
				}
			}
			if raw.SelectAttrValue("Consent", "") != "urn:oasis:names:tc:SAML:2.0:consent:unspecified" || sigMethod(raw) != samlxml.RSASHA256 {
				t.Errorf("Consent %q, signature method %q", raw.SelectAttrValue("Consent", ""), sigMethod(raw))
			}
			lr, err := clave2msg.ParseLogoutRequest(v)
			if err != nil {
				t.Fatal(err)
			}
			if lr.NameID != storkID || lr.Issuer != storkLogoutAt || lr.Destination != storkLogout || relay == "" || relay == kitRelay {
				t.Fatalf("LogoutRequest %+v, RelayState %q", lr, relay)
			}
			rec = f.post(stork.LogoutPath, logoutForm("samlResponseLogout", f.storkAnswer(t, lr.ID, tt.status), relay), false)
			ans := f.kitAnswer(t, rec)
			if ans.InResponseTo != "_lo1" || ans.Status.Code != clave2msg.StatusSuccess || ans.Status.SubCode != tt.wantSub {
				t.Errorf("final answer %+v", ans)
			}
		})
	}
}

// TestClave2LogoutPropagatesToClave2: another kit gets its logoutRequest;
// an answer to another request, or from the wrong kit, is refused.
func TestClave2LogoutPropagatesToClave2(t *testing.T) {
	answer := func(f *sloFixture, issuer, inResponseTo string) []byte {
		el := (&clave2msg.LogoutResponse{ID: "_kit2answer", InResponseTo: inResponseTo, IssueInstant: f.now,
			Destination: ssoURL, Issuer: issuer, Status: clave2msg.Status{Code: clave2msg.StatusSuccess}}).Element()
		return signEl(t, el, f.kitKey, samlxml.RSASHA512)
	}
	tests := []struct {
		name   string
		answer func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte
		reason string // "" : accepted
	}{
		{"by provider name", func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte { return answer(f, kit2ID, lr.ID) }, ""},
		{"by logout URL", func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte { return answer(f, kit2Logout, lr.ID) }, ""},
		{"wrong InResponseTo", func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte { return answer(f, kit2ID, "_other") }, "not to our request"},
		{"from the initiator", func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte { return answer(f, kitID, lr.ID) }, "not from the SP the logout waits for"},
		{"from an eIDAS-profile SP", func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte { return answer(f, eidasID, lr.ID) }, "neither the provider name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			f.putSession(t, kitPart, kit2Part)
			rec := f.post(SSOPath, f.kitLogoutForm(t, kitLogoutRequest("_lo1")), true)
			raw, v, relay := f.posted(t, rec, kit2Logout, fieldLogoutRequest)
			lr, err := clave2msg.ParseLogoutRequest(v)
			if err != nil {
				t.Fatal(err)
			}
			if lr.NameID != kit2ID || lr.SPNameQualifier != kit2Logout || lr.Issuer != ssoURL || sigMethod(raw) != samlxml.RSASHA512 {
				t.Errorf("LogoutRequest %+v", lr)
			}
			rec = f.post(SSOPath, logoutForm(fieldLogoutResponse, tt.answer(f, lr), relay), false)
			if tt.reason == "" {
				if ans := f.kitAnswer(t, rec); ans.Status.Code != clave2msg.StatusSuccess || ans.Status.SubCode != "" {
					t.Errorf("final answer %+v", ans)
				}
				return
			}
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %.400s", rec.Code, rec.Body)
			}
			if got := f.refusal(); !strings.Contains(got, tt.reason) {
				t.Errorf("refused for %q, want %q", got, tt.reason)
			}
		})
	}
}

// TestClave2LogoutRequestOnlyToKits: eIDAS-profile SPs and kits without a
// logout URL get no LogoutRequest.
func TestClave2LogoutRequestOnlyToKits(t *testing.T) {
	f := newSLOFixture(t)
	ctx := context.Background()
	if _, ok, err := f.ep.LogoutRequest(ctx, f.eidas, eidasPart, "_x", "_s"); ok || err != nil {
		t.Errorf("eIDAS-profile SP: ok %v, err %v", ok, err)
	}
	bare := *f.kit
	bare.Logout = nil
	if _, ok, err := f.ep.LogoutRequest(ctx, &bare, kitPart, "_x", "_s"); ok || err != nil {
		t.Errorf("kit without logout URL: ok %v, err %v", ok, err)
	}
	out, ok, err := f.ep.LogoutRequest(ctx, f.kit, kitPart, "_x", "_s")
	if !ok || err != nil || out.URL != kitLogout || field(out, fieldLogoutRequest) == "" || field(out, "RelayState") != "_s" {
		t.Errorf("kit: %+v %v %v", out, ok, err)
	}
}

// TestSSOStillServesAuthnRequests: the logout dispatch leaves logins alone.
func TestSSOStillServesAuthnRequests(t *testing.T) {
	f := newSLOFixture(t)
	if rec := f.postXML(f.signedKit(t, kitRequest()), "kit-state"); rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
		t.Fatalf("status %d, upstream %d", rec.Code, len(f.up.Begun))
	}
}

// TestClave2LogoutRequestDefaultSignature: a kit registered without a
// signature algorithm gets rsa-sha512, as the gateway signs, with the
// certificate in KeyInfo.
func TestClave2LogoutRequestDefaultSignature(t *testing.T) {
	f := newSLOFixture(t)
	kit := *f.kit
	kit.SignatureAlgorithm = ""
	out, ok, err := f.ep.LogoutRequest(context.Background(), &kit, kitPart, "_x", "_s")
	if !ok || err != nil {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	data, err := base64.StdEncoding.DecodeString(field(out, fieldLogoutRequest))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	if m := sigMethod(doc.Root()); m != samlxml.RSASHA512 || doc.Root().FindElement("./Signature/KeyInfo/X509Data/X509Certificate") == nil {
		t.Errorf("signature method %q", m)
	}
}
