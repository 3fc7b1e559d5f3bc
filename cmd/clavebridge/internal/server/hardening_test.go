package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/simulator"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// hop is one answer a test browser received.
type hop struct {
	method, url string
	status      int
	header      http.Header
	body        string
	cookies     []*http.Cookie
}

// rawBrowser keeps cookies and records every answer with its headers.
type rawBrowser struct {
	t      *testing.T
	client *http.Client
	hops   []hop
}

func newRawBrowser(t *testing.T) *rawBrowser {
	jar, _ := cookiejar.New(nil)
	return &rawBrowser{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// do sends a request (a form POST when form is not nil) with extra headers.
func (b *rawBrowser) do(method, u string, form url.Values, header http.Header) hop {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	h := hop{method: method, url: u, status: resp.StatusCode, header: resp.Header, body: string(data), cookies: resp.Cookies()}
	b.hops = append(b.hops, h)
	return h
}

// follow submits auto-posting forms (at most ten) and returns the last answer.
func (b *rawBrowser) follow(h hop) hop {
	b.t.Helper()
	for i := 0; i < 10; i++ {
		p := &browser.Page{Status: h.status, Body: h.body}
		if h.status != http.StatusOK || !p.IsAutoPost() {
			return h
		}
		f := p.Forms()[0]
		base, _ := url.Parse(h.url)
		action, err := base.Parse(f.Action)
		if err != nil {
			b.t.Fatal(err)
		}
		h = b.do(http.MethodPost, action.String(), f.Fields, nil)
	}
	b.t.Fatal("more than ten auto-posted forms")
	return h
}

var scriptSrcRE = regexp.MustCompile(`script-src ([^;]*)`)

// assertSecurityHeaders checks the headers every answer must carry.
func assertSecurityHeaders(t *testing.T, h hop) {
	t.Helper()
	what := fmt.Sprintf("%s %s (%d)", h.method, h.url, h.status)
	if got := h.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q, want nosniff", what, got)
	}
	referrers := []string{"no-referrer"}
	if u, _ := url.Parse(h.url); strings.HasPrefix(u.Path, "/demo/") && (strings.Contains(u.Path, "logout") || strings.HasSuffix(u.Path, "/slo")) {
		// The demo SP's logout messages name their origin to the bridge
		// (logout binding): same-origin, which sends nothing to other
		// sites either.
		referrers = append(referrers, "same-origin")
	}
	if got := h.header.Get("Referrer-Policy"); !slices.Contains(referrers, got) {
		t.Errorf("%s: Referrer-Policy = %q, want one of %q", what, got, referrers)
	}
	csps := h.header.Values("Content-Security-Policy")
	if len(csps) != 1 {
		t.Errorf("%s: %d Content-Security-Policy headers: %q", what, len(csps), csps)
		return
	}
	csp := csps[0]
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: CSP %q lacks default-src 'none' or frame-ancestors 'none'", what, csp)
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP %q allows unsafe scripts", what, csp)
	}
	if m := scriptSrcRE.FindStringSubmatch(csp); m != nil {
		for _, src := range strings.Fields(m[1]) {
			if !strings.HasPrefix(src, "'sha256-") {
				t.Errorf("%s: CSP %q allows scripts other than by hash: %s", what, csp, src)
			}
		}
	}
	if strings.Contains(h.body, "<script") && scriptSrcRE.FindStringSubmatch(csp) == nil {
		t.Errorf("%s: a page with a script and no script-src hash", what)
	}
}

