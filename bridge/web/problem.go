package web

// The error page: what happened, what the citizen can do, a link back to
// the service when the bridge knows it, and the trace id to quote. The
// reason's words come from the catalogs (reason.<reason>.title, .what,
// .todo); SAML status codes and the detail stay in the log.

import (
	_ "embed"
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

// ErrorPath shows the error page of a reason by GET (?reason=, ?sp=,
// ?trace=): where the language switch of an error page that answered a
// POST leads, since a POST cannot be asked for again.
const ErrorPath = "/error"

// Service is how the citizen's pages name an SP and where they link back.
type Service struct {
	Name    string // display name ("": the entity id)
	HomeURL string // the service's home page ("": none known)
}

// Problem is an error page to show.
type Problem struct {
	Status int           // 0: the reason's
	Reason bridge.Reason // "": internal
	SP     string        // the SP's entity id, when known: the page links back to it
	Err    error         // for the log only
	// BodyClass is the look of the part that refuses (PageData.BodyClass:
	// the simulated gateway's pages keep theirs).
	BodyClass string
}

type problemView struct {
	What, Todo     string
	Service, Home  string
	ReasonCode, SP string
}

var problemPage = MustPageTemplate("problem", `{{define "content"}}<div class="cb-card">
<h1>{{T .TitleKey}}</h1>
<h2>{{T "error.what"}}</h2>
<p>{{T .Data.What}}</p>
<h2>{{T "error.todo"}}</h2>
<p>{{T .Data.Todo}}</p>
{{if .Data.Home}}<p class="cb-actions"><a class="cb-button" href="{{.Data.Home}}">{{T "error.back" "service" .Data.Service}}</a></p>
{{else}}<p>{{T "error.back_unknown"}}</p>{{end}}
<p class="cb-support">{{T "error.support"}} <code class="cb-code">{{.Trace}}</code></p>
</div>{{end}}`)

// Problem answers with the error page of p and a log line.
func (s *Server) Problem(c echo.Context, p Problem) error { return ShowProblem(c, s.opts.Log, p) }

// ShowProblem answers with the error page of p (in the request's
// language, linking back to p.SP's home page when known) and logs p.Err
// with the trace id.
func ShowProblem(c echo.Context, log *zap.Logger, p Problem) error {
	if !slices.Contains(bridge.Reasons(), p.Reason) {
		p.Reason = bridge.ReasonInternal
	}
	if p.Status == 0 {
		p.Status = p.Reason.Status()
	}
	if log != nil {
		trace.Logger(c.Request().Context(), log).Warn("request refused", zap.String("path", c.Path()),
			zap.Int("status", p.Status), zap.String("reason", string(p.Reason)), zap.String("sp", p.SP), zap.Error(p.Err))
	}
	return renderProblem(c, p, TraceID(c))
}

func renderProblem(c echo.Context, p Problem, traceID string) error {
	page := Page(c)
	v := problemView{What: "reason." + string(p.Reason) + ".what", Todo: "reason." + string(p.Reason) + ".todo", ReasonCode: string(p.Reason)}
	if p.SP != "" && page.services != nil {
		if svc, ok := page.services(p.SP); ok {
			v.SP, v.Service, v.Home = p.SP, svc.Name, svc.HomeURL
			if v.Service == "" {
				v.Service = p.SP
			}
		}
	}
	if page.langs != nil {
		// the switch leads to the same page by GET (never to the request's
		// own URL, which may carry a protocol message)
		q := url.Values{"reason": {v.ReasonCode}, "trace": {traceID}}
		if v.SP != "" {
			q.Set("sp", v.SP)
		}
		cp := *page
		cp.Switch = page.langs(&url.URL{Path: ErrorPath, RawQuery: q.Encode()})
		page = &cp
	}
	return RenderPageCSP(c, p.Status, problemPage, PageData{TitleKey: "reason." + string(p.Reason) + ".title", BodyClass: p.BodyClass, Data: v, Page: page, Trace: traceID}, PageCSP)
}

// showError serves ErrorPath: the error page of a known reason, the SP's
// link when the SP is known, and a well-formed trace id (else the
// request's own); nothing else of the query reaches the page.
func (s *Server) showError(c echo.Context) error {
	q := c.QueryParams()
	p := Problem{Reason: bridge.Reason(q.Get("reason")), SP: q.Get("sp")}
	if !slices.Contains(bridge.Reasons(), p.Reason) {
		p.Reason = bridge.ReasonNotFound
	}
	p.Status = p.Reason.Status()
	id := q.Get("trace")
	if !validTraceID(id) {
		id = TraceID(c)
	}
	return renderProblem(c, p, id)
}

// validTraceID: 16 lower-case hex digits, as trace.NewID makes them.
func validTraceID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, r := range id {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

//go:embed static/clavebridge.css
var stylesheet []byte

// serveStylesheet serves the one stylesheet: cacheable for a day,
// nosniff (set by the trace middleware).
func serveStylesheet(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("Content-Security-Policy", DefaultCSP)
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", stylesheet)
}

// mountPages serves the stylesheet and the error page by GET.
func (s *Server) mountPages() {
	s.echo.GET(StylesheetPath, serveStylesheet)
	s.echo.GET(ErrorPath, s.showError)
}
