package web

import (
	"errors"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

// Cookie names. The session cookie's value is a random id (everything else
// stays in the store); each pending login is a sealed cookie of its own
// (LoginCookie + its handle), which the gateway's answer must find in the
// browser that started the login. Over https the names take the __Host-
// prefix, so that no sibling subdomain can plant them.
const (
	SessionCookie = "clavebridge_session"
	LoginCookie   = "clavebridge_login_"
	hostPrefix    = "__Host-"
	// maxLoginCookies bounds how many pending-login cookies are read.
	maxLoginCookies = 8
	// maxCookieBytes bounds a cookie value the adapter passes on.
	maxCookieBytes = 4096
)

// pageCSP is the policy of the bridge's own pages: no scripts, no styles.
const pageCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

// cookieName is a cookie's name as this server sets it.
func (s *Server) cookieName(name string) string {
	if s.opts.Secure {
		return hostPrefix + name
	}
	return name
}

// browser reads what the flow needs of the browser: the session cookie,
// the pending logins' cookies (at most maxLoginCookies, each at most
// maxCookieBytes) and the Origin header.
func (s *Server) browser(c echo.Context) flow.Browser {
	br := flow.Browser{Session: cookieValue(c, s.cookieName(SessionCookie)), Origin: c.Request().Header.Get("Origin")}
	prefix := s.cookieName(LoginCookie)
	for _, ck := range c.Cookies() {
		handle, ok := strings.CutPrefix(ck.Name, prefix)
		if !ok || handle == "" || len(ck.Value) > maxCookieBytes {
			continue
		}
		if br.Logins == nil {
			br.Logins = map[string]string{}
		}
		if len(br.Logins) == maxLoginCookies {
			break
		}
		br.Logins[handle] = ck.Value
	}
	return br
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
// cross-site POSTs must carry them), host-only, path /.
func (s *Server) setCookie(c echo.Context, name string, ck *flow.Cookie) {
	if ck == nil {
		return
	}
	maxAge := int(math.Ceil(ck.TTL.Seconds()))
	if ck.Value == "" {
		maxAge = -1
	}
	c.SetCookie(&http.Cookie{
		Name: s.cookieName(name), Value: ck.Value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode,
	})
}

// Answer sends the flow's reply (its cookies, then its message), or, for
// an error, the error page.
func (s *Server) Answer(c echo.Context, reply flow.Reply, err error) error {
	if err != nil {
		return s.Refuse(c, err)
	}
	s.setCookie(c, SessionCookie, reply.Session)
	for _, handle := range slices.Sorted(maps.Keys(reply.Logins)) {
		s.setCookie(c, LoginCookie+handle, reply.Logins[handle])
	}
	if reply.Confirm != nil {
		return s.confirmPage(c, reply.Confirm)
	}
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
