package web_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
)

const (
	confirmDialect = "fake"
	confirmSP      = "sp1"
	spSLO          = "https://sp.example/slo"
	bridgeBase     = "https://bridge.example"
)

// logoutDialect answers logouts with a form to spSLO carrying the status;
// it tells no other SP.
type logoutDialect struct{}

func (logoutDialect) Name() string { return confirmDialect }
func (logoutDialect) Render(context.Context, *bridge.ServiceProvider, *bridge.Request, bridge.Result) (bridge.Outgoing, error) {
	return bridge.Outgoing{}, nil
}
func (logoutDialect) LogoutRequest(context.Context, *bridge.ServiceProvider, bridge.Participant, string, string) (bridge.Outgoing, bool, error) {
	return bridge.Outgoing{}, false, nil
}
func (logoutDialect) LogoutResponse(_ context.Context, _ *bridge.ServiceProvider, in bridge.LogoutInitiator, st bridge.Status) (bridge.Outgoing, error) {
	return bridge.Outgoing{URL: spSLO, Fields: []samlxml.Field{{Name: "status", Value: string(st.Code)}, {Name: "to", Value: in.RequestID}}}, nil
}

type confirmFixture struct {
	t        *testing.T
	srv      *web.Server
	sessions *session.Sessions
	sessID   string
	prefix   string // cookie name prefix (__Host- over https)
}

// newConfirmFixture: a flow with one SP, a browser session it takes part
// in, and the SP's logout requests served at /logout (with the Origin the
// test sends), behind the adapter.
func newConfirmFixture(t *testing.T, secure bool) *confirmFixture {
	mem := store.NewMemory(time.Now, 0)
	sessions := &session.Sessions{Store: mem, Lifetime: time.Hour, Now: time.Now, Rand: rand.Reader, Seal: bridgetest.Seal(t)}
	sp := &bridge.ServiceProvider{ID: confirmSP, Name: `Servicio <b>"uno"</b>`, Dialect: confirmDialect,
		ACS: []bridge.Endpoint{{URL: "https://sp.example/acs"}}, Logout: []bridge.Endpoint{{URL: spSLO}}}
	f := &flow.Flow{
		Store: mem, Upstream: &bridgetest.Upstream{}, Registry: bridgetest.Registry{confirmDialect + " " + confirmSP: sp},
		Log: zap.NewNop(), Now: time.Now, Rand: rand.Reader, PendingTTL: time.Minute, Sessions: sessions, Seal: bridgetest.Seal(t),
	}
	f.Register(logoutDialect{})
	sess, err := sessions.New(bridge.Result{Status: bridge.Status{Code: bridge.StatusSuccess}, Subject: "ES/ES/99999999R"})
	if err != nil {
		t.Fatal(err)
	}
	sess.Participants = []bridge.Participant{{SP: confirmSP, Dialect: confirmDialect, At: time.Now()}}
	if _, err := sessions.Save(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader, BaseURL: bridgeBase, Secure: secure})
	srv.Mount(web.Route{Method: http.MethodPost, Path: "/logout", Handle: func(ctx context.Context, in *web.Input) (flow.Reply, error) {
		in2 := bridge.LogoutInitiator{SP: confirmSP, Dialect: confirmDialect, RequestID: "_lo1"}
		return f.StartLogout(ctx, in.Browser, sp, in2, func(bridge.Participant) bool { return true })
	}})
	srv.MountLogoutConfirmation(f)
	prefix := ""
	if secure {
		prefix = "__Host-"
	}
	return &confirmFixture{t: t, srv: srv, sessions: sessions, sessID: sess.ID, prefix: prefix}
}

func (f *confirmFixture) post(path string, form url.Values, origin string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.AddCookie(&http.Cookie{Name: f.prefix + web.SessionCookie, Value: f.sessID})
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func (f *confirmFixture) sessionKept() bool {
	f.t.Helper()
	sess, err := f.sessions.Load(context.Background(), f.sessID)
	if err != nil {
		f.t.Fatal(err)
	}
	return sess != nil
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// ask posts the SP's logout from another site and reads the page: the
// fields of its form and the token cookie it set.
func (f *confirmFixture) ask() (url.Values, *http.Cookie) {
	f.t.Helper()
	rec := f.post("/logout", url.Values{}, "https://evil.example")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "<h1>¿Cerrar la sesión?</h1>") {
		f.t.Fatalf("status %d: %.600s", rec.Code, body)
	}
	if strings.Contains(body, "<script") || !strings.Contains(body, `<form method="post" action="/logout/confirm">`) {
		f.t.Fatalf("not the confirmation form: %.600s", body)
	}
	if !strings.Contains(body, "Servicio &lt;b&gt;&#34;uno&#34;&lt;/b&gt; pide cerrar su sesión") {
		f.t.Fatalf("the requester is not named, escaped: %.600s", body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") {
		f.t.Fatalf("CSP %q", csp)
	}
	if !f.sessionKept() {
		f.t.Fatal("the question ended the session")
	}
	fields := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		fields.Set(m[1], m[2])
	}
	var token *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == f.prefix+"clavebridge_confirm" {
			token = c
		}
		if strings.HasSuffix(c.Name, web.SessionCookie) {
			f.t.Fatalf("the question touched the session cookie: %v", c)
		}
	}
	if token == nil || token.Value != fields.Get("csrf") || fields.Get("logout") == "" {
		f.t.Fatalf("token cookie %v, form %v", token, fields)
	}
	if !token.HttpOnly || token.SameSite != http.SameSiteStrictMode || token.Path != "/" || token.Secure != (f.prefix != "") {
		f.t.Fatalf("token cookie %+v", token)
	}
	return fields, &http.Cookie{Name: token.Name, Value: token.Value}
}

