package eidasxml

import "github.com/clavebridge/clavebridge/bridge"

// statusCodes maps canonical outcomes to SAML top-level and second-level codes.
var statusCodes = map[bridge.StatusCode][2]string{
	bridge.StatusSuccess:        {StatusSuccess, ""},
	bridge.StatusAuthnFailed:    {StatusResponder, StatusAuthnFailed},
	bridge.StatusRequestDenied:  {StatusRequester, StatusRequestDenied},
	bridge.StatusNoAuthnContext: {StatusRequester, StatusNoAuthnContext},
	bridge.StatusInvalidAttr:    {StatusRequester, StatusInvalidAttr},
	bridge.StatusResponder:      {StatusResponder, ""},
	bridge.StatusNoPassive:      {StatusResponder, StatusNoPassive},
	bridge.StatusInvalidNameID:  {StatusRequester, StatusInvalidNameIDPolicy},
}

// StatusOf is the SAML status of a canonical outcome; unknown outcomes are
// Responder failures.
func StatusOf(s bridge.Status) Status {
	codes, ok := statusCodes[s.Code]
	if !ok {
		codes = statusCodes[bridge.StatusResponder]
	}
	return Status{Code: codes[0], SubCode: codes[1], Message: s.Message}
}

// subStatuses maps second-level codes back to canonical outcomes.
var subStatuses = map[string]bridge.StatusCode{
	StatusAuthnFailed:         bridge.StatusAuthnFailed,
	StatusRequestDenied:       bridge.StatusRequestDenied,
	StatusNoAuthnContext:      bridge.StatusNoAuthnContext,
	StatusInvalidAttr:         bridge.StatusInvalidAttr,
	StatusNoPassive:           bridge.StatusNoPassive,
	StatusInvalidNameIDPolicy: bridge.StatusInvalidNameID,
}

// CanonicalStatus reads a SAML error status: its second-level code, or a
// Responder failure when there is none we know.
func CanonicalStatus(s Status) bridge.Status {
	code, ok := subStatuses[s.SubCode]
	if !ok {
		code = bridge.StatusResponder
	}
	return bridge.Status{Code: code, Message: s.Message}
}
