package eidas

import (
	"context"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
)

// audit writes r, a message of this dialect, to the audit log.
func (e *Endpoint) audit(ctx context.Context, r audit.Record) {
	r.Dialect = DialectName
	audit.Log(ctx, e.cfg.Log, r)
}

// auditRequest records a verified AuthnRequest (see dialect.AuditRequest).
func (e *Endpoint) auditRequest(ctx context.Context, sp *bridge.ServiceProvider, id string, req *bridge.Request, readErr error) {
	dialect.AuditRequest(ctx, e.cfg.Log, DialectName, sp.ID, id, req, readErr)
}
