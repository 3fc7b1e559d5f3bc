package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// harness is a whole bridge (with simulator and demo SP) on a loopback port.
type harness struct {
	URL     string
	Server  *Server
	Browser *browser.Browser
	Logs    *observer.ObservedLogs
}

// exampleConfig is config.example.yaml moved to base, with extra YAML
// appended (later keys of the same top-level name are not allowed, so extra
// must only add new top-level sections or service_providers entries through
// spYAML).
func exampleConfig(t testing.TB, base string, edit func(*config.Config)) *config.Config {
	t.Helper()
	return exampleConfigFor(t, base, DialectRules(), edit)
}

// exampleConfigFor is exampleConfig for a bridge serving dialects.
func exampleConfigFor(t testing.TB, base string, dialects config.DialectSet, edit func(*config.Config)) *config.Config {
	t.Helper()
	root := samlxmltest.RepoRoot()
	data, err := os.ReadFile(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "http://localhost:8080", base)
	cfg, err := config.Parse([]byte(text), root, dialects)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	return cfg
}

// startHarness runs the bridge on a fresh loopback port; edit may change
// the configuration before the server is built.
func startHarness(t testing.TB, edit func(*config.Config)) *harness {
	t.Helper()
	return startHarnessWith(t, Options{}, edit)
}

// startHarnessWith is startHarness with options (a clock, dialects).
func startHarnessWith(t testing.TB, opts Options, edit func(*config.Config)) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	dialects := DialectRules()
	if opts.Dialects != nil {
		dialects = dialect.Set(opts.Dialects)
	}
	cfg := exampleConfigFor(t, base, dialects, edit)
	core, logs := observer.New(zap.InfoLevel)
	srv, err := New(cfg, zap.New(core), opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv}}
	hs.Start()
	t.Cleanup(hs.Close)
	return &harness{URL: base, Server: srv, Browser: browser.New(http.DefaultTransport), Logs: logs}
}

func autoLogin(idp, citizen, method string) func(*config.Config) {
	return func(cfg *config.Config) {
		cfg.Simulator.AutoLogin = &config.AutoLoginConfig{IdP: idp, Citizen: citizen, Method: method}
	}
}

// demoLogin runs the demo SP's login with the given options to its result page.
func (h *harness) demoLogin(t testing.TB, options url.Values) *browser.Page {
	t.Helper()
	page, err := h.Browser.Post(h.URL+"/demo/saml2/login", options)
	if err != nil {
		t.Fatal(err)
	}
	page, _, err = h.Browser.FollowPosts(page, nil)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func TestDemoLoginEndToEnd(t *testing.T) {
	tests := []struct {
		name    string
		options url.Values
		auto    func(*config.Config)
		want    []string
	}{
		{"post, DNIe, high", url.Values{"loa": {"high"}, "binding": {"post"}, "nameid": {"persistent"}},
			autoLogin("AFIRMA", "99999999R", "dnie"),
			[]string{demoLoggedIn, "ES/ES/99999999R", "http://eidas.europa.eu/LoA/high", "JUAN", "ESPAÑOL PRUEBAS", "AFIRMA"}},
		{"redirect, Cl@ve permanente", url.Values{"loa": {"substantial"}, "binding": {"redirect"}},
			autoLogin("SEGSOC", "00000000T", ""),
			[]string{demoLoggedIn, "ES/ES/00000000T", "http://eidas.europa.eu/LoA/substantial", "SEGSOC"}},
		{"LoA above what the IdP reaches", url.Values{"loa": {"high"}, "binding": {"post"}},
			autoLogin("SEGSOC", "00000000T", ""),
			[]string{demoLoginFailed, "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"}},
		{"IdP denied by the SP's policy", url.Values{"loa": {"low"}, "binding": {"post"}},
			autoLogin("PIN24H", "12345678Z", ""),
			[]string{demoLoginFailed, "RequestDenied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, tt.auto)
			page := h.demoLogin(t, tt.options)
			if page.Status != http.StatusOK {
				t.Fatalf("status %d: %s", page.Status, page.Body)
			}
			for _, w := range tt.want {
				if !strings.Contains(page.Body, w) {
					t.Errorf("result page lacks %q:\n%.2000s", w, page.Body)
				}
			}
			assertNoPersonalData(t, h.Logs, "99999999R", "00000000T", "JUAN", "PRUEBAS")
		})
	}
}

// assertNoPersonalData fails if any log line carries one of the values.
func assertNoPersonalData(t testing.TB, logs *observer.ObservedLogs, values ...string) {
	t.Helper()
	for _, entry := range logs.All() {
		line := entry.Message
		for k, v := range entry.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(v)
		}
		for _, v := range values {
			if strings.Contains(line, v) {
				t.Errorf("log line leaks %q: %s", v, line)
			}
		}
	}
}

