// Package stork is the Cl@ve 1 (STORK 1.0) dialect. It accepts the
// requests legacy Cl@ve 1 kits send to the old gateway path
// (/Proxy/ServiceProvider) and answers exactly as the Cl@ve 1 gateway did,
// so that those SPs only change the host they post to and the certificate
// they trust.
//
// The package owns the Cl@ve 1 wire: reading the POST and Redirect
// bindings and their extra parameters, identifying the SP by ProviderName
// and verifying its signature, normalising the STORK request into a
// bridge.Request (keeping what the answer needs as the request's typed
// state), rendering the STORK answer, single logout at /Proxy/LogoutAction
// (the Cl@ve logout shared with Cl@ve 2.0, in Cl@ve 1 form), and the
// configuration rules of its SPs (Rules). It knows no HTTP: its routes
// take web.Inputs and return the flow's replies.
package stork

import (
	"context"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
	"github.com/clavebridge/clavebridge/endpoints/internal/clavelogout"
)

// DialectName is the dialect key of SPs served by this endpoint.
const DialectName = "stork"

// SSOPath is the Cl@ve 1 gateway's SSO path.
const SSOPath = "/Proxy/ServiceProvider"

// Plugin is the Cl@ve 1 dialect as the wiring sees it.
var Plugin = dialect.Plugin{Rules: Rules{}, New: newFromDeps}

// newFromDeps builds the endpoint from what the wiring gives every
// dialect; it registers nothing itself.
func newFromDeps(d dialect.Deps) (dialect.Endpoint, error) {
	return New(Config{
		Flow: d.Flow, Registry: d.Registry, Guard: d.Guard, Signer: d.Signer, SSOURL: d.BaseURL + SSOPath,
		Now: d.Now, Rand: d.Rand, Log: d.Log,
	}), nil
}

// Config is what the endpoint needs.
type Config struct {
	Flow     *flow.Flow
	Registry bridge.Registry
	// Signer signs responses and assertions; Method is chosen per SP.
	Signer samlxml.Signer
	SSOURL string // our /Proxy/ServiceProvider
	// Guard judges request age and replays.
	Guard             bridge.RequestGuard
	AssertionLifetime time.Duration
	Now               func() time.Time
	Rand              io.Reader
	Log               *zap.Logger
}

// Endpoint serves /Proxy/ServiceProvider and /Proxy/LogoutAction.
type Endpoint struct {
	cfg    Config
	logout *clavelogout.Logout
}

var _ dialect.Endpoint = (*Endpoint)(nil)

// New returns the endpoint with defaults filled in.
func New(cfg Config) *Endpoint {
	if cfg.AssertionLifetime == 0 {
		cfg.AssertionLifetime = 5 * time.Minute // the STORK engine's default
	}
	e := &Endpoint{cfg: cfg}
	e.logout = e.newLogout()
	return e
}

// Name is the dialect this endpoint renders.
func (e *Endpoint) Name() string { return DialectName }

// Routes are the endpoint's routes: POST as the kits send, and the
// Redirect binding for SPs that can use it; single logout by POST only.
func (e *Endpoint) Routes() []web.Route {
	return []web.Route{
		{Method: http.MethodPost, Path: SSOPath, Handle: e.handleSSO},
		{Method: http.MethodGet, Path: SSOPath, Handle: e.handleSSO},
		{Method: http.MethodPost, Path: LogoutPath, Handle: e.logout.Handle},
	}
}

// handleSSO reads, verifies and normalises a STORK request and starts the
// login; refusals go back to the SP as a STORK status, and only requests
// whose SP cannot be identified or trusted get the error page.
func (e *Endpoint) handleSSO(ctx context.Context, in *web.Input) (flow.Reply, error) {
	msg, err := e.readRequest(in)
	if err != nil {
		return flow.Reply{}, bridge.Invalid("The authentication request is not valid.", err)
	}
	req, err := e.normalize(ctx, msg)
	e.auditRequest(ctx, msg.sp, msg.req.ID, req, err)
	return e.cfg.Flow.Start(ctx, in.Browser, msg.sp, req, err)
}
