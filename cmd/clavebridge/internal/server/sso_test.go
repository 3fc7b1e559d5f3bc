package server

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/browser"
)

// ssoHarness is a bridge with edits applied (its browser keeps the Secure
// session cookie on loopback, as real browsers do).
func ssoHarness(t *testing.T, edits ...func(*config.Config)) *harness {
	t.Helper()
	h := startHarness(t, func(cfg *config.Config) {
		for _, edit := range edits {
			edit(cfg)
		}
	})
	return h
}

// login runs one demo login of the given dialect to its result page.
func (h *harness) login(t *testing.T, dialect string, options url.Values) string {
	t.Helper()
	page, err := h.Browser.Post(h.URL+"/demo/"+dialect+"/login", options)
	if err != nil {
		t.Fatal(err)
	}
	if page, _, err = h.Browser.FollowPosts(page, nil); err != nil {
		t.Fatal(err)
	}
	return page.Body
}

func (h *harness) reasons(message string) []string {
	var out []string
	for _, e := range h.Logs.FilterMessage(message).All() {
		if r, ok := e.ContextMap()["reason"].(string); ok {
			out = append(out, r)
		}
	}
	return out
}

// TestSSOAcrossDialects: one authentication serves the plain SAML2, the
// Cl@ve 2.0 and the Cl@ve 1 SPs of the same browser; the simulator sees
// exactly one login.
func TestSSOAcrossDialects(t *testing.T) {
	h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	steps := []struct {
		dialect string
		options url.Values
		want    string
	}{
		{"saml2", url.Values{"loa": {"substantial"}, "binding": {"post"}, "nameid": {"persistent"}}, "ES/ES/99999999R"},
		{"clave2", url.Values{"loa": {"high"}, "afirma": {"true"}}, "ES/ES/99999999R"},
		{"stork", url.Values{"qaa": {"4"}}, "ES/ES/99999999R"},
		{"saml2", url.Values{"loa": {"low"}, "binding": {"redirect"}}, "http://eidas.europa.eu/LoA/high"},
	}
	for i, s := range steps {
		body := h.login(t, s.dialect, s.options)
		if !strings.Contains(body, demoLoggedIn) || !strings.Contains(body, s.want) {
			t.Fatalf("step %d (%s): %.1500s", i, s.dialect, body)
		}
		if got := h.Server.Simulator.Logins(); got != 1 {
			t.Fatalf("after step %d (%s) the simulator saw %d logins, want 1", i, s.dialect, got)
		}
	}
	if n := h.Logs.FilterMessage("SSO session reused").Len(); n != 3 {
		t.Fatalf("session reused %d times, want 3", n)
	}
}

// TestSSONewAuthentication: a request the session cannot serve sends the
// citizen upstream again, for the stated reason.
func TestSSONewAuthentication(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*config.Config)
		dialect string
		second  url.Values
		reason  string
	}{
		{"forced authentication", nil, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}, "force": {"true"}}, "forces authentication"},
		{"higher LoA", autoLogin("AFIRMA", "99999999R", "software"), "saml2", url.Values{"loa": {"high"}, "binding": {"post"}}, "higher level of assurance"},
		{"IdP used excluded", nil, "clave2", url.Values{"loa": {"low"}, "disable": {"AFIRMA"}}, "excludes the identity provider used"},
		{"another IdP forced", nil, "stork", url.Values{"qaa": {"2"}, "forced": {"SS"}}, "excludes the identity provider used"},
		{"Cl@ve 1 forceAuthN", nil, "stork", url.Values{"qaa": {"2"}, "force": {"true"}}, "forces authentication"},
		{"SP without SSO", func(cfg *config.Config) {
			zero := config.Duration(0)
			for i := range cfg.ServiceProviders {
				if cfg.ServiceProviders[i].Dialect == "eidas" {
					cfg.ServiceProviders[i].SSOLifetime = &zero
				}
			}
		}, "clave2", url.Values{"loa": {"low"}}, "forbids single sign-on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edits := []func(*config.Config){autoLogin("AFIRMA", "99999999R", "dnie")}
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			h := ssoHarness(t, edits...)
			if body := h.login(t, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}}); !strings.Contains(body, demoLoggedIn) {
				t.Fatalf("first login: %.1500s", body)
			}
			h.login(t, tt.dialect, tt.second)
			reasons := h.reasons("SSO session not reused")
			if len(reasons) != 1 || !strings.Contains(reasons[0], tt.reason) {
				t.Fatalf("reasons %q, want one with %q", reasons, tt.reason)
			}
			if h.Logs.FilterMessage("SSO session reused").Len() != 0 {
				t.Fatal("the session was reused")
			}
		})
	}
}

