package stork

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/translate"
)

// requestState is what the endpoint keeps of a request (as its
// bridge.Request's State) to render the answer.
type requestState struct {
	// Issuer is the request's Issuer: the answer's Audience.
	Issuer string `json:"issuer"`
	// Attributes are the requested STORK attributes, in request order: the
	// answer lists each, Available or NotAvailable.
	Attributes []RequestedAttribute `json:"attributes,omitempty"`
	// AllowLegalPerson: the SP sent allowLegalPerson=true, and gets the
	// isLegalPerson and oid fields.
	AllowLegalPerson bool `json:"allow_legal_person,omitempty"`
}

// implicitAttributes are asked upstream for every Cl@ve 1 SP: the first
// surname for the surname split, SelectedIdP for the Issuer, and
// PartialAfirma for isdnie and the legal-person certificate OID.
var implicitAttributes = []translate.Attr{translate.AttrFirstSurname, translate.AttrSelectedIdP, translate.AttrPartialAfirma}

// normalize applies the gateway's rules and builds the canonical request.
func (e *Endpoint) normalize(ctx context.Context, in *inbound) (*bridge.Request, error) {
	ar := in.req
	state, err := bridge.EncodeState(requestState{Issuer: ar.Issuer, Attributes: ar.Attributes, AllowLegalPerson: in.params.AllowLegalPerson})
	if err != nil {
		return nil, err
	}
	// The state is set before any check: a refusal is rendered from it.
	req := &bridge.Request{
		SP: in.sp.ID, Dialect: DialectName, ID: ar.ID, ReturnURL: ar.ACS, RelayState: in.params.RelayState,
		ForceAuthn: ar.ForceAuthn, LegalPerson: in.params.AllowLegalPerson, DisabledIdPs: in.params.Disabled(),
		State: state,
	}
	if err := e.checkFreshness(ctx, in); err != nil {
		return req, err
	}
	if ar.IsPassive {
		return req, bridge.Deny(bridge.StatusRequestDenied, "IsPassive must be false")
	}
	if req.MinLoA, err = translate.LoAFromQAA(ar.QAA); err != nil {
		return req, bridge.Deny(bridge.StatusNoAuthnContext, "%v", err)
	}
	if ar.QAA == "1" {
		trace.Logger(ctx, e.cfg.Log).Info("QAA 1 served as eIDAS low", zap.String("sp", in.sp.ID))
	}
	req.Attributes = canonicalAttributes(ar.Attributes)
	return req, nil
}

// canonicalAttributes maps the STORK names that have a canonical attribute
// (eIdentifier, givenName, surname, inheritedFamilyName, afirmaResponse,
// usedIdP, dateOfBirth, eMail) and adds the implicit ones; names derived at
// answer time (isdnie, citizenQAALevel, …) or unknown to Cl@ve 2.0 are
// answered NotAvailable or, if required, refused then.
func canonicalAttributes(requested []RequestedAttribute) []bridge.RequestedAttr {
	var out []bridge.RequestedAttr
	for _, a := range requested {
		if attr, ok := translate.AttrFromStork(a.Name); ok {
			out = append(out, bridge.RequestedAttr{Name: attr, Required: a.Required && !isLegalCompatible(a.Name)})
		}
	}
	for _, a := range implicitAttributes {
		out = append(out, bridge.RequestedAttr{Name: a})
	}
	return out
}

// isLegalCompatible names the attributes a legal-person certificate fills
// with the legal person's data; their requiredness is checked at answer time.
func isLegalCompatible(storkName string) bool {
	return storkName == "eIdentifier" || storkName == "givenName"
}

// checkFreshness applies the Destination, time-window and replay rules.
func (e *Endpoint) checkFreshness(ctx context.Context, in *inbound) error {
	ar := in.req
	if ar.Destination != e.cfg.SSOURL { // every Cl@ve 1 kit sets it; a request for another gateway is refused
		return fmt.Errorf("sp %s: Destination %q is not our SSO URL", in.sp.ID, ar.Destination)
	}
	return e.cfg.Guard.Check(ctx, DialectName, in.sp.ID, ar.ID, ar.IssueInstant)
}
