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

// holder lets the flow switch a running request to its login's id.
type holder struct{ id string }

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

// Logger is log with ctx's trace id on every line.
func Logger(ctx context.Context, log *zap.Logger) *zap.Logger {
	if id := ID(ctx); id != "" {
		return log.With(zap.String(Field, id))
	}
	return log
}
