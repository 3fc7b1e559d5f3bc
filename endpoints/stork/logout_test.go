package stork

// Cl@ve 1 single logout: the Cl@ve 1 SP (e00000001_miapp) and a Cl@ve 2.0
// kit (served by the eidas endpoint on the same flow) share a session; the
// Cl@ve 1 SP starts the logout at /Proxy/LogoutAction.

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

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/endpoints/eidas"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	stLogoutURL    = stBase + LogoutPath
	stLogoutReturn = "https://sp.example.es/SP/logoutResponse" // the SP's registered logout URL
	sloKitID       = "S2800000X_E00000001"
	sloKitLogout   = "https://kit.example/SP2/ReturnPage"
	sloProxyURL    = stBase + eidas.SSOPath
	sloSession     = "_session0123456789abcdef0123456789"
	sloRelay       = "sp-relay"
)

// statusUnknownPrincipal is the second-level status of a logout without
// a session.
const statusUnknownPrincipal = clave2msg.StatusPrefix + "UnknownPrincipal"

// sloFixture is the STORK fixture with SSO sessions, the SP's logout URL,
// and the eidas endpoint serving a Cl@ve 2.0 kit on the same flow.
type sloFixture struct {
	*stFixture
	flow *flow.Flow
	kit  *bridge.ServiceProvider
}

func newSLOFixture(t testing.TB, change ...func(*bridge.ServiceProvider)) *sloFixture {
	t.Helper()
	change = append([]func(*bridge.ServiceProvider){func(sp *bridge.ServiceProvider) {
		sp.Logout = []bridge.Endpoint{{URL: stLogoutReturn}}
	}}, change...)
	f := &sloFixture{stFixture: newStFixture(t, change...)}
	f.flow = f.ep.cfg.Flow
	now := func() time.Time { return stNow }
	f.flow.Sessions = &session.Sessions{Store: f.store, Lifetime: time.Hour, Now: now, Rand: rand.Reader, Seal: bridgetest.Seal(t)}
	f.kit = &bridge.ServiceProvider{
		ID: sloKitID, Dialect: eidas.DialectName, Profile: eidas.ProfileClave2, SigningCerts: []*x509.Certificate{f.sp.Cert},
		ACS: []bridge.Endpoint{{URL: "https://kit.example/SP2/acs"}}, Logout: []bridge.Endpoint{{URL: sloKitLogout}},
		RequireSignedRequests: true, SignatureAlgorithm: samlxml.RSASHA512,
	}
	f.registry.Registry[eidas.DialectName+" "+sloKitID] = f.kit
	proxy := eidas.New(eidas.Config{
		Flow: f.flow, Registry: f.registry, Signer: samlxml.Signer{Key: f.bridge.Key, Cert: f.bridge.Cert},
		EntityID: stBase + eidas.MetadataPath, SSOURL: sloProxyURL, Guard: f.ep.cfg.Guard,
		Now: now, Rand: rand.Reader, Log: f.ep.cfg.Log,
	})
	f.flow.Register(proxy)
	f.web.Mount(proxy.Routes()...)
	return f
}

