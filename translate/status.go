package translate

// StatusCode is a dialect-neutral outcome of a login or a logout; each
// dialect maps it to its own status URIs.
type StatusCode string

// The outcomes a login or a logout can have.
const (
	StatusSuccess        StatusCode = "Success"
	StatusAuthnFailed    StatusCode = "AuthnFailed"    // the citizen did not authenticate (or cancelled)
	StatusRequestDenied  StatusCode = "RequestDenied"  // policy forbids what was asked
	StatusNoAuthnContext StatusCode = "NoAuthnContext" // the LoA cannot be met
	StatusInvalidAttr    StatusCode = "InvalidAttrNameOrValue"
	StatusResponder      StatusCode = "Responder" // an internal or upstream failure
	StatusNoPassive      StatusCode = "NoPassive" // passive authentication was asked for
	StatusInvalidNameID  StatusCode = "InvalidNameIDPolicy"
	// Logout outcomes.
	StatusPartialLogout    StatusCode = "PartialLogout"
	StatusUnknownPrincipal StatusCode = "UnknownPrincipal"
)
