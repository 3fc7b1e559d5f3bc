package saml2

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// Single logout (SAML 2.0 profiles 4.4) at SLOPath, in the Redirect and
// POST bindings: SPs send their LogoutRequests here, and answer here the
// LogoutRequests the bridge sends them while it propagates a logout. Every
// logout message must be signed (query signature for Redirect, enveloped
// for POST) by a certificate registered for its SP.

// logoutLifetime is the NotOnOrAfter of the LogoutRequests we send.
const logoutLifetime = 5 * time.Minute

var _ bridge.LogoutDialect = (*Endpoint)(nil)

// logoutMessage is a LogoutRequest or LogoutResponse whose sender is a
// registered SP and whose signature has been verified with its keys.
type logoutMessage struct {
	sp         *bridge.ServiceProvider
	el         *etree.Element // the verified message
	relayState string
}

// sloURL is our SingleLogoutService location: configured, or SLOPath
// next to the SSO URL.
func (e *Endpoint) sloURL() string {
	if e.cfg.SLOURL != "" {
		return e.cfg.SLOURL
	}
	return strings.TrimSuffix(e.cfg.SSOURL, SSOPath) + SLOPath
}

// handleSLO reads a logout message in either binding. LogoutRequests start
// a single logout, LogoutResponses continue the one under way. Anything
// unreadable, unsigned, badly signed or from an unknown SP gets the error
// page and ends nothing.
func (e *Endpoint) handleSLO(ctx context.Context, in *web.Input) (flow.Reply, error) {
	msg, err := e.readLogout(in)
	if err != nil {
		return flow.Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout message is not valid.", err)
	}
	if samlxml.Is(msg.el, samlxml.NSProtocol, "LogoutRequest") {
		return e.logoutRequested(ctx, in.Browser, msg)
	}
	return e.logoutAnswered(ctx, msg)
}

// logoutVerify checks a logout message's signature with the SP's keys and
// returns the verified message.
type logoutVerify func(*bridge.ServiceProvider, *etree.Element) (*etree.Element, error)

