// Package audit writes the bridge's audit log, as an eIDAS node keeps one:
// a line for every SAML message that comes in or goes out, on any leg (an
// SP's dialect or the gateway), with what an operator needs to follow a
// login or a logout across the legs (direction, dialect, SP, kind, message
// ID, InResponseTo, status, level of assurance, identity provider) and the
// trace id of the login it belongs to. It records messages, never people:
// no NameID, no subject, no attribute, no XML.
//
// Messages are recorded once they can be trusted to be what they claim:
// an incoming one after its signature (where one is required) has been
// verified, an outgoing one once it has been built. What the bridge then
// decides about a message is on the other log lines of the same trace id.
package audit

import (
	"context"
	"strings"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/translate"
)

// LoggerName names the audit lines' logger ("logger":"audit" in JSON).
const LoggerName = "audit"

// Message is the message of every audit line.
const Message = "saml message"

// Direction is in (received by the bridge) or out (sent by it).
type Direction string

// The directions.
const (
	In  Direction = "in"
	Out Direction = "out"
)

// Kind is the SAML message's kind.
type Kind string

// The kinds of message the bridge exchanges.
const (
	AuthnRequest   Kind = "AuthnRequest"
	Response       Kind = "Response"
	LogoutRequest  Kind = "LogoutRequest"
	LogoutResponse Kind = "LogoutResponse"
)

// Upstream is the dialect of the gateway leg (the Cl@ve 2.0 gateway or the
// simulator); the SPs' legs carry their dialect's name (saml2, eidas,
// stork).
const Upstream = "upstream"

// The fields of an audit line.
const (
	FieldDirection    = "direction"
	FieldDialect      = "dialect"
	FieldKind         = "kind"
	FieldSP           = "sp"
	FieldID           = "message_id"
	FieldInResponseTo = "in_response_to"
	FieldStatus       = "status"
	FieldLoA          = "loa"
	FieldIdP          = "idp"
)

// Record is one SAML message as the audit log keeps it. Empty fields are
// left off the line.
type Record struct {
	Direction Direction
	Dialect   string
	Kind      Kind
	// SP is the configured id of the SP the message is from or for ("" on
	// the gateway leg before the login it belongs to is known).
	SP           string
	ID           string
	InResponseTo string
	// Status is a response's status as on the wire (see Status).
	Status string
	// LoA is the level of assurance: the minimum asked for by an
	// AuthnRequest, the level reached by a successful Response.
	LoA translate.LoA
	// IdP is the identity provider of a successful Response.
	IdP translate.IdP
}

// Log writes r to log's audit logger with ctx's trace id, and notes r's SP
// on ctx's request for its access log line. A nil log writes nothing.
func Log(ctx context.Context, log *zap.Logger, r Record) {
	trace.NoteSP(ctx, r.SP)
	if log == nil {
		return
	}
	trace.Logger(ctx, log.Named(LoggerName)).Info(Message, r.Fields()...)
}

// Fields are r's log fields.
func (r Record) Fields() []zap.Field {
	fields := []zap.Field{
		zap.String(FieldDirection, string(r.Direction)),
		zap.String(FieldDialect, r.Dialect),
		zap.String(FieldKind, string(r.Kind)),
	}
	add := func(key, value string) {
		if value != "" {
			fields = append(fields, zap.String(key, value))
		}
	}
	add(FieldSP, r.SP)
	add(FieldID, r.ID)
	add(FieldInResponseTo, r.InResponseTo)
	add(FieldStatus, r.Status)
	if r.LoA.Valid() {
		add(FieldLoA, r.LoA.String())
	}
	add(FieldIdP, string(r.IdP))
	return fields
}

// Status names a SAML status for the audit line by the last segment of
// its top-level code and, when there is one, of its second-level code:
// "Success", "Responder/AuthnFailed", "Success/PartialLogout",
// "Responder/QAANotSupported" (STORK).
func Status(code, subCode string) string {
	s := lastSegment(code)
	if sub := lastSegment(subCode); sub != "" {
		s += "/" + sub
	}
	return s
}

// lastSegment is what follows the last ':' or '/' of a status URI.
func lastSegment(uri string) string {
	return uri[strings.LastIndexAny(uri, ":/")+1:]
}