// TestSecurityHeadersOnEveryPage: every kind of page, through the real
// server, carries nosniff, no-referrer and a CSP without unsafe scripts.
func TestSecurityHeadersOnEveryPage(t *testing.T) {
	h := startHarness(t, nil)
	b := newRawBrowser(t)
	for _, p := range []string{"/demo/", "/session", "/healthz", "/readyz", "/saml2/metadata", "/upstream/metadata",
		"/Proxy2/metadata", "/nope", "/"} {
		b.do(http.MethodGet, h.URL+p, nil, nil)
	}
	b.do(http.MethodGet, h.URL+"/upstream/acs", nil, nil) // 405
	// The simulator's selection page: the login posts through the bridge
	// to the gateway, which shows its page.
	sel := b.follow(b.do(http.MethodPost, h.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}}, nil))
	if sel.status != http.StatusOK || !strings.Contains(sel.body, `name="login"`) {
		t.Fatalf("no simulator page: %d %.500s", sel.status, sel.body)
	}
	b.do(http.MethodPost, h.URL+"/sim/Proxy2/Login", url.Values{"login": {"unknown"}}, nil) // simulator error page
	b.do(http.MethodPost, h.URL+"/saml2/sso", url.Values{"SAMLRequest": {"%%%"}}, nil)      // bridge error page
	b.do(http.MethodPost, h.URL+"/demo/saml2/login", url.Values{"loa": {"low"}},
		http.Header{"Origin": {"https://evil.example"}}) // demo CSRF refusal

	// A complete login to the demo's result page, then a logout.
	auto := startHarness(t, autoLogin("SEGSOC", "00000000T", ""))
	ab := newRawBrowser(t)
	done := ab.follow(ab.do(http.MethodPost, auto.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}}, nil))
	if !strings.Contains(done.body, demoLoggedIn) {
		t.Fatalf("login: %d %.800s", done.status, done.body)
	}
	ab.follow(ab.do(http.MethodPost, auto.URL+"/demo/saml2/logout", url.Values{}, nil))

	for _, hp := range b.hops {
		if strings.HasSuffix(hp.url, "/healthz") && hp.header.Get("Content-Security-Policy") != web.DefaultCSP {
			t.Errorf("/healthz CSP %q, want the middleware's default %q", hp.header.Get("Content-Security-Policy"), web.DefaultCSP)
		}
	}
	hops := append(b.hops, ab.hops...)
	seen := map[string]bool{}
	for _, hp := range hops {
		u, _ := url.Parse(hp.url)
		seen[u.Path] = true
		assertSecurityHeaders(t, hp)
	}
	for _, want := range []string{"/saml2/sso", "/sim/Proxy2/ServiceProvider", "/upstream/acs", "/demo/saml2/acs", "/demo/saml2/slo", "/upstream/slo"} {
		if !seen[want] {
			t.Errorf("no answer from %s was checked (saw %v)", want, seen)
		}
	}
}

// TestDemoCSRF: the demo's forms carry the double-submit token; forged
// POSTs get a 403 page.
func TestDemoCSRF(t *testing.T) {
	h := startHarness(t, autoLogin("SEGSOC", "00000000T", ""))
	b := newRawBrowser(t)
	home := b.do(http.MethodGet, h.URL+"/demo/", nil, nil)
	var token *http.Cookie
	for _, c := range home.cookies {
		if c.Name == "demo_csrf" {
			token = c
		}
	}
	if token == nil || !token.HttpOnly || !token.Secure || token.SameSite != http.SameSiteStrictMode || token.Path != "/demo/" || len(token.Value) < 32 {
		t.Fatalf("demo_csrf cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/demo/, a random value", token)
	}
	forms := (&browser.Page{Body: home.body}).Forms()
	if len(forms) != 3 {
		t.Fatalf("home has %d forms", len(forms))
	}
	for _, f := range forms {
		if f.Fields.Get("csrf") != token.Value {
			t.Errorf("form %s carries csrf %q, want the cookie's", f.Action, f.Fields.Get("csrf"))
		}
	}
	// The cookie is Secure: send it by hand over http.
	post := func(path string, form url.Values, header http.Header, cookie string) hop {
		hd := http.Header{}
		for k, v := range header {
			hd[k] = v
		}
		if cookie != "" {
			hd.Set("Cookie", "demo_csrf="+cookie)
		}
		plain := &rawBrowser{t: t, client: &http.Client{CheckRedirect: b.client.CheckRedirect}}
		return plain.do(http.MethodPost, h.URL+path, form, hd)
	}
	login := func(csrf string) url.Values {
		v := url.Values{"loa": {"low"}, "binding": {"post"}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}
	null, same, evil := http.Header{"Origin": {"null"}}, http.Header{"Origin": {h.URL}}, http.Header{"Origin": {"https://evil.example"}}
	tests := []struct {
		name   string
		path   string
		form   url.Values
		header http.Header
		cookie string
		ok     bool
	}{
		{"our form (Origin null under no-referrer)", "/demo/saml2/login", login(token.Value), null, token.Value, true},
		{"our form, same Origin", "/demo/saml2/login", login(token.Value), same, token.Value, true},
		{"scripted client: no Origin, no cookie", "/demo/saml2/login", login(""), nil, "", true},
		{"cross-site Origin, even with the token", "/demo/saml2/login", login(token.Value), evil, token.Value, false},
		{"cross-site Referer", "/demo/clave2/login", url.Values{"loa": {"low"}}, http.Header{"Referer": {"https://evil.example/x"}}, "", false},
		{"browser form without the field", "/demo/stork/login", url.Values{"qaa": {"2"}}, null, token.Value, false},
		{"browser form with a wrong field", "/demo/saml2/login", login(strings.Repeat("0", 32)), null, token.Value, false},
		{"browser form without the cookie", "/demo/saml2/login", login(token.Value), null, "", false},
		{"forged logout button", "/demo/clave2/logout", url.Values{}, evil, "", false},
		{"forged saml2 logout button", "/demo/saml2/logout", url.Values{}, null, "", false},
		{"forged stork logout button", "/demo/stork/logout", url.Values{}, null, token.Value, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := post(tt.path, tt.form, tt.header, tt.cookie)
			if tt.ok {
				if got.status != http.StatusOK || !(&browser.Page{Status: got.status, Body: got.body}).IsAutoPost() {
					t.Fatalf("answered %d, want the auto-posting form: %.500s", got.status, got.body)
				}
				return
			}
			if got.status != http.StatusForbidden || !strings.Contains(got.body, got.header.Get("X-Trace-Id")) {
				t.Fatalf("answered %d, want the 403 page: %.500s", got.status, got.body)
			}
			assertSecurityHeaders(t, got)
		})
	}
}