// TestHTTPErrorsArePagesWithTraceIDs: whatever fails, the browser gets our
// error page with a trace id and the security headers, never echo's JSON.
func TestHTTPErrorsArePagesWithTraceIDs(t *testing.T) {
	h := startHarness(t, nil)
	big := url.Values{"SAMLRequest": {strings.Repeat("A", 600<<10)}}
	tests := []struct {
		name   string
		do     func() (*http.Response, error)
		status int
	}{
		{"body over the limit", func() (*http.Response, error) { return http.PostForm(h.URL+"/saml2/sso", big) }, http.StatusRequestEntityTooLarge},
		{"unknown path", func() (*http.Response, error) { return http.Get(h.URL + "/nope") }, http.StatusNotFound},
		{"wrong method", func() (*http.Response, error) { return http.Get(h.URL + "/upstream/acs") }, http.StatusMethodNotAllowed},
		{"garbage SAMLRequest", func() (*http.Response, error) {
			return http.PostForm(h.URL+"/saml2/sso", url.Values{"SAMLRequest": {"%%%"}})
		}, http.StatusBadRequest},
		{"garbage upstream response", func() (*http.Response, error) {
			return http.PostForm(h.URL+"/upstream/acs", url.Values{"SAMLResponse": {"PHg+PC94Pg=="}})
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.do()
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := new(strings.Builder)
			_, _ = io.Copy(body, resp.Body)
			trace := resp.Header.Get("X-Trace-Id")
			if resp.StatusCode != tt.status || trace == "" || !strings.Contains(body.String(), trace) ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("status %d (want %d), trace %q, body %.300s", resp.StatusCode, tt.status, trace, body)
			}
			for header, want := range map[string]string{
				"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
				"Content-Security-Policy": "frame-ancestors 'none'",
			} {
				if !strings.Contains(resp.Header.Get(header), want) {
					t.Errorf("%s = %q, want %q", header, resp.Header.Get(header), want)
				}
			}
		})
	}
	found := false
	for _, e := range h.Logs.All() {
		found = found || (e.Message == "request refused" && e.ContextMap()["status"] == int64(http.StatusRequestEntityTooLarge))
	}
	if !found {
		t.Error("no log line for the oversized body")
	}
}

