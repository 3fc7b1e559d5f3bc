package web

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

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
// the IdP, level, the identifier masked, and the services it reached.
func (s *Server) MountSessionPage(f *flow.Flow) {
	s.echo.GET(SessionPath, func(c echo.Context) error {
		sess, err := f.Session(c.Request().Context(), s.browser(c))
		if err != nil {
			return s.ErrorPage(c, http.StatusInternalServerError, "The session could not be read.", err)
		}
		var view *sessionView
		if sess != nil {
			view = newSessionView(sess)
		}
		c.Response().Header().Set("Content-Security-Policy", pageCSP)
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		return sessionPage.Execute(c.Response(), view)
	})
}

var sessionPage = template.Must(template.New("session").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>clavebridge: your session</title></head><body>
<h1>Your single sign-on session</h1>
{{if .}}<p>Authenticated with <code>{{.IdP}}</code> at level <code>{{.LoA}}</code> as <code>{{.Subject}}</code>;
started {{.Created}}, ends {{.Expires}}.</p>
<table><thead><tr><th>Service</th><th>Dialect</th><th>Since</th></tr></thead><tbody>
{{range .Participants}}<tr><td>{{.SP}}</td><td>{{.Dialect}}</td><td>{{.At}}</td></tr>{{end}}
</tbody></table>{{else}}<p>There is no session: the next login will ask you to authenticate.</p>{{end}}
<p><a href="/demo/">Demo services</a></p></body></html>`))

type sessionView struct {
	IdP, LoA, Subject, Created, Expires string
	Participants                        []participantView
}

type participantView struct{ SP, Dialect, At string }

func newSessionView(sess *session.Session) *sessionView {
	v := &sessionView{
		IdP: string(sess.Result.IdP), LoA: sess.Result.LoA.String(), Subject: translate.Mask(sess.Result.Subject),
		Created: sess.Created.Format(time.RFC3339), Expires: sess.Expires.Format(time.RFC3339),
	}
	for _, p := range sess.Participants {
		v.Participants = append(v.Participants, participantView{SP: p.SP, Dialect: p.Dialect, At: p.At.Format(time.RFC3339)})
	}
	return v
}
