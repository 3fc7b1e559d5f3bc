package saml2

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
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
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	sloURL  = base + "/saml2/slo"
	spSLO   = "https://sp.example/slo"
	sp2ID   = "https://sp2.example/metadata"
	sp2ACS  = "https://sp2.example/acs"
	sp2SLO  = "https://sp2.example/slo"
	sessID  = "_session1"
	subject = "ES/ES/99999999R"
)

// statusUnknownPrincipal is SAML's second-level code for a logout naming
// no session we know.
const statusUnknownPrincipal = clave2msg.StatusPrefix + "UnknownPrincipal"

// sloFixture is the endpoint fixture with SSO sessions, the SP's
// SingleLogoutService and a second saml2 SP (signing with other keys).
type sloFixture struct {
	*fixture
	sp2    samlxmltest.Pair
	sp2Reg *bridge.ServiceProvider
	logs   *observer.ObservedLogs
}

func newSLOFixture(t *testing.T) *sloFixture {
	t.Helper()
	f := &sloFixture{fixture: newFixture(t), sp2: other(t)}
	core, logs := observer.New(zap.InfoLevel)
	f.logs = logs
	f.ep.cfg.Log, f.ep.cfg.Flow.Log = zap.New(core), zap.New(core)
	f.web = web.New(web.Options{Log: zap.New(core), Rand: rand.Reader}) // error pages log here
	f.web.Mount(f.ep.Routes()...)
	now := func() time.Time { return t0 }
	f.ep.cfg.Flow.Sessions = &session.Sessions{Store: f.store, Lifetime: time.Hour, Now: now, Rand: f.ep.cfg.Rand, Seal: bridgetest.Seal(t)}
	f.spReg.Logout = []bridge.Endpoint{{URL: spSLO, Binding: samlxml.BindingPOST}}
	f.sp2Reg = &bridge.ServiceProvider{
		ID: sp2ID, Dialect: DialectName, SigningCerts: []*x509.Certificate{f.sp2.Cert},
		ACS:    []bridge.Endpoint{{URL: sp2ACS}},
		Logout: []bridge.Endpoint{{URL: sp2SLO, Binding: samlxml.BindingPOST}},
		// The SP's metadata does not say it signs: logout messages must
		// be signed all the same.
		RequireSignedRequests: false, SignatureAlgorithm: samlxml.RSASHA256,
	}
	f.ep.cfg.Registry.(bridgetest.Registry)[DialectName+" "+sp2ID] = f.sp2Reg
	return f
}

func participant(sp, n string) bridge.Participant {
	return bridge.Participant{SP: sp, Dialect: DialectName, SessionIndex: "_si" + n, TransientNameID: "_tn" + n, Subject: subject, At: t0}
}

// putSession stores the browser's session with these participants.
func (f *sloFixture) putSession(t *testing.T, ps ...bridge.Participant) {
	t.Helper()
	sess := session.Session{ID: sessID, Created: t0, Expires: t0.Add(time.Hour), Participants: ps,
		Result: bridge.Result{Subject: subject}}
	if _, err := f.ep.cfg.Flow.Sessions.Save(context.Background(), &sess); err != nil { // sealed, as the flow keeps it
		t.Fatal(err)
	}
}