// TestDemoClave2LoginEndToEnd: the Cl@ve 2.0 kit-like demo SP logs in
// through /Proxy2/ServiceProvider and validates the answer as the kit does.
func TestDemoClave2LoginEndToEnd(t *testing.T) {
	tests := []struct {
		name    string
		options url.Values
		auto    func(*config.Config)
		want    []string
	}{
		{"DNIe with PartialAfirma", url.Values{"loa": {"high"}, "afirma": {"true"}},
			autoLogin("AFIRMA", "99999999R", "dnie"),
			[]string{demoLoggedIn, "ES/ES/99999999R", "http://eidas.europa.eu/LoA/high", "PartialAfirma", "SelectedIdP", "AFIRMA", "FirstSurname", "RelayState"}},
		{"Cl@ve permanente, certificate hidden", url.Values{"loa": {"substantial"}, "disable": {"AFIRMA", "PIN24H"}},
			autoLogin("SEGSOC", "00000000T", ""),
			[]string{demoLoggedIn, "ES/ES/00000000T", "SEGSOC"}},
		{"the IdP used is hidden by the SP", url.Values{"loa": {"low"}, "disable": {"SEGSOC"}},
			autoLogin("SEGSOC", "00000000T", ""),
			[]string{demoLoginFailed, "RequestDenied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, tt.auto)
			page, err := h.Browser.Post(h.URL+"/demo/clave2/login", tt.options)
			if err != nil {
				t.Fatal(err)
			}
			if page, _, err = h.Browser.FollowPosts(page, nil); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(page.Body, w) {
					t.Errorf("result page lacks %q:\n%.2000s", w, page.Body)
				}
			}
		})
	}
}

// TestDemoStorkLoginEndToEnd: the Cl@ve 1 demo SP (Java STORK engine
// layout) logs in through /Proxy/ServiceProvider.
func TestDemoStorkLoginEndToEnd(t *testing.T) {
	tests := []struct {
		name    string
		options url.Values
		auto    func(*config.Config)
		want    []string
	}{
		{"DNIe, QAA 4", url.Values{"qaa": {"4"}}, autoLogin("AFIRMA", "99999999R", "dnie"),
			[]string{demoLoggedIn, `id="result-issuer"><code>AFIRMA</code>`, `id="result-loa">alto <code>QAA 4</code>`, `data-attr="eIdentifier" data-status="Available"`, "ES/ES/99999999R", "ESPAÑOL PRUEBAS",
				`data-attr="inheritedFamilyName" data-status="Available"`, `data-attr="citizenQAALevel" data-status="Available"`, `data-attr="isdnie" data-status="Available"`, "<code>true</code>", `data-attr="registerType" data-status="NotAvailable"`}},
		{"one-surname foreigner", url.Values{"qaa": {"2"}}, autoLogin("PIN24H", "X1234567L", ""),
			[]string{demoLoggedIn, `id="result-issuer"><code>PIN24H</code>`, "ES/ES/X1234567L", "SMITH"}},
		{"legal person", url.Values{"qaa": {"3"}, "legal": {"true"}}, autoLogin("AFIRMA", "11111111H", "legal"),
			[]string{demoLoggedIn, "ES/ES/B00000000", "EMPRESA DE PRUEBAS SL", `data-attr="isLegalPerson"`, "<code>true</code>", "1.3.6.1.4.1.5734.3.11.1", `data-attr="surname" data-status="NotAvailable"`}},
		{"legal person with surname required", url.Values{"qaa": {"3"}, "legal": {"true"}, "required_surname": {"true"}},
			autoLogin("AFIRMA", "11111111H", "legal"), []string{demoLoginFailed, "InvalidAttrNameOrValue"}},
		{"forced IdP excluded by the SP wins", url.Values{"qaa": {"2"}, "forced": {"SS"}, "exclude": {"SS"}},
			autoLogin("SEGSOC", "00000000T", ""), []string{demoLoggedIn, `id="result-issuer"><code>SEGSOC</code>`}},
		{"excluded IdP", url.Values{"qaa": {"2"}, "exclude": {"AEAT"}}, autoLogin("PIN24H", "12345678Z", ""),
			[]string{demoLoginFailed, "RequestDenied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, tt.auto)
			page, err := h.Browser.Post(h.URL+"/demo/stork/login", tt.options)
			if err != nil {
				t.Fatal(err)
			}
			if page, _, err = h.Browser.FollowPosts(page, nil); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(page.Body, w) {
					t.Errorf("result page lacks %q:\n%.3000s", w, page.Body)
				}
			}
		})
	}
}