// readLogout decodes the message (a GET carries the Redirect binding, a
// POST the POST binding), finds its SP by the (unverified) Issuer and
// verifies the signature, which is required, with that SP's keys.
func (e *Endpoint) readLogout(in *web.Input) (*logoutMessage, error) {
	var (
		param, relay string
		raw          []byte
		verify       logoutVerify
		err          error
	)
	if in.Post {
		param, relay, raw, verify, err = readLogoutPost(in.Form)
	} else {
		param, relay, raw, verify, err = readLogoutRedirect(in.RawQuery)
	}
	if err != nil {
		return nil, err
	}
	if len(relay) > maxRelayState {
		return nil, fmt.Errorf("RelayState is %d bytes, more than %d", len(relay), maxRelayState)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	want := "LogoutRequest"
	if param == "SAMLResponse" {
		want = "LogoutResponse"
	}
	root := doc.Root()
	if !samlxml.Is(root, samlxml.NSProtocol, want) {
		return nil, fmt.Errorf("%s carries %s, not a %s", param, root.FullTag(), want)
	}
	// The Issuer only chooses which keys verify the message.
	issuer, err := samlxml.ChildText(root, samlxml.NSAssertion, "Issuer")
	if err != nil {
		return nil, err
	}
	if issuer == "" {
		return nil, fmt.Errorf("%s has no Issuer", want)
	}
	sp, err := e.cfg.Registry.Lookup(DialectName, issuer)
	if err != nil {
		return nil, err
	}
	trusted, err := verify(sp, root)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	return &logoutMessage{sp: sp, el: trusted, relayState: relay}, nil
}

// readLogoutRedirect decodes the Redirect binding; the query signature
// covers the whole message.
func readLogoutRedirect(rawQuery string) (string, string, []byte, logoutVerify, error) {
	msg, err := samlxml.DecodeRedirect(rawQuery, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return "", "", nil, nil, err
	}
	verify := func(sp *bridge.ServiceProvider, root *etree.Element) (*etree.Element, error) {
		if msg.SigAlg == "" || len(msg.Signature) == 0 {
			return nil, errors.New("logout messages must be signed: the redirect query has no signature")
		}
		if _, err := msg.Verify(sp.Verifier()); err != nil {
			return nil, fmt.Errorf("redirect signature: %w", err)
		}
		return root, nil
	}
	return msg.Param, msg.RelayState, msg.XML, verify, nil
}

// readLogoutPost decodes the POST binding; the message carries an
// enveloped signature.
func readLogoutPost(form url.Values) (string, string, []byte, logoutVerify, error) {
	nReq, nResp := len(form["SAMLRequest"]), len(form["SAMLResponse"])
	if nReq+nResp != 1 || len(form["RelayState"]) > 1 {
		return "", "", nil, nil, errors.New("want exactly one SAMLRequest or SAMLResponse and at most one RelayState")
	}
	param := "SAMLRequest"
	if nResp == 1 {
		param = "SAMLResponse"
	}
	raw, err := samlxml.DecodePostValue(form.Get(param), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return "", "", nil, nil, err
	}
	verify := func(sp *bridge.ServiceProvider, root *etree.Element) (*etree.Element, error) {
		if len(samlxml.Children(root, samlxml.NSDSig, "Signature")) == 0 {
			return nil, errors.New("logout messages must be signed: the message has no signature")
		}
		v, err := sp.Verifier().Verify(root)
		if err != nil {
			return nil, fmt.Errorf("logout signature: %w", err)
		}
		return v.Element, nil
	}
	return param, form.Get("RelayState"), raw, verify, nil
}

// logoutRequested checks an SP's verified LogoutRequest and starts the
// single logout of the browser's session (the flow answers UnknownPrincipal
// when there is none, as when no SSO sessions are kept). The request is
// bound to the session by its NameID and SessionIndex (namesParticipant)
// and, when the browser sends one, by its Origin: the flow asks the
// citizen to confirm a request that is not.
func (e *Endpoint) logoutRequested(ctx context.Context, br flow.Browser, in *logoutMessage) (flow.Reply, error) {
	lr, err := e.checkLogoutRequest(ctx, in)
	if err != nil {
		return flow.Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout request is not valid.", err)
	}
	e.audit(ctx, audit.Record{Direction: audit.In, Kind: audit.LogoutRequest, SP: in.sp.ID, ID: lr.ID})
	initiator := bridge.LogoutInitiator{SP: in.sp.ID, Dialect: DialectName, RequestID: lr.ID, RelayState: in.relayState}
	return e.cfg.Flow.StartLogout(ctx, br, in.sp, initiator, namesParticipant(lr))
}

// checkLogoutRequest reads the verified request and applies the Issuer,
// Destination, time and replay rules. An SP without a logout endpoint
// could not be answered, so its requests are refused before anything ends.
func (e *Endpoint) checkLogoutRequest(ctx context.Context, in *logoutMessage) (*clave2msg.LogoutRequest, error) {
	sp := in.sp
	lr, err := clave2msg.ParseLogoutRequest(in.el)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	now, skew := e.cfg.Now(), e.cfg.Guard.Skew
	switch {
	case lr.Issuer != sp.ID:
		return nil, fmt.Errorf("sp %s: signed Issuer %q is not the SP", sp.ID, lr.Issuer)
	case lr.Destination != e.sloURL(): // always signed, so it must name us
		return nil, fmt.Errorf("sp %s: Destination %q is not our SLO URL", sp.ID, lr.Destination)
	case !lr.NotOnOrAfter.IsZero() && !now.Before(lr.NotOnOrAfter.Add(skew)):
		return nil, fmt.Errorf("sp %s: LogoutRequest expired at %s", sp.ID, lr.NotOnOrAfter.Format(time.RFC3339))
	case lr.NameID == "":
		return nil, fmt.Errorf("sp %s: LogoutRequest has an empty NameID", sp.ID)
	}
	if _, ok := logoutEndpoint(sp); !ok {
		return nil, fmt.Errorf("sp %s: no SingleLogoutService is registered to answer to", sp.ID)
	}
	if err := e.cfg.Guard.Check(ctx, DialectName, sp.ID, lr.ID, lr.IssueInstant); err != nil {
		return nil, err
	}
	return lr, nil
}

// namesParticipant: the request names p's session when its NameID is the
// transient or persistent one p got, and it lists no SessionIndex or p's.
func namesParticipant(lr *clave2msg.LogoutRequest) func(bridge.Participant) bool {
	return func(p bridge.Participant) bool {
		named := (p.TransientNameID != "" && lr.NameID == p.TransientNameID) || (p.Subject != "" && lr.NameID == p.Subject)
		if !named {
			return false
		}
		return len(lr.SessionIndexes) == 0 || (p.SessionIndex != "" && slices.Contains(lr.SessionIndexes, p.SessionIndex))
	}
}

// logoutAnswered reads an SP's verified LogoutResponse to the LogoutRequest
// we sent it and lets the logout go on. Its audit line is written once the
// flow has found the logout it belongs to, under that logout's trace id.
func (e *Endpoint) logoutAnswered(ctx context.Context, in *logoutMessage) (flow.Reply, error) {
	lr, err := e.checkLogoutResponse(ctx, in)
	if err != nil {
		return flow.Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout answer is not valid.", err)
	}
	trace.NoteSP(ctx, in.sp.ID) // the request is this SP's, whichever the logout tells next
	defer e.audit(ctx, audit.Record{Direction: audit.In, Kind: audit.LogoutResponse, SP: in.sp.ID, ID: lr.ID,
		InResponseTo: lr.InResponseTo, Status: audit.Status(lr.Status.Code, lr.Status.SubCode)})
	ok := lr.Status.Code == clave2msg.StatusSuccess && lr.Status.SubCode != clave2msg.StatusPartialLogout
	return e.cfg.Flow.ContinueLogout(ctx, in.sp, in.relayState, lr.InResponseTo, ok)
}

// checkLogoutResponse reads the verified answer and applies the Issuer,
// Destination, time and replay rules; the flow checks that it answers the
// request it waits for.
func (e *Endpoint) checkLogoutResponse(ctx context.Context, in *logoutMessage) (*clave2msg.LogoutResponse, error) {
	sp := in.sp
	lr, err := clave2msg.ParseLogoutResponse(in.el)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	switch {
	case lr.Issuer != sp.ID:
		return nil, fmt.Errorf("sp %s: signed Issuer %q is not the SP", sp.ID, lr.Issuer)
	case lr.Destination != e.sloURL(): // always signed, so it must name us
		return nil, fmt.Errorf("sp %s: Destination %q is not our SLO URL", sp.ID, lr.Destination)
	case lr.InResponseTo == "":
		return nil, fmt.Errorf("sp %s: LogoutResponse has no InResponseTo", sp.ID)
	}
	if err := e.cfg.Guard.Check(ctx, DialectName, sp.ID, lr.ID, lr.IssueInstant); err != nil {
		return nil, err
	}
	return lr, nil
}

// LogoutRequest builds our signed LogoutRequest telling p's SP that the
// session ended, to its first SingleLogoutService (POST preferred). It
// names the session's SessionIndex and the NameID the SP was given (as
// Render chose it: its persistent NameID, p.Subject, when the SP asked for
// the persistent format, which is the PersonIdentifier only when its
// policy releases it and its pairwise identifier otherwise; the transient
// one otherwise); the format asked for is in the state of the request the
// SP was answered for. An SP that was given no NameID to name (a
// persistent one refused) cannot be told.
func (e *Endpoint) LogoutRequest(ctx context.Context, sp *bridge.ServiceProvider, p bridge.Participant, id, relayState string) (bridge.Outgoing, bool, error) {
	ep, ok := logoutEndpoint(sp)
	if !ok {
		return bridge.Outgoing{}, false, nil
	}
	var st requestState
	if err := bridge.DecodeState(p.State, &st); err != nil {
		return bridge.Outgoing{}, false, fmt.Errorf("sp %s: logout request: %w", sp.ID, err)
	}
	nameID, format := p.TransientNameID, nameIDTransient
	if st.NameIDFormat == nameIDPersistent || nameID == "" {
		nameID, format = p.Subject, nameIDPersistent
	}
	if nameID == "" {
		return bridge.Outgoing{}, false, nil
	}
	now := e.cfg.Now()
	lr := &clave2msg.LogoutRequest{
		ID: id, IssueInstant: now, Destination: ep.URL, Issuer: e.cfg.EntityID,
		NameID: nameID, NameIDFormat: format, NameQualifier: e.cfg.EntityID,
		NotOnOrAfter: now.Add(logoutLifetime), Reason: clave2msg.LogoutReasonUser,
	}
	if p.SessionIndex != "" {
		lr.SessionIndexes = []string{p.SessionIndex}
	}
	out, err := e.sendLogout(sp, ep, "SAMLRequest", lr.Element(), relayState)
	if err != nil {
		return bridge.Outgoing{}, false, fmt.Errorf("sp %s: logout request: %w", sp.ID, err)
	}
	e.audit(ctx, audit.Record{Direction: audit.Out, Kind: audit.LogoutRequest, SP: sp.ID, ID: id})
	return out, true, nil
}

// LogoutResponse answers the SP that started the logout at its first
// SingleLogoutService, echoing its RelayState.
func (e *Endpoint) LogoutResponse(ctx context.Context, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, status bridge.Status) (bridge.Outgoing, error) {
	ep, ok := logoutEndpoint(sp)
	if !ok {
		return bridge.Outgoing{}, fmt.Errorf("sp %s has no SingleLogoutService to answer to", sp.ID)
	}
	id, err := samlxml.NewID(e.cfg.Rand)
	if err != nil {
		return bridge.Outgoing{}, err
	}
	lr := &clave2msg.LogoutResponse{
		ID: id, InResponseTo: in.RequestID, IssueInstant: e.cfg.Now(), Destination: ep.URL,
		Issuer: e.cfg.EntityID, Status: clave2msg.LogoutStatus(status.Code, status.Message),
	}
	out, err := e.sendLogout(sp, ep, "SAMLResponse", lr.Element(), in.RelayState)
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: logout response: %w", sp.ID, err)
	}
	e.audit(ctx, audit.Record{Direction: audit.Out, Kind: audit.LogoutResponse, SP: sp.ID, ID: id, InResponseTo: in.RequestID,
		Status: audit.Status(lr.Status.Code, lr.Status.SubCode)})
	return out, nil
}

