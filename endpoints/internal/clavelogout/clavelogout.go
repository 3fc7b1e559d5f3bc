// Package clavelogout is single logout as both Cl@ve dialects speak it, so
// that one mechanism serves Cl@ve 1 (/Proxy/LogoutAction) and Cl@ve 2
// (/Proxy2/ServiceProvider). It is not SAML single logout as the standard
// has it: messages go by POST only, in fields of their own; a
// LogoutRequest's NameID names the SP (no citizen, no session index) and
// its Issuer the SP URL where the LogoutResponse must be posted; the
// LogoutResponse always carries a StatusMessage. Both directions are
// always signed. What differs between the two dialects (field names, how
// an SP is named, the shape and signature of our messages) is a Config.
package clavelogout

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// Config is what differs between the Cl@ve dialects.
type Config struct {
	Dialect  string // the dialect's name
	SPKind   string // how errors name its SPs: "Cl@ve 1 SP", "Cl@ve 2.0 SP"
	Request  string // form field of LogoutRequests
	Response string // form field of LogoutResponses
	// Forbidden are fields that must not come along with a logout message.
	Forbidden     []string
	MaxRelayState int
	MaxBytes      int
	// URL is our logout URL: the Destination SPs post to.
	URL string
	// Issuer is the Issuer of our logout messages.
	Issuer string
	// Lookup finds the SP a LogoutRequest's NameID (or a LogoutResponse's
	// Issuer) names, among those that take part in single logout.
	Lookup func(name string) (*bridge.ServiceProvider, error)
	// Member reports whether a registered SP takes part in single logout.
	Member func(*bridge.ServiceProvider) bool
	// NewRequest fills in the dialect's LogoutRequest to sp at dest.
	NewRequest func(sp *bridge.ServiceProvider, lr *clave2msg.LogoutRequest)
	// Sign signs one of our logout messages for sp and returns it
	// base64-encoded.
	Sign func(sp *bridge.ServiceProvider, el *etree.Element) (string, error)

	Flow     *flow.Flow
	Registry bridge.Registry
	Guard    bridge.RequestGuard
	Now      func() time.Time
	Rand     io.Reader
	// Log receives the audit line of every logout message (none when nil).
	Log *zap.Logger
}

// Logout serves one Cl@ve dialect's single logout.
type Logout struct{ cfg Config }

// New returns the dialect's logout.
func New(cfg Config) *Logout { return &Logout{cfg: cfg} }

// Carries reports whether a form carries a logout message of the dialect.
func (l *Logout) Carries(form url.Values) bool {
	return form.Has(l.cfg.Request) || form.Has(l.cfg.Response)
}

// message is one decoded, parsed logout message and its RelayState.
type message struct {
	root       *etree.Element
	relayState string
	response   bool
}

// Handle serves a POSTed logout message: an SP's LogoutRequest starts a
// single logout of the browser's session; an SP's LogoutResponse to ours
// lets the one under way go on. Anything that cannot be verified is
// refused, and nothing is ever posted to an unverified or unregistered URL.
// A Cl@ve LogoutRequest names only its SP, so what binds it to the
// browser's session is the flow's (StartLogout): the SP must take part in
// the session and the POST's Origin, if any, must be the SP's; otherwise
// the citizen is asked to confirm. Its ID is used once and its
// IssueInstant fresh (readRequest).
func (l *Logout) Handle(ctx context.Context, in *web.Input) (flow.Reply, error) {
	msg, err := l.read(in.Form)
	if err != nil {
		return flow.Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout message could not be read.", err)
	}
	if msg.response {
		sp, lr, err := l.readResponse(ctx, msg.root)
		if err != nil {
			return flow.Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout answer is not valid.", err)
		}
		// Audited once the flow has found the logout it belongs to, under
		// that logout's trace id; the request is this SP's, whichever the
		// logout tells next.
		trace.NoteSP(ctx, sp.ID)
		defer l.audit(ctx, audit.Record{Direction: audit.In, Kind: audit.LogoutResponse, SP: sp.ID, ID: lr.ID,
			InResponseTo: lr.InResponseTo, Status: audit.Status(lr.Status.Code, lr.Status.SubCode)})
		return l.cfg.Flow.ContinueLogout(ctx, sp, msg.relayState, lr.InResponseTo, clave2msg.LoggedOut(lr.Status))
	}
	sp, lr, err := l.readRequest(ctx, msg.root)
	if err != nil {
		return flow.Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout request is not valid.", err)
	}
	l.audit(ctx, audit.Record{Direction: audit.In, Kind: audit.LogoutRequest, SP: sp.ID, ID: lr.ID})
	initiator := bridge.LogoutInitiator{
		SP: sp.ID, Dialect: l.cfg.Dialect, RequestID: lr.ID, RelayState: msg.relayState, ReturnURL: lr.Issuer,
	}
	return l.cfg.Flow.StartLogout(ctx, in.Browser, sp, initiator, func(bridge.Participant) bool { return true })
}

