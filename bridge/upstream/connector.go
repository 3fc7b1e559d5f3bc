// Package upstream is the Cl@ve 2.0 connector: it plays the SP role towards
// the Cl@ve 2.0 gateway (or the simulator), sending signed eIDAS
// AuthnRequests in the gateway's metadata-less dialect and verifying,
// decrypting and checking its responses.
package upstream

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/translate"
)

// Config is what the connector needs to talk to one gateway.
type Config struct {
	SSOURL       string // the gateway's /Proxy2/ServiceProvider
	ACSURL       string // our /upstream/acs, also the expected Audience
	LogoutURL    string // our /upstream/slo, where the gateway posts logoutResponse and logoutRequest
	ProviderName string // <NIF>_<DIR3> registered with Cl@ve
	Application  string // shown after ';' in ProviderName
	Signer       samlxml.Signer
	// DecryptionKeys open the assertions the gateway encrypts to us: Cl@ve
	// 2.0 encrypts to the certificate that signed the request, an eIDAS node
	// to the encryption key of our metadata. During a rollover they include
	// the next keys (keys.next_*), so that either certificate works.
	DecryptionKeys []DecryptionKey
	// GatewayCerts are the gateway's certificates trusted to sign its
	// answers, when Gateway is nil.
	GatewayCerts []*x509.Certificate
	// Gateway, when set, is asked for the trusted certificates at each
	// answer (the gateway's /Proxy2/Certificates, refreshed).
	Gateway   GatewayTrust
	Policy    samlxml.AlgorithmPolicy
	ClockSkew time.Duration
	// MaxResponseAge bounds how old a response's IssueInstant may be.
	MaxResponseAge time.Duration
	Replay         store.Store
	Now            func() time.Time
	// Rand draws the IDs of our logout messages (crypto/rand when nil).
	Rand io.Reader
	// Log receives the audit line of every message to and from the
	// gateway (none when nil).
	Log *zap.Logger
}

// GatewayTrust gives the gateway certificates trusted now; the connector
// asks at every answer, so a refreshed list applies at once.
type GatewayTrust interface {
	Certificates() []*x509.Certificate
}

// StaticGateway is a fixed list of trusted gateway certificates.
type StaticGateway []*x509.Certificate

// Certificates returns the list.
func (s StaticGateway) Certificates() []*x509.Certificate { return s }

// gatewayCerts are the gateway certificates trusted now.
func (c *Connector) gatewayCerts() []*x509.Certificate {
	if c.cfg.Gateway != nil {
		return c.cfg.Gateway.Certificates()
	}
	return c.cfg.GatewayCerts
}

// DecryptionKey is one of our private keys with its certificate.
type DecryptionKey struct {
	Key  crypto.Decrypter
	Cert *x509.Certificate
}

// Connector implements flow.Upstream and flow.UpstreamLogout for Cl@ve 2.0.
type Connector struct {
	cfg Config
}

// New checks cfg and returns a connector.
func New(cfg Config) (*Connector, error) {
	switch {
	case cfg.SSOURL == "" || cfg.ACSURL == "":
		return nil, errors.New("upstream: SSO and ACS URLs are required")
	case cfg.Signer.Key == nil || cfg.Signer.Cert == nil:
		return nil, errors.New("upstream: a signing key and certificate are required")
	case len(cfg.DecryptionKeys) == 0:
		return nil, errors.New("upstream: a decryption key is required")
	case cfg.Gateway == nil && len(cfg.GatewayCerts) == 0,
		cfg.Gateway != nil && len(cfg.Gateway.Certificates()) == 0:
		return nil, errors.New("upstream: at least one trusted gateway certificate is required")
	case cfg.Replay == nil:
		return nil, errors.New("upstream: a replay store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxResponseAge == 0 {
		cfg.MaxResponseAge = 5 * time.Minute
	}
	return &Connector{cfg: cfg}, nil
}

// defaultAttributes are always asked for: the natural-person minimum data
// set as Cl@ve provides it.
var defaultAttributes = []bridge.RequestedAttr{
	{Name: translate.AttrPersonIdentifier, Required: true},
	{Name: translate.AttrGivenName, Required: true},
	{Name: translate.AttrFamilyName, Required: true},
	{Name: translate.AttrFirstSurname},
}

// Begin builds and signs the Cl@ve 2.0 AuthnRequest for p.
func (c *Connector) Begin(ctx context.Context, p *flow.Pending) (bridge.Outgoing, error) {
	req := p.Request
	ar := &clave2msg.AuthnRequest{
		ID:              p.ID,
		IssueInstant:    c.cfg.Now(),
		Destination:     c.cfg.SSOURL,
		ACS:             c.cfg.ACSURL,
		ProviderName:    c.cfg.ProviderName + ";" + c.cfg.Application,
		ForceAuthn:      true,
		Consent:         clave2msg.ConsentUnspec,
		HasNameIDPolicy: true,
		NameIDFormat:    clave2msg.NameIDUnspec,
		Comparison:      "minimum",
		LoAs:            []string{req.MinLoA.EIDAS()},
		Attributes:      requestedAttributes(&req, p.RelayState),
	}
	el := ar.Element()
	if err := c.cfg.Signer.Sign(el); err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sign upstream request: %w", err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("upstream request: %w", err)
	}
	c.audit(ctx, audit.Record{Direction: audit.Out, Kind: audit.AuthnRequest, SP: req.SP, ID: ar.ID, LoA: req.MinLoA})
	return bridge.Outgoing{URL: c.cfg.SSOURL, Fields: []samlxml.Field{
		{Name: "SAMLRequest", Value: base64.StdEncoding.EncodeToString(xml)},
		{Name: "RelayState", Value: p.RelayState},
	}}, nil
}

// requestedAttributes lists the eIDAS and Cl@ve attributes to request: the
// minimum data set, what the SP asked for, the IdP-disable flags and the
// RelayState attribute with its value.
func requestedAttributes(req *bridge.Request, relayState string) []clave2msg.RequestedAttribute {
	var out []clave2msg.RequestedAttribute
	seen := map[translate.Attr]int{}
	add := func(a bridge.RequestedAttr) {
		w, ok := translate.Wire(a.Name)
		if !ok || a.Name == translate.AttrSelectedIdP {
			return // SelectedIdP comes unrequested
		}
		if i, dup := seen[a.Name]; dup {
			out[i].Required = out[i].Required || a.Required
			return
		}
		seen[a.Name] = len(out)
		out = append(out, clave2msg.RequestedAttribute{Name: w.Name, FriendlyName: w.FriendlyName, Required: a.Required})
	}
	for _, a := range defaultAttributes {
		add(a)
	}
	for _, a := range req.Attributes {
		add(a)
	}
	for _, idp := range req.DisabledIdPs {
		out = append(out, clave2msg.RequestedAttribute{Name: idp.DisableAttribute(), FriendlyName: idp.DisableFriendlyName()})
	}
	return append(out, clave2msg.RequestedAttribute{
		Name: translate.ClaveRelayStateAttr, FriendlyName: "RelayState", Values: []string{relayState},
	})
}

// audit writes r, a message on the gateway leg, to the audit log.
func (c *Connector) audit(ctx context.Context, r audit.Record) {
	r.Dialect = audit.Upstream
	audit.Log(ctx, c.cfg.Log, r)
}
