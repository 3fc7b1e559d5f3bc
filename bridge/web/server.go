// Package web is the bridge's HTTP adapter: the one place that knows HTTP.
// It owns routing, middleware (trace ids, security headers, body limits,
// panics), cookies, the rendering of POST forms, redirects and pages, and
// CSRF tokens. Dialects declare their routes as Routes whose handlers take
// a plain Input and return the flow's Reply; the adapter turns HTTP into
// Inputs and Replies into HTTP.
package web

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/bridge/web/i18n"
)

// Options configure a Server.
type Options struct {
	Log          *zap.Logger
	Rand         io.Reader // trace ids
	MaxBodyBytes int
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// Secure is true when the bridge is served over https: its cookies
	// then take the __Host- prefix.
	Secure bool
	// BaseURL is the bridge's own URL: the one origin its own forms (the
	// logout confirmation) may be posted from ("": the request's Host).
	BaseURL string
	// Catalogs are the pages' languages (nil: the shipped catalogs).
	Catalogs *i18n.Bundle
	// AccessibilityURL is the operator's accessibility statement and
	// contact, linked from every page (server.accessibility_url).
	AccessibilityURL string
	// Services names an SP for the citizen and gives its home page, for the
	// error and session pages (nil: SPs are shown by their entity ids).
	Services func(sp string) (Service, bool)
}

// Server routes the bridge's HTTP requests.
type Server struct {
	echo     *echo.Echo
	opts     Options
	catalogs *i18n.Bundle
}

// New builds a Server with the bridge's middleware, its stylesheet and its
// error page.
func New(opts Options) *Server {
	s := &Server{echo: echo.New(), opts: opts, catalogs: opts.Catalogs}
	if s.catalogs == nil {
		b, err := i18n.Embedded()
		if err != nil {
			panic(err) // the shipped catalogs are checked by the tests
		}
		s.catalogs = b
	}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.accessLog) // outermost: it sees the status of every answer, errors included
	e.Use(s.traceMiddleware)
	e.Use(s.pageMiddleware)
	if opts.MaxBodyBytes > 0 {
		e.Use(middleware.BodyLimit(fmt.Sprintf("%dB", opts.MaxBodyBytes)))
	}
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: s.logPanic}))
	e.Server.ReadTimeout = opts.ReadTimeout
	e.Server.WriteTimeout = opts.WriteTimeout
	e.Server.MaxHeaderBytes = 16 << 10
	s.mountPages()
	return s
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// HTTPServer is the net/http server to run (its timeouts and header limit
// set); its Handler is s.
func (s *Server) HTTPServer() *http.Server {
	srv := s.echo.Server
	srv.Handler = s
	return srv
}

// Echo is the router, for the parts of the bridge that serve pages of
// their own (the simulated gateway, the demo SPs).
func (s *Server) Echo() *echo.Echo { return s.echo }

// Log is the adapter's logger.
func (s *Server) Log() *zap.Logger { return s.opts.Log }

// DefaultCSP is the Content-Security-Policy set on every answer before its
// handler runs; handlers may set a stricter or a hash-allowing one instead.
const DefaultCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' http: https:"

// traceMiddleware starts every request with a fresh trace id (echoed in
// the X-Trace-Id header and on error pages; a request that continues a
// login adopts that login's id) and sets the security headers every page
// carries.
func (s *Server) traceMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := trace.NewID(s.opts.Rand)
		if err != nil {
			return fmt.Errorf("new trace id: %w", err)
		}
		c.SetRequest(c.Request().WithContext(trace.Start(c.Request().Context(), id)))
		h := c.Response().Header()
		c.Response().Before(func() { h.Set("X-Trace-Id", TraceID(c)) })
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

// TraceID is the trace id of the request: its own, or the login's it
// continues.
func TraceID(c echo.Context) string { return trace.ID(c.Request().Context()) }
