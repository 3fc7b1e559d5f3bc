// Package bridge is the canonical model every dialect is normalised into:
// the login Request, its Result, the registered ServiceProvider with its
// Policy, the messages to send (Outgoing) and the interfaces through which
// the core asks the dialects (Dialect, LogoutDialect) and the SP registry.
// It knows no HTTP and no dialect's wire format.
package bridge

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
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
	// State is the dialect's own data about the request, which it needs to
	// render its answer (the Audience, a NameID format, echoed values):
	// typed by the dialect, opaque to the core (see EncodeState).
	State json.RawMessage `json:"state,omitempty"`
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

// StatusCode is a dialect-neutral outcome; each dialect maps it to its own
// status URIs.
type StatusCode = translate.StatusCode

// The outcomes a login or a logout can have.
const (
	StatusSuccess          = translate.StatusSuccess
	StatusAuthnFailed      = translate.StatusAuthnFailed
	StatusRequestDenied    = translate.StatusRequestDenied
	StatusNoAuthnContext   = translate.StatusNoAuthnContext
	StatusInvalidAttr      = translate.StatusInvalidAttr
	StatusResponder        = translate.StatusResponder
	StatusNoPassive        = translate.StatusNoPassive
	StatusInvalidNameID    = translate.StatusInvalidNameID
	StatusPartialLogout    = translate.StatusPartialLogout
	StatusUnknownPrincipal = translate.StatusUnknownPrincipal
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
	Status Status `json:"status"`
	LoA    LoA    `json:"loa,omitempty"`
	IdP    IdP    `json:"idp,omitempty"`
	// Subject is the PersonIdentifier, ES/ES/<id>. In the result an SP's
	// dialect renders it is kept only when the SP's policy releases the
	// PersonIdentifier (Policy.Release clears it otherwise).
	Subject      string    `json:"subject,omitempty"`
	LegalPerson  bool      `json:"legal_person,omitempty"`
	AuthnInstant time.Time `json:"authn_instant,omitempty"`
	// SessionIndex names the SSO session towards the SP being answered, and
	// TransientNameID is the NameID it gets when it asked for a transient one.
	SessionIndex    string `json:"session_index,omitempty"`
	TransientNameID string `json:"transient_name_id,omitempty"`
	// PersistentNameID is the persistent NameID of the SP being answered:
	// the Subject when its policy releases the PersonIdentifier, otherwise
	// its pairwise identifier (stable for that SP, unlinkable across SPs);
	// "" when neither can be given (no pairwise secret), and then a dialect
	// must refuse a persistent NameID rather than fall back to the Subject.
	PersistentNameID string      `json:"persistent_name_id,omitempty"`
	Attributes       []Attribute `json:"attributes,omitempty"`
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

// Participant is an SP that received an assertion from an SSO session:
// what single logout needs to tell it that the session ended.
type Participant struct {
	SP              string `json:"sp"`
	Dialect         string `json:"dialect"`
	SessionIndex    string `json:"session_index,omitempty"`
	TransientNameID string `json:"transient_name_id,omitempty"`
	// Subject is the persistent NameID the SP was given
	// (Result.PersistentNameID): the PersonIdentifier only when its policy
	// releases it, its pairwise identifier otherwise.
	Subject string `json:"subject,omitempty"`
	// State is the dialect's data of the request it answered (for
	// example the NameID format the SP asked for).
	State json.RawMessage `json:"state,omitempty"`
	At    time.Time       `json:"at"`
}

// LogoutInitiator is the SP whose LogoutRequest started a single logout,
// with what its dialect needs to answer it.
type LogoutInitiator struct {
	SP         string `json:"sp"`
	Dialect    string `json:"dialect"`
	RequestID  string `json:"request_id"`
	RelayState string `json:"relay_state,omitempty"`
	// ReturnURL is where the answer goes when the dialect's request names
	// it (Cl@ve: the verified Issuer, a registered logout URL); "" means
	// the SP's registered logout endpoint.
	ReturnURL string `json:"return_url,omitempty"`
}

// Outgoing is a message the browser must carry somewhere: to the gateway
// or back to an SP.
type Outgoing struct {
	URL    string
	Fields []samlxml.Field
	// Redirect, when set, is sent as a redirect instead of a POST form
	// (the HTTP-Redirect binding).
	Redirect string
}

// EncodeState marshals a dialect's typed request data for Request.State.
func EncodeState(v any) (json.RawMessage, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode dialect state: %w", err)
	}
	return data, nil
}

// DecodeState reads a dialect's typed data back from Request.State (or
// Participant.State); empty state leaves v as it is.
func DecodeState(state json.RawMessage, v any) error {
	if len(state) == 0 {
		return nil
	}
	if err := json.Unmarshal(state, v); err != nil {
		return fmt.Errorf("decode dialect state: %w", err)
	}
	return nil
}
