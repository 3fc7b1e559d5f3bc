package server

// Single logout through the three demo SPs, as a browser goes through it:
// the three log in with one authentication; one of them (or the gateway)
// starts the logout; the browser follows every auto-posted form through
// the other demo SPs' logout receivers (each answers), the gateway leg,
// and back to whoever started it. The demo SPs' login cookies, the
// bridge's session and the gateway's login are all gone afterwards.
//
// Run it with: go test ./cmd/clavebridge/internal/server -run 'Demo.*Logout'

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/internal/browser"
)

// demoLogoutURLs are where each demo SP receives logout messages.
var demoLogoutURLs = map[string]string{
	"saml2":  "/demo/saml2/slo",
	"clave2": "/demo/clave2/logout",
	"stork":  "/demo/stork/logout",
}

// demoLoginAll logs the three demo SPs in with one authentication.
func demoLoginAll(t *testing.T, h *harness) {
	t.Helper()
	for _, s := range []struct {
		dialect string
		options url.Values
	}{
		{"saml2", url.Values{"loa": {"low"}, "binding": {"post"}}},
		{"clave2", url.Values{"loa": {"low"}}},
		{"stork", url.Values{"qaa": {"2"}}},
	} {
		if body := h.login(t, s.dialect, s.options); !strings.Contains(body, demoLoggedIn) {
			t.Fatalf("%s login: %.1500s", s.dialect, body)
		}
	}
	if got := h.Server.Simulator.Logins(); got != 1 {
		t.Fatalf("the simulator saw %d logins, want 1 (single sign-on)", got)
	}
	if states := demoStates(t, h.Browser, h.URL); len(states) != 3 || slices.ContainsFunc(mapValues(states), func(s string) bool { return s != "logged in" }) {
		t.Fatalf("demo home after the logins: %v", states)
	}
}

var demoStateRE = regexp.MustCompile(`id="state-(\w+)" data-state="(in|out)"`)

// demoStateNames are the states demoStates reports.
var demoStateNames = map[string]string{"in": "logged in", "out": "not logged in"}

