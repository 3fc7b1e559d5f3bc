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
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
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
const confirmCSP = PageCSP

var (
	errConfirmCrossSite = errors.New("logout confirmation posted from another site")
	errConfirmToken     = errors.New("logout confirmation posted without the browser's token")
)

var confirmTemplate = MustPageTemplate("confirm", `{{define "content"}}<div class="cb-card">
<h1>{{T "confirm.title"}}</h1>
<p>{{T "confirm.asks" "requester" .Data.Requester}}</p>
<p>{{T "confirm.explain"}}</p>
<form method="post" action="{{.Data.Action}}">
<input type="hidden" name="logout" value="{{.Data.ID}}">
<input type="hidden" name="csrf" value="{{.Data.Token}}">
<div class="cb-actions"><button type="submit" class="cb-button" name="answer" value="logout">{{T "confirm.logout"}}</button>
<button type="submit" class="cb-button cb-secondary" name="answer" value="stay">{{T "confirm.stay"}}</button></div>
</form>
</div>{{end}}`)

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
		return s.Problem(c, Problem{Reason: bridge.ReasonInternal, Err: fmt.Errorf("logout confirmation token: %w", err)})
	}
	data := map[string]string{"Requester": q.Requester, "Action": LogoutConfirmPath, "ID": q.ID, "Token": token}
	return RenderPageCSP(c, http.StatusOK, confirmTemplate, PageData{TitleKey: "confirm.title", Data: data}, confirmCSP)
}

// MountLogoutConfirmation serves the confirmation page's answers: checked
// as the package comment says, then handed to f.ConfirmLogout.
func (s *Server) MountLogoutConfirmation(f *flow.Flow) {
	s.echo.POST(LogoutConfirmPath, func(c echo.Context) error {
		r := c.Request()
		if err := r.ParseForm(); err != nil {
			return s.Problem(c, Problem{Reason: bridge.ReasonLogoutInvalid, Err: fmt.Errorf("logout confirmation: %w", err)})
		}
		if err := s.checkConfirmPost(c); err != nil {
			return s.Problem(c, Problem{Reason: bridge.ReasonCrossSite, Err: err})
		}
		id, answer, err := confirmFields(r)
		if err != nil {
			return s.Problem(c, Problem{Reason: bridge.ReasonLogoutInvalid, Err: err})
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