// TestForcedAuthenticationReplacesSession: after ForceAuthn a new session
// replaces the old one (keeping its participants for single logout) and
// serves the next request.
func TestForcedAuthenticationReplacesSession(t *testing.T) {
	h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	h.login(t, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}})
	h.login(t, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}, "force": {"true"}})
	body := h.login(t, "clave2", url.Values{"loa": {"low"}})
	started, replaced := h.Logs.FilterMessage("SSO session started").Len(), h.Logs.FilterMessage("SSO session replaced").Len()
	if !strings.Contains(body, demoLoggedIn) || h.Server.Simulator.Logins() != 2 || started != 1 || replaced != 1 {
		t.Fatalf("logins %d, sessions started %d, replaced %d: %.800s", h.Server.Simulator.Logins(), started, replaced, body)
	}
	// One record per SP: the saml2 demo's latest (the forced login's), and
	// the clave2 kit just answered.
	if reused := h.Logs.FilterMessage("SSO session reused").All(); len(reused) != 1 || reused[0].ContextMap()["participants"] != int64(2) {
		t.Fatalf("the third login was not answered from the replacing session with every participant: %v", reused)
	}
}

// TestSessionCookie: the cookie is Secure, HttpOnly, SameSite=None (the
// gateway's cross-site POST back to /upstream/acs must carry it),
// host-only, with a random value and no personal data; it expires with the
// session.
func TestSessionCookie(t *testing.T) {
	h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	page, err := h.Browser.Post(h.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
	if err != nil {
		t.Fatal(err)
	}
	var setCookie string
	_, _, err = h.Browser.FollowPosts(page, func(f browser.Form) bool {
		if strings.HasSuffix(f.Action, "/upstream/acs") {
			resp, err := h.Browser.Client.PostForm(f.Action, f.Fields)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			setCookie = resp.Header.Get("Set-Cookie")
			return true
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{web.SessionCookie + "=_", "Path=/", "Max-Age=3600", "HttpOnly", "Secure", "SameSite=None"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
		}
	}
	for _, leak := range []string{"Domain=", "99999999R", "JUAN"} {
		if strings.Contains(setCookie, leak) {
			t.Errorf("Set-Cookie %q contains %q", setCookie, leak)
		}
	}
	u, _ := url.Parse(h.URL)
	if cs := browser.New(http.DefaultTransport).Client.Jar.Cookies(u); len(cs) != 0 {
		t.Fatal("a fresh browser has cookies")
	}
}

// TestSSOSessionExpires: a session past its lifetime is not reused.
func TestSSOSessionExpires(t *testing.T) {
	clock := &testClock{now: time.Now()}
	h := startHarnessWith(t, Options{Now: clock.Now}, func(cfg *config.Config) {
		autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
		cfg.SSO.Lifetime = config.Duration(time.Second)
	})
	h.login(t, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}})
	clock.Advance(1100 * time.Millisecond)
	h.login(t, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}})
	if got := h.Server.Simulator.Logins(); got != 2 {
		t.Fatalf("simulator saw %d logins, want 2 (the session had expired)", got)
	}
}

// TestSessionPage: /session shows the session with the identifier masked.
func TestSessionPage(t *testing.T) {
	h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	page, err := h.Browser.Get(h.URL + "/session")
	if err != nil || !strings.Contains(page.Body, "No tiene ninguna sesión abierta") {
		t.Fatalf("before login: %v %.500s", err, page.Body)
	}
	h.login(t, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}})
	h.login(t, "clave2", url.Values{"loa": {"low"}})
	page, err = h.Browser.Get(h.URL + "/session?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	// the services by their display names (config display_name, else name)
	for _, want := range []string{"Electronic certificate or DNIe", "high", "************99R", "Servicio de demostración (SAML2)", "Demo SP (Cl@ve 2.0 kit)"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("session page lacks %q: %.1500s", want, page.Body)
		}
	}
	if strings.Contains(page.Body, "99999999R") {
		t.Error("session page shows the identifier unmasked")
	}
}

// testClock is a clock the test moves: the server's one clock, so that no
// test waits on the real one.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the clock's time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
