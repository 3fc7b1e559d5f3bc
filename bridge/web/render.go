package web

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

// Cookie names. The session cookie's value is a random id (everything else
// stays in the store); the login cookie binds pending logins to the
// browser that started them, so that a gateway answer carried to another
// browser (stolen, or planted by a login CSRF) is refused there.
const (
	SessionCookie = "clavebridge_session"
	LoginCookie   = "clavebridge_login"
	// loginCookiePath limits the login cookie to where the gateway answers.
	loginCookiePath = "/upstream/"
)

// pageCSP is the policy of the bridge's own pages: no scripts, no styles.
const pageCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

// browser reads the cookies the flow needs.
func browser(c echo.Context) flow.Browser {
	return flow.Browser{Session: cookieValue(c, SessionCookie), Login: cookieValue(c, LoginCookie)}
}

// cookieValue reads a cookie's value, "" when absent.
func cookieValue(c echo.Context, name string) string {
	if ck, err := c.Cookie(name); err == nil {
		return ck.Value
	}
	return ""
}

// setCookie sets (or, for an empty value, clears) one of the bridge's
// cookies: Secure, HttpOnly, SameSite=None (the gateway's and the SPs'
// cross-site POSTs must carry them), host-only.
func setCookie(c echo.Context, name, path string, ck *flow.Cookie) {
	if ck == nil {
		return
	}
	maxAge := int(math.Ceil(ck.TTL.Seconds()))
	if ck.Value == "" {
		maxAge = -1
	}
	c.SetCookie(&http.Cookie{
		Name: name, Value: ck.Value, Path: path, MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode,
	})
}

// Answer sends the flow's reply (its cookies, then its message), or, for
// an error, the error page.
func (s *Server) Answer(c echo.Context, reply flow.Reply, err error) error {
	if err != nil {
		return s.Refuse(c, err)
	}
	setCookie(c, SessionCookie, "/", reply.Session)
	setCookie(c, LoginCookie, loginCookiePath, reply.Login)
	return WritePost(c, reply.Out)
}

// WritePost sends the auto-submitting POST form for out (or, for the
// Redirect binding, the redirect).
func WritePost(c echo.Context, out bridge.Outgoing) error {
	if out.Redirect != "" {
		return c.Redirect(http.StatusSeeOther, out.Redirect)
	}
	c.Response().Header().Set("Content-Security-Policy", samlxml.PostFormCSP())
	return c.HTMLBlob(http.StatusOK, samlxml.PostForm(out.URL, out.Fields))
}

var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>clavebridge: request refused</title></head>
<body><h1>The request could not be processed</h1><p>{{.Message}}</p>
<p>If you need help, quote this trace id: <code>{{.Trace}}</code></p></body></html>`))

// Refuse answers err with the error page: a *bridge.Refusal gives its
// message and status (400 for an invalid request, 500 for the bridge's
// own failure); anything else is an internal error.
func (s *Server) Refuse(c echo.Context, err error) error {
	status, message := http.StatusInternalServerError, "The request could not be processed."
	var r *bridge.Refusal
	if errors.As(err, &r) {
		message = r.Message
		if r.Kind == bridge.KindInvalid {
			status = http.StatusBadRequest
		}
	}
	return s.ErrorPage(c, status, message, err)
}

// ErrorPage answers a request that cannot be sent back to a known SP: an
// HTML page with the trace id, and a log line with the reason.
func (s *Server) ErrorPage(c echo.Context, status int, message string, reason error) error {
	return ErrorPage(c, s.opts.Log, status, message, reason)
}

// ErrorPage is Server.ErrorPage for the parts that serve their own pages.
func ErrorPage(c echo.Context, log *zap.Logger, status int, message string, reason error) error {
	trace.Logger(c.Request().Context(), log).Warn("request refused", zap.String("path", c.Path()),
		zap.Int("status", status), zap.Error(reason))
	h := c.Response().Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	if err := errorPage.Execute(c.Response(), map[string]string{"Message": message, "Trace": TraceID(c)}); err != nil {
		return fmt.Errorf("render error page: %w", err)
	}
	return nil
}

// errorHandler renders every error echo itself raises (unknown path, wrong
// method, body over the limit, a recovered panic) as the same error page,
// with a trace id and a log line, instead of echo's JSON.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, message := http.StatusInternalServerError, "The request could not be processed."
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		message = http.StatusText(status) + "."
	}
	if status == http.StatusRequestEntityTooLarge {
		message = "The request is larger than this service accepts."
	}
	if perr := s.ErrorPage(c, status, message, err); perr != nil {
		s.opts.Log.Error("error page failed", zap.Error(perr))
	}
}
