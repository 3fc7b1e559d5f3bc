// Package eidas is the Cl@ve 2 dialect: it stands in for the Cl@ve 2.0
// gateway (/Proxy2/ServiceProvider) towards SPs built with the Cl@ve 2.0
// kits (metadata-less, identified by ProviderName) and towards eIDAS-profile
// SPs (identified by their signed metadata), and answers them with signed
// responses carrying encrypted assertions. It owns the dialect's wire: the
// routes under /Proxy2/ (requests by POST and Redirect, the metadata and
// the kits' trust document), the reading and verifying of AuthnRequests,
// the typed state kept with a login, the rendering of answers, Cl@ve 2.0
// single logout (through the shared Cl@ve mechanism) and the rules of its
// SPs' configuration (Rules).
package eidas

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
	"github.com/clavebridge/clavebridge/endpoints/internal/clavelogout"
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
	Flow     *flow.Flow
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
	cfg    Config
	logout *clavelogout.Logout
}

var _ bridge.LogoutDialect = (*Endpoint)(nil)

// New returns the endpoint with defaults filled in.
func New(cfg Config) *Endpoint {
	if cfg.AssertionLifetime == 0 {
		cfg.AssertionLifetime = 5 * time.Minute // the eIDAS and Cl@ve timeNotOnOrAfter
	}
	e := &Endpoint{cfg: cfg}
	e.logout = e.newLogout()
	return e
}

// Name is the dialect this endpoint renders.
func (e *Endpoint) Name() string { return DialectName }

// Routes are the endpoint's routes: the gateway's URL by GET (Redirect
// binding) and POST (POST binding, and Cl@ve 2.0 single logout), our
// metadata and the kits' trust document.
func (e *Endpoint) Routes() []web.Route {
	return []web.Route{
		{Method: http.MethodGet, Path: SSOPath, Handle: e.handleSSO},
		{Method: http.MethodPost, Path: SSOPath, Handle: e.handleSSO},
		{Method: http.MethodGet, Path: MetadataPath, Document: e.cfg.Metadata, ContentType: "application/samlmetadata+xml"},
		{Method: http.MethodGet, Path: CertificatesPath, Document: e.cfg.Certificates, ContentType: "application/xml"},
	}
}

// handleSSO reads and verifies an AuthnRequest, identifies its SP and
// starts the login; refusals go back to the SP's registered ACS as a SAML
// status, and only a request whose SP cannot be identified gets the error page.
// A POST carrying logoutRequest or logoutResponse is Cl@ve 2.0 single
// logout, which shares the gateway's URL.
func (e *Endpoint) handleSSO(ctx context.Context, in *web.Input) (flow.Reply, error) {
	if in.Post && e.logout.Carries(in.Form) {
		return e.logout.Handle(ctx, in)
	}
	r, err := e.readRequest(in)
	if err != nil {
		return flow.Reply{}, bridge.Invalid("The authentication request is not valid.", err)
	}
	req, err := e.normalize(ctx, r)
	e.auditRequest(ctx, r.sp, r.req.ID, req, err)
	return e.cfg.Flow.Start(ctx, in.Browser, r.sp, req, err)
}