// putSession stores the browser's session with these participants.
func (f *sloFixture) putSession(t testing.TB, ps ...bridge.Participant) {
	t.Helper()
	sess := session.Session{
		ID: sloSession, Result: bridge.Result{Status: bridge.Status{Code: bridge.StatusSuccess}, Subject: "ES/ES/99999999R"},
		Created: stNow.Add(-time.Minute), Expires: stNow.Add(time.Hour), Participants: ps,
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

var (
	storkParticipant = bridge.Participant{SP: stProvider, Dialect: DialectName, At: stNow}
	kitParticipant   = bridge.Participant{SP: sloKitID, Dialect: eidas.DialectName, At: stNow}
)

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

// kitLogoutRequest is what the Java STORK engine sends: the five
// namespaces, Consent, Destination, Issuer = the SP's logout URL, NameID =
// its ProviderName.
func kitLogoutRequest(id string, changes ...func(*etree.Element)) *etree.Element {
	el := etree.NewElement("saml2p:LogoutRequest")
	for _, ns := range storkNamespaces {
		el.CreateAttr("xmlns:"+ns[0], ns[1])
	}
	el.CreateAttr("Consent", consentUnspecified)
	el.CreateAttr("Destination", stLogoutURL)
	el.CreateAttr("ID", id)
	el.CreateAttr("IssueInstant", samlxml.FormatTime(stT0))
	el.CreateAttr("Version", "2.0")
	iss := el.CreateElement("saml2:Issuer")
	iss.CreateAttr("Format", entityFormat)
	iss.SetText(stLogoutReturn)
	el.CreateElement("saml2:NameID").SetText(stProvider)
	for _, c := range changes {
		c(el)
	}
	return el
}

func logoutForm(field string, xml []byte, relay string) url.Values {
	form := url.Values{field: {base64.StdEncoding.EncodeToString(xml)}}
	if relay != "" {
		form.Set("RelayState", relay)
	}
	return form
}

// signedLogout is the SP's signed samlRequestLogout form.
func (f *sloFixture) signedLogout(t testing.TB, id string, changes ...func(*etree.Element)) url.Values {
	t.Helper()
	return logoutForm(fieldLogoutRequest, stSign(t, kitLogoutRequest(id, changes...), f.sp, layoutPlain), sloRelay)
}

// storkAnswer reads the samlResponseLogout posted to the SP's logout URL:
// the raw root (for its namespace declarations) and the verified element.
func (f *sloFixture) storkAnswer(t testing.TB, rec *httptest.ResponseRecorder) (raw, verified *etree.Element, fields url.Values) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %.600s", rec.Code, rec.Body)
	}
	action, fields := stPosted(t, rec.Body.String())
	if action != stLogoutReturn {
		t.Fatalf("answer posted to %q, want %q", action, stLogoutReturn)
	}
	if fields.Get("RelayState") != sloRelay || fields.Has("SAMLResponse") {
		t.Errorf("fields %v", fields)
	}
	data, err := base64.StdEncoding.DecodeString(fields.Get(fieldLogoutResponse))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Root(), f.verifyAnswer(t, fields.Get(fieldLogoutResponse)), fields
}

// checkStorkRoot: the five STORK namespaces and Consent on the root.
func checkStorkRoot(t testing.TB, root *etree.Element) {
	t.Helper()
	for _, ns := range storkNamespaces {
		if got := root.SelectAttrValue("xmlns:"+ns[0], ""); got != ns[1] {
			t.Errorf("root declares %s as %q, want %q", ns[0], got, ns[1])
		}
	}
	if root.Space != "saml2p" || root.SelectAttrValue("Consent", "") != consentUnspecified {
		t.Errorf("root %s, Consent %q", root.FullTag(), root.SelectAttrValue("Consent", ""))
	}
	if m := root.FindElement("./Signature/SignedInfo/SignatureMethod"); m == nil || m.SelectAttrValue("Algorithm", "") != samlxml.RSASHA256 {
		t.Errorf("signature method %v, want rsa-sha256", m)
	}
	if root.FindElement("./Signature/KeyInfo/X509Data/X509Certificate") == nil {
		t.Error("no certificate in KeyInfo")
	}
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

// TestStorkLogoutInitiator: the only participant logs out; the session and
// its cookie are gone and the SP gets a signed Success at its registered
// logout URL, in the Cl@ve 1 form.
func TestStorkLogoutInitiator(t *testing.T) {
	f := newSLOFixture(t)
	f.putSession(t, storkParticipant)
	rec := f.post(LogoutPath, f.signedLogout(t, "_lo1"), true)
	raw, resp, _ := f.storkAnswer(t, rec)
	checkStorkRoot(t, raw)
	lr, err := clave2msg.ParseLogoutResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if lr.InResponseTo != "_lo1" || lr.Destination != stLogoutReturn || lr.Issuer != stLogoutURL {
		t.Errorf("LogoutResponse %+v", lr)
	}
	if code, sub, msg := statusOf(resp); code != statusSuccess || sub != "" || msg != statusSuccess {
		t.Errorf("status %q %q %q", code, sub, msg)
	}
	if iss := raw.FindElement("./Issuer"); iss == nil || iss.SelectAttrValue("Format", "") != entityFormat {
		t.Error("Issuer without the entity format")
	}
	if f.sessionKept(t) || !cookieCleared(rec) {
		t.Errorf("session kept %v, cookie cleared %v", f.sessionKept(t), cookieCleared(rec))
	}
}

// TestStorkLogoutRefusedToTheSP: without a session (UnknownPrincipal) the
// SP still gets a signed answer with a StatusMessage, and nothing is
// destroyed. (A session the SP is not part of waits for the citizen's
// confirmation and, declined, is answered RequestDenied:
// TestStorkLogoutNotParticipant.)
func TestStorkLogoutRefusedToTheSP(t *testing.T) {
	tests := []struct {
		name    string
		session []bridge.Participant
		cookie  bool
		sub     string
	}{
		{"no cookie", nil, false, statusUnknownPrincipal},
		{"unknown session", nil, true, statusUnknownPrincipal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			if tt.session != nil {
				f.putSession(t, tt.session...)
			}
			raw, resp, _ := f.storkAnswer(t, f.post(LogoutPath, f.signedLogout(t, "_lo1"), tt.cookie))
			checkStorkRoot(t, raw)
			code, sub, msg := statusOf(resp)
			if code != clave2msg.StatusRequester || sub != tt.sub || msg == "" || msg == statusSuccess {
				t.Errorf("status %q %q %q", code, sub, msg)
			}
			if tt.session != nil && !f.sessionKept(t) {
				t.Error("the session was destroyed")
			}
		})
	}
}

