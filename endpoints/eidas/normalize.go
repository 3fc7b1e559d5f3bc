package eidas

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/eidasxml"
	"github.com/clavebridge/clavebridge/translate"
)

// Keys of bridge.Request.Extra this endpoint keeps for its answer.
const (
	extraProfile      = "profile"
	extraSigner       = "signer_sha256" // certificate that verified the request
	extraRelayAttr    = "relay_attribute"
	extraHasRelayAttr = "has_relay_attribute"
	extraNameIDFormat = "nameid_format"
	extraApplication  = "application"
)

const nameIDTransient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

// alwaysReturned are the attributes the Cl@ve 2.0 gateway sends without
// being asked; Cl@ve kits expect them.
var alwaysReturned = []translate.Attr{translate.AttrSelectedIdP, translate.AttrFirstSurname}

// normalize applies the profile's rules and builds the canonical request.
// Refusals the SP must be told come back as *bridge.RequestDenied with the
// partial request.
func (e *Endpoint) normalize(ctx context.Context, in *inbound) (*bridge.Request, error) {
	ar := in.req
	req := &bridge.Request{
		SP: in.sp.ID, Dialect: DialectName, ID: ar.ID, ReturnURL: in.acs.URL, RelayState: in.relayState,
		ForceAuthn: ar.ForceAuthn,
		Extra: map[string]string{
			extraProfile: in.sp.Profile, extraSigner: fingerprint(in.signer),
			extraNameIDFormat: ar.NameIDFormat, extraApplication: in.application,
		},
	}
	if err := e.checkFreshness(ctx, in); err != nil {
		return req, err
	}
	if err := checkProfile(in); err != nil {
		return req, err
	}
	loa, err := ar.MinimumLoA()
	if err != nil {
		return req, bridge.Deny(bridge.StatusNoAuthnContext, "%v", err)
	}
	req.MinLoA = loa
	return req, e.readAttributes(in, req)
}

// checkFreshness applies the Destination, time-window and replay rules;
// failures get the error page, since they may not come from the SP at all.
func (e *Endpoint) checkFreshness(ctx context.Context, in *inbound) error {
	ar := in.req
	if ar.Destination != e.cfg.SSOURL {
		return fmt.Errorf("sp %s: Destination %q is not our SSO URL", in.sp.ID, ar.Destination)
	}
	return e.cfg.Guard.Check(ctx, DialectName, in.sp.ID, ar.ID, ar.IssueInstant)
}

// checkProfile applies what the Cl@ve 2.0 gateway or an eIDAS node demands
// of a request beyond its signature.
func checkProfile(in *inbound) error {
	ar := in.req
	switch {
	case ar.IsPassive:
		return bridge.Deny(bridge.StatusNoPassive, "IsPassive must be false")
	case !supportedNameIDFormat(ar.NameIDFormat):
		return bridge.Deny(bridge.StatusInvalidNameID, "NameID format %q is not supported", ar.NameIDFormat)
	case len(ar.Attributes) == 0:
		return bridge.Deny(bridge.StatusRequestDenied, "Extensions with RequestedAttributes are mandatory")
	}
	if in.sp.Profile == ProfileClave2 {
		if !ar.HasNameIDPolicy {
			return bridge.Deny(bridge.StatusInvalidNameID, "NameIDPolicy is mandatory in a Cl@ve 2.0 request")
		}
		return nil
	}
	if !ar.ForceAuthn {
		return bridge.Deny(bridge.StatusRequestDenied, "an eIDAS request must have ForceAuthn=\"true\"")
	}
	if (ar.SPType == "") == (in.sp.SPType == "") {
		return bridge.Deny(bridge.StatusRequestDenied, "SPType must be in exactly one of the request and the metadata")
	}
	if t := ar.SPType + in.sp.SPType; t != "public" && t != "private" {
		return bridge.Deny(bridge.StatusRequestDenied, "SPType %q is not public or private", t)
	}
	return nil
}

func supportedNameIDFormat(f string) bool {
	switch f {
	case "", eidasxml.NameIDUnspec, eidasxml.NameIDPersist, nameIDTransient:
		return true
	}
	return false
}

// readAttributes turns the requested attributes into canonical ones, the
// IdP-disable flags into hidden IdPs and keeps the RelayState attribute to
// echo. Unknown names are dropped and logged.
func (e *Endpoint) readAttributes(in *inbound, req *bridge.Request) error {
	sorted, err := in.req.Sort()
	if err != nil {
		return bridge.Deny(bridge.StatusInvalidAttr, "%v", err)
	}
	if len(sorted.Unknown) > 0 {
		e.cfg.Log.Info("unknown requested attributes dropped", zap.String("sp", in.sp.ID), zap.Strings("names", sorted.Unknown))
	}
	if len(sorted.Attributes) == 0 {
		return bridge.Deny(bridge.StatusRequestDenied, "none of the requested attributes is supported")
	}
	for _, a := range sorted.Attributes {
		req.Attributes = append(req.Attributes, bridge.RequestedAttr{Name: a.Attr, Required: a.Required})
		if a.Attr.IsLegalPerson() {
			req.LegalPerson = true
		}
	}
	if in.sp.Profile == ProfileClave2 {
		for _, a := range alwaysReturned {
			req.Attributes = append(req.Attributes, bridge.RequestedAttr{Name: a})
		}
	}
	req.DisabledIdPs = sorted.Disabled
	if sorted.HasRelay {
		req.Extra[extraHasRelayAttr], req.Extra[extraRelayAttr] = "true", sorted.RelayState
	}
	return nil
}
