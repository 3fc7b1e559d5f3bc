package web

// The pages citizens see: one layout (language, viewport, the stylesheet,
// the language switch, the accessibility statement, the trace id) around
// each page's content, in the request's language from the catalogs of
// bridge/web/i18n. The simulator and the demo SPs, mounted on the same
// router, render their pages with it too (see RenderPage).

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge/web/i18n"
)

// Language choice: the switch's links carry LangParam; the choice is kept
// in LangCookie (with the __Host- prefix over https) for LangCookieTTL, so
// that it lasts the login, through the simulated gateway (same host) and
// back.
const (
	LangParam     = "lang"
	LangCookie    = "clavebridge_lang"
	LangCookieTTL = 24 * 60 * 60 // seconds
)

// PageCSP is the policy of a page: its own stylesheet, no scripts, forms
// posted to the bridge only.
const PageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// StylesheetPath is where the one stylesheet is served.
const StylesheetPath = "/static/clavebridge.css"

// pageKey keys the request's PageContext in the echo context.
const pageKey = "clavebridge.page"

// PageContext is what every page of a request shares: its language and
// the operator's links.
type PageContext struct {
	L *i18n.Localizer
	// Switch links to the request's page in each language (nil for a page
	// that answers a POST: it cannot be asked for again).
	Switch []LangLink
	// AccessibilityURL is the operator's accessibility statement and contact.
	AccessibilityURL string

	services func(sp string) (Service, bool)
	langs    func(u *url.URL) []LangLink
}

// Lang is the page's language code.
func (p *PageContext) Lang() string { return p.L.Lang() }

// LangLink is one entry of the language switch.
type LangLink struct {
	Code, Name, Href string
	Current          bool
}

// PageData is what a page template is executed with.
type PageData struct {
	// TitleKey is the catalog key of the page's title (and of its h1,
	// when the content uses {{T .TitleKey}}).
	TitleKey string
	// BodyClass is a class for <body> (cb-service: the demo SP's look;
	// cb-gateway: the simulator's).
	BodyClass string
	// Data is the page's own value.
	Data any

	Page  *PageContext
	Trace string

	// Resubmit, for a page that answers a POST (which has no switch
	// links), makes the switch a form per language that posts these
	// fields to Action with ?lang=: the handler shows the same page again
	// in the language chosen (see SwitchField).
	Resubmit *Resubmit
	// SwitchForms is the switch Resubmit makes (set by the renderer).
	SwitchForms []LangForm
}

// SwitchField is the field a Resubmit switch posts ("1"): the handler
// shows the page again, nothing else of the form counts.
const SwitchField = "switch_language"

// Resubmit is what a language switch posts to show a POST's page again.
type Resubmit struct {
	Action string      // a path of this site
	Fields [][2]string // hidden fields (name, value), e.g. the login id
}

// LangForm is one entry of a Resubmit switch.
type LangForm struct {
	Code, Name, Action string
	Fields             [][2]string
	Current            bool
}

// Lang is the page's language code.
func (d PageData) Lang() string { return d.Page.Lang() }

const layout = `{{define "layout"}}<!DOCTYPE html>
<html lang="{{lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{T .TitleKey}} · {{T "site.name"}}</title>
<link rel="stylesheet" href="` + StylesheetPath + `">
</head><body{{with .BodyClass}} class="{{.}}"{{end}}>
<a class="cb-skip" href="#main">{{T "skip.main"}}</a>
<header class="cb-header"><p class="cb-site">{{T "site.name"}}</p>
{{with .Page.Switch}}<nav class="cb-lang" aria-label="{{T "lang.switch"}}"><ul>
{{range .}}<li>{{if .Current}}<span aria-current="true" lang="{{.Code}}">{{.Name}}</span>{{else}}<a href="{{.Href}}" lang="{{.Code}}" hreflang="{{.Code}}">{{.Name}}</a>{{end}}</li>
{{end}}</ul></nav>{{else}}{{with .SwitchForms}}<nav class="cb-lang" aria-label="{{T "lang.switch"}}"><ul>
{{range .}}<li>{{if .Current}}<span aria-current="true" lang="{{.Code}}">{{.Name}}</span>{{else}}<form method="post" action="{{.Action}}">{{range .Fields}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}">{{end}}<button type="submit" class="cb-link" name="` + SwitchField + `" value="1" lang="{{.Code}}">{{.Name}}</button></form>{{end}}</li>
{{end}}</ul></nav>{{end}}{{end}}</header>
<main id="main" class="cb-main">
{{template "content" .}}
</main>
<footer class="cb-footer">
{{with .Page.AccessibilityURL}}<p><a href="{{.}}">{{T "footer.accessibility"}}</a></p>{{end}}
{{with .Trace}}<p class="cb-trace">{{T "footer.trace" "trace" .}}</p>{{end}}
</footer>
</body></html>
{{end}}`

// PageTemplate is a page: the layout around a "content" template.
type PageTemplate struct {
	t *template.Template
	// bound holds, per Localizer (one per language and bundle), a clone of
	// t with T and lang bound to it: cloned and escaped once, not per page.
	bound sync.Map // *i18n.Localizer -> *template.Template
}