func with(form url.Values, name, value string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	if value == "" {
		out.Del(name)
	} else {
		out.Set(name, value)
	}
	return out
}

// TestConfirmationRefusals: a confirmation posted from another site, or
// without the browser's token, or malformed, is refused and ends nothing;
// the question can still be answered from the page.
func TestConfirmationRefusals(t *testing.T) {
	tests := []struct {
		name   string
		form   func(url.Values) url.Values
		origin string
		cookie bool
		status int
	}{
		{"from another site", func(v url.Values) url.Values { return with(v, "answer", "logout") }, "https://evil.example", true, http.StatusForbidden},
		{"from the SP's site", func(v url.Values) url.Values { return with(v, "answer", "logout") }, "https://sp.example", true, http.StatusForbidden},
		{"without the token cookie", func(v url.Values) url.Values { return with(v, "answer", "logout") }, "null", false, http.StatusForbidden},
		{"without the token cookie, no Origin", func(v url.Values) url.Values { return with(v, "answer", "logout") }, "", false, http.StatusForbidden},
		{"another token", func(v url.Values) url.Values {
			return with(with(v, "answer", "logout"), "csrf", strings.Repeat("0", 32))
		}, "null", true, http.StatusForbidden},
		{"no token field", func(v url.Values) url.Values { return with(with(v, "answer", "logout"), "csrf", "") }, "null", true, http.StatusForbidden},
		{"no answer", func(v url.Values) url.Values { return v }, "null", true, http.StatusBadRequest},
		{"unknown answer", func(v url.Values) url.Values { return with(v, "answer", "maybe") }, "null", true, http.StatusBadRequest},
		{"two answers", func(v url.Values) url.Values {
			v = with(v, "answer", "stay")
			v.Add("answer", "logout")
			return v
		}, "null", true, http.StatusBadRequest},
		{"no id", func(v url.Values) url.Values { return with(with(v, "answer", "logout"), "logout", "") }, "null", true, http.StatusBadRequest},
		{"another id", func(v url.Values) url.Values { return with(with(v, "answer", "logout"), "logout", "_nothing") }, "null", true, http.StatusGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newConfirmFixture(t, false)
			fields, token := f.ask()
			var cookies []*http.Cookie
			if tt.cookie {
				cookies = append(cookies, token)
			}
			rec := f.post(web.LogoutConfirmPath, tt.form(fields), tt.origin, cookies...)
			if rec.Code != tt.status || strings.Contains(rec.Body.String(), "<form") {
				t.Fatalf("status %d, want %d: %.400s", rec.Code, tt.status, rec.Body)
			}
			if !f.sessionKept() {
				t.Fatal("a refused confirmation ended the session")
			}
			rec = f.post(web.LogoutConfirmPath, with(fields, "answer", "logout"), "null", token)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `action="`+spSLO+`"`) || f.sessionKept() {
				t.Fatalf("the page's own answer after the refusal: %d %.400s", rec.Code, rec.Body)
			}
		})
	}
}

// TestConfirmationAnswers: the page's own form, from the bridge's origin,
// "null" (its pages send no referrer) or no Origin, with the token: Log
// out ends the session and answers the SP Success; Stay logged in keeps
// it and answers RequestDenied.
func TestConfirmationAnswers(t *testing.T) {
	tests := []struct {
		secure bool
		origin string
		answer string
		status string
	}{
		{false, "null", "logout", "Success"},
		{false, bridgeBase, "logout", "Success"},
		{true, "", "logout", "Success"},
		{true, "null", "stay", "RequestDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.origin+" "+tt.answer, func(t *testing.T) {
			f := newConfirmFixture(t, tt.secure)
			fields, token := f.ask()
			rec := f.post(web.LogoutConfirmPath, with(fields, "answer", tt.answer), tt.origin, token)
			body := rec.Body.String()
			if rec.Code != http.StatusOK || !strings.Contains(body, `action="`+spSLO+`"`) ||
				!strings.Contains(body, `name="status" value="`+tt.status+`"`) || !strings.Contains(body, `name="to" value="_lo1"`) {
				t.Fatalf("status %d: %.600s", rec.Code, body)
			}
			cleared := false
			for _, c := range rec.Result().Cookies() {
				cleared = cleared || (c.Name == f.prefix+web.SessionCookie && c.MaxAge < 0)
			}
			if ended := tt.answer == "logout"; ended == f.sessionKept() || ended != cleared {
				t.Fatalf("answer %s: session kept %v, cookie cleared %v", tt.answer, f.sessionKept(), cleared)
			}
			if rec := f.post(web.LogoutConfirmPath, with(fields, "answer", tt.answer), tt.origin, token); rec.Code != http.StatusGone {
				t.Fatalf("answered twice: %d", rec.Code)
			}
		})
	}
}
