package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/translate"
)

// The bridge's own paths: where the gateway answers, and the browser's
// view of its session.
const (
	UpstreamACSPath = "/upstream/acs"
	UpstreamSLOPath = "/upstream/slo"
	SessionPath     = "/session"
)

// FlowRoutes are the routes the flow serves itself: the gateway's answers
// to logins and logouts, and the session page.
func FlowRoutes(f *flow.Flow) []Route {
	return []Route{
		{Method: http.MethodPost, Path: UpstreamACSPath, Handle: func(ctx context.Context, in *Input) (flow.Reply, error) {
			return f.Complete(ctx, in.Browser, in.Form)
		}},
		{Method: http.MethodPost, Path: UpstreamSLOPath, Handle: func(ctx context.Context, in *Input) (flow.Reply, error) {
			return f.UpstreamLogout(ctx, in.Browser, in.Form)
		}},
	}
}

// MountSessionPage serves the browser its own SSO session at /session:
// the IdP, level, the identifier masked, and the services it reached (by
// their display names).
func (s *Server) MountSessionPage(f *flow.Flow) {
	s.echo.GET(SessionPath, func(c echo.Context) error {
		sess, err := f.Session(c.Request().Context(), s.browser(c))
		if err != nil {
			return s.Problem(c, Problem{Reason: bridge.ReasonUnavailable, Err: fmt.Errorf("read session: %w", err)})
		}
		var view *sessionView
		if sess != nil {
			view = s.newSessionView(sess)
		}
		return RenderPage(c, http.StatusOK, sessionPage, PageData{TitleKey: "session.title", Data: view})
	})
}

var sessionPage = MustPageTemplate("session", `{{define "content"}}<h1>{{T "session.title"}}</h1>
{{with .Data}}<div class="cb-card">
<p>{{T "session.summary" "idp" (T .IdPKey) "loa" (T .LoAKey) "subject" .Subject}}</p>
<p>{{T "session.period" "created" .Created "expires" .Expires}}</p>
</div>
<h2>{{T "session.services"}}</h2>
<div class="cb-scroll"><table class="cb-table"><thead><tr><th scope="col">{{T "session.col.service"}}</th><th scope="col">{{T "session.col.since"}}</th></tr></thead><tbody>
{{range .Participants}}<tr><td>{{if .Home}}<a href="{{.Home}}">{{.Name}}</a>{{else}}{{.Name}}{{end}}</td><td>{{.At}}</td></tr>
{{end}}</tbody></table></div>
{{else}}<p>{{T "session.none"}}</p>{{end}}
<p><a href="/demo/">{{T "session.demo"}}</a></p>{{end}}`)

type sessionView struct {
	IdPKey, LoAKey, Subject, Created, Expires string
	Participants                              []participantView
}

type participantView struct{ Name, Home, At string }

// sessionTime is how the session page shows an instant.
const sessionTime = "2006-01-02 15:04 MST"

func (s *Server) newSessionView(sess *session.Session) *sessionView {
	v := &sessionView{
		IdPKey: "idp." + strings.ToLower(string(sess.Result.IdP)), LoAKey: "loa." + sess.Result.LoA.String(),
		Subject: translate.Mask(sess.Result.Subject),
		Created: sess.Created.UTC().Format(sessionTime), Expires: sess.Expires.UTC().Format(sessionTime),
	}
	for _, p := range sess.Participants {
		pv := participantView{Name: p.SP, At: p.At.UTC().Format(sessionTime)}
		if s.opts.Services != nil {
			if svc, ok := s.opts.Services(p.SP); ok {
				pv.Home = svc.HomeURL
				if svc.Name != "" {
					pv.Name = svc.Name
				}
			}
		}
		v.Participants = append(v.Participants, pv)
	}
	return v
}