// logoutEndpoint is the SP's first SingleLogoutService of a binding we
// send in (the registry lists POST ones first).
func logoutEndpoint(sp *bridge.ServiceProvider) (bridge.Endpoint, bool) {
	for _, ep := range sp.Logout {
		switch ep.Binding {
		case "", samlxml.BindingPOST, samlxml.BindingRedirect:
			return ep, true
		}
	}
	return bridge.Endpoint{}, false
}

// sendLogout signs a logout message for sp: enveloped in a POST form, or
// with the query signature of the Redirect binding.
func (e *Endpoint) sendLogout(sp *bridge.ServiceProvider, ep bridge.Endpoint, param string, el *etree.Element, relayState string) (bridge.Outgoing, error) {
	signer := e.cfg.Signer
	signer.Method, signer.Digest = sp.SignatureAlgorithm, ""
	if ep.Binding == samlxml.BindingRedirect {
		xml, err := samlxml.Serialize(el)
		if err != nil {
			return bridge.Outgoing{}, err
		}
		loc, err := samlxml.EncodeRedirect(ep.URL, param, xml, relayState, &signer)
		if err != nil {
			return bridge.Outgoing{}, err
		}
		return bridge.Outgoing{Redirect: loc}, nil
	}
	if err := signer.Sign(el); err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sign: %w", err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return bridge.Outgoing{}, err
	}
	fields := []samlxml.Field{{Name: param, Value: base64.StdEncoding.EncodeToString(xml)}}
	if relayState != "" {
		fields = append(fields, samlxml.Field{Name: "RelayState", Value: relayState})
	}
	return bridge.Outgoing{URL: ep.URL, Fields: fields}, nil
}