// read decodes exactly one request or response field and at most one
// RelayState, and parses the message with the hardened parser; its root
// must be a LogoutRequest or a LogoutResponse, accordingly.
func (l *Logout) read(form url.Values) (*message, error) {
	reqs, resps := form[l.cfg.Request], form[l.cfg.Response]
	if len(reqs)+len(resps) != 1 || len(form["RelayState"]) > 1 {
		return nil, fmt.Errorf("want exactly one %s or %s and at most one RelayState", l.cfg.Request, l.cfg.Response)
	}
	for _, f := range l.cfg.Forbidden {
		if form.Has(f) {
			return nil, fmt.Errorf("want no %s next to a logout message", f)
		}
	}
	msg := &message{relayState: form.Get("RelayState"), response: len(resps) == 1}
	if len(msg.relayState) > l.cfg.MaxRelayState {
		return nil, fmt.Errorf("RelayState is %d bytes, more than %d", len(msg.relayState), l.cfg.MaxRelayState)
	}
	raw, err := samlxml.DecodePostValue(append(reqs, resps...)[0], l.cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	doc, err := samlxml.Parse(raw, l.cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	msg.root = doc.Root()
	tag := "LogoutRequest"
	if msg.response {
		tag = "LogoutResponse"
	}
	if !samlxml.Is(msg.root, samlxml.NSProtocol, tag) {
		return nil, fmt.Errorf("message is %s, not a %s", msg.root.FullTag(), tag)
	}
	return msg, nil
}

// readRequest identifies the SP by the (unverified) NameID, verifies the
// signature with that SP's certificates only and then checks, on the
// verified message, that the NameID still names it, that the Issuer (where
// the answer goes) is one of its registered logout URLs, the Destination,
// NotOnOrAfter, the age and that the ID is new.
func (l *Logout) readRequest(ctx context.Context, root *etree.Element) (*bridge.ServiceProvider, *clave2msg.LogoutRequest, error) {
	name, err := samlxml.ChildText(root, samlxml.NSAssertion, "NameID")
	if err != nil {
		return nil, nil, fmt.Errorf("LogoutRequest: %w", err)
	}
	sp, err := l.cfg.Lookup(name)
	if err != nil {
		return nil, nil, fmt.Errorf("LogoutRequest NameID: %w", err)
	}
	verified, err := sp.Verifier().Verify(root)
	if err != nil {
		return nil, nil, fmt.Errorf("sp %s: logout message signature: %w", sp.ID, err)
	}
	lr, err := clave2msg.ParseLogoutRequest(verified.Element)
	if err != nil {
		return nil, nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	now := l.cfg.Now()
	switch named, _ := l.cfg.Lookup(lr.NameID); {
	case named == nil || named.ID != sp.ID:
		return nil, nil, fmt.Errorf("sp %s: verified NameID %q does not name it", sp.ID, lr.NameID)
	case !sp.LogoutRegistered(lr.Issuer):
		return nil, nil, fmt.Errorf("sp %s: Issuer %q is not a logout URL registered for the SP", sp.ID, lr.Issuer)
	case lr.Destination != l.cfg.URL: // the kits always set it
		return nil, nil, fmt.Errorf("sp %s: Destination %q is not our logout URL", sp.ID, lr.Destination)
	case !lr.NotOnOrAfter.IsZero() && !now.Before(lr.NotOnOrAfter.Add(l.cfg.Guard.Skew)):
		return nil, nil, fmt.Errorf("sp %s: the LogoutRequest expired at %s", sp.ID, samlxml.FormatTime(lr.NotOnOrAfter))
	}
	if err := l.cfg.Guard.Check(ctx, l.cfg.Dialect, sp.ID, lr.ID, lr.IssueInstant); err != nil {
		return nil, nil, err
	}
	return sp, lr, nil
}

// readResponse verifies an SP's answer to our LogoutRequest. Cl@ve gives
// LogoutResponses no reliable Issuer, so the bridge requires one that names
// the SP: the name its LogoutRequests' NameID carries, or one of its
// registered logout URLs (as in their Issuer); the signature must then
// verify with that SP's certificates. Whether the answer is to the
// LogoutRequest the logout waits for is the flow's check.
func (l *Logout) readResponse(ctx context.Context, root *etree.Element) (*bridge.ServiceProvider, *clave2msg.LogoutResponse, error) {
	issuer, err := samlxml.ChildText(root, samlxml.NSAssertion, "Issuer")
	if err != nil {
		return nil, nil, fmt.Errorf("LogoutResponse: %w", err)
	}
	sps := l.responders(issuer)
	if len(sps) == 0 {
		return nil, nil, fmt.Errorf("%w: LogoutResponse Issuer %q is neither the provider name nor a registered logout URL of a %s", bridge.ErrUnknownSP, issuer, l.cfg.SPKind)
	}
	var errs []error
	for _, sp := range sps {
		verified, err := sp.Verifier().Verify(root)
		if err != nil {
			errs = append(errs, fmt.Errorf("sp %s: logout message signature: %w", sp.ID, err))
			continue
		}
		lr, err := clave2msg.ParseLogoutResponse(verified.Element)
		if err != nil {
			return nil, nil, fmt.Errorf("sp %s: %w", sp.ID, err)
		}
		switch {
		case lr.Issuer != issuer:
			return nil, nil, fmt.Errorf("sp %s: verified Issuer %q differs", sp.ID, lr.Issuer)
		case lr.InResponseTo == "":
			return nil, nil, fmt.Errorf("sp %s: LogoutResponse without InResponseTo", sp.ID)
		case lr.Destination != "" && lr.Destination != l.cfg.URL:
			return nil, nil, fmt.Errorf("sp %s: Destination %q is not our logout URL", sp.ID, lr.Destination)
		}
		if err := l.cfg.Guard.Check(ctx, l.cfg.Dialect, sp.ID, lr.ID, lr.IssueInstant); err != nil {
			return nil, nil, err
		}
		return sp, lr, nil
	}
	return nil, nil, errors.Join(errs...)
}

// responders are the SPs a LogoutResponse Issuer may name: the one it
// names as in LogoutRequests, else those that registered it as a logout
// URL (when the registry can list its SPs).
func (l *Logout) responders(issuer string) []*bridge.ServiceProvider {
	if issuer == "" {
		return nil
	}
	if sp, err := l.cfg.Lookup(issuer); err == nil {
		return []*bridge.ServiceProvider{sp}
	}
	all, ok := l.cfg.Registry.(bridge.Lister)
	if !ok {
		return nil
	}
	var out []*bridge.ServiceProvider
	for _, sp := range all.All() {
		if sp.Dialect == l.cfg.Dialect && l.cfg.Member(sp) && sp.LogoutRegistered(issuer) {
			out = append(out, sp)
		}
	}
	return out
}

// LogoutRequest tells an SP that the session ended: the dialect's signed
// LogoutRequest naming the SP, whose Issuer is where the SP must answer,
// posted to the SP's first registered logout URL. An SP without one, or
// that takes no part in single logout, gets nothing.
func (l *Logout) LogoutRequest(ctx context.Context, sp *bridge.ServiceProvider, id, relayState string) (bridge.Outgoing, bool, error) {
	if len(sp.Logout) == 0 || !l.cfg.Member(sp) {
		return bridge.Outgoing{}, false, nil
	}
	dest := sp.Logout[0].URL
	lr := &clave2msg.LogoutRequest{ID: id, IssueInstant: l.cfg.Now(), Destination: dest, Issuer: l.cfg.Issuer, NameID: sp.ID}
	l.cfg.NewRequest(sp, lr)
	value, err := l.cfg.Sign(sp, lr.Element())
	if err != nil {
		return bridge.Outgoing{}, false, fmt.Errorf("sp %s: logout request: %w", sp.ID, err)
	}
	l.audit(ctx, audit.Record{Direction: audit.Out, Kind: audit.LogoutRequest, SP: sp.ID, ID: id})
	return bridge.Outgoing{URL: dest, Fields: samlxml.MessageFields(l.cfg.Request, value, relayState)}, true, nil
}

// LogoutResponse answers the SP that started the logout, at the URL its
// verified LogoutRequest named as Issuer (checked again against its
// registration).
func (l *Logout) LogoutResponse(ctx context.Context, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, status bridge.Status) (bridge.Outgoing, error) {
	dest := in.ReturnURL
	if !sp.LogoutRegistered(dest) {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: logout return URL %q is not registered", sp.ID, dest)
	}
	id, err := samlxml.NewID(l.cfg.Rand)
	if err != nil {
		return bridge.Outgoing{}, err
	}
	lr := &clave2msg.LogoutResponse{
		ID: id, InResponseTo: in.RequestID, IssueInstant: l.cfg.Now(), Destination: dest,
		Issuer: l.cfg.Issuer, Status: clave2msg.LogoutStatus(status.Code, status.Message),
	}
	value, err := l.cfg.Sign(sp, lr.Element())
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: logout response: %w", sp.ID, err)
	}
	l.audit(ctx, audit.Record{Direction: audit.Out, Kind: audit.LogoutResponse, SP: sp.ID, ID: id, InResponseTo: in.RequestID,
		Status: audit.Status(lr.Status.Code, lr.Status.SubCode)})
	return bridge.Outgoing{URL: dest, Fields: samlxml.MessageFields(l.cfg.Response, value, in.RelayState)}, nil
}

// audit writes r, a logout message of the dialect, to the audit log.
func (l *Logout) audit(ctx context.Context, r audit.Record) {
	r.Dialect = l.cfg.Dialect
	audit.Log(ctx, l.cfg.Log, r)
}

// Encode serializes a signed logout message as base64, as both dialects
// post it.
func Encode(el *etree.Element) (string, error) {
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(xml), nil
}
