// Package saml2 is the plain SAML 2.0 Web Browser SSO endpoint: it acts as
// an identity provider towards standard SAML2 service providers (Redirect
// and POST bindings in, POST out) and publishes the bridge's IdP metadata.
package saml2

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
const DialectName = "saml2"

// Config is what the endpoint needs.
type Config struct {
	Flow     *bridge.Flow
	Registry bridge.Registry
	// Signer signs our responses; its Method is overridden per SP.
	Signer   samlxml.Signer
	EntityID string // our IdP entityID (the metadata URL)
	SSOURL   string // our /saml2/sso
	SLOURL   string // our /saml2/slo
	// Metadata returns our signed IdP metadata.
	Metadata func() ([]byte, error)
	// Guard judges request age and replays.
	Guard             bridge.RequestGuard
	AssertionLifetime time.Duration
	Now               func() time.Time
	Rand              io.Reader
	Log               *zap.Logger
}

// Endpoint serves /saml2/*.
type Endpoint struct {
	cfg Config
}

// New returns the endpoint with defaults filled in.
func New(cfg Config) *Endpoint {
	if cfg.AssertionLifetime == 0 {
		cfg.AssertionLifetime = 5 * time.Minute
	}
	return &Endpoint{cfg: cfg}
}

// Name is the dialect this endpoint renders.
func (e *Endpoint) Name() string { return DialectName }

// Mount registers the endpoint's routes.
func (e *Endpoint) Mount(ec *echo.Echo) {
	ec.GET("/saml2/sso", e.handleSSO)
	ec.POST("/saml2/sso", e.handleSSO)
	ec.GET(SLOPath, e.handleSLO)
	ec.POST(SLOPath, e.handleSLO)
	ec.GET("/saml2/metadata", e.handleMetadata)
}

func (e *Endpoint) handleMetadata(c echo.Context) error {
	md, err := e.cfg.Metadata()
	if err != nil {
		return bridge.ErrorPage(c, e.cfg.Log, http.StatusInternalServerError, "Metadata is not available.", err)
	}
	return c.Blob(http.StatusOK, "application/samlmetadata+xml", md)
}

// handleSSO reads, verifies and normalises an AuthnRequest and starts the
// login; refusals go back to the SP as a SAML status when its registered ACS
// is known, otherwise to an error page.
func (e *Endpoint) handleSSO(c echo.Context) error {
	in, err := e.readRequest(c)
	if err != nil {
		return bridge.ErrorPage(c, e.cfg.Log, http.StatusBadRequest, "The authentication request is not valid.", err)
	}
	req, err := e.normalize(c.Request().Context(), in)
	return e.cfg.Flow.Start(c, in.sp, req, err)
}
