package eidas

import (
	"context"
	"errors"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
)

// audit writes r, a message of this dialect, to the audit log.
func (e *Endpoint) audit(ctx context.Context, r audit.Record) {
	r.Dialect = DialectName
	audit.Log(ctx, e.cfg.Log, r)
}

// auditRequest records a verified AuthnRequest (id, from sp) that reading
// accepted: readErr is nil, or a refusal the SP is answered with (the
// answer's audit line carries its status). Requests refused on the error
// page are not SAML exchanges: their log line says why.
func (e *Endpoint) auditRequest(ctx context.Context, sp *bridge.ServiceProvider, id string, req *bridge.Request, readErr error) {
	var denied *bridge.RequestDenied
	if readErr != nil && !errors.As(readErr, &denied) {
		return
	}
	r := audit.Record{Direction: audit.In, Kind: audit.AuthnRequest, SP: sp.ID, ID: id}
	if req != nil {
		r.LoA = req.MinLoA
	}
	e.audit(ctx, r)
}
