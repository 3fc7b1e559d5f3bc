package bridge

import (
	"context"
	"fmt"
	"net/http"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// LogoutForm names the form fields of a dialect whose logout messages are
// POSTed in fields of their own (Cl@ve 1: samlRequestLogout and
// samlResponseLogout; Cl@ve 2: logoutRequest and logoutResponse).
type LogoutForm struct {
	Request, Response string
	MaxRelayState     int
	MaxBytes          int
	Forbidden         []string // fields that must not come along
}

// LogoutMessage is one decoded, parsed logout message and its RelayState.
type LogoutMessage struct {
	Root       *etree.Element
	RelayState string
	Response   bool
}

// Read decodes exactly one request or response field and at most one
// RelayState, and parses the message with the hardened parser; its root
// must be a LogoutRequest or a LogoutResponse, accordingly.
func (lf LogoutForm) Read(c echo.Context) (*LogoutMessage, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, fmt.Errorf("read form: %w", err)
	}
	reqs, resps := form[lf.Request], form[lf.Response]
	if len(reqs)+len(resps) != 1 || len(form["RelayState"]) > 1 {
		return nil, fmt.Errorf("want exactly one %s or %s and at most one RelayState", lf.Request, lf.Response)
	}
	for _, f := range lf.Forbidden {
		if form.Has(f) {
			return nil, fmt.Errorf("want no %s next to a logout message", f)
		}
	}
	msg := &LogoutMessage{RelayState: form.Get("RelayState"), Response: len(resps) == 1}
	if len(msg.RelayState) > lf.MaxRelayState {
		return nil, fmt.Errorf("RelayState is %d bytes, more than %d", len(msg.RelayState), lf.MaxRelayState)
	}
	value := append(reqs, resps...)[0]
	raw, err := samlxml.DecodePostValue(value, lf.MaxBytes)
	if err != nil {
		return nil, err
	}
	doc, err := samlxml.Parse(raw, lf.MaxBytes)
	if err != nil {
		return nil, err
	}
	msg.Root = doc.Root()
	tag := "LogoutRequest"
	if msg.Response {
		tag = "LogoutResponse"
	}
	if !samlxml.Is(msg.Root, samlxml.NSProtocol, tag) {
		return nil, fmt.Errorf("message is %s, not a %s", msg.Root.FullTag(), tag)
	}
	return msg, nil
}

// LogoutReaders verify a dialect's logout messages: Request returns the SP
// and the initiator of a verified LogoutRequest; Response the SP, the
// request answered and whether it logged out.
type LogoutReaders struct {
	Request  func(ctx context.Context, root *etree.Element) (*ServiceProvider, LogoutInitiator, error)
	Response func(ctx context.Context, root *etree.Element) (sp *ServiceProvider, inResponseTo string, ok bool, err error)
}

// ServeLogoutMessage starts a single logout for a verified LogoutRequest,
// or goes on with the one under way for a verified LogoutResponse. The
// Cl@ve dialects' LogoutRequests name the SP, not a citizen or a session:
// the browser's session, if the SP takes part in it, is the one. Anything
// that cannot be verified gets the error page, and nothing is ever posted
// to an unverified or unregistered URL.
func (f *Flow) ServeLogoutMessage(c echo.Context, msg *LogoutMessage, r LogoutReaders) error {
	ctx := c.Request().Context()
	if msg.Response {
		sp, inResponseTo, ok, err := r.Response(ctx, msg.Root)
		if err != nil {
			return ErrorPage(c, f.Log, http.StatusBadRequest, "The logout answer is not valid.", err)
		}
		return f.ContinueLogout(c, sp, msg.RelayState, inResponseTo, ok)
	}
	sp, in, err := r.Request(ctx, msg.Root)
	if err != nil {
		return ErrorPage(c, f.Log, http.StatusBadRequest, "The logout request is not valid.", err)
	}
	in.RelayState = msg.RelayState
	return f.StartLogout(c, sp, in, func(Participant) bool { return true })
}
