package saml2

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// maxRelayState is the SAML bindings limit on RelayState.
const maxRelayState = 80

// inbound is an AuthnRequest whose sender is registered and whose signature
// (where required or present) has been verified.
type inbound struct {
	signed     bool // the request carried a signature (query or embedded)
	sp         *bridge.ServiceProvider
	req        *clave2msg.AuthnRequest
	acs        bridge.Endpoint
	relayState string
}

// requestState is what the endpoint keeps of an AuthnRequest to render its
// answer (bridge.Request.State, and bridge.Participant.State for logout).
type requestState struct {
	// NameIDFormat is the NameID format the SP asked for ("" when none).
	NameIDFormat string `json:"nameid_format,omitempty"`
	// AuthnContext is what the answer must state, when the SP asked for
	// exact or maximum classes (nil: the eIDAS level reached).
	AuthnContext *authnContext `json:"authn_context,omitempty"`
}

// readRequest decodes either binding (a GET carries the Redirect binding,
// a POST the POST binding), finds the SP, verifies the signature and
// resolves the ACS.
func (e *Endpoint) readRequest(in *web.Input) (*inbound, error) {
	var (
		doc   *etree.Document
		relay string
		err   error
		check func(*bridge.ServiceProvider, *etree.Document) (*etree.Element, bool, error)
	)
	if in.Post {
		doc, relay, check, err = e.readPost(in.Form)
	} else {
		doc, relay, check, err = e.readRedirect(in.RawQuery)
	}
	if err != nil {
		return nil, err
	}
	if len(relay) > maxRelayState {
		return nil, fmt.Errorf("RelayState is %d bytes, more than %d", len(relay), maxRelayState)
	}
	issuer, err := unverifiedIssuer(doc.Root())
	if err != nil {
		return nil, err
	}
	sp, err := e.cfg.Registry.Lookup(DialectName, issuer)
	if err != nil {
		return nil, err
	}
	trusted, signed, err := check(sp, doc)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	ar, err := clave2msg.ParseAuthnRequest(trusted)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	acs, err := resolveACS(sp, ar)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	return &inbound{sp: sp, req: ar, acs: acs, relayState: relay, signed: signed}, nil
}

func (e *Endpoint) readRedirect(rawQuery string) (*etree.Document, string, func(*bridge.ServiceProvider, *etree.Document) (*etree.Element, bool, error), error) {
	msg, err := samlxml.DecodeRedirect(rawQuery, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, "", nil, err
	}
	if msg.Param != "SAMLRequest" {
		return nil, "", nil, errors.New("redirect binding carries no SAMLRequest")
	}
	doc, err := samlxml.Parse(msg.XML, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, "", nil, err
	}
	check := func(sp *bridge.ServiceProvider, doc *etree.Document) (*etree.Element, bool, error) {
		if msg.SigAlg == "" && len(msg.Signature) == 0 {
			if sp.RequireSignedRequests {
				return nil, false, errors.New("request is not signed but the SP must sign")
			}
			return doc.Root(), false, nil
		}
		if _, err := msg.Verify(sp.Verifier()); err != nil {
			return nil, false, fmt.Errorf("redirect signature: %w", err)
		}
		return doc.Root(), true, nil
	}
	return doc, msg.RelayState, check, nil
}

func (e *Endpoint) readPost(form url.Values) (*etree.Document, string, func(*bridge.ServiceProvider, *etree.Document) (*etree.Element, bool, error), error) {
	if len(form["SAMLRequest"]) != 1 || len(form["RelayState"]) > 1 {
		return nil, "", nil, errors.New("want exactly one SAMLRequest and at most one RelayState")
	}
	raw, err := samlxml.DecodePostValue(form.Get("SAMLRequest"), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, "", nil, err
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, "", nil, err
	}
	check := func(sp *bridge.ServiceProvider, doc *etree.Document) (*etree.Element, bool, error) {
		root := doc.Root()
		if len(samlxml.Children(root, samlxml.NSDSig, "Signature")) == 0 {
			if sp.RequireSignedRequests {
				return nil, false, errors.New("request is not signed but the SP must sign")
			}
			return root, false, nil
		}
		v, err := sp.Verifier().Verify(root)
		if err != nil {
			return nil, false, fmt.Errorf("request signature: %w", err)
		}
		return v.Element, true, nil
	}
	return doc, form.Get("RelayState"), check, nil
}

