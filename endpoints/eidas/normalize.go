package eidas

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/translate"
)

// requestState is what the endpoint keeps of a request for its answer
// (bridge.Request.State).
type requestState struct {
	Profile string `json:"profile,omitempty"`
	// Signer is the SHA-256 fingerprint of the certificate that verified
	// the request (a Cl@ve 2.0 kit's assertion is encrypted to it).
	Signer       string `json:"signer_sha256,omitempty"`
	NameIDFormat string `json:"nameid_format,omitempty"`
	Application  string `json:"application,omitempty"` // Cl@ve 2.0: ProviderName after ';'
	// HasRelayAttr: the request carried the Cl@ve RelayState attribute,
	// whose value RelayAttr the answer echoes.
	HasRelayAttr bool   `json:"has_relay_attribute,omitempty"`
	RelayAttr    string `json:"relay_attribute,omitempty"`
}

const nameIDTransient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

// alwaysReturned are the attributes the Cl@ve 2.0 gateway sends without
// being asked; Cl@ve kits expect them.
var alwaysReturned = []translate.Attr{translate.AttrSelectedIdP, translate.AttrFirstSurname}

// normalize applies the profile's rules and builds the canonical request.
// Refusals the SP must be told come back as *bridge.RequestDenied with the
// partial request, whose State is set all the same: the denial is rendered
// from it.
func (e *Endpoint) normalize(ctx context.Context, in *inbound) (*bridge.Request, error) {
	ar := in.req
	req := &bridge.Request{
		SP: in.sp.ID, Dialect: DialectName, ID: ar.ID, ReturnURL: in.acs.URL, RelayState: in.relayState,
		ForceAuthn: ar.ForceAuthn,
	}
	st := requestState{
		Profile: in.sp.Profile, Signer: fingerprint(in.signer), NameIDFormat: ar.NameIDFormat, Application: in.application,
	}
	err := e.fill(ctx, in, req, &st)
	state, encErr := bridge.EncodeState(st)
	if encErr != nil {
		return req, encErr
	}
	req.State = state
	return req, err
}

// fill applies the rules to req and st.
func (e *Endpoint) fill(ctx context.Context, in *inbound, req *bridge.Request, st *requestState) error {
	if err := e.checkFreshness(ctx, in); err != nil {
		return err
	}
	if err := checkProfile(in); err != nil {
		return err
	}
	loa, err := in.req.MinimumLoA()
	if err != nil {
		return bridge.Deny(bridge.StatusNoAuthnContext, "%v", err)
	}
	req.MinLoA = loa
	return e.readAttributes(ctx, in, req, st)
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
	case "", clave2msg.NameIDUnspec, clave2msg.NameIDPersist, nameIDTransient:
		return true
	}
	return false
}

// readAttributes turns the requested attributes into canonical ones, the
// IdP-disable flags into hidden IdPs and keeps the RelayState attribute to
// echo. Unknown names are dropped and logged.
func (e *Endpoint) readAttributes(ctx context.Context, in *inbound, req *bridge.Request, st *requestState) error {
	sorted, err := in.req.Sort()
	if err != nil {
		return bridge.Deny(bridge.StatusInvalidAttr, "%v", err)
	}
	if len(sorted.Unknown) > 0 {
		trace.Logger(ctx, e.cfg.Log).Info("unknown requested attributes dropped", zap.String("sp", in.sp.ID), zap.Strings("names", sorted.Unknown))
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
		st.HasRelayAttr, st.RelayAttr = true, sorted.RelayState
	}
	return nil
}
