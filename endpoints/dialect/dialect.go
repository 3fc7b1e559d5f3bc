// Package dialect is the contract between the bridge's wiring and its
// inbound dialects: what every dialect is given (Deps) and what it gives
// (a Plugin: its configuration rules and an Endpoint with its routes).
// Adding a dialect is a new package that exports a Plugin, plus one line
// in the wiring's list.
package dialect

import (
	"context"
	"errors"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// Deps are what the wiring gives every dialect.
type Deps struct {
	Flow     *flow.Flow
	Registry bridge.Registry
	// Signer signs with the bridge's key; dialects set Method per SP.
	Signer samlxml.Signer
	// BaseURL is the bridge's public URL, without a trailing slash.
	BaseURL string
	// Guard judges request age and replays.
	Guard bridge.RequestGuard
	// IdPMetadata returns our signed IdP metadata for an entityID and the
	// SSO and SLO URLs it names ("" when none).
	IdPMetadata func(entityID, ssoURL, sloURL string) ([]byte, error)
	// Clave2Certificates returns the trust document Cl@ve 2.0 kits fetch.
	Clave2Certificates func() ([]byte, error)
	Now                func() time.Time
	Rand               io.Reader
	Log                *zap.Logger
}

// Endpoint is a dialect at work: it renders answers for the flow and
// serves its routes.
type Endpoint interface {
	bridge.Dialect
	Routes() []web.Route
}

// Plugin is a dialect as the wiring sees it.
type Plugin struct {
	// Rules validate and complete the configuration of the dialect's SPs.
	Rules config.DialectRules
	// New builds the dialect's endpoint.
	New func(Deps) (Endpoint, error)
}

// Set is the configuration rules of plugins.
func Set(plugins []Plugin) config.DialectSet {
	rules := make([]config.DialectRules, len(plugins))
	for i, p := range plugins {
		rules[i] = p.Rules
	}
	return config.NewDialectSet(rules...)
}

// AuditRequest records an AuthnRequest a dialect verified and read: readErr
// is nil, or a refusal the SP is answered with (the answer's audit line
// carries its status). Requests refused on the error page are not SAML
// exchanges: their log line says why.
func AuditRequest(ctx context.Context, log *zap.Logger, dialect, spID, id string, req *bridge.Request, readErr error) {
	var denied *bridge.RequestDenied
	if readErr != nil && !errors.As(readErr, &denied) {
		return
	}
	r := audit.Record{Direction: audit.In, Dialect: dialect, Kind: audit.AuthnRequest, SP: spID, ID: id}
	if req != nil {
		r.LoA = req.MinLoA
	}
	audit.Log(ctx, log, r)
}
