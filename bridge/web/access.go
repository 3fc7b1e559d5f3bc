package web

import (
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/trace"
)

// AccessLoggerName names the access log's logger ("logger":"access" in
// JSON); AccessMessage is the message of its lines.
const (
	AccessLoggerName = "access"
	AccessMessage    = "http request"
)

// maxLoggedPath bounds the path an access line carries (a path is the
// client's to choose).
const maxLoggedPath = 256

// accessLog writes one line per request once it has been answered: the
// method, the path without its query, the status, the duration, the bytes
// sent, the trace id (the login's, when the request continued one) and the
// SP it was for, when one was noted (trace.NoteSP). Nothing else of the
// request: no query, no form, no cookie, no client address, no
// User-Agent, which could tell who the citizen is.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	log := s.opts.Log.Named(AccessLoggerName)
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err) // answered here, so that the line has the status sent
		}
		ctx := c.Request().Context()
		fields := []zap.Field{
			zap.String("method", c.Request().Method),
			zap.String("path", loggedPath(c)),
			zap.Int("status", c.Response().Status),
			zap.Duration("duration", time.Since(start)),
			zap.Int64("bytes", c.Response().Size),
		}
		if sp := trace.SP(ctx); sp != "" {
			fields = append(fields, zap.String("sp", sp))
		}
		trace.Logger(ctx, log).Info(AccessMessage, fields...)
		return nil
	}
}

// logPanic writes a recovered panic to the bridge's log (with the trace
// id and the panicking goroutine's stack) instead of echo's own logger;
// the request then gets the error page.
func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	trace.Logger(c.Request().Context(), s.opts.Log).Error("panic recovered", zap.String("path", loggedPath(c)),
		zap.String("panic", err.Error()), zap.ByteString("stack", stack))
	return err
}

// loggedPath is the request's path as log lines carry it: without the
// query, at most maxLoggedPath bytes.
func loggedPath(c echo.Context) string {
	path := c.Request().URL.Path
	if len(path) > maxLoggedPath {
		path = path[:maxLoggedPath]
	}
	return path
}
