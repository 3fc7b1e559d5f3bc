package web

// The logout confirmation page: a logout request the flow could not bind
// to the browser's session (see bridge/flow/logoutbind.go) ends nothing
// until the citizen confirms it here. The page has no script; its form
// posts back to LogoutConfirmPath the one-time id of the waiting logout,
// the browser's CSRF token (a random value kept in a cookie of its own,
// HttpOnly and SameSite=Strict, so that a cross-site form never carries
// it) and the citizen's answer. A POST is refused unless its Origin (or
// Referer) is the bridge's own or "null" (the bridge's pages are sent with
// Referrer-Policy no-referrer) and it carries the cookie with the same
// token; the flow then checks that the id is waiting for this browser's
// session, once.

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge/flow"
)

// LogoutConfirmPath is where the confirmation page posts its answer.
const LogoutConfirmPath = "/logout/confirm"

// confirmCookie keeps the browser's token for the confirmation form.
const confirmCookie = "clavebridge_confirm"

// Fields of the confirmation form.
const (
	fieldConfirmID = "logout"
	fieldCSRF      = "csrf"
	fieldAnswer    = "answer"
	answerLogout   = "logout"
	answerStay     = "stay"
)

// confirmCSP is the page policy, with the form allowed to post to the
// bridge only.
const confirmCSP = pageCSP + "; form-action 'self'"

var (
	errConfirmCrossSite = errors.New("logout confirmation posted from another site")
	errConfirmToken     = errors.New("logout confirmation posted without the browser's token")
)

var confirmTemplate = template.Must(template.New("confirm").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>clavebridge: confirm logout</title></head>
<body><h1>Log out?</h1>
<p>{{.Requester}} asks to end your session.</p>
<p>The request could not be matched to the session of this browser, so nothing has ended yet.
If you asked to log out, confirm it; if you did not, stay logged in.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="logout" value="{{.ID}}">
<input type="hidden" name="csrf" value="{{.Token}}">
<button type="submit" name="answer" value="logout">Log out</button>
<button type="submit" name="answer" value="stay">Stay logged in</button>
</form>
<p>If you need help, quote this trace id: <code>{{.Trace}}</code></p></body></html>`))

// confirmGuard is the confirmation form's token cookie and origin check.
func (s *Server) confirmGuard(c echo.Context) CSRF {
	base := s.opts.BaseURL
	if base == "" {
		base = "//" + c.Request().Host
	}
	return CSRF{Cookie: s.cookieName(confirmCookie), Path: "/", Secure: s.opts.Secure, Base: base, Rand: s.opts.Rand}
}

// confirmPage asks the citizen to confirm the logout q describes.
func (s *Server) confirmPage(c echo.Context, q *flow.LogoutConfirmation) error {
	token, err := s.confirmGuard(c).Token(c)
	if err != nil {
		return s.ErrorPage(c, http.StatusInternalServerError, "The logout could not go on.", err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", confirmCSP)
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	data := map[string]string{"Requester": q.Requester, "Action": LogoutConfirmPath, "ID": q.ID, "Token": token, "Trace": TraceID(c)}
	if err := confirmTemplate.Execute(c.Response(), data); err != nil {
		return fmt.Errorf("render logout confirmation: %w", err)
	}
	return nil
}

// MountLogoutConfirmation serves the confirmation page's answers: checked
// as the package comment says, then handed to f.ConfirmLogout.
func (s *Server) MountLogoutConfirmation(f *flow.Flow) {
	s.echo.POST(LogoutConfirmPath, func(c echo.Context) error {
		r := c.Request()
		if err := r.ParseForm(); err != nil {
			return s.ErrorPage(c, http.StatusBadRequest, "The request could not be read.", err)
		}
		if err := s.checkConfirmPost(c); err != nil {
			return s.ErrorPage(c, http.StatusForbidden,
				"This form was not sent from the bridge's own page. Go back to the service and log out again.", err)
		}
		id, answer, err := confirmFields(r)
		if err != nil {
			return s.ErrorPage(c, http.StatusBadRequest, "The request could not be read.", err)
		}
		reply, err := f.ConfirmLogout(r.Context(), s.browser(c), id, answer == answerLogout)
		return s.Answer(c, reply, err)
	})
}

// checkConfirmPost refuses a confirmation from another site or without
// the browser's token.
func (s *Server) checkConfirmPost(c echo.Context) error {
	g, r := s.confirmGuard(c), c.Request()
	if _, sameSite := g.Origin(r); !sameSite {
		return errConfirmCrossSite
	}
	if present, equal := g.Carries(r, r.PostForm.Get(fieldCSRF)); !present || !equal {
		return errConfirmToken
	}
	return nil
}

// confirmFields reads the form: each field once, the answer logout or stay.
func confirmFields(r *http.Request) (id, answer string, err error) {
	for _, name := range []string{fieldConfirmID, fieldCSRF, fieldAnswer} {
		if len(r.PostForm[name]) != 1 {
			return "", "", fmt.Errorf("logout confirmation: want exactly one %s field", name)
		}
	}
	answer = r.PostForm.Get(fieldAnswer)
	if answer != answerLogout && answer != answerStay {
		return "", "", fmt.Errorf("logout confirmation: answer %q is neither %s nor %s", answer, answerLogout, answerStay)
	}
	return r.PostForm.Get(fieldConfirmID), answer, nil
}
