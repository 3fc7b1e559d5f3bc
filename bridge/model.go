// Package bridge holds the canonical model every dialect is normalised into
// (Request, Result), the per-SP policy, the configuration types and the login
// Flow that ties an inbound endpoint to the upstream Cl@ve 2.0 connector.
package bridge

import (
	"time"

	"github.com/clavebridge/clavebridge/translate"
)

// Canonical vocabulary, defined in translate so that it stays import-free.
type (
	LoA  = translate.LoA
	IdP  = translate.IdP
	Attr = translate.Attr
)

// RequestedAttr is one attribute an SP asks for.
type RequestedAttr struct {
	Name     Attr `json:"name"`
	Required bool `json:"required,omitempty"`
}

// Request is an SP's login request in canonical terms. Endpoints build it
// after verifying the SP's signature; Flow applies the SP's policy to it.
type Request struct {
	SP           string          `json:"sp"`         // registry identifier of the SP
	Dialect      string          `json:"dialect"`    // endpoint that renders the answer
	ID           string          `json:"id"`         // the SP's request ID (InResponseTo)
	ReturnURL    string          `json:"return_url"` // registered ACS URL to answer to
	RelayState   string          `json:"relay_state,omitempty"`
	Attributes   []RequestedAttr `json:"attributes,omitempty"`
	MinLoA       LoA             `json:"min_loa"`
	DisabledIdPs []IdP           `json:"disabled_idps,omitempty"`
	LegalPerson  bool            `json:"legal_person,omitempty"`
	ForceAuthn   bool            `json:"force_authn,omitempty"`
	// Extra carries dialect-specific values the endpoint needs to render its
	// answer (e.g. the SP's Issuer for the Audience, a NameID format).
	Extra map[string]string `json:"extra,omitempty"`
}

// IdPDisabled reports whether the request hides p.
func (r *Request) IdPDisabled(p IdP) bool {
	for _, d := range r.DisabledIdPs {
		if d == p {
			return true
		}
	}
	return false
}

// StatusCode is a dialect-neutral outcome; each endpoint maps it to its own
// status URIs.
type StatusCode string

// The outcomes a login can have.
const (
	StatusSuccess        StatusCode = "Success"
	StatusAuthnFailed    StatusCode = "AuthnFailed"    // the citizen did not authenticate (or cancelled)
	StatusRequestDenied  StatusCode = "RequestDenied"  // policy forbids what was asked
	StatusNoAuthnContext StatusCode = "NoAuthnContext" // the LoA cannot be met
	StatusInvalidAttr    StatusCode = "InvalidAttrNameOrValue"
	StatusResponder      StatusCode = "Responder" // an internal or upstream failure
	StatusNoPassive      StatusCode = "NoPassive" // passive authentication was asked for
	StatusInvalidNameID  StatusCode = "InvalidNameIDPolicy"
)

// Status is the outcome of a login with a human-readable message.
type Status struct {
	Code    StatusCode `json:"code"`
	Message string     `json:"message,omitempty"`
}

// OK reports a successful login.
func (s Status) OK() bool { return s.Code == StatusSuccess }

// Attribute is one released attribute with its values.
type Attribute struct {
	Name   Attr     `json:"name"`
	Values []string `json:"values"`
}

// Result is the outcome of an upstream authentication in canonical terms.
type Result struct {
	Status       Status    `json:"status"`
	LoA          LoA       `json:"loa,omitempty"`
	IdP          IdP       `json:"idp,omitempty"`
	Subject      string    `json:"subject,omitempty"` // the PersonIdentifier, ES/ES/<id>
	LegalPerson  bool      `json:"legal_person,omitempty"`
	AuthnInstant time.Time `json:"authn_instant,omitempty"`
	// SessionIndex names the SSO session towards the SP being answered, and
	// TransientNameID is the NameID it gets when it asked for a transient one.
	SessionIndex    string      `json:"session_index,omitempty"`
	TransientNameID string      `json:"transient_name_id,omitempty"`
	Attributes      []Attribute `json:"attributes,omitempty"`
}

// Value returns the first value of attribute a, or "".
func (r *Result) Value(a Attr) string {
	for _, at := range r.Attributes {
		if at.Name == a && len(at.Values) > 0 {
			return at.Values[0]
		}
	}
	return ""
}

// Failure builds a failed Result.
func Failure(code StatusCode, message string) Result {
	return Result{Status: Status{Code: code, Message: message}}
}