// demoStates reads the demo home page: dialect → "logged in" or "not
// logged in".
func demoStates(t *testing.T, b *browser.Browser, base string) map[string]string {
	t.Helper()
	page, err := b.Get(base + "/demo/")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range demoStateRE.FindAllStringSubmatch(page.Body, -1) {
		out[m[1]] = demoStateNames[m[2]]
	}
	logoutButtons := 0
	for _, f := range page.Forms() {
		if strings.HasSuffix(f.Action, "/logout") {
			logoutButtons++
		}
	}
	loggedIn := 0
	for _, s := range out {
		if s == "logged in" {
			loggedIn++
		}
	}
	if logoutButtons != loggedIn {
		t.Errorf("demo home has %d Log out buttons for %d logins", logoutButtons, loggedIn)
	}
	if !strings.Contains(page.Body, `href="/session"`) {
		t.Error("demo home has no link to /session")
	}
	return out
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// followRecording follows every auto-posted form (never stopping) and
// returns the last page with the paths the forms were posted to.
func followRecording(t *testing.T, b *browser.Browser, page *browser.Page) (*browser.Page, []string) {
	t.Helper()
	var posted []string
	last, _, err := b.FollowPosts(page, func(f browser.Form) bool {
		if u, err := url.Parse(f.Action); err == nil {
			posted = append(posted, u.Path)
		}
		return false
	})
	if err != nil {
		t.Fatalf("%v (posted to %v)", err, posted)
	}
	return last, posted
}

// assertAllLoggedOut: the bridge's session, the demo SPs' logins and the
// gateway's login are gone: the next login authenticates again.
func assertAllLoggedOut(t *testing.T, h *harness) {
	t.Helper()
	page, err := h.Browser.Get(h.URL + "/session")
	if err != nil || !strings.Contains(page.Body, "No tiene ninguna sesión abierta") {
		t.Errorf("/session after the logout: %v %.800s", err, page.Body)
	}
	if sloHasSessionCookie(h) {
		t.Error("the browser still holds the bridge's session cookie")
	}
	if states := demoStates(t, h.Browser, h.URL); len(states) != 3 || slices.ContainsFunc(mapValues(states), func(s string) bool { return s != "not logged in" }) {
		t.Errorf("demo home after the logout: %v", states)
	}
	if body := h.login(t, "clave2", url.Values{"loa": {"low"}}); !strings.Contains(body, demoLoggedIn) {
		t.Fatalf("login after the logout: %.1500s", body)
	}
	if got := h.Server.Simulator.Logins(); got != 2 {
		t.Errorf("the simulator saw %d logins, want 2 (the logout ended the session)", got)
	}
	assertNoPersonalData(t, h.Logs, "99999999R", "JUAN")
}

// TestDemoSingleLogout: each demo SP in turn starts the logout of the
// three; the others are told, then the gateway, and the initiator shows
// "Logged out" with the status Success.
func TestDemoSingleLogout(t *testing.T) {
	for _, initiator := range []string{"saml2", "clave2", "stork"} {
		t.Run(initiator, func(t *testing.T) {
			t.Parallel()
			h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
			demoLoginAll(t, h)

			page, err := h.Browser.Post(h.URL+"/demo/"+initiator+"/logout", url.Values{})
			if err != nil {
				t.Fatal(err)
			}
			last, posted := followRecording(t, h.Browser, page)
			if !strings.Contains(last.Body, demoLoggedOut) || !strings.Contains(last.Body, "urn:oasis:names:tc:SAML:2.0:status:Success") ||
				strings.Contains(last.Body, "PartialLogout") || last.URL.Path != demoLogoutURLs[initiator] {
				t.Fatalf("the logout ended at %s (status %d), posted to %v:\n%.1500s", last.URL, last.Status, posted, last.Body)
			}
			for dialect, receiver := range demoLogoutURLs {
				if dialect != initiator && !slices.Contains(posted, receiver) {
					t.Errorf("the %s demo was never told: posted to %v", dialect, posted)
				}
			}
			if !slices.Contains(posted, "/upstream/slo") {
				t.Errorf("the gateway never answered: posted to %v", posted)
			}
			if got := h.Server.Simulator.Logouts(); got != 1 {
				t.Errorf("the simulator accepted %d LogoutRequests, want 1", got)
			}
			if n := h.Logs.FilterMessage("request refused").Len(); n != 0 {
				t.Errorf("%d requests refused on the way: %v", n, h.reasonsOf("request refused"))
			}
			assertAllLoggedOut(t, h)
		})
	}
}

// TestDemoGatewayInitiatedLogout: the gateway starts the logout; the
// bridge tells the three demo SPs and answers the gateway.
func TestDemoGatewayInitiatedLogout(t *testing.T) {
	h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	demoLoginAll(t, h)

	out, _, err := h.Server.Simulator.InitiateLogout("relay")
	if err != nil {
		t.Fatal(err)
	}
	fields := url.Values{}
	for _, f := range out.Fields {
		fields.Add(f.Name, f.Value)
	}
	if !strings.HasSuffix(out.URL, "/upstream/slo") {
		t.Fatalf("the gateway's logoutRequest goes to %s", out.URL)
	}
	page, err := h.Browser.Post(out.URL, fields)
	if err != nil {
		t.Fatal(err)
	}
	last, posted := followRecording(t, h.Browser, page)
	for dialect, receiver := range demoLogoutURLs {
		if !slices.Contains(posted, receiver) {
			t.Errorf("the %s demo was never told: posted to %v", dialect, posted)
		}
	}
	if got := h.Server.Simulator.LogoutAnswers(); got != 1 || last.Status != http.StatusOK {
		t.Fatalf("the gateway got %d answers; the logout ended at %s (status %d), posted to %v:\n%.1500s",
			got, last.URL, last.Status, posted, last.Body)
	}
	if h.Logs.FilterMessage("single logout finished").Len() != 1 || h.Logs.FilterMessage("an SP did not log out").Len() != 0 {
		t.Errorf("logout not complete: %v", h.reasonsOf("request refused"))
	}
	assertAllLoggedOut(t, h)
}

// TestDemoLogoutWithoutSession: the bridge knows no session of the
// browser: the saml2 demo's logout is answered UnknownPrincipal, and a
// session of another browser is left alone.
func TestDemoLogoutWithoutSession(t *testing.T) {
	tests := []struct {
		name  string
		stale bool // the demo SP remembers a login of another browser
	}{
		{"fresh browser", false},
		{"demo cookie without a bridge session", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
			b := browser.New(http.DefaultTransport)
			if tt.stale {
				demoLoginAll(t, h)
				u, _ := url.Parse(h.URL + "/demo/")
				for _, c := range h.Browser.Client.Jar.Cookies(u) {
					if c.Name == "demo_saml2" {
						b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/demo/", Secure: true}})
					}
				}
				if demoStates(t, b, h.URL)["saml2"] != "logged in" {
					t.Fatal("the demo cookie did not carry over")
				}
			}
			page, err := b.Post(h.URL+"/demo/saml2/logout", url.Values{})
			if err != nil {
				t.Fatal(err)
			}
			last, posted := followRecording(t, b, page)
			if !strings.Contains(last.Body, "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal") || last.URL.Path != "/demo/saml2/slo" {
				t.Fatalf("the logout ended at %s (status %d), posted to %v:\n%.1500s", last.URL, last.Status, posted, last.Body)
			}
			if states := demoStates(t, b, h.URL); states["saml2"] != "not logged in" {
				t.Errorf("the demo still remembers the login: %v", states)
			}
			if h.Server.Simulator.Logouts() != 0 {
				t.Error("the gateway was told of a logout that ended nothing")
			}
			if tt.stale && (!sloHasSessionCookie(h) || demoStates(t, h.Browser, h.URL)["saml2"] != "logged in") {
				t.Error("the other browser's session was touched")
			}
		})
	}
}