// TestRequestLimits: through a listener served by the configured
// http.Server, a 64 KiB header gets 431 and a body over the limit 413; the
// server has its timeouts.
func TestRequestLimits(t *testing.T) {
	cfg := exampleConfig(t, "http://127.0.0.1:1", nil)
	srv, err := New(cfg, zap.NewNop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := srv.Web.HTTPServer()
	if s.ReadTimeout <= 0 || s.WriteTimeout <= 0 {
		t.Errorf("timeouts: read %v, write %v", s.ReadTimeout, s.WriteTimeout)
	}
	if s.MaxHeaderBytes != 16<<10 {
		t.Errorf("MaxHeaderBytes %d", s.MaxHeaderBytes)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Handler = srv
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })

	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header answered %d, want 431", resp.StatusCode)
	}

	base := "http://" + ln.Addr().String()
	big := url.Values{"SAMLRequest": {strings.Repeat("A", int(cfg.Server.MaxBodyBytes)+1)}}
	r, err := http.PostForm(base+"/saml2/sso", big)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Body.Close()
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the limit answered %d, want 413", r.StatusCode)
	}
	ok, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = ok.Body.Close()
	if ok.StatusCode != http.StatusOK {
		t.Errorf("healthz answered %d", ok.StatusCode)
	}
}

// personalData lists every citizen's identifiers and names in the test
// citizens file, except a name that is part of an identity provider's code
// (the Cl@ve PIN test citizen's surname is "PIN", and PIN24H is logged).
func personalData(t *testing.T) []string {
	t.Helper()
	citizens, err := simulator.LoadCitizens(filepath.Join(samlxmltest.RepoRoot(), "testdata", "citizens.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range citizens {
		for _, v := range []string{c.ID, c.GivenName, c.FirstSurname, c.SecondSurname} {
			if len(v) >= 3 && !strings.Contains("AFIRMA SEGSOC PIN24H EIDAS CLVMOVIL", v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// TestNoPersonalDataInLogs: a complete login per dialect and identity
// provider, and a logout; no log line names a citizen.
func TestNoPersonalDataInLogs(t *testing.T) {
	pii := personalData(t)
	for _, c := range []struct{ idp, citizen, method string }{
		{"AFIRMA", "99999999R", "dnie"}, {"SEGSOC", "00000000T", ""}, {"PIN24H", "12345678Z", ""}, {"EIDAS", "T22000129", ""},
	} {
		t.Run(c.idp, func(t *testing.T) {
			h := startHarness(t, autoLogin(c.idp, c.citizen, c.method))
			loggedIn := 0
			var last *browser.Browser
			for _, l := range []struct {
				dialect string
				options url.Values
			}{
				{"saml2", url.Values{"loa": {"low"}, "binding": {"post"}}},
				{"clave2", url.Values{"loa": {"low"}}},
				{"stork", url.Values{"qaa": {"2"}}},
			} {
				b := browser.New(http.DefaultTransport) // a fresh browser: a full login each time
				page, err := b.Post(h.URL+"/demo/"+l.dialect+"/login", l.options)
				if err != nil {
					t.Fatal(err)
				}
				if page, _, err = b.FollowPosts(page, nil); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(page.Body, demoLoggedIn) {
					loggedIn++
					last = b
				}
			}
			if loggedIn == 0 {
				t.Fatalf("no dialect logged in with %s", c.idp)
			}
			page, err := last.Post(h.URL+"/demo/saml2/logout", url.Values{})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := last.FollowPosts(page, nil); err != nil {
				t.Fatal(err)
			}
			if h.Server.Simulator.Logins() != loggedIn {
				t.Errorf("the simulator saw %d logins, %d demo logins succeeded", h.Server.Simulator.Logins(), loggedIn)
			}
			if len(h.Logs.All()) == 0 {
				t.Fatal("nothing was logged")
			}
			assertNoPersonalData(t, h.Logs, pii...)
		})
	}
}
