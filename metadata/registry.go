// Package metadata builds the registry of service providers from the YAML
// configuration and their SAML metadata files, and writes the metadata the
// bridge publishes about itself.
package metadata

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/translate"
)

// Registry holds the registered SPs, keyed by dialect and identifier.
type Registry struct {
	sps   map[string]*bridge.ServiceProvider
	order []*bridge.ServiceProvider // as configured
}

func key(dialect, id string) string { return dialect + "\x00" + id }

// Lookup finds a registered SP.
func (r *Registry) Lookup(dialect, id string) (*bridge.ServiceProvider, error) {
	sp, ok := r.sps[key(dialect, id)]
	if !ok {
		return nil, fmt.Errorf("%w: %s %q", bridge.ErrUnknownSP, dialect, id)
	}
	return sp, nil
}

// All lists the registered SPs in configuration order.
func (r *Registry) All() []*bridge.ServiceProvider {
	return append([]*bridge.ServiceProvider(nil), r.order...)
}

// NewRegistry resolves every SP of cfg: certificates, metadata and policy;
// now decides whether metadata has expired.
func NewRegistry(cfg *bridge.Config, now time.Time) (*Registry, error) {
	r := &Registry{sps: map[string]*bridge.ServiceProvider{}}
	for i, spc := range cfg.ServiceProviders {
		sp, err := resolve(cfg, spc, now)
		if err != nil {
			return nil, fmt.Errorf("service_providers[%d] (%s): %w", i, spc.ID, err)
		}
		r.sps[key(sp.Dialect, sp.ID)] = sp
		r.order = append(r.order, sp)
	}
	return r, nil
}

func resolve(cfg *bridge.Config, c bridge.SPConfig, now time.Time) (*bridge.ServiceProvider, error) {
	sp := &bridge.ServiceProvider{
		ID: c.ID, Name: c.Name, Dialect: c.Dialect, Profile: c.Profile,
		EncryptAssertions: c.EncryptAssertions, AllowSHA1: c.LegacySHA1, AttributeNames: c.AttributeNames,
		SendUsedIdP: c.UsedIdP, StringValueTypes: c.StringValueTypes,
	}
	if sp.Name == "" {
		sp.Name = c.ID
	}
	if c.SSOLifetime != nil {
		d := c.SSOLifetime.D()
		sp.SSOLifetime = &d
	}
	var err error
	if sp.Policy, err = policy(c); err != nil {
		return nil, err
	}
	if err := algorithms(sp, c); err != nil {
		return nil, err
	}
	if c.Metadata != "" {
		if err := applyMetadata(sp, cfg, c, now); err != nil {
			return nil, err
		}
	}
	if err := applyKeys(sp, cfg, c); err != nil {
		return nil, err
	}
	for _, u := range c.ReturnURLs {
		sp.ACS = append(sp.ACS, bridge.Endpoint{URL: u, Binding: BindingPOST, Index: len(sp.ACS)})
	}
	for _, u := range c.LogoutURLs {
		sp.Logout = append(sp.Logout, bridge.Endpoint{URL: u, Binding: BindingPOST})
	}
	if c.RequireSigned != nil {
		sp.RequireSignedRequests = *c.RequireSigned
	} else if c.Dialect != "saml2" {
		sp.RequireSignedRequests = true // Cl@ve 1 and 2 always sign
	}
	if sp.RequireSignedRequests && len(sp.SigningCerts) == 0 {
		return nil, fmt.Errorf("signed requests are required but no signing certificate is known")
	}
	if len(sp.ACS) == 0 {
		return nil, fmt.Errorf("no return URL (ACS) is registered")
	}
	return sp, nil
}

func policy(c bridge.SPConfig) (bridge.Policy, error) {
	var p bridge.Policy
	var err error
	if p.MinLoA, err = translate.ParseLoA(c.MinLoA); err != nil {
		return p, err
	}
	for _, name := range c.AllowIdPs {
		idp, err := translate.ParseIdP(name)
		if err != nil {
			return p, err
		}
		p.AllowIdPs = append(p.AllowIdPs, idp)
	}
	for _, name := range c.DenyIdPs {
		idp, err := translate.ParseIdP(name)
		if err != nil {
			return p, err
		}
		p.DenyIdPs = append(p.DenyIdPs, idp)
	}
	for _, name := range c.Attributes {
		p.Attributes = append(p.Attributes, translate.Attr(name))
	}
	p.LegalPersons = c.LegalPersons
	return p, nil
}