// TestStorkLogoutBadRequests: what cannot be verified, or would send the
// answer elsewhere, gets the error page and the session stays.
func TestStorkLogoutBadRequests(t *testing.T) {
	other := samlxmltest.Committed(t, "simulator-sign")
	signed := func(changes ...func(*etree.Element)) func(*sloFixture) url.Values {
		return func(f *sloFixture) url.Values { return f.signedLogout(t, "_bad", changes...) }
	}
	tests := []struct {
		name   string
		form   func(*sloFixture) url.Values
		reason string
	}{
		{"unsigned", func(f *sloFixture) url.Values {
			return logoutForm(fieldLogoutRequest, stSerialize(t, kitLogoutRequest("_bad"), layoutPlain), sloRelay)
		}, "unsigned"},
		{"wrong key", func(f *sloFixture) url.Values {
			return logoutForm(fieldLogoutRequest, stSign(t, kitLogoutRequest("_bad"), other, layoutPlain), sloRelay)
		}, "certificate not trusted"},
		{"tampered Issuer", func(f *sloFixture) url.Values {
			xml := stSign(t, kitLogoutRequest("_bad"), f.sp, layoutPlain)
			return logoutForm(fieldLogoutRequest, []byte(strings.Replace(string(xml), stLogoutReturn, stLogoutReturn+"x", 1)), sloRelay)
		}, "digest mismatch"},
		{"SHA-1 without legacy_sha1", func(f *sloFixture) url.Values {
			return logoutForm(fieldLogoutRequest, stSign(t, kitLogoutRequest("_bad"), f.sp, layoutJava), sloRelay)
		}, "SHA-1 is disabled"},
		{"unregistered return URL", signed(setText(samlxml.NSAssertion, "Issuer", "https://evil.example/logout")), "not a logout URL registered"},
		{"an ACS as return URL", signed(setText(samlxml.NSAssertion, "Issuer", stACS)), "not a logout URL registered"},
		{"no Issuer", signed(removeChild(samlxml.NSAssertion, "Issuer")), "not a logout URL registered"},
		{"unknown NameID", signed(setText(samlxml.NSAssertion, "NameID", "x00000000_otra")), "no Cl@ve 1 SP"},
		{"NameID of the Cl@ve 2.0 kit", signed(setText(samlxml.NSAssertion, "NameID", sloKitID)), "no Cl@ve 1 SP"},
		{"no NameID", signed(removeChild(samlxml.NSAssertion, "NameID")), "ProviderName is missing"},
		{"wrong Destination", signed(setAttr("Destination", "https://pasarela.clave.gob.es/Proxy/LogoutAction")), "not our logout URL"},
		{"stale", signed(setAttr("IssueInstant", samlxml.FormatTime(stNow.Add(-time.Hour)))), "outside the accepted window"},
		{"expired NotOnOrAfter", signed(setAttr("NotOnOrAfter", samlxml.FormatTime(stNow.Add(-time.Hour)))), "expired"},
		{"a LogoutResponse as samlRequestLogout", func(f *sloFixture) url.Values {
			el := (&clave2msg.LogoutResponse{ID: "_r", InResponseTo: "_x", IssueInstant: stT0, Issuer: stProvider,
				Status: clave2msg.Status{Code: clave2msg.StatusSuccess}}).Element()
			return logoutForm(fieldLogoutRequest, stSign(t, el, f.sp, layoutPlain), sloRelay)
		}, "not a LogoutRequest"},
		{"both fields", func(f *sloFixture) url.Values {
			form := f.signedLogout(t, "_bad")
			form.Set(fieldLogoutResponse, form.Get(fieldLogoutRequest))
			return form
		}, "want exactly one"},
		{"RelayState over 80", func(f *sloFixture) url.Values {
			form := f.signedLogout(t, "_bad")
			form.Set("RelayState", strings.Repeat("r", 81))
			return form
		}, "more than 80"},
		{"bad base64", func(*sloFixture) url.Values { return url.Values{fieldLogoutRequest: {"***"}} }, "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			f.putSession(t, storkParticipant)
			rec := f.post(LogoutPath, tt.form(f), true)
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

// TestStorkLogoutWithoutRegisteredURL: an SP without logout_urls cannot
// start a logout (there is nowhere to answer).
func TestStorkLogoutWithoutRegisteredURL(t *testing.T) {
	f := newSLOFixture(t, func(sp *bridge.ServiceProvider) { sp.Logout = nil })
	f.putSession(t, storkParticipant)
	if rec := f.post(LogoutPath, f.signedLogout(t, "_lo1"), true); rec.Code != http.StatusBadRequest || !f.sessionKept(t) {
		t.Fatalf("status %d, session kept %v", rec.Code, f.sessionKept(t))
	}
}

// TestStorkLogoutLegacySHA1: legacy_sha1 admits the Java engine's SHA-1
// digest, as for AuthnRequests.
func TestStorkLogoutLegacySHA1(t *testing.T) {
	f := newSLOFixture(t, func(sp *bridge.ServiceProvider) { sp.AllowSHA1 = true })
	f.putSession(t, storkParticipant)
	form := logoutForm(fieldLogoutRequest, stSign(t, kitLogoutRequest("_lo1"), f.sp, layoutJava), sloRelay)
	_, resp, _ := f.storkAnswer(t, f.post(LogoutPath, form, true))
	if code, _, _ := statusOf(resp); code != statusSuccess || f.sessionKept(t) {
		t.Fatalf("status %q, session kept %v", code, f.sessionKept(t))
	}
}

// TestStorkLogoutReplay: a LogoutRequest is accepted once.
func TestStorkLogoutReplay(t *testing.T) {
	f := newSLOFixture(t)
	form := f.signedLogout(t, "_lo1")
	if _, resp, _ := f.storkAnswer(t, f.post(LogoutPath, form, false)); resp == nil {
		t.Fatal("no answer")
	}
	f.putSession(t, storkParticipant)
	if rec := f.post(LogoutPath, form, true); rec.Code != http.StatusBadRequest || !f.sessionKept(t) {
		t.Fatalf("replay: status %d, session kept %v", rec.Code, f.sessionKept(t))
	}
}

// kitLogoutAnswer is the Cl@ve 2.0 kit's signed logoutResponse.
func (f *sloFixture) kitLogoutAnswer(t testing.TB, id, inResponseTo, issuer, status string) []byte {
	t.Helper()
	el := (&clave2msg.LogoutResponse{
		ID: id, InResponseTo: inResponseTo, IssueInstant: stNow, Destination: sloProxyURL, Issuer: issuer,
		Status: clave2msg.Status{Code: status},
	}).Element()
	if err := f.sp.Signer(samlxml.RSASHA512).Sign(el); err != nil {
		t.Fatal(err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

// startPropagation: the Cl@ve 1 SP logs out of a session the kit shares;
// the kit gets its Cl@ve 2.0 logoutRequest, returned with the RelayState.
func (f *sloFixture) startPropagation(t testing.TB) (*clave2msg.LogoutRequest, string) {
	t.Helper()
	f.putSession(t, kitParticipant, storkParticipant)
	rec := f.post(LogoutPath, f.signedLogout(t, "_lo1"), true)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %.600s", rec.Code, rec.Body)
	}
	if f.sessionKept(t) || !cookieCleared(rec) {
		t.Fatal("the session outlived the start of the logout")
	}
	action, fields := stPosted(t, rec.Body.String())
	if action != sloKitLogout || fields.Get("RelayState") == "" || fields.Get("RelayState") == sloRelay {
		t.Fatalf("posted to %q with %v", action, fields)
	}
	raw, err := base64.StdEncoding.DecodeString(fields.Get("logoutRequest"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	if m := doc.Root().FindElement("./Signature/SignedInfo/SignatureMethod"); m == nil || m.SelectAttrValue("Algorithm", "") != samlxml.RSASHA512 {
		t.Errorf("the kit's LogoutRequest is not signed rsa-sha512")
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	lr, err := clave2msg.ParseLogoutRequest(v.Element)
	if err != nil {
		t.Fatal(err)
	}
	if lr.NameID != sloKitID || lr.NameIDFormat != clave2msg.NameIDUnspec || lr.SPNameQualifier != sloKitLogout ||
		lr.Issuer != sloProxyURL || lr.Destination != sloKitLogout || lr.Reason != clave2msg.LogoutReasonUser ||
		!lr.NotOnOrAfter.After(stNow) {
		t.Errorf("kit LogoutRequest %+v", lr)
	}
	return lr, fields.Get("RelayState")
}

// TestStorkLogoutPropagatesToClave2: the other participant, a Cl@ve 2.0
// kit, is told in its dialect; its answer (Issuer its provider name or its
// logout URL) continues to the initiator's answer, partial when the kit did
// not log out.
func TestStorkLogoutPropagatesToClave2(t *testing.T) {
	tests := []struct {
		name, issuer, status, wantSub string
	}{
		{"kit logged out", sloKitID, clave2msg.StatusSuccess, ""},
		{"Issuer is the kit's logout URL", sloKitLogout, clave2msg.StatusSuccess, ""},
		{"kit failed", sloKitID, clave2msg.StatusResponder, clave2msg.StatusPartialLogout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			lr, relay := f.startPropagation(t)
			answer := f.kitLogoutAnswer(t, "_kitanswer", lr.ID, tt.issuer, tt.status)
			raw, resp, _ := f.storkAnswer(t, f.post(eidas.SSOPath, logoutForm("logoutResponse", answer, relay), false))
			checkStorkRoot(t, raw)
			code, sub, msg := statusOf(resp)
			if code != statusSuccess || sub != tt.wantSub || msg == "" {
				t.Errorf("status %q %q %q", code, sub, msg)
			}
			if got := resp.SelectAttrValue("InResponseTo", ""); got != "_lo1" {
				t.Errorf("InResponseTo %q", got)
			}
		})
	}
}

// TestStorkLogoutBadKitAnswers: an answer not to our LogoutRequest, not
// signed by the kit, or naming nobody is refused.
func TestStorkLogoutBadKitAnswers(t *testing.T) {
	other := samlxmltest.Committed(t, "simulator-sign")
	tests := []struct {
		name   string
		answer func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte
		reason string
	}{
		{"wrong InResponseTo", func(f *sloFixture, _ *clave2msg.LogoutRequest) []byte {
			return f.kitLogoutAnswer(t, "_a", "_not_ours", sloKitID, clave2msg.StatusSuccess)
		}, "not to our request"},
		{"unknown Issuer", func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte {
			return f.kitLogoutAnswer(t, "_a", lr.ID, "https://evil.example/", clave2msg.StatusSuccess)
		}, "neither the provider name nor a registered logout URL"},
		{"wrong key", func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte {
			el := (&clave2msg.LogoutResponse{ID: "_a", InResponseTo: lr.ID, IssueInstant: stNow, Issuer: sloKitID,
				Status: clave2msg.Status{Code: clave2msg.StatusSuccess}}).Element()
			if err := other.Signer(samlxml.RSASHA512).Sign(el); err != nil {
				t.Fatal(err)
			}
			xml, _ := samlxml.Serialize(el)
			return xml
		}, "certificate not trusted"},
		{"unsigned", func(f *sloFixture, lr *clave2msg.LogoutRequest) []byte {
			xml, _ := samlxml.Serialize((&clave2msg.LogoutResponse{ID: "_a", InResponseTo: lr.ID, IssueInstant: stNow,
				Issuer: sloKitID, Status: clave2msg.Status{Code: clave2msg.StatusSuccess}}).Element())
			return xml
		}, "unsigned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			lr, relay := f.startPropagation(t)
			rec := f.post(eidas.SSOPath, logoutForm("logoutResponse", tt.answer(f, lr), relay), false)
			if rec.Code != http.StatusBadRequest || strings.Contains(rec.Body.String(), stLogoutReturn) {
				t.Fatalf("status %d: %.400s", rec.Code, rec.Body)
			}
			if got := f.refusal(); !strings.Contains(got, tt.reason) {
				t.Errorf("refused for %q, want %q", got, tt.reason)
			}
		})
	}
}

// TestStorkLogoutRequestShape: the LogoutRequest a Cl@ve 1 SP receives
// when another SP starts the logout; none for an SP without logout URL.
func TestStorkLogoutRequestShape(t *testing.T) {
	f := newSLOFixture(t)
	out, ok, err := f.ep.LogoutRequest(context.Background(), f.reg, storkParticipant, "_ours", "_state")
	if err != nil || !ok {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	if out.URL != stLogoutReturn || len(out.Fields) != 2 || out.Fields[0].Name != fieldLogoutRequest ||
		out.Fields[1] != (samlxml.Field{Name: "RelayState", Value: "_state"}) {
		t.Fatalf("outgoing %+v", out)
	}
	data, _ := base64.StdEncoding.DecodeString(out.Fields[0].Value)
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	checkStorkRoot(t, doc.Root())
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	lr, err := clave2msg.ParseLogoutRequest(v.Element)
	if err != nil {
		t.Fatal(err)
	}
	if lr.ID != "_ours" || lr.NameID != stProvider || lr.Issuer != stLogoutURL || lr.Destination != stLogoutReturn {
		t.Errorf("LogoutRequest %+v", lr)
	}
	noURL := *f.reg
	noURL.Logout = nil
	if _, ok, err := f.ep.LogoutRequest(context.Background(), &noURL, storkParticipant, "_ours", "_state"); ok || err != nil {
		t.Errorf("an SP without logout URL: ok %v, err %v", ok, err)
	}
}

// TestStorkLogoutAnswerFromClave1SP: during a logout started elsewhere,
// the Cl@ve 1 SP's samlResponseLogout (Issuer its ProviderName or its
// logout URL) is verified and continues the logout; a wrong one is refused.
func TestStorkLogoutAnswerFromClave1SP(t *testing.T) {
	answer := func(f *sloFixture, id, inResponseTo, issuer string, key samlxmltest.Pair) url.Values {
		el := (&clave2msg.LogoutResponse{ID: id, InResponseTo: inResponseTo, IssueInstant: stNow, Destination: stLogoutURL,
			Issuer: issuer, Status: clave2msg.Status{Code: clave2msg.StatusSuccess}}).Element()
		storkRoot(el)
		return logoutForm(fieldLogoutResponse, stSign(t, el, key, layoutPlain), "")
	}
	tests := []struct {
		name       string
		form       func(f *sloFixture, lr *clave2msg.LogoutRequest) url.Values
		wantStatus int
	}{
		{"Issuer is the ProviderName", func(f *sloFixture, lr *clave2msg.LogoutRequest) url.Values {
			return answer(f, "_sp1", lr.ID, stProvider, f.sp)
		}, http.StatusOK},
		{"Issuer is the logout URL", func(f *sloFixture, lr *clave2msg.LogoutRequest) url.Values {
			return answer(f, "_sp1", lr.ID, stLogoutReturn, f.sp)
		}, http.StatusOK},
		{"wrong InResponseTo", func(f *sloFixture, _ *clave2msg.LogoutRequest) url.Values {
			return answer(f, "_sp1", "_other", stProvider, f.sp)
		}, http.StatusBadRequest},
		{"wrong key", func(f *sloFixture, lr *clave2msg.LogoutRequest) url.Values {
			return answer(f, "_sp1", lr.ID, stProvider, samlxmltest.Committed(t, "simulator-sign"))
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			// The kit starts: the Cl@ve 1 SP is told.
			f.putSession(t, kitParticipant, storkParticipant)
			el := (&clave2msg.LogoutRequest{ID: "_kitlo", IssueInstant: stT0, Destination: sloProxyURL, Issuer: sloKitLogout,
				NameID: sloKitID, NameIDFormat: clave2msg.NameIDUnspec, Reason: clave2msg.LogoutReasonUser}).Element()
			if err := f.sp.Signer(samlxml.RSASHA512).Sign(el); err != nil {
				t.Fatal(err)
			}
			xml, _ := samlxml.Serialize(el)
			rec := f.post(eidas.SSOPath, logoutForm("logoutRequest", xml, "kit-relay"), true)
			action, fields := stPosted(t, rec.Body.String())
			if action != stLogoutReturn {
				t.Fatalf("posted to %q: %.400s", action, rec.Body)
			}
			lrEl := f.verifyAnswer(t, fields.Get(fieldLogoutRequest))
			lr, err := clave2msg.ParseLogoutRequest(lrEl)
			if err != nil {
				t.Fatal(err)
			}
			form := tt.form(f, lr)
			form.Set("RelayState", fields.Get("RelayState"))
			rec = f.post(LogoutPath, form, false)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %.400s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			if action, fields := stPosted(t, rec.Body.String()); action != sloKitLogout || fields.Get("RelayState") != "kit-relay" || !fields.Has("logoutResponse") {
				t.Fatalf("final answer to %q: %v", action, fields)
			}
		})
	}
}
