package web_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/bridge/web/i18n"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	a11yURL  = "https://operador.example/accesibilidad"
	knownSP  = "https://sp.example/metadata"
	homeURL  = "https://sp.example/inicio"
	spName   = "Sede <Prueba>"
	nameOnly = "https://named.example/metadata" // a display name, no home page
	// leak is what a refusal's detail carries: it must stay in the log.
	leak = "urn:oasis:names:tc:SAML:2.0:status:Requester SECRET-DETAIL"
)

type pagesFixture struct {
	srv    *web.Server
	sessID string
	bundle *i18n.Bundle
}

func newPagesFixture(t *testing.T) *pagesFixture {
	t.Helper()
	now := func() time.Time { return time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC) }
	mem := store.NewMemory(now, 0)
	sessions := &session.Sessions{Store: mem, Lifetime: time.Hour, Now: now, Rand: rand.Reader, Seal: bridgetest.Seal(t)}
	f := &flow.Flow{Store: mem, Upstream: &bridgetest.Upstream{}, Registry: bridgetest.Registry{}, Log: zap.NewNop(),
		Now: now, Rand: rand.Reader, PendingTTL: time.Minute, Sessions: sessions, Seal: bridgetest.Seal(t)}
	sess, err := sessions.New(bridge.Result{Status: bridge.Status{Code: bridge.StatusSuccess}, Subject: "ES/ES/99999999R",
		IdP: translate.IdPPin24H, LoA: translate.LoASubstantial})
	if err != nil {
		t.Fatal(err)
	}
	sess.Participants = []bridge.Participant{{SP: knownSP, Dialect: "saml2", At: now()}, {SP: "https://raw.example/md", Dialect: "saml2", At: now()}}
	if _, err := sessions.Save(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
	services := map[string]web.Service{knownSP: {Name: spName, HomeURL: homeURL}, nameOnly: {Name: "Sólo nombre"}}
	srv := web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader, AccessibilityURL: a11yURL,
		Services: func(id string) (web.Service, bool) { s, ok := services[id]; return s, ok }})
	refuse := func(_ context.Context, in *web.Input) (flow.Reply, error) {
		q, _ := url.ParseQuery(in.RawQuery)
		if in.Post {
			q = in.Form
		}
		return flow.Reply{}, bridge.Refuse(bridge.Reason(q.Get("reason")), q.Get("sp"), "detail "+leak, errors.New("inner "+leak))
	}
	srv.Mount(
		web.Route{Method: http.MethodGet, Path: "/refuse", Handle: refuse},
		web.Route{Method: http.MethodPost, Path: "/refuse", Handle: refuse},
		web.Route{Method: http.MethodPost, Path: "/post", Handle: func(context.Context, *web.Input) (flow.Reply, error) {
			return flow.Reply{Out: bridge.Outgoing{URL: `https://sp.example/acs?a=1&b="2"`, Fields: []samlxml.Field{
				{Name: "SAMLResponse", Value: "PHg+\r\nPC94Pg=="}, {Name: "RelayState", Value: `a"<b>`}}}}, nil
		}},
		web.Route{Method: http.MethodGet, Path: "/internal", Handle: func(context.Context, *web.Input) (flow.Reply, error) {
			return flow.Reply{}, errors.New("plain error " + leak)
		}},
	)
	srv.MountSessionPage(f)
	b, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return &pagesFixture{srv: srv, sessID: sess.ID, bundle: b}
}

// how a test browser asks for a language
type asking struct {
	name, query, cookie, accept, want string
}

var askings = []asking{
	{"default", "", "", "", "es"},
	{"Accept-Language en", "", "", "en-US,en;q=0.8", "en"},
	{"Accept-Language ca", "", "", "ca", "ca"},
	{"?lang=en", "en", "", "ca", "en"},
	{"cookie en", "", "en", "es", "en"},
	{"?lang over cookie", "ca", "en", "", "ca"},
	{"unknown ?lang", "fr", "", "en", "en"},
}

