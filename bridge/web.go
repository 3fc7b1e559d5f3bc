package bridge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

const traceKey = "trace_id"

// DefaultCSP is the Content-Security-Policy TraceMiddleware sets on every
// answer before its handler runs; handlers may set a stricter or a
// hash-allowing one instead.
const DefaultCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' http: https:"

// TraceMiddleware gives every request a random trace id (echoed in the
// X-Trace-Id header and on error pages) and sets the security headers every
// page carries.
func TraceMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		c.Set(traceKey, id)
		h := c.Response().Header()
		h.Set("X-Trace-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		// The default policy: no scripts, styles or frames at all. Handlers
		// replace it (the POST binding pages allow their one script by hash).
		h.Set("Content-Security-Policy", DefaultCSP)
		return next(c)
	}
}

// TraceID returns the request's trace id.
func TraceID(c echo.Context) string {
	id, _ := c.Get(traceKey).(string)
	return id
}

// WritePost sends the auto-submitting POST form for out (or, for the
// Redirect binding, the redirect).
func WritePost(c echo.Context, out Outgoing) error {
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

// ErrorPage answers a request that cannot be sent back to a known SP: an
// HTML page with the trace id, and a log line with the reason.
func ErrorPage(c echo.Context, log *zap.Logger, status int, message string, reason error) error {
	trace := TraceID(c)
	log.Warn("request refused", zap.String("trace_id", trace), zap.String("path", c.Path()),
		zap.Int("status", status), zap.Error(reason))
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	if err := errorPage.Execute(c.Response(), map[string]string{"Message": message, "Trace": trace}); err != nil {
		return fmt.Errorf("render error page: %w", err)
	}
	return nil
}

// ErrorHandler renders every error echo itself raises (unknown path, wrong
// method, body over the limit, a recovered panic) as the same error page,
// with a trace id and a log line, instead of echo's JSON.
func ErrorHandler(log *zap.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
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
		if perr := ErrorPage(c, log, status, message, err); perr != nil {
			log.Error("error page failed", zap.Error(perr))
		}
	}
}

// Start answers an inbound login request once an endpoint has read it: a
// refusal (*RequestDenied) goes back to the SP as a status in its dialect,
// any other error gets the error page, and an acceptable request starts the
// login upstream.
func (f *Flow) Start(c echo.Context, sp *ServiceProvider, req *Request, err error) error {
	ctx := c.Request().Context()
	var denied *RequestDenied
	switch {
	case errors.As(err, &denied):
		f.Log.Info("request refused", zap.String("sp", sp.ID), zap.String("dialect", req.Dialect),
			zap.String("trace_id", TraceID(c)), zap.String("reason", denied.Reason))
		out, rerr := f.render(ctx, sp, req, Failure(denied.Code, denied.Reason))
		if rerr != nil {
			return ErrorPage(c, f.Log, http.StatusInternalServerError, "The request could not be answered.", rerr)
		}
		return WritePost(c, out)
	case err != nil:
		return ErrorPage(c, f.Log, http.StatusBadRequest, "The authentication request is not valid.", err)
	}
	if err := sp.Policy.Apply(req); err != nil {
		return f.Start(c, sp, req, err) // a policy refusal is answered like the endpoint's
	}
	if out, ok, err := f.reuse(c, sp, req); err != nil {
		return ErrorPage(c, f.Log, http.StatusInternalServerError, "The login could not be answered.", err)
	} else if ok {
		return WritePost(c, out)
	}
	browser, err := f.browserCookie(c)
	if err != nil {
		return ErrorPage(c, f.Log, http.StatusInternalServerError, "The login could not be started.", err)
	}
	out, err := f.Begin(ctx, sp, *req, BrowserBinding(browser))
	if err != nil {
		return ErrorPage(c, f.Log, http.StatusInternalServerError, "The login could not be started.", err)
	}
	return WritePost(c, out)
}

// Deny builds the refusal an endpoint returns for a request it must answer
// with an error status.
func Deny(code StatusCode, format string, args ...any) error {
	return &RequestDenied{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// ACSHandler receives the gateway's answer at /upstream/acs.
func (f *Flow) ACSHandler(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return ErrorPage(c, f.Log, http.StatusBadRequest, "The identity gateway's answer could not be read.", err)
	}
	if form.Get("logoutResponse") != "" || form.Get("logoutRequest") != "" {
		return f.UpstreamSLOHandler(c) // Cl@ve sometimes answers logouts at the ACS
	}
	out, err := f.complete(c.Request().Context(), form, cookieValue(c, LoginCookie), c)
	if err != nil {
		return ErrorPage(c, f.Log, http.StatusBadRequest, "The identity gateway's answer was refused.", err)
	}
	return WritePost(c, out)
}
