package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/internal/browser"
)

// deadEndHarness: the bridge with the simulator logging in by itself, the
// demo SAML2 SP with a home page, and a clock the test moves.
func deadEndHarness(t *testing.T) (*harness, *testClock, string) {
	t.Helper()
	clock := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	var home string
	h := startHarnessWith(t, Options{Now: clock.Now}, func(cfg *config.Config) {
		autoLogin("SEGSOC", "00000000T", "")(cfg)
		cfg.Server.AccessibilityURL = cfg.Server.BaseURL + "/accesibilidad"
		for i := range cfg.ServiceProviders {
			if strings.HasSuffix(cfg.ServiceProviders[i].ID, "/demo/saml2/metadata") {
				home = cfg.Server.BaseURL + "/demo/"
				cfg.ServiceProviders[i].HomeURL, cfg.ServiceProviders[i].DisplayName = home, "Servicio de demostración"
			}
		}
	})
	if home == "" {
		t.Fatal("no demo SAML2 SP in the example configuration")
	}
	return h, clock, home
}

// gatewayAnswer runs the demo SP's login in b up to the gateway's answer
// to the bridge, and returns that form unsent.
func gatewayAnswer(t *testing.T, h *harness, b *browser.Browser) *browser.Form {
	t.Helper()
	page, err := b.Post(h.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
	if err != nil {
		t.Fatal(err)
	}
	_, form, err := b.FollowPosts(page, func(f browser.Form) bool { return strings.HasSuffix(f.Action, "/upstream/acs") })
	if err != nil || form == nil {
		t.Fatalf("no answer to /upstream/acs: %v", err)
	}
	return form
}

// TestDeadEnds: the back button or a reload of the gateway's answer, a
// double submission, an answer in another browser, and one after the
// login expired each get a page that explains, in the citizen's language,
// with the right status (never 500) and, where the login is known, a link
// back to the service.
func TestDeadEnds(t *testing.T) {
	tests := []struct {
		name   string
		lang   string
		run    func(t *testing.T, h *harness, clock *testClock) *browser.Page
		status int
		words  string // in the page's language
		home   bool   // a link back to the service
	}{
		{"reload after the login", "es", func(t *testing.T, h *harness, _ *testClock) *browser.Page {
			form := gatewayAnswer(t, h, h.Browser)
			done, _, err := h.Browser.FollowPosts(mustPost(t, h.Browser, form), nil)
			if err != nil || !strings.Contains(done.Body, demoLoggedIn) {
				t.Fatalf("the login itself: %v %d %s %.3000s", err, done.Status, done.URL, done.Body)
			}
			return mustPost(t, h.Browser, form) // back button or reload: the browser posts it again
		}, http.StatusConflict, "Este acceso ya se completó", false},
		{"double submission", "en", func(t *testing.T, h *harness, _ *testClock) *browser.Page {
			form := gatewayAnswer(t, h, h.Browser)
			mustPost(t, h.Browser, form)
			return mustPost(t, h.Browser, form)
		}, http.StatusConflict, "This sign-in was already completed", false},
		{"answer in another browser", "ca", func(t *testing.T, h *harness, _ *testClock) *browser.Page {
			form := gatewayAnswer(t, h, h.Browser)
			return mustPostLang(t, browser.New(http.DefaultTransport), form, "ca")
		}, http.StatusBadRequest, "No trobem aquest accés al vostre navegador", false},
		{"expired login", "en", func(t *testing.T, h *harness, clock *testClock) *browser.Page {
			form := gatewayAnswer(t, h, h.Browser)
			clock.Advance(time.Hour)
			return mustPost(t, h.Browser, form)
		}, http.StatusGone, "The sign-in has expired", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, clock, home := deadEndHarness(t)
			if tt.lang != "es" { // the citizen chose a language on a page of the bridge
				if _, err := h.Browser.Get(h.URL + "/session?lang=" + tt.lang); err != nil {
					t.Fatal(err)
				}
			}
			page := tt.run(t, h, clock)
			if page.Status != tt.status || !strings.Contains(page.Body, `<html lang="`+tt.lang+`">`) ||
				!strings.Contains(page.Body, tt.words) {
				t.Fatalf("status %d (want %d), want %q in %s: %.2500s", page.Status, tt.status, tt.words, tt.lang, page.Body)
			}
			if got := strings.Contains(page.Body, `<a class="cb-button" href="`+home+`">`); got != tt.home {
				t.Fatalf("link back to the service: %v, want %v: %.2500s", got, tt.home, page.Body)
			}
			if strings.Contains(page.Body, "urn:oasis") || !strings.Contains(page.Body, `href="`+h.URL+`/accesibilidad"`) {
				t.Fatalf("SAML text, or no accessibility link: %.2500s", page.Body)
			}
		})
	}
}

func mustPost(t *testing.T, b *browser.Browser, f *browser.Form) *browser.Page {
	t.Helper()
	page, err := b.Post(f.Action, f.Fields)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// mustPostLang posts f from a browser that asks for lang.
func mustPostLang(t *testing.T, b *browser.Browser, f *browser.Form, lang string) *browser.Page {
	t.Helper()
	if _, err := b.Get(strings.TrimSuffix(f.Action, "/upstream/acs") + "/session?lang=" + lang); err != nil {
		t.Fatal(err)
	}
	return mustPost(t, b, f)
}
