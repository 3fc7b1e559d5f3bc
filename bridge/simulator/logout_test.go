package simulator

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/upstream"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	testSLO          = "http://bridge.test/upstream/slo"
	testProviderName = "Q2891006E_EA0009994"
)

// logoutFixture is a simulator with single logout and a real upstream
// connector configured against it.
type logoutFixture struct {
	*fixture
	conn *upstream.Connector
}

// newLogoutFixture registers logoutURL as the bridge's logout URL ("" for none).
func newLogoutFixture(t testing.TB, logoutURL string) *logoutFixture {
	t.Helper()
	f := newFixture(t, func(c *Config) { c.BridgeLogoutURL = logoutURL })
	now := func() time.Time { return f.now }
	conn, err := upstream.New(upstream.Config{
		SSOURL: f.sim.SSOURL(), ACSURL: testACS, LogoutURL: testSLO, ProviderName: testProviderName, Application: "test",
		Signer:         f.bridge.signer(),
		DecryptionKeys: []upstream.DecryptionKey{{Key: f.bridge.key.(crypto.Decrypter), Cert: f.bridge.cert}},
		GatewayCerts:   []*x509.Certificate{f.gateway.cert},
		Replay:         store.NewMemory(now, 0),
		Now:            now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &logoutFixture{fixture: f, conn: conn}
}

// postOutgoing posts a form built for the browser to the echo instance.
func (f *logoutFixture) postOutgoing(out bridge.Outgoing) *httptest.ResponseRecorder {
	f.t.Helper()
	u, err := url.Parse(out.URL)
	if err != nil {
		f.t.Fatal(err)
	}
	form := url.Values{}
	for _, fl := range out.Fields {
		form.Add(fl.Name, fl.Value)
	}
	return f.do(http.MethodPost, u.RequestURI(), form)
}

// postedForm reads the auto-submitting form the gateway answered with.
func postedForm(t testing.TB, rec *httptest.ResponseRecorder) (string, url.Values) {
	t.Helper()
	body := rec.Body.String()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Security-Policy") != web.PostCSP() {
		t.Fatalf("not a POST form (%d):\n%s", rec.Code, body)
	}
	form := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		form.Add(m[1], html.UnescapeString(m[2]))
	}
	m := actionRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form action:\n%s", body)
	}
	return html.UnescapeString(m[1]), form
}

// beginLogout posts the connector's LogoutRequest id and returns the answer.
func (f *logoutFixture) beginLogout(id string) *httptest.ResponseRecorder {
	f.t.Helper()
	out, err := f.conn.BeginLogout(context.Background(), id, testRelay)
	if err != nil {
		f.t.Fatal(err)
	}
	if out.URL != f.sim.SSOURL() {
		f.t.Fatalf("BeginLogout posts to %s", out.URL)
	}
	return f.postOutgoing(out)
}

// sealed serializes el signed by id (unsigned when id.key is nil), edits it
// and base64-encodes it.
func (f *logoutFixture) sealed(el *etree.Element, id identity, edit func([]byte) []byte) string {
	f.t.Helper()
	if id.key != nil {
		if err := id.signer().Sign(el); err != nil {
			f.t.Fatal(err)
		}
	}
	data, err := samlxml.Serialize(el)
	if err != nil {
		f.t.Fatal(err)
	}
	if edit != nil {
		data = edit(data)
	}
	return b64(data)
}

// logoutRequest is a valid LogoutRequest of the bridge, as BeginLogout makes it.
func (f *logoutFixture) logoutRequest() *clave2msg.LogoutRequest {
	f.nextID++
	return &clave2msg.LogoutRequest{
		ID: fmt.Sprintf("_lo%04d", f.nextID), IssueInstant: f.now, Destination: f.sim.SSOURL(), Issuer: testSLO,
		NameID: testProviderName, NameIDFormat: clave2msg.NameIDUnspec, SPNameQualifier: testSLO,
		NotOnOrAfter: f.now.Add(5 * time.Minute), Reason: clave2msg.LogoutReasonUser,
	}
}