// placeholderFuncs let templates parse; each render binds them to the
// request's language.
var placeholderFuncs = template.FuncMap{
	"T":    func(string, ...string) string { return "" },
	"lang": func() string { return "" },
}

// NewPageTemplate parses content, which must define "content", inside the
// layout. Templates call {{T "key" "name" value …}} for text and {{lang}}
// for the language code; strings never go in templates.
func NewPageTemplate(name, content string) (*PageTemplate, error) {
	t, err := template.New(name).Funcs(placeholderFuncs).Parse(layout)
	if err != nil {
		return nil, fmt.Errorf("page %s: layout: %w", name, err)
	}
	if t, err = t.Parse(content); err != nil {
		return nil, fmt.Errorf("page %s: %w", name, err)
	}
	if t.Lookup("content") == nil {
		return nil, fmt.Errorf("page %s defines no content template", name)
	}
	return &PageTemplate{t: t}, nil
}

// MustPageTemplate is NewPageTemplate for package-level pages.
func MustPageTemplate(name, content string) *PageTemplate {
	p, err := NewPageTemplate(name, content)
	if err != nil {
		panic(err)
	}
	return p
}

// Execute renders the page into w with l's language.
func (p *PageTemplate) execute(w interface{ Write([]byte) (int, error) }, data PageData) error {
	t, err := p.forLocalizer(data.Page.L)
	if err != nil {
		return err
	}
	return t.ExecuteTemplate(w, "layout", data)
}

// forLocalizer is the page's template bound to l.
func (p *PageTemplate) forLocalizer(l *i18n.Localizer) (*template.Template, error) {
	if t, ok := p.bound.Load(l); ok {
		return t.(*template.Template), nil
	}
	t, err := p.t.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(template.FuncMap{"T": l.T, "lang": l.Lang})
	got, _ := p.bound.LoadOrStore(l, t)
	return got.(*template.Template), nil
}

// Page is the request's PageContext (Spanish, no switch, when the request
// did not pass the adapter's middleware).
func Page(c echo.Context) *PageContext {
	if p, ok := c.Get(pageKey).(*PageContext); ok && p != nil {
		return p
	}
	b, err := i18n.Embedded()
	if err != nil {
		panic(err) // the shipped catalogs are checked by the tests
	}
	return &PageContext{L: b.Localizer(i18n.Default)}
}

// RenderPage answers with page (status, PageCSP).
func RenderPage(c echo.Context, status int, page *PageTemplate, data PageData) error {
	return RenderPageCSP(c, status, page, data, PageCSP)
}

// RenderPageCSP answers with page under the Content-Security-Policy csp
// (which must allow style-src 'self').
func RenderPageCSP(c echo.Context, status int, page *PageTemplate, data PageData, csp string) error {
	if data.Page == nil {
		data.Page = Page(c)
	}
	if data.Trace == "" {
		data.Trace = TraceID(c)
	}
	if data.Resubmit != nil && data.Page.Switch == nil && data.Page.langs != nil {
		u := &url.URL{Path: data.Resubmit.Action}
		for _, l := range data.Page.langs(u) {
			data.SwitchForms = append(data.SwitchForms, LangForm{Code: l.Code, Name: l.Name, Action: l.Href, Fields: data.Resubmit.Fields, Current: l.Current})
		}
	}
	var b strings.Builder
	if err := page.execute(&b, data); err != nil {
		return fmt.Errorf("render page %s: %w", page.t.Name(), err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp)
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set("Content-Language", data.Page.Lang())
	return c.HTMLBlob(status, []byte(b.String()))
}

// pageMiddleware chooses the request's language (LangParam, else the
// cookie, else Accept-Language, else Spanish), keeps a chosen one in the
// cookie, and prepares the language switch.
func (s *Server) pageMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		query := r.URL.Query().Get(LangParam)
		lang := s.catalogs.Choose(query, cookieValue(c, s.cookieName(LangCookie)), r.Header.Get("Accept-Language"))
		if s.catalogs.Known(query) {
			c.SetCookie(&http.Cookie{
				Name: s.cookieName(LangCookie), Value: query, Path: "/", MaxAge: LangCookieTTL,
				Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
			})
		}
		p := &PageContext{L: s.catalogs.Localizer(lang), AccessibilityURL: s.opts.AccessibilityURL, services: s.opts.Services,
			langs: func(u *url.URL) []LangLink { return s.switchLinks(u, lang) }}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			p.Switch = s.switchLinks(r.URL, lang)
		}
		c.Set(pageKey, p)
		return next(c)
	}
}

// switchLinks link u (a GET's own URL, its other parameters kept) in each
// language.
func (s *Server) switchLinks(u *url.URL, current string) []LangLink {
	var links []LangLink
	for _, l := range s.catalogs.Languages() {
		q := u.Query()
		q.Set(LangParam, l.Code)
		links = append(links, LangLink{Code: l.Code, Name: l.Name, Href: localPath(u) + "?" + q.Encode(), Current: l.Code == current})
	}
	return links
}

// localPath is u's path when it cannot be read as another host's
// ("//host", "/\\host"), else "/".
func localPath(u *url.URL) string {
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}
