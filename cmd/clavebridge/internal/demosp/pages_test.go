package demosp

import (
	"crypto/rand"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/bridge/web/i18n"
)

// rawKeyRe finds a catalog key left in a page (a key the catalogs lack
// renders as itself).
var rawKeyRe = regexp.MustCompile(`\b(demo|sim|reason|post|error|footer|site|skip)\.[a-z_]+`)

// newDemo is a demo SP behind the bridge's adapter (which chooses the
// language), with test routes showing its result and logout pages.
func newDemo(t *testing.T) *web.Server {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile("../../../../testdata/keys/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	key, err := samlxml.ParsePrivateKeyPEM(read("demo-sp.key"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := samlxml.ParseCertificatePEM(read("demo-sp.crt"))
	if err != nil {
		t.Fatal(err)
	}
	bridgeCert, err := samlxml.ParseCertificatePEM(read("bridge-sign.crt"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{BaseURL: "http://127.0.0.1:8080", Signer: samlxml.Signer{Key: key, Cert: cert}, BridgeCert: bridgeCert,
		Now: time.Now, Rand: rand.Reader, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
	d.Mount(srv.Echo())
	srv.Echo().GET("/test/result/ok", func(c echo.Context) error {
		return d.showResult(c, &resultView{OK: true, Status: "urn:oasis:names:tc:SAML:2.0:status:Success", Issuer: "AFIRMA", LoA: "QAA 4",
			Logout: "/demo/stork/logout", Attributes: []attribute{
				{Name: "eIdentifier", Values: []string{"ES/ES/99999999R"}, Status: "Available"},
				{Name: "givenName", Values: []string{"ESPAÑOL"}, Status: "Available"},
				{Name: "givenName", Values: []string{"ESPAÑOL"}, Status: "Available"},
				{Name: "isLegalPerson", Values: []string{"false"}, FromPost: true},
			}})
	})
	srv.Echo().GET("/test/result/failed", func(c echo.Context) error {
		return d.showResult(c, &resultView{Status: "urn:oasis:names:tc:SAML:2.0:status:Responder / urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
			Message: "denied"})
	})
	srv.Echo().GET("/test/logout", func(c echo.Context) error {
		return render(c, http.StatusOK, logoutPage, "demo.logout.success", logoutView{Outcome: "success", Status: "urn:oasis:names:tc:SAML:2.0:status:Success"})
	})
	return srv
}

// TestDemoPagesInEachLanguage: every page of the demo SP is in the
// language chosen, in the shared layout, with no raw catalog key.
func TestDemoPagesInEachLanguage(t *testing.T) {
	b, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	srv := newDemo(t)
	for _, l := range b.Languages() {
		tr := func(key string) string { return html.EscapeString(b.Localizer(l.Code).T(key)) }
		tests := []struct {
			name, method, path string
			status             int
			want               []string
		}{
			{"home", http.MethodGet, "/demo/", http.StatusOK, []string{`<body class="cb-service">`, tr("demo.home.title"), tr("demo.brand"),
				`<label for="saml2-loa">`, `<legend>` + tr("demo.saml2.legend") + `</legend>`, `id="state-saml2" data-state="out"`, `href="/session"`}},
			{"result", http.MethodGet, "/test/result/ok", http.StatusOK, []string{ResultOK, `<dl class="cb-dl">`,
				`id="result-loa">` + tr("demo.loa.high") + ` <code>QAA 4</code>`, `id="result-issuer"><code>AFIRMA</code>`,
				`data-attr="eIdentifier" data-status="Available"`, `action="/demo/stork/logout"`, tr("demo.logout")}},
			{"failed", http.MethodGet, "/test/result/failed", http.StatusOK, []string{ResultFailed, "RequestDenied"}},
			{"logout", http.MethodGet, "/test/logout", http.StatusOK, []string{LoggedOut, tr("demo.logout.success")}},
			{"refused", http.MethodPost, "/demo/saml2/login", http.StatusBadRequest, []string{tr("reason.bad_request.title")}},
		}
		for _, tt := range tests {
			t.Run(l.Code+"/"+tt.name, func(t *testing.T) {
				var body *strings.Reader
				if tt.method == http.MethodPost {
					body = strings.NewReader(url.Values{"loa": {"none"}}.Encode())
				} else {
					body = strings.NewReader("")
				}
				req := httptest.NewRequest(tt.method, tt.path+"?lang="+l.Code, body)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				page := rec.Body.String()
				if rec.Code != tt.status {
					t.Fatalf("status %d, want %d:\n%s", rec.Code, tt.status, page)
				}
				for _, want := range append([]string{`<html lang="` + l.Code + `">`, `<meta name="viewport" content="width=device-width, initial-scale=1">`,
					`<link rel="stylesheet" href="` + web.StylesheetPath + `">`}, tt.want...) {
					if !strings.Contains(page, want) {
						t.Errorf("page lacks %s:\n%s", want, page)
					}
				}
				if m := rawKeyRe.FindString(page); m != "" {
					t.Errorf("page shows the raw key %q:\n%s", m, page)
				}
				if strings.Contains(page, "style=") {
					t.Error("page has inline styles")
				}
			})
		}
	}
}

// TestResultShowsEachAttributeOnce: a repeated attribute is one entry, and
// the status message that only repeats the status is dropped.
func TestResultShowsEachAttributeOnce(t *testing.T) {
	srv := newDemo(t)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/test/result/ok", nil))
	if n := strings.Count(rec.Body.String(), `data-attr="givenName"`); n != 1 {
		t.Errorf("givenName shown %d times:\n%s", n, rec.Body)
	}
	if n := strings.Count(rec.Body.String(), `urn:oasis:names:tc:SAML:2.0:status:Success`); n != 1 {
		t.Errorf("the status shown %d times", n)
	}
	for _, tt := range []struct{ message, status, want string }{
		{"urn:oasis:names:tc:SAML:2.0:status:Success", "urn:oasis:names:tc:SAML:2.0:status:Success", ""},
		{"003002 - Authentication Failed", "urn:oasis:names:tc:SAML:2.0:status:Responder", "003002 - Authentication Failed"},
	} {
		if got := sameStatus(tt.message, tt.status); got != tt.want {
			t.Errorf("sameStatus(%q) = %q, want %q", tt.message, got, tt.want)
		}
	}
	for loa, want := range map[string]string{"http://eidas.europa.eu/LoA/substantial": "demo.loa.substantial", "QAA 2": "demo.loa.low", "QAA 4": "demo.loa.high", "": "demo.loa.unknown"} {
		if got := loaKey(loa); got != want {
			t.Errorf("loaKey(%q) = %q, want %q", loa, got, want)
		}
	}
}