func TestLogoutRoundTrip(t *testing.T) {
	f := newLogoutFixture(t, testSLO)
	action, form := postedForm(t, f.beginLogout("_lo1"))
	if action != testSLO || form.Get("RelayState") != testRelay || len(form) != 2 {
		t.Fatalf("answer posts %v to %s", form, action)
	}
	ok, msg, err := f.conn.FinishLogout(context.Background(), form, "_lo1")
	if err != nil || !ok || msg != clave2msg.StatusSuccess {
		t.Fatalf("FinishLogout = %v, %q, %v", ok, msg, err)
	}
	data, err := samlxml.DecodePostValue(form.Get("logoutResponse"), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.gateway.cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := clave2msg.ParseLogoutResponse(v.Element)
	if err != nil || resp.Destination != testSLO || resp.InResponseTo != "_lo1" || !resp.IssueInstant.Equal(f.now) {
		t.Fatalf("LogoutResponse = %+v, %v", resp, err)
	}
	if f.sim.Logouts() != 1 || f.sim.Logins() != 0 {
		t.Errorf("Logouts() = %d, Logins() = %d", f.sim.Logouts(), f.sim.Logins())
	}
}

func TestLogoutRefusals(t *testing.T) {
	// request posts a changed valid LogoutRequest signed by the bridge.
	request := func(change func(*clave2msg.LogoutRequest)) func(*logoutFixture) url.Values {
		return func(f *logoutFixture) url.Values {
			req := f.logoutRequest()
			change(req)
			return url.Values{"logoutRequest": {f.sealed(req.Element(), f.bridge, nil)}, "RelayState": {testRelay}}
		}
	}
	// sealedAs posts a valid LogoutRequest sealed as given.
	sealedAs := func(id func(*logoutFixture) identity, edit func([]byte) []byte) func(*logoutFixture) url.Values {
		return func(f *logoutFixture) url.Values {
			return url.Values{"logoutRequest": {f.sealed(f.logoutRequest().Element(), id(f), edit)}, "RelayState": {testRelay}}
		}
	}
	tests := []struct {
		name        string
		reason      string // what the refusal page must mention
		form        func(*logoutFixture) url.Values
		wantLogouts int
	}{
		{"unsigned", "unsigned", sealedAs(func(*logoutFixture) identity { return identity{} }, nil), 0},
		{"unknown signer", "not trusted", sealedAs(func(f *logoutFixture) identity { return f.stranger }, nil), 0},
		{"tampered Issuer", "digest mismatch", sealedAs(func(f *logoutFixture) identity { return f.bridge }, func(b []byte) []byte {
			return bytes.Replace(b, []byte(testSLO), []byte("http://evil.test/upstream/slo"), 1)
		}), 0},
		{"DOCTYPE", "DOCTYPE", sealedAs(func(f *logoutFixture) identity { return f.bridge }, func(b []byte) []byte {
			return append([]byte(`<!DOCTYPE x [<!ENTITY e "x">]>`), b...)
		}), 0},
		{"Issuer not registered", "Issuer", request(func(r *clave2msg.LogoutRequest) { r.Issuer = "http://evil.test/upstream/slo" }), 0},
		{"Issuer not a URL", "Issuer", request(func(r *clave2msg.LogoutRequest) { r.Issuer = "javascript:alert(1)" }), 0},
		{"no Issuer", "Issuer", request(func(r *clave2msg.LogoutRequest) { r.Issuer = "" }), 0},
		{"wrong Destination", "Destination", request(func(r *clave2msg.LogoutRequest) {
			r.Destination = "https://pasarela.clave.gob.es/Proxy2/ServiceProvider"
		}), 0},
		{"empty NameID", "NameID", request(func(r *clave2msg.LogoutRequest) { r.NameID = "" }), 0},
		{"stale IssueInstant", "IssueInstant", request(func(r *clave2msg.LogoutRequest) {
			r.IssueInstant, r.NotOnOrAfter = r.IssueInstant.Add(-6*time.Minute), time.Time{}
		}), 0},
		{"expired NotOnOrAfter", "NotOnOrAfter", request(func(r *clave2msg.LogoutRequest) { r.NotOnOrAfter = r.IssueInstant }), 0},
		{"ID too long", "ID is 257 bytes, more than 256", request(func(r *clave2msg.LogoutRequest) { r.ID = "_" + strings.Repeat("a", maxIDBytes) }), 0},
		{"no RelayState", "RelayState", func(f *logoutFixture) url.Values {
			return url.Values{"logoutRequest": {f.sealed(f.logoutRequest().Element(), f.bridge, nil)}}
		}, 0},
		{"garbage base64", "base64", func(*logoutFixture) url.Values {
			return url.Values{"logoutRequest": {"!!! not base64 ***"}, "RelayState": {testRelay}}
		}, 0},
		{"a LogoutResponse as logoutRequest", "not a LogoutRequest", func(f *logoutFixture) url.Values {
			r := clave2msg.LogoutResponse{ID: "_x", InResponseTo: "_y", IssueInstant: f.now, Destination: f.sim.SSOURL(),
				Status: clave2msg.Status{Code: clave2msg.StatusSuccess}}
			return url.Values{"logoutRequest": {f.sealed(r.Element(), f.bridge, nil)}, "RelayState": {testRelay}}
		}, 0},
		{"with a SAMLRequest too", "more than one SAML message", func(f *logoutFixture) url.Values {
			form := request(func(*clave2msg.LogoutRequest) {})(f)
			form.Set("SAMLRequest", b64(f.signed(f.request(translate.LoALow), f.bridge)))
			return form
		}, 0},
		{"replayed", "replay", func(f *logoutFixture) url.Values {
			form := request(func(*clave2msg.LogoutRequest) {})(f)
			if rec := f.do(http.MethodPost, ssoPath, form); rec.Code != http.StatusOK {
				f.t.Fatalf("first use answered %d", rec.Code)
			}
			return form
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLogoutFixture(t, testSLO)
			checkLogoutRefused(t, f.fixture, f.do(http.MethodPost, ssoPath, tt.form(f)), tt.reason)
			if got := f.sim.Logouts(); got != tt.wantLogouts {
				t.Errorf("Logouts() = %d, want %d", got, tt.wantLogouts)
			}
		})
	}
}

// TestLogoutWithoutRegisteredURL: with no BridgeLogoutURL no Issuer is
// registered, so even the connector's own request is refused.
func TestLogoutWithoutRegisteredURL(t *testing.T) {
	f := newLogoutFixture(t, "")
	checkLogoutRefused(t, f.fixture, f.beginLogout("_lo1"), "Issuer")
	if f.sim.Logouts() != 0 {
		t.Errorf("Logouts() = %d", f.sim.Logouts())
	}
}

// checkLogoutRefused expects the 400 error page (the words of a refused
// request or logout, no technical detail) and a log line whose error
// mentions wantReason, and nothing posted anywhere.
func checkLogoutRefused(t *testing.T, f *fixture, rec *httptest.ResponseRecorder, wantReason string) {
	t.Helper()
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Security-Policy") != pageCSP {
		t.Fatalf("answered %d, want the 400 error page:\n%s", rec.Code, body)
	}
	if title := html.UnescapeString(titleOf(body)); title != es("reason.logout_invalid.title") && title != es("reason.bad_request.title") {
		t.Errorf("not the refusal page (title %q):\n%s", title, body)
	}
	if strings.Contains(body, "urn:oasis") {
		t.Errorf("the page shows SAML detail:\n%s", body)
	}
	refused := f.logs.FilterMessage("request refused").All()
	if len(refused) != 1 || !strings.Contains(fmt.Sprint(refused[0].ContextMap()["error"]), wantReason) {
		t.Errorf("refusal log %v does not mention %q", refused, wantReason)
	}
	if strings.Contains(body, "<form") {
		t.Errorf("a refused message was answered with a form:\n%s", body)
	}
}

