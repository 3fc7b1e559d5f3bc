package server

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/browser"
)

func init() { registerClass("LogHygiene", attackLogHygiene) }

// The personal data a request carries around its SAML message: the DNI
// of a test citizen (PEDRO PIN SÁNCHEZ, a Cl@ve PIN user) and a name.
const (
	hygieneDNI  = "12345678Z"
	hygieneName = "MARIAHIGIENE"
)

// hygieneHeaders puts the marker in the headers a browser or a proxy
// sends, which the bridge must not log either.
type hygieneHeaders struct {
	next    http.RoundTripper
	referer string // a page of the SP's whose URL names the citizen
}

func (h hygieneHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", "agent/"+hygieneDNI)
	if h.referer != "" {
		r.Header.Set("Referer", h.referer)
	}
	r.Header.Set("X-Forwarded-For", "192.0.2.7")
	return h.next.RoundTrip(r)
}

// attackLogHygiene: what a refused request carries besides its message
// (the query, a RelayState, other form fields, cookies, the session
// cookie's value, the User-Agent, the Referer, the client's address)
// reaches no log line, at every entry point; the request still gets its
// one access line, with the status it was answered with and the trace id
// its error page shows, so that an operator finds it. Positive control: a
// whole login of the citizen whose DNI is the marker logs neither it nor
// the marker, and answers the SP.
func attackLogHygiene(t *testing.T, res *results) {
	h, rec := attackHarness(t, autoLogin("PIN24H", hygieneDNI, ""))
	// newBrowser's requests carry the marker in cookies and headers (a
	// Referer too, but for the demo's buttons, which refuse one).
	newBrowser := func(referer string) *browser.Browser {
		b := browser.New(hygieneHeaders{next: http.DefaultTransport, referer: referer})
		u, _ := url.Parse(h.URL + "/")
		b.Client.Jar.SetCookies(u, []*http.Cookie{
			{Name: web.SessionCookie, Value: hygieneDNI, Path: "/"},
			{Name: web.LoginCookie + "0123456789abcdef", Value: hygieneDNI, Path: "/"},
			{Name: "dni", Value: hygieneDNI, Path: "/"},
		})
		return b
	}
	leaks := func(entries []observer.LoggedEntry) []string {
		var out []string
		for _, e := range entries {
			line := e.Message
			for k, v := range e.ContextMap() {
				line += " " + k + "=" + fmt.Sprint(v)
			}
			if strings.Contains(line, hygieneDNI) || strings.Contains(line, hygieneName) || strings.Contains(line, "192.0.2.7") ||
				strings.Contains(line, "PEDRO") || strings.Contains(line, "SÁNCHEZ") { // the citizen's names
				out = append(out, line)
			}
		}
		return out
	}

	// Positive control: the citizen's whole login, to the answer posted
	// to the SP.
	ctl := &entry{name: "clave2-post", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/clave2/acs"}, res: res}
	before := h.Logs.Len()
	b := newBrowser("")
	page, err := b.Post(h.URL+"/demo/clave2/login?dni="+hygieneDNI, url.Values{"loa": {"low"}})
	if err == nil {
		page, _, err = b.FollowPosts(page, func(f browser.Form) bool { return strings.HasSuffix(f.Action, "/demo/clave2/acs") })
	}
	ctl.expectSuccess(t, "the citizen's login", page, err)
	if l := leaks(h.Logs.All()[before:]); len(l) > 0 {
		t.Fatalf("positive control: the login logged the marker: %v", l)
	}

	referer := "https://sp.example/tramite?dni=" + hygieneDNI
	traceShown := regexp.MustCompile(`<code[^>]*>([0-9a-f]{16})</code>`)
	for _, ep := range []struct {
		name, method, path, field string
	}{
		{"saml2-post", http.MethodPost, "/saml2/sso", "SAMLRequest"},
		{"saml2-redirect", http.MethodGet, "/saml2/sso", "SAMLRequest"},
		{"clave2-post", http.MethodPost, "/Proxy2/ServiceProvider", "SAMLRequest"},
		{"clave2-redirect", http.MethodGet, "/Proxy2/ServiceProvider", "SAMLRequest"},
		{"stork-post", http.MethodPost, "/Proxy/ServiceProvider", "SAMLRequest"},
		{"upstream-acs", http.MethodPost, web.UpstreamACSPath, "SAMLResponse"},
		{"saml2-slo", http.MethodPost, "/saml2/slo", "SAMLRequest"},
		{"saml2-slo-redirect", http.MethodGet, "/saml2/slo", "SAMLRequest"},
		{"clave2-logout", http.MethodPost, "/Proxy2/ServiceProvider", "logoutRequest"},
		{"stork-logout", http.MethodPost, "/Proxy/LogoutAction", "samlRequestLogout"},
		{"stork-redirect", http.MethodGet, "/Proxy/ServiceProvider", "SAMLRequest"},
		{"saml2-slo-response", http.MethodPost, "/saml2/slo", "SAMLResponse"},
		{"clave2-logout-response", http.MethodPost, "/Proxy2/ServiceProvider", "logoutResponse"},
		{"stork-logout-response", http.MethodPost, "/Proxy/LogoutAction", "samlResponseLogout"},
	} {
		e := &entry{name: ep.name, h: h, rec: rec, res: res}
		fields := url.Values{
			ep.field:     {"bm90IGEgU0FNTCBtZXNzYWdl!"}, // not a message: refused before anything is read
			"RelayState": {hygieneDNI},
			"nombre":     {hygieneName},
		}
		var from int
		send := func() (*browser.Page, error) {
			from = h.Logs.Len()
			if ep.method == http.MethodGet {
				return newBrowser(referer).Get(h.URL + ep.path + "?" + fields.Encode())
			}
			return newBrowser(referer).Post(h.URL+ep.path+"?dni="+hygieneDNI, fields)
		}
		e.attack(t, "LogHygiene", ep.name+": the marker around a refused message", send, func(t *testing.T, page *browser.Page) {
			lines := h.Logs.All()[from:]
			if l := leaks(lines); len(l) > 0 {
				t.Errorf("LEAK: %v", l)
			}
			shown := traceShown.FindStringSubmatch(page.Body)
			var access []observer.LoggedEntry
			for _, l := range lines {
				if l.LoggerName == web.AccessLoggerName {
					access = append(access, l)
				}
			}
			if len(access) != 1 || shown == nil {
				t.Fatalf("%d access lines; the page shows trace %v", len(access), shown)
			}
			m := access[0].ContextMap()
			if m["path"] != ep.path || m["method"] != ep.method || m["status"] != int64(page.Status) || m[trace.Field] != shown[1] {
				t.Errorf("access line %v; the page: status %d, trace %s", m, page.Status, shown[1])
			}
		})
	}
}