func (f *pagesFixture) do(method, target string, form url.Values, a asking, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	if a.query != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "lang=" + a.query
	}
	var req *http.Request
	if method == http.MethodPost {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	if a.accept != "" {
		req.Header.Set("Accept-Language", a.accept)
	}
	if a.cookie != "" {
		req.AddCookie(&http.Cookie{Name: web.LangCookie, Value: a.cookie})
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

var switchLinkRE = regexp.MustCompile(`<a href="([^"]*)" lang="([a-z-]+)" hreflang="[a-z-]+">`)

// checkLayout asserts what every page carries: <html lang> in the chosen
// language, a viewport, the stylesheet (and a policy that lets only it
// style the page), the accessibility statement, the trace id, and (when
// switch) the language switch with a link to every other language.
func checkLayout(t *testing.T, rec *httptest.ResponseRecorder, lang string, withSwitch bool) {
	t.Helper()
	body := rec.Body.String()
	for _, want := range []string{
		`<html lang="` + lang + `">`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<link rel="stylesheet" href="/static/clavebridge.css">`,
		`<main id="main"`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("page lacks %s: %.1200s", want, body)
		}
	}
	if !strings.Contains(body, `<a href="`+a11yURL+`">`) {
		t.Fatalf("no accessibility statement link: %.1500s", body)
	}
	if tr := rec.Header().Get("X-Trace-Id"); tr == "" || !strings.Contains(body, tr) {
		t.Fatalf("trace id %q not on the page", tr)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "style=") {
		t.Fatalf("CSP %q, or an inline style", csp)
	}
	if rec.Header().Get("Content-Language") != lang || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html; charset=UTF-8") {
		t.Fatalf("headers %v", rec.Header())
	}
	links := switchLinkRE.FindAllStringSubmatch(body, -1)
	if !withSwitch {
		if len(links) != 0 || strings.Contains(body, `class="cb-lang"`) {
			t.Fatalf("a switch on a page that cannot be asked for again: %v", links)
		}
		return
	}
	if !strings.Contains(body, `<span aria-current="true" lang="`+lang+`">`) || len(links) != 2 {
		t.Fatalf("language switch: current %s, links %v: %.1500s", lang, links, body)
	}
	for _, l := range links {
		if l[2] == lang || !strings.Contains(l[1], "lang="+l[2]) || !strings.HasPrefix(l[1], "/") || strings.HasPrefix(l[1], "//") {
			t.Fatalf("switch link %q", l[0])
		}
	}
}

// TestPagesLayoutAndLanguage: every page the adapter serves, in every way
// of asking for a language, has the layout in the chosen language.
func TestPagesLayoutAndLanguage(t *testing.T) {
	f := newPagesFixture(t)
	session := &http.Cookie{Name: web.SessionCookie, Value: f.sessID}
	pages := []struct {
		name       string
		method     string
		target     string
		form       url.Values
		cookies    []*http.Cookie
		status     int
		withSwitch bool
		titleKey   string
	}{
		{"session page, none", http.MethodGet, "/session", nil, nil, 200, true, "session.title"},
		{"session page", http.MethodGet, "/session", nil, []*http.Cookie{session}, 200, true, "session.title"},
		{"POST form", http.MethodPost, "/post", url.Values{}, nil, 200, false, "post.title"},
		{"refusal by GET", http.MethodGet, "/refuse?reason=login_used&sp=" + url.QueryEscape(knownSP), nil, nil, 409, true, "reason.login_used.title"},
		{"refusal by POST", http.MethodPost, "/refuse", url.Values{"reason": {"login_expired"}}, nil, 410, true, "reason.login_expired.title"},
		{"error page by GET", http.MethodGet, "/error?reason=other_browser", nil, nil, 400, true, "reason.other_browser.title"},
		{"unknown path", http.MethodGet, "/nothing/here", nil, nil, 404, true, "reason.not_found.title"},
		{"wrong method", http.MethodGet, "/post", nil, nil, 405, true, "reason.method.title"},
		{"plain error", http.MethodGet, "/internal", nil, nil, 500, true, "reason.internal.title"},
	}
	for _, p := range pages {
		for _, a := range askings {
			t.Run(p.name+"/"+a.name, func(t *testing.T) {
				rec := f.do(p.method, p.target, p.form, a, p.cookies...)
				if rec.Code != p.status {
					t.Fatalf("status %d, want %d: %.500s", rec.Code, p.status, rec.Body)
				}
				checkLayout(t, rec, a.want, p.withSwitch)
				title := f.bundle.Localizer(a.want).T(p.titleKey)
				if !strings.Contains(rec.Body.String(), template(title)) {
					t.Fatalf("no %s title %q: %.1200s", a.want, title, rec.Body)
				}
				if strings.Contains(rec.Body.String(), "urn:oasis") || strings.Contains(rec.Body.String(), "SECRET-DETAIL") {
					t.Fatal("SAML detail on the page")
				}
			})
		}
	}
}

// template is s as html/template escapes text.
func template(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", `"`, "&#34;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// TestLanguageCookie: a known ?lang= is kept in the cookie (a day, Lax,
// Secure, whole site), an unknown one is not; the cookie then chooses.
func TestLanguageCookie(t *testing.T) {
	f := newPagesFixture(t)
	rec := f.do(http.MethodGet, "/session", nil, asking{query: "ca"})
	var kept *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == web.LangCookie {
			kept = c
		}
	}
	if kept == nil || kept.Value != "ca" || kept.MaxAge != 86400 || kept.SameSite != http.SameSiteLaxMode || !kept.Secure || kept.Path != "/" {
		t.Fatalf("cookie %+v", kept)
	}
	rec = f.do(http.MethodGet, "/session", nil, asking{accept: "en"}, &http.Cookie{Name: web.LangCookie, Value: kept.Value})
	checkLayout(t, rec, "ca", true)
	rec = f.do(http.MethodGet, "/session", nil, asking{query: "zz"})
	if len(rec.Result().Cookies()) != 0 {
		t.Fatalf("unknown language kept: %v", rec.Result().Cookies())
	}
}

// TestRefusalPages: each reason has its words in every language and its
// status, links back to the service when its SP is known and has a home
// page, says to go back otherwise, and shows no detail.
func TestRefusalPages(t *testing.T) {
	f := newPagesFixture(t)
	for _, reason := range bridge.Reasons() {
		for _, sp := range []string{knownSP, nameOnly, "", "https://unknown.example/md"} {
			for _, lang := range []string{"es", "en", "ca"} {
				t.Run(fmt.Sprintf("%s/%s/%s", reason, sp, lang), func(t *testing.T) {
					q := url.Values{"reason": {string(reason)}, "sp": {sp}}
					rec := f.do(http.MethodGet, "/refuse?"+q.Encode(), nil, asking{accept: lang})
					if rec.Code != reason.Status() || rec.Code == 0 {
						t.Fatalf("status %d, want %d", rec.Code, reason.Status())
					}
					if (rec.Code >= 500) != (reason == bridge.ReasonInternal || reason == bridge.ReasonUnavailable || reason == bridge.ReasonMetadataExpired) {
						t.Fatalf("status %d for %s", rec.Code, reason)
					}
					body, l := rec.Body.String(), f.bundle.Localizer(lang)
					for _, part := range []string{"title", "what", "todo"} {
						key := "reason." + string(reason) + "." + part
						if !l.Has(key) || !strings.Contains(body, template(l.T(key))) {
							t.Fatalf("no %s: %.1500s", key, body)
						}
					}
					back := `<a class="cb-button" href="` + homeURL + `">` + template(l.T("error.back", "service", spName)) + `</a>`
					if got := strings.Contains(body, back); got != (sp == knownSP) {
						t.Fatalf("link back %v for %q: %.2000s", got, sp, body)
					}
					if got := strings.Contains(body, template(l.T("error.back_unknown"))); got == (sp == knownSP) {
						t.Fatalf("go-back text %v for %q", got, sp)
					}
					if strings.Contains(body, "urn:oasis") || strings.Contains(body, "SECRET") || strings.Contains(body, "unknown.example") {
						t.Fatal("detail or an unknown SP on the page")
					}
					checkLayout(t, rec, lang, true)
				})
			}
		}
	}
}

// TestErrorPageSwitch: the language switch of an error page leads to the
// same page by GET at /error, never to the request's own URL (which may
// carry a protocol message); /error shows only a known reason, a known
// SP's link and a well-formed trace id.
func TestErrorPageSwitch(t *testing.T) {
	f := newPagesFixture(t)
	rec := f.do(http.MethodGet, "/refuse?SAMLRequest=PHg%2B&reason=login_expired&sp="+url.QueryEscape(knownSP), nil, asking{})
	trace := rec.Header().Get("X-Trace-Id")
	links := switchLinkRE.FindAllStringSubmatch(rec.Body.String(), -1)
	if len(links) != 2 {
		t.Fatalf("links %v", links)
	}
	for _, l := range links {
		u, err := url.Parse(strings.ReplaceAll(l[1], "&amp;", "&"))
		if err != nil || u.Path != web.ErrorPath || u.Query().Get("reason") != "login_expired" || u.Query().Get("trace") != trace ||
			u.Query().Get("sp") != knownSP || u.Query().Has("SAMLRequest") {
			t.Fatalf("switch link %q", l[1])
		}
		again := f.do(http.MethodGet, u.String(), nil, asking{})
		if again.Code != http.StatusGone || !strings.Contains(again.Body.String(), trace) || !strings.Contains(again.Body.String(), homeURL) {
			t.Fatalf("the switched page: %d %.800s", again.Code, again.Body)
		}
		again.Header().Set("X-Trace-Id", trace) // the page shows the login's trace id, the header its own request's
		checkLayout(t, again, l[2], true)
	}
	for _, target := range []string{"/error?reason=%3Cscript%3E", "/error?trace=%3Cb%3Ex&reason=internal", "/error?reason=internal&sp=https%3A%2F%2Fevil.example"} {
		rec := f.do(http.MethodGet, target, nil, asking{})
		body := rec.Body.String()
		if strings.Contains(body, "<script") || strings.Contains(body, "<b>x") || strings.Contains(body, "evil.example") {
			t.Fatalf("%s reflected: %.800s", target, body)
		}
	}
}

// TestSwitchLinksStayLocal: the switch keeps a GET's other parameters
// and never links off the site.
func TestSwitchLinksStayLocal(t *testing.T) {
	f := newPagesFixture(t)
	f.srv.Echo().GET("/any/*", func(c echo.Context) error {
		return web.RenderPage(c, http.StatusOK, anyPage, web.PageData{TitleKey: "session.title"})
	})
	for _, path := range []string{"/session", "//evil.example/x", "/\\evil.example/x", "/any//evil.example"} {
		req := httptest.NewRequest(http.MethodGet, "/session?x=1&lang=en", nil)
		req.URL.Path = path
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		links := switchLinkRE.FindAllStringSubmatch(rec.Body.String(), -1)
		if len(links) != 2 {
			t.Fatalf("%s: links %v", path, links)
		}
		for _, l := range links {
			href := l[1]
			if !strings.HasPrefix(href, "/") || strings.HasPrefix(href, "//") || strings.HasPrefix(href, "/\\") || (rec.Code == http.StatusOK && !strings.HasSuffix(href, "&amp;x=1")) {
				t.Fatalf("%s: switch link %q", path, href)
			}
		}
	}
}

var anyPage = web.MustPageTemplate("any", `{{define "content"}}<h1>{{T .TitleKey}}</h1>{{end}}`)

// TestSessionPage: services by their display names (linked to their home
// pages), the identity provider and level in words, the subject masked.
func TestSessionPage(t *testing.T) {
	f := newPagesFixture(t)
	rec := f.do(http.MethodGet, "/session", nil, asking{accept: "en"}, &http.Cookie{Name: web.SessionCookie, Value: f.sessID})
	body := rec.Body.String()
	for _, want := range []string{
		`<a href="` + homeURL + `">` + template(spName) + `</a>`, "https://raw.example/md",
		"Cl@ve PIN", "substantial", translate.Mask("ES/ES/99999999R"), "2026-03-01 10:00 UTC",
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("no %q: %.2500s", want, body)
		}
	}
	if strings.Contains(body, "99999999R") {
		t.Fatal("the subject unmasked")
	}
}

// TestPostFormPage: the POST binding page posts every field byte for byte,
// submits itself with the one script its policy allows by hash, and shows
// a button that submits it without JavaScript.
func TestPostFormPage(t *testing.T) {
	f := newPagesFixture(t)
	rec := f.do(http.MethodPost, "/post", url.Values{}, asking{accept: "en"})
	body := rec.Body.String()
	if rec.Header().Get("Content-Security-Policy") != web.PostCSP() || !strings.HasPrefix(web.PostCSP(), samlxml.PostFormCSP()) {
		t.Fatalf("CSP %q", rec.Header().Get("Content-Security-Policy"))
	}
	for _, want := range []string{
		`<form method="post" action="https://sp.example/acs?a=1&amp;b=%222%22"`,
		`<input type="hidden" name="SAMLResponse" value="PHg+&#13;&#10;PC94Pg==">`,
		`<input type="hidden" name="RelayState" value="a&#34;&lt;b&gt;">`,
		"<script>" + samlxml.AutoSubmitScript + "</script>",
		`<button type="submit" class="cb-button">Continue</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("no %s: %.2000s", want, body)
		}
	}
	if strings.Contains(body, `b="2"`) {
		t.Fatalf("the action's quotes unescaped: %.2000s", body)
	}
	if strings.Count(body, "<script") != 1 || strings.Count(body, "<form") != 1 ||
		strings.Index(body, "<form") > strings.Index(body, "<script") {
		t.Fatal("the script must submit the page's only form")
	}
	if i := strings.Index(body, "<noscript>"); i < 0 || strings.Contains(body[i:strings.Index(body, "</noscript>")], "<button") {
		t.Fatal("the button must show with scripts on too; the noscript only explains")
	}
}

// TestStylesheet: served from the bridge, CSS, cacheable, nosniff; no
// external fonts or imports; visible focus.
func TestStylesheet(t *testing.T) {
	f := newPagesFixture(t)
	rec := f.do(http.MethodGet, web.StylesheetPath, nil, asking{})
	h := rec.Header()
	if rec.Code != 200 || h.Get("Content-Type") != "text/css; charset=utf-8" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(h.Get("Cache-Control"), "max-age=") {
		t.Fatalf("%d %v", rec.Code, h)
	}
	css := rec.Body.String()
	for _, bad := range []string{"@import", "url(", "@font-face", "http:", "https:"} {
		if strings.Contains(css, bad) {
			t.Fatalf("stylesheet has %s", bad)
		}
	}
	for _, want := range []string{":focus-visible", "@media", ".cb-chooser", ".cb-service", ".cb-lang"} {
		if !strings.Contains(css, want) {
			t.Fatalf("stylesheet lacks %s", want)
		}
	}
}

// TestTemplateKeysInCatalog: every key the adapter's templates and code
// name is in the catalogs.
func TestTemplateKeysInCatalog(t *testing.T) {
	b, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	keyRE := regexp.MustCompile(`(?:T |TitleKey: )"([a-z_]+\.[a-z_.]+)"`)
	l, found := b.Localizer("es"), 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(data), -1) {
			found++
			if !l.Has(m[1]) {
				t.Errorf("%s names key %q, which the catalogs lack", name, m[1])
			}
		}
	}
	for _, id := range []translate.IdP{translate.IdPAfirma, translate.IdPPin24H, translate.IdPSegSoc, translate.IdPEIDAS, translate.IdPClaveMovil} {
		if !l.Has("idp." + strings.ToLower(string(id))) {
			t.Errorf("no name for IdP %s", id)
		}
	}
	for _, loa := range []translate.LoA{translate.LoALow, translate.LoASubstantial, translate.LoAHigh} {
		if !l.Has("loa." + loa.String()) {
			t.Errorf("no word for LoA %s", loa)
		}
	}
	if found < 20 {
		t.Fatalf("only %d keys found in the templates", found)
	}
}