func TestGatewayInitiatedLogout(t *testing.T) {
	f := newLogoutFixture(t, testSLO)
	// The gateway learns the bridge's provider name from its LogoutRequest.
	if rec := f.beginLogout("_lo1"); rec.Code != http.StatusOK {
		t.Fatalf("SP-initiated logout answered %d", rec.Code)
	}
	out, id, err := f.sim.InitiateLogout("gw-relay")
	if err != nil {
		t.Fatal(err)
	}
	if out.URL != testSLO {
		t.Fatalf("InitiateLogout posts to %s", out.URL)
	}
	form := url.Values{}
	for _, fl := range out.Fields {
		form.Add(fl.Name, fl.Value)
	}
	gotID, relay, err := f.conn.ReadLogoutRequest(context.Background(), form)
	if err != nil || gotID != id || relay != "gw-relay" {
		t.Fatalf("ReadLogoutRequest = %q, %q, %v (want %q)", gotID, relay, err, id)
	}
	answer, err := f.conn.LogoutResponse(context.Background(), gotID, relay, true)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.postOutgoing(answer)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="logged-out"`) || titleOf(rec.Body.String()) != es("sim.loggedout.title") {
		t.Fatalf("answer refused (%d):\n%s", rec.Code, rec.Body)
	}
	if f.sim.LogoutAnswers() != 1 {
		t.Fatalf("LogoutAnswers() = %d", f.sim.LogoutAnswers())
	}
	checkLogoutRefused(t, f.fixture, f.postOutgoing(answer), "replay")
	if f.sim.LogoutAnswers() != 1 {
		t.Errorf("after a second post LogoutAnswers() = %d", f.sim.LogoutAnswers())
	}
}

// TestInitiateLogoutDefaultNameID: before any LogoutRequest the gateway
// names the bridge "clavebridge", which a bridge with another provider name
// refuses.
func TestInitiateLogoutDefaultNameID(t *testing.T) {
	f := newLogoutFixture(t, testSLO)
	out, id, err := f.sim.InitiateLogout("gw-relay")
	if err != nil {
		t.Fatal(err)
	}
	data, err := samlxml.DecodePostValue(out.Fields[0].Value, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.gateway.cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	req, err := clave2msg.ParseLogoutRequest(v.Element)
	if err != nil || req.ID != id || req.NameID != "clavebridge" || req.Issuer != f.sim.SSOURL() ||
		req.Destination != testSLO || req.Reason != clave2msg.LogoutReasonUser || !req.NotOnOrAfter.Equal(f.now.Add(5*time.Minute)) {
		t.Fatalf("LogoutRequest = %+v, %v", req, err)
	}
	if out.Fields[0].Name != "logoutRequest" || out.Fields[1] != (samlxml.Field{Name: "RelayState", Value: "gw-relay"}) {
		t.Errorf("fields = %+v", out.Fields)
	}
	form := url.Values{"logoutRequest": {out.Fields[0].Value}, "RelayState": {"gw-relay"}}
	if _, _, err := f.conn.ReadLogoutRequest(context.Background(), form); err == nil || !strings.Contains(err.Error(), "NameID") {
		t.Errorf("ReadLogoutRequest: %v, want a NameID refusal", err)
	}
}

func TestLogoutAnswerRefusals(t *testing.T) {
	// answer posts an answer to a fresh gateway-initiated logout, changed
	// before it is built, edited before it is signed by id.
	answer := func(id func(*logoutFixture) identity, change func(*clave2msg.LogoutResponse), edit func(*etree.Element)) func(*logoutFixture) url.Values {
		return func(f *logoutFixture) url.Values {
			_, reqID, err := f.sim.InitiateLogout("gw-relay")
			if err != nil {
				f.t.Fatal(err)
			}
			r := &clave2msg.LogoutResponse{ID: "_ans" + reqID, InResponseTo: reqID, IssueInstant: f.now,
				Destination: f.sim.SSOURL(), Issuer: testSLO, Status: clave2msg.Status{Code: clave2msg.StatusSuccess}}
			change(r)
			el := r.Element()
			edit(el)
			return url.Values{"logoutResponse": {f.sealed(el, id(f), nil)}, "RelayState": {"gw-relay"}}
		}
	}
	bridgeKey := func(f *logoutFixture) identity { return f.bridge }
	same := func(*clave2msg.LogoutResponse) {}
	noEdit := func(*etree.Element) {}
	tests := []struct {
		name   string
		reason string
		form   func(*logoutFixture) url.Values
	}{
		{"unsigned", "unsigned", answer(func(*logoutFixture) identity { return identity{} }, same, noEdit)},
		{"unknown signer", "not trusted", answer(func(f *logoutFixture) identity { return f.stranger }, same, noEdit)},
		{"signed by the gateway", "not trusted", answer(func(f *logoutFixture) identity { return f.gateway }, same, noEdit)},
		{"answers an unknown request", "no pending logout", answer(bridgeKey, func(r *clave2msg.LogoutResponse) { r.InResponseTo = "_unknown" }, noEdit)},
		{"no InResponseTo", "no pending logout", answer(bridgeKey, func(r *clave2msg.LogoutResponse) { r.InResponseTo = "" }, noEdit)},
		{"wrong Destination", "Destination", answer(bridgeKey, func(r *clave2msg.LogoutResponse) { r.Destination = testSLO }, noEdit)},
		{"stale", "IssueInstant", answer(bridgeKey, func(r *clave2msg.LogoutResponse) { r.IssueInstant = r.IssueInstant.Add(-time.Hour) }, noEdit)},
		{"no StatusMessage", "StatusMessage", answer(bridgeKey, same, func(el *etree.Element) {
			st := el.FindElement("Status")
			st.RemoveChild(st.FindElement("StatusMessage"))
		})},
		{"a LogoutRequest as logoutResponse", "not a LogoutResponse", func(f *logoutFixture) url.Values {
			return url.Values{"logoutResponse": {f.sealed(f.logoutRequest().Element(), f.bridge, nil)}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLogoutFixture(t, testSLO)
			checkLogoutRefused(t, f.fixture, f.do(http.MethodPost, ssoPath, tt.form(f)), tt.reason)
			if f.sim.LogoutAnswers() != 0 {
				t.Errorf("LogoutAnswers() = %d", f.sim.LogoutAnswers())
			}
		})
	}
}

func TestInitiateLogoutErrors(t *testing.T) {
	if _, _, err := newLogoutFixture(t, "").sim.InitiateLogout("r"); err == nil {
		t.Error("initiated without a bridge logout URL")
	}
	if _, _, err := newLogoutFixture(t, testSLO).sim.InitiateLogout(""); err == nil {
		t.Error("initiated without a RelayState")
	}
}

func TestNewChecksBridgeLogoutURL(t *testing.T) {
	gw := loadIdentity(t, "gateway")
	citizens, err := LoadCitizens(testCitizensFile)
	if err != nil {
		t.Fatal(err)
	}
	for raw, valid := range map[string]bool{
		"": true, testSLO: true, "https://bridge.test/upstream/slo": true,
		"/upstream/slo": false, "ftp://bridge.test/slo": false, "http://user@bridge.test/slo": false, "javascript:alert(1)": false,
	} {
		_, err := New(Config{BaseURL: testBaseURL, Signer: gw.signer(), BridgeCerts: []*x509.Certificate{gw.cert},
			Citizens: citizens, BridgeLogoutURL: raw})
		if (err == nil) != valid {
			t.Errorf("BridgeLogoutURL %q: %v", raw, err)
		}
	}
}

// FuzzLogout posts arbitrary logoutRequest values: the gateway answers with
// a form or an error page, never panics and never fails internally.
func FuzzLogout(f *testing.F) {
	fx := newLogoutFixture(f, testSLO)
	f.Add(fx.sealed(fx.logoutRequest().Element(), fx.bridge, nil))
	f.Add("")
	f.Fuzz(func(t *testing.T, value string) {
		rec := fx.do(http.MethodPost, ssoPath, url.Values{"logoutRequest": {value}, "RelayState": {testRelay}})
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("answered %d:\n%s", rec.Code, rec.Body)
		}
	})
}