// unverifiedIssuer reads the Issuer only to choose which keys verify the
// request; nothing else is read before verification.
func unverifiedIssuer(root *etree.Element) (string, error) {
	if !samlxml.Is(root, samlxml.NSProtocol, "AuthnRequest") {
		return "", fmt.Errorf("message is %s, not an AuthnRequest", root.FullTag())
	}
	issuer, err := samlxml.ChildText(root, samlxml.NSAssertion, "Issuer")
	if err != nil {
		return "", err
	}
	if issuer == "" {
		return "", errors.New("AuthnRequest has no Issuer")
	}
	return issuer, nil
}

// resolveACS picks the registered ACS the request names (by URL or index),
// or the SP's first one. An unregistered URL is never answered to.
func resolveACS(sp *bridge.ServiceProvider, ar *clave2msg.AuthnRequest) (bridge.Endpoint, error) {
	if ar.ProtocolBinding != "" && ar.ProtocolBinding != samlxml.BindingPOST {
		return bridge.Endpoint{}, fmt.Errorf("ProtocolBinding %q is not supported (HTTP-POST only)", ar.ProtocolBinding)
	}
	switch {
	case ar.ACS != "":
		if acs, ok := sp.ACSByURL(ar.ACS); ok {
			return acs, nil
		}
		return bridge.Endpoint{}, fmt.Errorf("AssertionConsumerServiceURL %q is not registered for the SP", ar.ACS)
	case ar.ACSIndex != "":
		i, err := strconv.Atoi(ar.ACSIndex)
		if err != nil {
			return bridge.Endpoint{}, fmt.Errorf("AssertionConsumerServiceIndex %q is not a number", ar.ACSIndex)
		}
		for _, acs := range sp.ACS {
			if acs.Index == i {
				return acs, nil
			}
		}
		return bridge.Endpoint{}, fmt.Errorf("AssertionConsumerServiceIndex %d is not registered for the SP", i)
	}
	return sp.ACS[0], nil
}

// normalize checks the request's semantics and builds the canonical request.
// It returns the partial request, its state set, with a *bridge.RequestDenied
// for errors the SP must be told.
func (e *Endpoint) normalize(ctx context.Context, in *inbound) (*bridge.Request, error) {
	ar := in.req
	req := &bridge.Request{
		SP: in.sp.ID, Dialect: DialectName, ID: ar.ID, ReturnURL: in.acs.URL, RelayState: in.relayState,
		ForceAuthn: ar.ForceAuthn,
	}
	loa, ac, acErr := readAuthnContext(ar)
	state, err := bridge.EncodeState(requestState{NameIDFormat: ar.NameIDFormat, AuthnContext: ac})
	if err != nil {
		return req, err
	}
	req.State = state
	if err := e.checkFreshness(ctx, in); err != nil {
		return req, err
	}
	if ar.IsPassive {
		return req, bridge.Deny(bridge.StatusNoPassive, "passive authentication is not possible through Cl@ve")
	}
	if !supportedNameIDFormat(ar.NameIDFormat) {
		return req, bridge.Deny(bridge.StatusInvalidNameID, "NameID format %q is not supported", ar.NameIDFormat)
	}
	if acErr != nil {
		return req, bridge.Deny(bridge.StatusNoAuthnContext, "%v", acErr)
	}
	req.MinLoA = loa
	return req, nil
}

// checkFreshness applies the Destination, time window and replay rules.
func (e *Endpoint) checkFreshness(ctx context.Context, in *inbound) error {
	ar := in.req
	// A signed request must name us (SAML bindings 3.4.5.2, 3.5.5.2), so
	// that one signed for another IdP cannot be replayed here.
	if (in.signed || ar.Destination != "") && ar.Destination != e.cfg.SSOURL {
		return fmt.Errorf("sp %s: Destination %q is not our SSO URL", in.sp.ID, ar.Destination)
	}
	if !in.signed {
		// Anyone can mint an unsigned request: replaying one is no attack,
		// and remembering its ID would let unauthenticated input fill the
		// replay cache. Only its age is judged.
		return e.cfg.Guard.CheckAge(in.sp.ID, ar.IssueInstant)
	}
	return e.cfg.Guard.Check(ctx, DialectName, in.sp.ID, ar.ID, ar.IssueInstant)
}
