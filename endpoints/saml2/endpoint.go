// Package saml2 is the plain SAML 2.0 dialect: it acts as an identity
// provider towards standard SAML2 service providers. It owns that wire
// end to end: reading and verifying AuthnRequests (Redirect and POST
// bindings in), rendering signed Responses (POST out), single logout at
// SLOPath, the bridge's IdP metadata at MetadataPath, and the
// configuration rules of saml2 SPs (Rules). It declares its routes as
// web.Routes and leaves HTTP to the web adapter.
package saml2

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// DialectName is the dialect key of SPs served by this endpoint.
const DialectName = "saml2"

// The endpoint's paths.
const (
	// SSOPath receives AuthnRequests.
	SSOPath = "/saml2/sso"
	// SLOPath receives logout messages.
	SLOPath = "/saml2/slo"
	// MetadataPath serves our IdP metadata; its URL is our entityID.
	MetadataPath = "/saml2/metadata"
)

// metadataContentType is the media type of SAML metadata.
const metadataContentType = "application/samlmetadata+xml"

// Config is what the endpoint needs.
type Config struct {
	Flow     *flow.Flow
	Registry bridge.Registry
	// Signer signs our responses; its Method is overridden per SP.
	Signer   samlxml.Signer
	EntityID string // our IdP entityID (the metadata URL)
	SSOURL   string // our SSOPath
	SLOURL   string // our SLOPath
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

// Routes are the endpoint's paths: SSO and SLO in both bindings, and the
// metadata document.
func (e *Endpoint) Routes() []web.Route {
	return []web.Route{
		{Method: http.MethodGet, Path: SSOPath, Handle: e.handleSSO},
		{Method: http.MethodPost, Path: SSOPath, Handle: e.handleSSO},
		{Method: http.MethodGet, Path: SLOPath, Handle: e.handleSLO},
		{Method: http.MethodPost, Path: SLOPath, Handle: e.handleSLO},
		{Method: http.MethodGet, Path: MetadataPath, Document: e.metadata, ContentType: metadataContentType},
	}
}

// metadata is our signed IdP metadata.
func (e *Endpoint) metadata() ([]byte, error) {
	if e.cfg.Metadata == nil {
		return nil, errors.New("no IdP metadata is configured")
	}
	return e.cfg.Metadata()
}

// handleSSO reads, verifies and normalises an AuthnRequest and starts the
// login; refusals go back to the SP as a SAML status when its registered ACS
// is known, otherwise to an error page.
func (e *Endpoint) handleSSO(ctx context.Context, in *web.Input) (flow.Reply, error) {
	msg, err := e.readRequest(in)
	if err != nil {
		return flow.Reply{}, bridge.Invalid("The authentication request is not valid.", err)
	}
	req, err := e.normalize(ctx, msg)
	e.auditRequest(ctx, msg, req, err)
	return e.cfg.Flow.Start(ctx, in.Browser, msg.sp, req, err)
}
