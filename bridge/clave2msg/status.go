package clave2msg

import "github.com/clavebridge/clavebridge/translate"

// statusCodes maps canonical outcomes to SAML top-level and second-level codes.
var statusCodes = map[translate.StatusCode][2]string{
	translate.StatusSuccess:        {StatusSuccess, ""},
	translate.StatusAuthnFailed:    {StatusResponder, StatusAuthnFailed},
	translate.StatusRequestDenied:  {StatusRequester, StatusRequestDenied},
	translate.StatusNoAuthnContext: {StatusRequester, StatusNoAuthnContext},
	translate.StatusInvalidAttr:    {StatusRequester, StatusInvalidAttr},
	translate.StatusResponder:      {StatusResponder, ""},
	translate.StatusNoPassive:      {StatusResponder, StatusNoPassive},
	translate.StatusInvalidNameID:  {StatusRequester, StatusInvalidNameIDPolicy},
}

// StatusOf is the SAML status of a canonical outcome; unknown outcomes are
// Responder failures.
func StatusOf(code translate.StatusCode, message string) Status {
	codes, ok := statusCodes[code]
	if !ok {
		codes = statusCodes[translate.StatusResponder]
	}
	return Status{Code: codes[0], SubCode: codes[1], Message: message}
}

// subStatuses maps second-level codes back to canonical outcomes.
var subStatuses = map[string]translate.StatusCode{
	StatusAuthnFailed:         translate.StatusAuthnFailed,
	StatusRequestDenied:       translate.StatusRequestDenied,
	StatusNoAuthnContext:      translate.StatusNoAuthnContext,
	StatusInvalidAttr:         translate.StatusInvalidAttr,
	StatusNoPassive:           translate.StatusNoPassive,
	StatusInvalidNameIDPolicy: translate.StatusInvalidNameID,
}

// CanonicalStatus reads a SAML error status: its second-level code, or a
// Responder failure when there is none we know.
func CanonicalStatus(s Status) translate.StatusCode {
	code, ok := subStatuses[s.SubCode]
	if !ok {
		code = translate.StatusResponder
	}
	return code
}

// LogoutStatus is the SAML status of a logout outcome: a partial logout is
// a Success with the second-level PartialLogout; a refusal is Requester
// with UnknownPrincipal or RequestDenied.
func LogoutStatus(code translate.StatusCode, message string) Status {
	switch code {
	case translate.StatusPartialLogout:
		return Status{Code: StatusSuccess, SubCode: StatusPartialLogout, Message: message}
	case translate.StatusUnknownPrincipal:
		return Status{Code: StatusRequester, SubCode: StatusPrefix + "UnknownPrincipal", Message: message}
	}
	return StatusOf(code, message)
}
