// Package stork is the Cl@ve 1 (STORK 1.0) inbound endpoint: it accepts
// the requests legacy Cl@ve 1 kits send to the old gateway path
// (/Proxy/ServiceProvider) and answers exactly as the Cl@ve 1 gateway did,
// so that those SPs only change the host they post to and the certificate
// they trust.
package stork

import (
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// DialectName is the dialect key of SPs served by this endpoint.
const DialectName = "stork"

// SSOPath is the Cl@ve 1 gateway's SSO path.
const SSOPath = "/Proxy/ServiceProvider"

// Config is what the endpoint needs.
type Config struct {
	Flow     *bridge.Flow
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

// Endpoint serves /Proxy/ServiceProvider.
type Endpoint struct {
	cfg Config
}

// New returns the endpoint with defaults filled in.
func New(cfg Config) *Endpoint {
	if cfg.AssertionLifetime == 0 {
		cfg.AssertionLifetime = 5 * time.Minute // the STORK engine's default
	}
	return &Endpoint{cfg: cfg}
}

// Name is the dialect this endpoint renders.
func (e *Endpoint) Name() string { return DialectName }

// Mount registers the endpoint's routes: POST as the kits send, and the
// Redirect binding for SPs that can use it; single logout by POST only.
func (e *Endpoint) Mount(ec *echo.Echo) {
	ec.POST(SSOPath, e.handleSSO)
	ec.GET(SSOPath, e.handleSSO)
	ec.POST(LogoutPath, e.handleLogout)
}

// handleSSO reads, verifies and normalises a STORK request and starts the
// login; refusals go back to the SP as a STORK status, and only requests
// whose SP cannot be identified or trusted get the error page.
func (e *Endpoint) handleSSO(c echo.Context) error {
	in, err := e.readRequest(c)
	if err != nil {
		return bridge.ErrorPage(c, e.cfg.Log, http.StatusBadRequest, "The authentication request is not valid.", err)
	}
	req, err := e.normalize(c.Request().Context(), in)
	return e.cfg.Flow.Start(c, in.sp, req, err)
}
