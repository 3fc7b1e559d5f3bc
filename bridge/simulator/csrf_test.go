package simulator

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/translate"
)

// startInBrowser starts a login and returns its id and the sim_browser
// cookie the gateway bound it to.
func startInBrowser(t *testing.T, f *fixture) (string, *http.Cookie) {
	t.Helper()
	rec := f.sso(b64(f.signed(f.request(translate.LoALow), f.bridge)), testRelay)
	if rec.Code != http.StatusOK {
		t.Fatalf("SSO answered %d: %s", rec.Code, rec.Body)
	}
	var browser *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == browserCookie {
			browser = c
		}
	}
	if browser == nil {
		t.Fatal("the selection page sets no sim_browser cookie")
	}
	return loginID(t, rec.Body.String()), browser
}

// post submits the selection page with extra headers and cookies.
func (f *fixture) post(form url.Values, header http.Header, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/sim/Proxy2/Login", strings.NewReader(form.Encode()))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	for k, v := range header {
		req.Header[k] = v
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	return rec
}

func TestBrowserCookieAttributes(t *testing.T) {
	f := newFixture(t, nil)
	_, c := startInBrowser(t, f)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != loginPath || !is128BitHex(c.Value) {
		t.Errorf("sim_browser cookie %+v: want HttpOnly, SameSite=Strict, Path=%s, a 128-bit token", c, loginPath)
	}
	if c.Secure {
		t.Error("cookie is Secure on an http gateway: the browser would never send it back")
	}
	g := newFixture(t, func(cfg *Config) { cfg.BaseURL = "https://gateway.test" })
	rec := httptest.NewRecorder()
	if _, err := g.sim.browserToken(g.e.NewContext(httptest.NewRequest(http.MethodPost, "/", nil), rec)); err != nil {
		t.Fatal(err)
	}
	if cs := rec.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("cookies %+v: want one Secure cookie on an https gateway", cs)
	}
}

func TestLoginPostCSRF(t *testing.T) {
	select1 := func(id string) url.Values { return url.Values{"login": {id}, "idp": {"PIN24H"}} }
	other := &http.Cookie{Name: browserCookie, Value: strings.Repeat("ab", 16)}
	tests := []struct {
		name    string
		form    func(id string) url.Values
		header  http.Header
		cookie  func(own *http.Cookie) *http.Cookie
		refused bool
	}{
		{"same browser, same origin", select1, http.Header{"Origin": {testBaseURL}},
			func(own *http.Cookie) *http.Cookie { return own }, false},
		{"same browser, same-site Referer", select1, http.Header{"Referer": {testBaseURL + "/sim/Proxy2/ServiceProvider"}},
			func(own *http.Cookie) *http.Cookie { return own }, false},
		{"no cookie, no origin (scripted client)", select1, nil, nil, false},
		{"no login id", func(string) url.Values { return url.Values{"idp": {"PIN24H"}} }, nil,
			func(own *http.Cookie) *http.Cookie { return own }, true},
		{"wrong login id", func(string) url.Values { return select1(strings.Repeat("0", 32)) }, nil,
			func(own *http.Cookie) *http.Cookie { return own }, true},
		{"another browser", select1, nil, func(*http.Cookie) *http.Cookie { return other }, true},
		{"another browser, same origin", select1, http.Header{"Origin": {testBaseURL}},
			func(*http.Cookie) *http.Cookie { return other }, true},
		{"cross-site Origin", select1, http.Header{"Origin": {"https://evil.example"}},
			func(own *http.Cookie) *http.Cookie { return own }, true},
		{"null Origin with the browser's cookie (our own page under no-referrer)", select1, http.Header{"Origin": {"null"}},
			func(own *http.Cookie) *http.Cookie { return own }, false},
		{"null Origin without the cookie", select1, http.Header{"Origin": {"null"}}, nil, true},
		{"same origin without the cookie", select1, http.Header{"Origin": {testBaseURL}}, nil, true},
		{"cross-site Referer", select1, http.Header{"Referer": {"https://evil.example/form.html"}}, nil, true},
		{"cancel from another site", func(id string) url.Values { return url.Values{"login": {id}, "cancel": {"1"}} },
			http.Header{"Origin": {"https://evil.example"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			id, own := startInBrowser(t, f)
			var cookies []*http.Cookie
			if tt.cookie != nil {
				cookies = append(cookies, tt.cookie(own))
			}
			rec := f.post(tt.form(id), tt.header, cookies...)
			if tt.refused {
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "<!DOCTYPE html>") {
					t.Fatalf("answered %d, want the 400 page: %s", rec.Code, rec.Body)
				}
				if strings.Contains(rec.Body.String(), "SAMLResponse") {
					t.Fatal("a refused POST still answered the service provider")
				}
				return
			}
			if rec.Code != http.StatusOK || titleOf(rec.Body.String()) != "Cl@ve PIN" {
				t.Fatalf("answered %d %q, want the Cl@ve PIN page", rec.Code, titleOf(rec.Body.String()))
			}
			// The login stays bound to its browser at the next step too.
			if next := f.post(url.Values{"login": {id}, "cancel": {"1"}}, nil, other); next.Code != http.StatusBadRequest {
				t.Errorf("next step from another browser answered %d, want 400", next.Code)
			}
		})
	}
}

// TestRefusedPostKeepsLogin: a forged POST does not consume or cancel the
// citizen's login.
func TestRefusedPostKeepsLogin(t *testing.T) {
	f := newFixture(t, nil)
	id, own := startInBrowser(t, f)
	forged := f.post(url.Values{"login": {id}, "cancel": {"1"}}, http.Header{"Origin": {"https://evil.example"}})
	if forged.Code != http.StatusBadRequest {
		t.Fatalf("forged cancel answered %d", forged.Code)
	}
	rec := f.post(url.Values{"login": {id}, "idp": {"PIN24H"}}, http.Header{"Origin": {testBaseURL}}, own)
	if rec.Code != http.StatusOK || titleOf(rec.Body.String()) != "Cl@ve PIN" {
		t.Fatalf("the citizen's own POST answered %d %q", rec.Code, titleOf(rec.Body.String()))
	}
}

// is128BitHex is a token as the browser cookie carries them.
func is128BitHex(v string) bool {
	b, err := hex.DecodeString(v)
	return err == nil && len(b) == 16
}
