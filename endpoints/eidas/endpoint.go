// Package eidas is the Cl@ve 2 inbound endpoint: it acts as the Cl@ve 2.0
// gateway (/Proxy2/ServiceProvider) towards SPs built with the Cl@ve 2.0
// kits (metadata-less, identified by ProviderName) and towards eIDAS-profile
// SPs (identified by their signed metadata), and answers them with signed
// responses carrying encrypted assertions.
package eidas

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
const DialectName = "eidas"

// SP profiles of this dialect.
const (
	ProfileClave2 = "clave2"
	ProfileEIDAS  = "eidas"
)

// Paths of the gateway this endpoint stands in for.
const (
	SSOPath          = "/Proxy2/ServiceProvider"
	MetadataPath     = "/Proxy2/metadata"
	CertificatesPath = "/Proxy2/Certificates"
)

// Config is what the endpoint needs.
type Config struct {
	Flow     *bridge.Flow
	Registry bridge.Registry
	// Signer signs our responses; its Method is chosen per SP.
	Signer   samlxml.Signer
	EntityID string // our Issuer (the metadata URL)
	SSOURL   string // our /Proxy2/ServiceProvider
	// Metadata returns our signed IdP metadata; Certificates the Cl@ve 2.0
	// kit's trust document.
	Metadata     func() ([]byte, error)
	Certificates func() ([]byte, error)
	// Guard judges request age and replays.
	Guard             bridge.RequestGuard
	AssertionLifetime time.Duration
	Now               func() time.Time
	Rand              io.Reader
	Log               *zap.Logger
}

// Endpoint serves /Proxy2/*.
type Endpoint struct {
	cfg Config
}

// New returns the endpoint with defaults filled in.
func New(cfg Config) *Endpoint {
	if cfg.AssertionLifetime == 0 {
		cfg.AssertionLifetime = 5 * time.Minute // the eIDAS and Cl@ve timeNotOnOrAfter
	}
	return &Endpoint{cfg: cfg}
}

// Name is the dialect this endpoint renders.
func (e *Endpoint) Name() string { return DialectName }

// Mount registers the endpoint's routes.
func (e *Endpoint) Mount(ec *echo.Echo) {
	ec.GET(SSOPath, e.handleSSO)
	ec.POST(SSOPath, e.handleSSO)
	ec.GET(MetadataPath, e.serve(e.cfg.Metadata, "application/samlmetadata+xml"))
	ec.GET(CertificatesPath, e.serve(e.cfg.Certificates, "application/xml"))
}

func (e *Endpoint) serve(doc func() ([]byte, error), contentType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		data, err := doc()
		if err != nil {
			return bridge.ErrorPage(c, e.cfg.Log, http.StatusInternalServerError, "The document is not available.", err)
		}
		return c.Blob(http.StatusOK, contentType, data)
	}
}

// handleSSO reads and verifies an AuthnRequest, identifies its SP and
// starts the login; refusals go back to the SP's registered ACS as a SAML
// status, and only a request whose SP cannot be identified gets the error page.
// A POST carrying logoutRequest or logoutResponse is Cl@ve 2.0 single
// logout, which shares the gateway's URL.
func (e *Endpoint) handleSSO(c echo.Context) error {
	if isLogout(c) {
		return e.handleLogout(c)
	}
	in, err := e.readRequest(c)
	if err != nil {
		return bridge.ErrorPage(c, e.cfg.Log, http.StatusBadRequest, "The authentication request is not valid.", err)
	}
	req, err := e.normalize(c.Request().Context(), in)
	return e.cfg.Flow.Start(c, in.sp, req, err)
}
