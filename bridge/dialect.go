package bridge

import (
	"context"
	"errors"
	"fmt"
)

// Dialect is one inbound protocol (a package under endpoints/): the core
// asks it to render a login's outcome in its own wire format.
type Dialect interface {
	Name() string
	// Render builds the signed answer to req, posted to req.ReturnURL.
	Render(ctx context.Context, sp *ServiceProvider, req *Request, res Result) (Outgoing, error)
}

// LogoutDialect is a Dialect that takes part in single logout.
type LogoutDialect interface {
	Dialect
	// LogoutRequest builds the front-channel LogoutRequest with this ID
	// telling p's SP that the session ended, carrying relayState; ok is
	// false when that SP cannot receive one (no logout endpoint registered).
	// The SP's LogoutResponse comes back to the dialect's endpoint, which
	// verifies it and lets the flow continue the logout.
	LogoutRequest(ctx context.Context, sp *ServiceProvider, p Participant, id, relayState string) (out Outgoing, ok bool, err error)
	// LogoutResponse answers the SP that started the logout: Success, or a
	// partial logout, or a refusal with status.
	LogoutResponse(ctx context.Context, sp *ServiceProvider, in LogoutInitiator, status Status) (Outgoing, error)
}

// ErrUnknownSP is returned for an SP that is not registered.
var ErrUnknownSP = errors.New("unknown service provider")

// Registry finds registered SPs.
type Registry interface {
	Lookup(dialect, id string) (*ServiceProvider, error)
}

// Lister is a Registry that can also list its SPs (metadata.Registry can).
type Lister interface {
	All() []*ServiceProvider
}

// Refusal is a request the bridge answers with its own page, because it
// cannot be sent back to an SP (unreadable, unverifiable, or nobody to
// answer): Kind says whose fault it is, Message what the citizen reads,
// and Err the reason for the log.
type Refusal struct {
	Kind    RefusalKind
	Message string
	Err     error
}

// RefusalKind classifies a Refusal.
type RefusalKind int

// The kinds of refusal.
const (
	// KindInvalid: the request was wrong (unreadable, unverified, unknown SP,
	// stale or replayed).
	KindInvalid RefusalKind = iota
	// KindInternal: the bridge could not do its part (store, keys, rendering).
	KindInternal
)

func (r *Refusal) Error() string {
	if r.Err == nil {
		return r.Message
	}
	return r.Message + ": " + r.Err.Error()
}

func (r *Refusal) Unwrap() error { return r.Err }

// Invalid is a Refusal of a wrong request.
func Invalid(message string, err error) error {
	return &Refusal{Kind: KindInvalid, Message: message, Err: err}
}

// Internal is a Refusal the bridge itself caused.
func Internal(message string, err error) error {
	return &Refusal{Kind: KindInternal, Message: message, Err: err}
}

// Deny builds the refusal an endpoint returns for a request it must answer
// with an error status in its dialect.
func Deny(code StatusCode, format string, args ...any) error {
	return &RequestDenied{Code: code, Reason: fmt.Sprintf(format, args...)}
}
