// Package trace carries one trace id per login through a context: the HTTP
// adapter starts every request with a fresh id, the flow adopts the id of
// the login a request belongs to (stored with the pending login, the SSO
// session and the logout under way), and every log line of that login
// carries it, so that the id a citizen quotes from an error page finds all
// of them.
package trace

import (
	"context"
	"encoding/hex"
	"io"

	"go.uber.org/zap"
)

// Field is the log field that carries the id.
const Field = "trace_id"

type key struct{}

// holder lets the flow switch a running request to its login's id, and
// note the SP the request turned out to be for (the access log reads both
// once the request has been served).
type holder struct{ id, sp string }

// Start returns ctx carrying id as the request's trace id.
func Start(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, &holder{id: id})
}

// NewID reads a fresh 16-hex-digit id from rand.
func NewID(rand io.Reader) (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// ID is the trace id of ctx's request, "" when it has none.
func ID(ctx context.Context) string {
	if h, ok := ctx.Value(key{}).(*holder); ok {
		return h.id
	}
	return ""
}

// Adopt switches ctx's request to the trace id of the login it continues
// (what its error page and later log lines show). Empty ids and contexts
// without a trace are left alone.
func Adopt(ctx context.Context, id string) {
	if h, ok := ctx.Value(key{}).(*holder); ok && id != "" {
		h.id = id
	}
}

// NoteSP records on ctx's request the SP it is for (its id from the
// configuration, never what a message claims before it is verified), for
// the access log line written once the request is served. The first SP
// noted stays: a request that comes from one SP and goes on to another
// (single logout) is the first one's. Contexts without a trace and empty
// ids are left alone.
func NoteSP(ctx context.Context, sp string) {
	if h, ok := ctx.Value(key{}).(*holder); ok && sp != "" && h.sp == "" {
		h.sp = sp
	}
}

// SP is the SP noted on ctx's request, "" when none was.
func SP(ctx context.Context) string {
	if h, ok := ctx.Value(key{}).(*holder); ok {
		return h.sp
	}
	return ""
}

// Logger is log with ctx's trace id on every line.
func Logger(ctx context.Context, log *zap.Logger) *zap.Logger {
	if id := ID(ctx); id != "" {
		return log.With(zap.String(Field, id))
	}
	return log
}
