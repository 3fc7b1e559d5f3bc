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
// answer): Kind says whose fault it is, Reason what the citizen reads (a
// closed set the page maps to its catalog's words), SP the service it was
// for when known (the page links back to it), and Message and Err the
// detail for the log, never shown.
type Refusal struct {
	Kind    RefusalKind
	Reason  Reason
	SP      string // the SP's entity id, "" when unknown
	Message string // English detail, for the log
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

// Reason is why a request was refused, in the words of the citizen's page:
// a closed set (Reasons), each with its text in every page catalog and its
// HTTP status.
type Reason string

// The reasons of refusal.
const (
	// ReasonBadRequest: the service's request could not be read or verified.
	ReasonBadRequest Reason = "bad_request"
	// ReasonUnknownSP: the request names a service the bridge does not serve.
	ReasonUnknownSP Reason = "unknown_sp"
	// ReasonLoginExpired: the gateway's answer came after the login's lifetime.
	ReasonLoginExpired Reason = "login_expired"
	// ReasonLoginUsed: the gateway's answer was already received (reload,
	// back button, double submission).
	ReasonLoginUsed Reason = "login_used"
	// ReasonOtherBrowser: this browser keeps no login the answer is for
	// (started in another browser, or already finished and forgotten).
	ReasonOtherBrowser Reason = "other_browser"
	// ReasonMetadataExpired: the service's registration (metadata) expired.
	ReasonMetadataExpired Reason = "metadata_expired"
	// ReasonGatewayRefused: the gateway's answer could not be accepted.
	ReasonGatewayRefused Reason = "gateway_refused"
	// ReasonLogoutInvalid: a logout message could not be read or matched.
	ReasonLogoutInvalid Reason = "logout_invalid"
	// ReasonLogoutExpired: the logout confirmation expired or was answered.
	ReasonLogoutExpired Reason = "logout_expired"
	// ReasonCrossSite: a form of the bridge was posted from another site.
	ReasonCrossSite Reason = "cross_site"
	// ReasonNotFound: no page at this address.
	ReasonNotFound Reason = "not_found"
	// ReasonMethod: the address does not take this kind of request.
	ReasonMethod Reason = "method"
	// ReasonTooLarge: the request is larger than the bridge accepts.
	ReasonTooLarge Reason = "too_large"
	// ReasonUnavailable: the bridge cannot serve now (a dependency is down).
	ReasonUnavailable Reason = "unavailable"
	// ReasonInternal: the bridge failed.
	ReasonInternal Reason = "internal"
)

// Reasons is the closed set of reasons, for pages and tests.
func Reasons() []Reason {
	return []Reason{ReasonBadRequest, ReasonUnknownSP, ReasonLoginExpired, ReasonLoginUsed, ReasonOtherBrowser,
		ReasonMetadataExpired, ReasonGatewayRefused, ReasonLogoutInvalid, ReasonLogoutExpired, ReasonCrossSite,
		ReasonNotFound, ReasonMethod, ReasonTooLarge, ReasonUnavailable, ReasonInternal}
}

// Status is the HTTP status of a page refusing for r: a dead end the
// citizen reached by the back button, a reload or a double submission is
// a client error (409 used, 410 expired), never a 500.
func (r Reason) Status() int {
	switch r {
	case ReasonLoginUsed:
		return 409
	case ReasonLoginExpired, ReasonLogoutExpired:
		return 410
	case ReasonCrossSite:
		return 403
	case ReasonNotFound:
		return 404
	case ReasonMethod:
		return 405
	case ReasonTooLarge:
		return 413
	case ReasonMetadataExpired, ReasonUnavailable:
		return 503
	case ReasonInternal:
		return 500
	default:
		return 400
	}
}

func (r *Refusal) Error() string {
	if r.Err == nil {
		return r.Message
	}
	return r.Message + ": " + r.Err.Error()
}

func (r *Refusal) Unwrap() error { return r.Err }

// Invalid is a Refusal of a wrong request (ReasonBadRequest, or the reason
// of a Refusal err wraps).
func Invalid(message string, err error) error {
	return Refuse(ReasonBadRequest, "", message, err)
}

// Internal is a Refusal the bridge itself caused; when err wraps an
// unavailable Refusal (the store is down), it stays unavailable: a 503
// page, "try again later", not a 500.
func Internal(message string, err error) error {
	var inner *Refusal
	if errors.As(err, &inner) && inner.Reason == ReasonUnavailable {
		return &Refusal{Kind: KindInternal, Reason: ReasonUnavailable, SP: inner.SP, Message: message, Err: err}
	}
	return &Refusal{Kind: KindInternal, Reason: ReasonInternal, Message: message, Err: err}
}

// Refuse is a Refusal for reason, of the request for sp ("" unknown);
// message (English) and err are for the log. When err wraps a Refusal (a
// dead end found deeper down, nearer its cause), that one's reason wins,
// and its SP when sp is "".
func Refuse(reason Reason, sp, message string, err error) error {
	var inner *Refusal
	if errors.As(err, &inner) {
		reason = inner.Reason
		if sp == "" {
			sp = inner.SP
		}
	} else if reason == ReasonBadRequest && errors.Is(err, ErrUnknownSP) {
		reason = ReasonUnknownSP
	}
	kind := KindInvalid
	if reason == ReasonInternal || reason == ReasonUnavailable {
		kind = KindInternal
	}
	return &Refusal{Kind: kind, Reason: reason, SP: sp, Message: message, Err: err}
}

// Deny builds the refusal an endpoint returns for a request it must answer
// with an error status in its dialect.
func Deny(code StatusCode, format string, args ...any) error {
	return &RequestDenied{Code: code, Reason: fmt.Sprintf(format, args...)}
}
