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
// Redirect binding, the redirect): a page in the request's language whose
// one script (allowed by its hash) submits the form, and whose visible
// button does when scripts are off.
func WritePost(c echo.Context, out bridge.Outgoing) error {
	if out.Redirect != "" {
		return c.Redirect(http.StatusSeeOther, out.Redirect)
	}
	data := postView{URL: out.URL, Inputs: template.HTML(samlxml.HiddenInputs(out.Fields)), Script: template.JS(samlxml.AutoSubmitScript)} //nolint:gosec // fields escaped by samlxml, the script a constant
	return RenderPageCSP(c, http.StatusOK, postPage, PageData{TitleKey: "post.title", Data: data}, PostCSP())
}

// PostCSP is the policy of the POST binding page: samlxml's (the one
// script by hash, forms to anywhere over http(s)) and the stylesheet.
func PostCSP() string { return samlxml.PostFormCSP() + "; style-src 'self'" }

type postView struct {
	URL    string
	Inputs template.HTML
	Script template.JS
}

var postPage = MustPageTemplate("post", `{{define "content"}}<form method="post" action="{{.Data.URL}}" class="cb-card">
{{.Data.Inputs}}<h1>{{T "post.title"}}</h1>
<p>{{T "post.wait"}}</p>
<noscript><p>{{T "post.noscript"}}</p></noscript>
<div class="cb-actions"><button type="submit" class="cb-button">{{T "post.button"}}</button></div>
</form>
<script>{{.Data.Script}}</script>{{end}}`)

// Refuse answers err with the error page: a *bridge.Refusal gives its
// reason (the page's words and status) and the SP to link back to;
// anything else is an internal error. The detail goes to the log only.
func (s *Server) Refuse(c echo.Context, err error) error {
	p := Problem{Reason: bridge.ReasonInternal, Err: err}
	var r *bridge.Refusal
	if errors.As(err, &r) {
		p.Reason, p.SP = r.Reason, r.SP
		if p.Reason == "" { // a Refusal built by hand
			p.Reason = bridge.ReasonBadRequest
			if r.Kind == bridge.KindInternal {
				p.Reason = bridge.ReasonInternal
			}
		}
	}
	return s.Problem(c, p)
}

// ErrorPage answers a request that cannot be sent back to a known SP with
// the error page of the status's reason; message and reason go to the log.
func (s *Server) ErrorPage(c echo.Context, status int, message string, reason error) error {
	return ErrorPage(c, s.opts.Log, status, message, reason)
}

// ErrorPage is Server.ErrorPage for the parts that serve their own pages
// (message is for the log: convert callers to ShowProblem for the page's
// words).
func ErrorPage(c echo.Context, log *zap.Logger, status int, message string, reason error) error {
	return ShowProblem(c, log, Problem{Status: status, Reason: ReasonOf(status), Err: fmt.Errorf("%s: %w", message, orUnknown(reason))})
}

func orUnknown(err error) error {
	if err == nil {
		return errors.New("no detail")
	}
	return err
}

// ReasonOf is the reason a bare HTTP status stands for.
func ReasonOf(status int) bridge.Reason {
	switch status {
	case http.StatusNotFound:
		return bridge.ReasonNotFound
	case http.StatusMethodNotAllowed:
		return bridge.ReasonMethod
	case http.StatusRequestEntityTooLarge:
		return bridge.ReasonTooLarge
	case http.StatusForbidden:
		return bridge.ReasonCrossSite
	case http.StatusServiceUnavailable:
		return bridge.ReasonUnavailable
	}
	if status >= 500 {
		return bridge.ReasonInternal
	}
	return bridge.ReasonBadRequest
}

// errorHandler renders every error echo itself raises (unknown path, wrong
// method, body over the limit, a recovered panic) as the same error page,
// with a trace id and a log line, instead of echo's JSON.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	}
	if perr := s.Problem(c, Problem{Status: status, Reason: ReasonOf(status), Err: err}); perr != nil {
		s.opts.Log.Error("error page failed", zap.Error(perr))
	}
}