// algorithmDefaults are per dialect and profile: plain SAML2 SPs get
// rsa-sha256; Cl@ve kits rsa-sha512 and rsa-oaep-mgf1p, as the gateway
// sends; stock eIDAS peers RSA-PSS and xmlenc11#rsa-oaep, as node 2.9 needs.
func algorithmDefaults(c bridge.SPConfig) (signature, keyTransport string) {
	switch {
	case c.Dialect == "eidas" && c.Profile == "eidas":
		return "rsa-pss-sha512", "rsa-oaep"
	case c.Dialect == "eidas":
		return "rsa-sha512", "rsa-oaep-mgf1p"
	default:
		return "rsa-sha256", "rsa-oaep-mgf1p"
	}
}

func algorithms(sp *bridge.ServiceProvider, c bridge.SPConfig) error {
	sigDefault, ktDefault := algorithmDefaults(c)
	var err error
	if sp.SignatureAlgorithm, err = bridge.SignatureMethod(c.SignatureAlgorithm, sigDefault); err != nil {
		return err
	}
	if sp.KeyTransport, err = bridge.KeyTransport(c.KeyTransport, ktDefault); err != nil {
		return err
	}
	sp.DataEncryption, err = bridge.DataEncryption(c.DataEncryption, "aes256-gcm")
	return err
}

func applyKeys(sp *bridge.ServiceProvider, cfg *bridge.Config, c bridge.SPConfig) error {
	for _, f := range c.Certs {
		cert, err := cfg.ReadCertificate(f)
		if err != nil {
			return err
		}
		sp.SigningCerts = append(sp.SigningCerts, cert)
	}
	if c.EncryptionCert != "" {
		cert, err := cfg.ReadCertificate(c.EncryptionCert)
		if err != nil {
			return err
		}
		sp.EncryptionCert = cert
	}
	if c.Dialect == "eidas" {
		sp.EncryptAssertions = true // the eIDAS profile always encrypts
	}
	// A Cl@ve 2.0 kit gets its assertion encrypted to the certificate that
	// signed its request, as the gateway does, unless one is configured.
	needCert := sp.EncryptAssertions && !(c.Dialect == "eidas" && c.Profile == "clave2")
	if needCert && sp.EncryptionCert == nil {
		return fmt.Errorf("encrypt_assertions is set but no encryption certificate is known")
	}
	return nil
}

// SAML binding URIs.
const (
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
)

// applyMetadata reads an SP's SAML metadata (file or URL): its ACS
// endpoints, keys, whether it signs its requests and its eIDAS SPType.
func applyMetadata(sp *bridge.ServiceProvider, cfg *bridge.Config, c bridge.SPConfig, now time.Time) error {
	source := c.Metadata
	if !bridge.IsURL(source) {
		source = cfg.Path(source)
	}
	var signers []*x509.Certificate
	if c.MetadataSigningCert != "" {
		cert, err := cfg.ReadCertificate(c.MetadataSigningCert)
		if err != nil {
			return err
		}
		signers = append(signers, cert)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	data, err := fetchMetadata(ctx, &http.Client{Timeout: 15 * time.Second}, source)
	if err != nil {
		return err
	}
	md, err := parseSPMetadata(data, signers, now)
	if err != nil {
		return fmt.Errorf("metadata %s: %w", c.Metadata, err)
	}
	if md.EntityID != sp.ID {
		return fmt.Errorf("metadata %s describes %q, not %q", c.Metadata, md.EntityID, sp.ID)
	}
	sp.ACS = append(sp.ACS, md.ACS...)
	sp.Logout = append(sp.Logout, md.Logout...)
	sp.SigningCerts = append(sp.SigningCerts, md.SigningCerts...)
	if sp.EncryptionCert == nil {
		sp.EncryptionCert = md.EncryptionCert
	}
	sp.RequireSignedRequests = sp.RequireSignedRequests || md.AuthnRequestsSigned
	sp.SPType = md.SPType
	return nil
}