func (f *sloFixture) sessionKept(t *testing.T) bool {
	t.Helper()
	_, err := f.store.GetSession(context.Background(), sessID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func logoutRequest(nameID string, sessionIndexes ...string) *clave2msg.LogoutRequest {
	return &clave2msg.LogoutRequest{
		ID: "_lo1", IssueInstant: t0, Destination: sloURL, Issuer: spID, NameID: nameID,
		NameIDFormat: nameIDTransient, NotOnOrAfter: t0.Add(time.Minute), Reason: clave2msg.LogoutReasonUser,
		SessionIndexes: sessionIndexes,
	}
}

// signedEl signs el with key (nil: unsigned) and serialises it.
func signedEl(t *testing.T, el *etree.Element, key *samlxmltest.Pair) []byte {
	t.Helper()
	if key != nil {
		if err := key.Signer(samlxml.RSASHA256).Sign(el); err != nil {
			t.Fatal(err)
		}
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

// slo sends a request to /saml2/slo, with the session cookie if withCookie.
func (f *sloFixture) slo(req *http.Request, withCookie bool) *httptest.ResponseRecorder {
	if withCookie {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: sessID})
	}
	rec := httptest.NewRecorder()
	f.web.ServeHTTP(rec, req)
	return rec
}

func (f *sloFixture) postSLO(param string, xml []byte, relay string, withCookie bool) *httptest.ResponseRecorder {
	form := url.Values{param: {base64.StdEncoding.EncodeToString(xml)}}
	if relay != "" {
		form.Set("RelayState", relay)
	}
	req := httptest.NewRequest(http.MethodPost, "/saml2/slo", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.slo(req, withCookie)
}

// redirectSLO sends xml in the Redirect binding, query-signed with key
// (nil: unsigned).
func (f *sloFixture) redirectSLO(t *testing.T, param string, xml []byte, relay string, key *samlxmltest.Pair, withCookie bool) *httptest.ResponseRecorder {
	t.Helper()
	var signer *samlxml.Signer
	if key != nil {
		s := key.Signer(samlxml.RSASHA256)
		signer = &s
	}
	loc, err := samlxml.EncodeRedirect(sloURL, param, xml, relay, signer)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/saml2/slo", nil)
	req.URL.RawQuery = mustQuery(loc)
	return f.slo(req, withCookie)
}

// outMessage is a logout message the bridge sent to an SP, its signature
// verified with the bridge's certificate.
type outMessage struct {
	El       *etree.Element
	Relay    string
	Redirect bool
}

// readOut reads the bridge's answer: a POST form to wantURL or a 303 to it
// (Redirect binding), carrying param.
func (f *sloFixture) readOut(t *testing.T, rec *httptest.ResponseRecorder, wantURL, param string) outMessage {
	t.Helper()
	idp := samlxml.Verifier{Certs: []*x509.Certificate{f.idp.Cert}}
	if rec.Code == http.StatusSeeOther {
		loc := rec.Header().Get("Location")
		if !strings.HasPrefix(loc, wantURL+"?") {
			t.Fatalf("redirected to %q, want %s", loc, wantURL)
		}
		msg, err := samlxml.DecodeRedirect(mustQuery(loc), samlxml.DefaultMaxMessageBytes)
		if err != nil || msg.Param != param {
			t.Fatalf("redirect %q: %v (param %q)", loc, err, msg.Param)
		}
		if _, err := msg.Verify(idp); err != nil {
			t.Fatalf("redirect signature: %v", err)
		}
		doc, err := samlxml.Parse(msg.XML, samlxml.DefaultMaxMessageBytes)
		if err != nil {
			t.Fatal(err)
		}
		return outMessage{El: doc.Root(), Relay: msg.RelayState, Redirect: true}
	}
	page := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(page, `action="`+wantURL+`"`) {
		t.Fatalf("status %d, want a form to %s: %.500s", rec.Code, wantURL, page)
	}
	field := func(name string) string {
		i := strings.Index(page, `name="`+name+`" value="`)
		if i < 0 {
			return ""
		}
		v := page[i+len(`name="`+name+`" value="`):]
		return html.UnescapeString(v[:strings.IndexByte(v, '"')])
	}
	raw, err := base64.StdEncoding.DecodeString(field(param))
	if err != nil || len(raw) == 0 {
		t.Fatalf("no %s in the form: %v", param, err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := idp.Verify(doc.Root())
	if err != nil {
		t.Fatalf("%s signature: %v", param, err)
	}
	return outMessage{El: v.Element, Relay: field("RelayState")}
}

// readLogoutResponse reads the bridge's LogoutResponse to the SP at wantURL.
func (f *sloFixture) readLogoutResponse(t *testing.T, rec *httptest.ResponseRecorder, wantURL string) (*clave2msg.LogoutResponse, outMessage) {
	t.Helper()
	out := f.readOut(t, rec, wantURL, "SAMLResponse")
	lr, err := clave2msg.ParseLogoutResponse(out.El)
	if err != nil {
		t.Fatal(err)
	}
	if lr.Issuer != entityID || lr.Destination != wantURL {
		t.Fatalf("Issuer %q, Destination %q", lr.Issuer, lr.Destination)
	}
	return lr, out
}

func wantStatus(t *testing.T, lr *clave2msg.LogoutResponse, code, sub string) {
	t.Helper()
	if lr.Status.Code != code || lr.Status.SubCode != sub {
		t.Fatalf("status %s / %s, want %s / %s (%s)", lr.Status.Code, lr.Status.SubCode, code, sub, lr.Status.Message)
	}
}

func cookieCleared(rec *httptest.ResponseRecorder) bool {
	for _, c := range rec.Result().Cookies() {
		if c.Name == web.SessionCookie && c.MaxAge < 0 && c.Value == "" {
			return true
		}
	}
	return false
}

// TestSPInitiatedLogout: a signed LogoutRequest naming the SP's session,
// by POST or Redirect, ends the session and clears the cookie; the SP gets
// a signed Success LogoutResponse at its SingleLogoutService, in the
// binding it registered, with its RelayState.
func TestSPInitiatedLogout(t *testing.T) {
	tests := []struct {
		name     string
		in       string // binding of the request
		out      string // binding of the SP's SingleLogoutService
		nameID   string
		sessions []string
	}{
		{"post in, post out", "post", samlxml.BindingPOST, "_tn1", []string{"_si1"}},
		{"redirect in, redirect out", "redirect", samlxml.BindingRedirect, "_tn1", []string{"_si1"}},
		{"post in, redirect out, no SessionIndex", "post", samlxml.BindingRedirect, "_tn1", nil},
		{"redirect in, post out, persistent NameID", "redirect", samlxml.BindingPOST, subject, []string{"_other", "_si1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			f.spReg.Logout = []bridge.Endpoint{{URL: spSLO, Binding: tt.out}}
			f.putSession(t, participant(spID, "1"))
			el := logoutRequest(tt.nameID, tt.sessions...).Element()
			var rec *httptest.ResponseRecorder
			if tt.in == "post" {
				rec = f.postSLO("SAMLRequest", signedEl(t, el, &f.sp), "relay-1", true)
			} else {
				rec = f.redirectSLO(t, "SAMLRequest", signedEl(t, el, nil), "relay-1", &f.sp, true)
			}
			lr, out := f.readLogoutResponse(t, rec, spSLO)
			wantStatus(t, lr, clave2msg.StatusSuccess, "")
			if lr.InResponseTo != "_lo1" || out.Relay != "relay-1" || out.Redirect != (tt.out == samlxml.BindingRedirect) {
				t.Fatalf("InResponseTo %q, RelayState %q, redirect %v", lr.InResponseTo, out.Relay, out.Redirect)
			}
			if f.sessionKept(t) || !cookieCleared(rec) {
				t.Fatalf("session kept %v, cookie cleared %v", f.sessionKept(t), cookieCleared(rec))
			}
		})
	}
}

// TestLogoutRefusedToTheSP: a valid request when the browser has no
// session is answered with an error status and ends nothing. (One that
// names another session waits for the citizen's confirmation and, when
// declined, is answered RequestDenied: TestLogoutNotNamed.)
func TestLogoutRefusedToTheSP(t *testing.T) {
	tests := []struct {
		name    string
		session []bridge.Participant // nil: none stored
		cookie  bool
		req     *clave2msg.LogoutRequest
		sub     string
	}{
		{"no cookie", []bridge.Participant{participant(spID, "1")}, false, logoutRequest("_tn1"), statusUnknownPrincipal},
		{"unknown session", nil, true, logoutRequest("_tn1"), statusUnknownPrincipal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			if tt.session != nil {
				f.putSession(t, tt.session...)
			}
			rec := f.postSLO("SAMLRequest", signedEl(t, tt.req.Element(), &f.sp), "r", tt.cookie)
			lr, out := f.readLogoutResponse(t, rec, spSLO)
			wantStatus(t, lr, clave2msg.StatusRequester, tt.sub)
			if lr.InResponseTo != "_lo1" || out.Relay != "r" {
				t.Fatalf("InResponseTo %q, RelayState %q", lr.InResponseTo, out.Relay)
			}
			if tt.session != nil && !f.sessionKept(t) {
				t.Fatal("a refused logout ended the session")
			}
			if cookieCleared(rec) {
				t.Fatal("a refused logout cleared the cookie")
			}
		})
	}
}

// TestBadLogoutRequests: unsigned, badly signed, replayed, misdirected or
// malformed requests get the error page and end nothing.
func TestBadLogoutRequests(t *testing.T) {
	mut := func(change func(*clave2msg.LogoutRequest)) *etree.Element {
		lr := logoutRequest("_tn1", "_si1")
		change(lr)
		return lr.Element()
	}
	good := func() *etree.Element { return logoutRequest("_tn1", "_si1").Element() }
	tests := []struct {
		name, reason string
		send         func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder
	}{
		{"unsigned POST, SP that must sign", "the message has no signature", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			f.spReg.RequireSignedRequests = true
			return f.postSLO("SAMLRequest", signedEl(t, good(), nil), "", true)
		}},
		{"unsigned POST, SP whose metadata does not say it signs", "the message has no signature", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			f.spReg.RequireSignedRequests = false
			return f.postSLO("SAMLRequest", signedEl(t, good(), nil), "", true)
		}},
		{"unsigned redirect", "the redirect query has no signature", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			f.spReg.RequireSignedRequests = false
			return f.redirectSLO(t, "SAMLRequest", signedEl(t, good(), nil), "", nil, true)
		}},
		{"redirect with only an enveloped signature", "the redirect query has no signature", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.redirectSLO(t, "SAMLRequest", signedEl(t, good(), &f.sp), "", nil, true)
		}},
		{"POST signed with another SP's key", "certificate not trusted", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, good(), &f.sp2), "", true)
		}},
		{"redirect signed with another SP's key", "redirect signature: samlxml: verify: signature not made by any configured certificate", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.redirectSLO(t, "SAMLRequest", signedEl(t, good(), nil), "", &f.sp2, true)
		}},
		{"tampered", "digest mismatch", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			xml := bytes.Replace(signedEl(t, good(), &f.sp), []byte("_tn1"), []byte("_tn2"), 1)
			return f.postSLO("SAMLRequest", xml, "", true)
		}},
		{"tampered redirect RelayState", "redirect signature: samlxml: verify: signature not made", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			loc, err := samlxml.EncodeRedirect(sloURL, "SAMLRequest", signedEl(t, good(), nil), "r1", ptr(f.sp.Signer(samlxml.RSASHA256)))
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/saml2/slo", nil)
			req.URL.RawQuery = strings.Replace(mustQuery(loc), "RelayState=r1", "RelayState=r2", 1)
			return f.slo(req, true)
		}},
		{"unknown SP", "unknown service provider", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, mut(func(r *clave2msg.LogoutRequest) { r.Issuer = "https://evil.example" }), &f.sp), "", true)
		}},
		{"no Issuer", "has no Issuer", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, mut(func(r *clave2msg.LogoutRequest) { r.Issuer = "" }), &f.sp), "", true)
		}},
		{"wrong Destination", "is not our SLO URL", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, mut(func(r *clave2msg.LogoutRequest) { r.Destination = ssoURL }), &f.sp), "", true)
		}},
		{"stale", "outside the accepted window", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, mut(func(r *clave2msg.LogoutRequest) {
				r.IssueInstant, r.NotOnOrAfter = t0.Add(-time.Hour), time.Time{}
			}), &f.sp), "", true)
		}},
		{"future", "outside the accepted window", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, mut(func(r *clave2msg.LogoutRequest) { r.IssueInstant = t0.Add(time.Hour) }), &f.sp), "", true)
		}},
		{"past NotOnOrAfter", "LogoutRequest expired", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, mut(func(r *clave2msg.LogoutRequest) { r.NotOnOrAfter = t0.Add(-time.Minute) }), &f.sp), "", true)
		}},
		{"empty NameID", "empty NameID", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, mut(func(r *clave2msg.LogoutRequest) { r.NameID = "" }), &f.sp), "", true)
		}},
		{"no NameID", "no single NameID", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			el := good()
			el.RemoveChild(el.SelectElement("saml2:NameID"))
			return f.postSLO("SAMLRequest", signedEl(t, el, &f.sp), "", true)
		}},
		{"SP without SingleLogoutService", "no SingleLogoutService", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			f.spReg.Logout = nil
			return f.postSLO("SAMLRequest", signedEl(t, good(), &f.sp), "", true)
		}},
		{"LogoutRequest as SAMLResponse", "SAMLResponse carries saml2p:LogoutRequest", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLResponse", signedEl(t, good(), &f.sp), "", true)
		}},
		{"AuthnRequest", "SAMLRequest carries saml2p:AuthnRequest", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", f.signed(t, goodRequest(), f.sp), "", true)
		}},
		{"relay state too long", "RelayState is 81 bytes", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", signedEl(t, good(), &f.sp), strings.Repeat("r", 81), true)
		}},
		{"both SAMLRequest and SAMLResponse", "want exactly one SAMLRequest or SAMLResponse", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			v := base64.StdEncoding.EncodeToString(signedEl(t, good(), &f.sp))
			req := httptest.NewRequest(http.MethodPost, "/saml2/slo", strings.NewReader(url.Values{"SAMLRequest": {v}, "SAMLResponse": {v}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return f.slo(req, true)
		}},
		{"doctype", "DOCTYPE", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.postSLO("SAMLRequest", []byte(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`), "", true)
		}},
		{"empty query", "neither SAMLRequest nor SAMLResponse", func(t *testing.T, f *sloFixture) *httptest.ResponseRecorder {
			return f.slo(httptest.NewRequest(http.MethodGet, "/saml2/slo", nil), true)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			f.putSession(t, participant(spID, "1"))
			rec := tt.send(t, f)
			f.wantErrorPage(t, rec, tt.reason)
			if !f.sessionKept(t) || cookieCleared(rec) {
				t.Fatal("a refused logout request ended the session")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// wantErrorPage requires the 400 error page, logged for reason.
func (f *sloFixture) wantErrorPage(t *testing.T, rec *httptest.ResponseRecorder, reason string) {
	t.Helper()
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), rec.Header().Get("X-Trace-Id")) {
		t.Fatalf("status %d, want 400 with the trace id: %.300s", rec.Code, rec.Body)
	}
	refused := f.logs.FilterMessage("request refused").All()
	if len(refused) == 0 {
		t.Fatal("no log line for the refusal")
	}
	got, _ := refused[len(refused)-1].ContextMap()["error"].(string)
	if !strings.Contains(got, reason) {
		t.Fatalf("refused because %q, want %q", got, reason)
	}
}

// TestReplayedLogoutRequest: the same signed request is accepted once.
func TestReplayedLogoutRequest(t *testing.T) {
	f := newSLOFixture(t)
	f.putSession(t, participant(spID, "1"))
	xml := signedEl(t, logoutRequest("_tn1", "_si1").Element(), &f.sp)
	lr, _ := f.readLogoutResponse(t, f.postSLO("SAMLRequest", xml, "", true), spSLO)
	wantStatus(t, lr, clave2msg.StatusSuccess, "")
	f.putSession(t, participant(spID, "1"))
	f.wantErrorPage(t, f.postSLO("SAMLRequest", xml, "", true), "replayed")
	if !f.sessionKept(t) {
		t.Fatal("a replayed logout request ended the session")
	}
}

// TestLogoutWithoutSessions: with single sign-on off, a logout request is
// answered UnknownPrincipal.
func TestLogoutWithoutSessions(t *testing.T) {
	f := newSLOFixture(t)
	f.ep.cfg.Flow.Sessions = nil
	rec := f.postSLO("SAMLRequest", signedEl(t, logoutRequest("_tn1").Element(), &f.sp), "", true)
	lr, _ := f.readLogoutResponse(t, rec, spSLO)
	wantStatus(t, lr, clave2msg.StatusRequester, statusUnknownPrincipal)
}

// startPropagation: SP 1 logs out of a session it shares with SP 2; the
// bridge ends the session and sends SP 2 a signed LogoutRequest for its
// own NameID and SessionIndex, with the logout's RelayState.
func startPropagation(t *testing.T, f *sloFixture) (*clave2msg.LogoutRequest, outMessage) {
	t.Helper()
	f.putSession(t, participant(spID, "1"), participant(sp2ID, "2"))
	rec := f.postSLO("SAMLRequest", signedEl(t, logoutRequest("_tn1", "_si1").Element(), &f.sp), "relay-sp1", true)
	if f.sessionKept(t) || !cookieCleared(rec) {
		t.Fatal("the session survived the logout")
	}
	out := f.readOut(t, rec, sp2SLO, "SAMLRequest")
	lr, err := clave2msg.ParseLogoutRequest(out.El)
	if err != nil {
		t.Fatal(err)
	}
	if lr.Issuer != entityID || lr.Destination != sp2SLO || lr.NameID != "_tn2" || lr.NameIDFormat != nameIDTransient ||
		len(lr.SessionIndexes) != 1 || lr.SessionIndexes[0] != "_si2" || lr.Reason != clave2msg.LogoutReasonUser ||
		!lr.NotOnOrAfter.After(t0) || out.Relay == "" || out.Relay == "relay-sp1" {
		t.Fatalf("LogoutRequest to SP 2: %+v, RelayState %q", lr, out.Relay)
	}
	return lr, out
}

// sp2Answer is SP 2's LogoutResponse to the bridge's request.
func sp2Answer(inResponseTo, code string) *clave2msg.LogoutResponse {
	return &clave2msg.LogoutResponse{
		ID: "_sp2resp", InResponseTo: inResponseTo, IssueInstant: t0, Destination: sloURL, Issuer: sp2ID,
		Status: clave2msg.Status{Code: code},
	}
}

// TestLogoutPropagation: the other SP of the session is told, and its
// answer decides between Success and PartialLogout for the initiator.
func TestLogoutPropagation(t *testing.T) {
	tests := []struct {
		name     string
		redirect bool // SP 2 registered (and answers in) the Redirect binding
		answer   clave2msg.Status
		sub      string
	}{
		{"success", false, clave2msg.Status{Code: clave2msg.StatusSuccess}, ""},
		{"success by redirect", true, clave2msg.Status{Code: clave2msg.StatusSuccess}, ""},
		{"SP 2 refuses", false, clave2msg.Status{Code: clave2msg.StatusRequester, SubCode: clave2msg.StatusRequestDenied}, clave2msg.StatusPartialLogout},
		{"SP 2 partial", true, clave2msg.Status{Code: clave2msg.StatusSuccess, SubCode: clave2msg.StatusPartialLogout}, clave2msg.StatusPartialLogout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			if tt.redirect {
				f.sp2Reg.Logout = []bridge.Endpoint{{URL: sp2SLO, Binding: samlxml.BindingRedirect}}
			}
			req, out := startPropagation(t, f)
			if out.Redirect != tt.redirect {
				t.Fatalf("LogoutRequest sent by redirect %v, want %v", out.Redirect, tt.redirect)
			}
			answer := sp2Answer(req.ID, tt.answer.Code)
			answer.Status = tt.answer
			var rec *httptest.ResponseRecorder
			if tt.redirect {
				rec = f.redirectSLO(t, "SAMLResponse", signedEl(t, answer.Element(), nil), out.Relay, &f.sp2, false)
			} else {
				rec = f.postSLO("SAMLResponse", signedEl(t, answer.Element(), &f.sp2), out.Relay, false)
			}
			final, fout := f.readLogoutResponse(t, rec, spSLO)
			wantStatus(t, final, clave2msg.StatusSuccess, tt.sub)
			if final.InResponseTo != "_lo1" || fout.Relay != "relay-sp1" {
				t.Fatalf("final answer InResponseTo %q, RelayState %q", final.InResponseTo, fout.Relay)
			}
		})
	}
}

// TestLogoutPropagationSkipsSPsWithoutSLO: an SP with no SingleLogoutService
// is not told; the initiator is answered at once.
func TestLogoutPropagationSkipsSPsWithoutSLO(t *testing.T) {
	f := newSLOFixture(t)
	f.sp2Reg.Logout = nil
	f.putSession(t, participant(spID, "1"), participant(sp2ID, "2"))
	rec := f.postSLO("SAMLRequest", signedEl(t, logoutRequest("_tn1").Element(), &f.sp), "", true)
	lr, _ := f.readLogoutResponse(t, rec, spSLO)
	wantStatus(t, lr, clave2msg.StatusSuccess, "")
}

// TestBadLogoutResponses: an answer that is not SP 2's signed answer to our
// request, with the logout's RelayState, gets the error page.
func TestBadLogoutResponses(t *testing.T) {
	tests := []struct {
		name, reason string
		send         func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder
	}{
		{"wrong InResponseTo", "not from the SP the logout waits for, or not to our request", func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			return f.postSLO("SAMLResponse", signedEl(t, sp2Answer("_other", clave2msg.StatusSuccess).Element(), &f.sp2), relay, false)
		}},
		{"no InResponseTo", "no InResponseTo", func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			return f.postSLO("SAMLResponse", signedEl(t, sp2Answer("", clave2msg.StatusSuccess).Element(), &f.sp2), relay, false)
		}},
		{"from the wrong SP", "not from the SP the logout waits for, or not to our request", func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			a := sp2Answer(req.ID, clave2msg.StatusSuccess)
			a.Issuer = spID
			return f.postSLO("SAMLResponse", signedEl(t, a.Element(), &f.sp), relay, false)
		}},
		{"SP 2's Issuer, SP 1's key", "certificate not trusted", func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			return f.postSLO("SAMLResponse", signedEl(t, sp2Answer(req.ID, clave2msg.StatusSuccess).Element(), &f.sp), relay, false)
		}},
		{"unsigned", "the message has no signature", func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			return f.postSLO("SAMLResponse", signedEl(t, sp2Answer(req.ID, clave2msg.StatusSuccess).Element(), nil), relay, false)
		}},
		{"unsigned redirect", "the redirect query has no signature", func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			return f.redirectSLO(t, "SAMLResponse", signedEl(t, sp2Answer(req.ID, clave2msg.StatusSuccess).Element(), nil), relay, nil, false)
		}},
		{"wrong Destination", "is not our SLO URL", func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			a := sp2Answer(req.ID, clave2msg.StatusSuccess)
			a.Destination = spSLO
			return f.postSLO("SAMLResponse", signedEl(t, a.Element(), &f.sp2), relay, false)
		}},
		{"stale", "outside the accepted window", func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			a := sp2Answer(req.ID, clave2msg.StatusSuccess)
			a.IssueInstant = t0.Add(-time.Hour)
			return f.postSLO("SAMLResponse", signedEl(t, a.Element(), &f.sp2), relay, false)
		}},
		{"unknown RelayState", `logout "_nope"`, func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			return f.postSLO("SAMLResponse", signedEl(t, sp2Answer(req.ID, clave2msg.StatusSuccess).Element(), &f.sp2), "_nope", false)
		}},
		{"no RelayState", `logout "": the answer names no logout under way`, func(t *testing.T, f *sloFixture, req *clave2msg.LogoutRequest, relay string) *httptest.ResponseRecorder {
			return f.postSLO("SAMLResponse", signedEl(t, sp2Answer(req.ID, clave2msg.StatusSuccess).Element(), &f.sp2), "", false)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSLOFixture(t)
			req, out := startPropagation(t, f)
			f.wantErrorPage(t, tt.send(t, f, req, out.Relay), tt.reason)
		})
	}
}

// TestLogoutRequestNameID: the LogoutRequest names the SP by the NameID it
// was given: the persistent Subject if it asked for that format, the
// session's transient NameID otherwise.
func TestLogoutRequestNameID(t *testing.T) {
	for format, want := range map[string][2]string{
		nameIDPersistent:  {subject, nameIDPersistent},
		nameIDTransient:   {"_tn1", nameIDTransient},
		nameIDUnspecified: {"_tn1", nameIDTransient},
		"":                {"_tn1", nameIDTransient},
	} {
		f := newSLOFixture(t)
		p := participant(spID, "1")
		p.State = state(t, format)
		out, ok, err := f.ep.LogoutRequest(context.Background(), f.spReg, p, "_id", "r")
		if !ok || err != nil {
			t.Fatalf("%q: ok %v, err %v", format, ok, err)
		}
		rec := serveOut(out)
		lr, err := clave2msg.ParseLogoutRequest(f.readOut(t, rec, spSLO, "SAMLRequest").El)
		if err != nil {
			t.Fatal(err)
		}
		if lr.NameID != want[0] || lr.NameIDFormat != want[1] || lr.ID != "_id" {
			t.Errorf("asked %q: NameID %q (%s), want %q (%s)", format, lr.NameID, lr.NameIDFormat, want[0], want[1])
		}
	}
}

// TestLogoutRequestToSPWithoutSLO: the dialect reports that it cannot tell
// an SP with no SingleLogoutService.
func TestLogoutRequestToSPWithoutSLO(t *testing.T) {
	f := newSLOFixture(t)
	f.spReg.Logout = nil
	if _, ok, err := f.ep.LogoutRequest(context.Background(), f.spReg, participant(spID, "1"), "_id", "r"); ok || err != nil {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	if _, err := f.ep.LogoutResponse(context.Background(), f.spReg, bridge.LogoutInitiator{SP: spID, RequestID: "_x"}, bridge.Status{Code: bridge.StatusSuccess}); err == nil {
		t.Fatal("answered an SP that has no SingleLogoutService")
	}
}

// state is the endpoint's state of a request that asked for format.
func state(t testing.TB, format string) json.RawMessage {
	t.Helper()
	st, err := bridge.EncodeState(requestState{NameIDFormat: format})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// serveOut has the web adapter send out to a browser, as it sends the
// flow's replies.
func serveOut(out bridge.Outgoing) *httptest.ResponseRecorder {
	s := web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
	s.Mount(web.Route{Method: http.MethodGet, Path: "/out", Handle: func(context.Context, *web.Input) (flow.Reply, error) {
		return flow.Reply{Out: out}, nil
	}})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/out", nil))
	return rec
}
