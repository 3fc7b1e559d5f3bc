// Package metadata builds the registry of service providers from the YAML
// configuration and their SAML metadata files, and writes the metadata the
// bridge publishes about itself.
package metadata

import (
	"encoding/xml"
	"fmt"
	"os"
	"strings"

	"github.com/crewjam/saml"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// Registry holds the registered SPs, keyed by dialect and identifier.
type Registry struct {
	sps map[string]*bridge.ServiceProvider
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

// All lists the registered SPs.
func (r *Registry) All() []*bridge.ServiceProvider {
	out := make([]*bridge.ServiceProvider, 0, len(r.sps))
	for _, sp := range r.sps {
		out = append(out, sp)
	}
	return out
}

// NewRegistry resolves every SP of cfg: certificates, metadata and policy.
func NewRegistry(cfg *bridge.Config) (*Registry, error) {
	r := &Registry{sps: map[string]*bridge.ServiceProvider{}}
	for i, spc := range cfg.ServiceProviders {
		sp, err := resolve(cfg, spc)
		if err != nil {
			return nil, fmt.Errorf("service_providers[%d] (%s): %w", i, spc.ID, err)
		}
		r.sps[key(sp.Dialect, sp.ID)] = sp
	}
	return r, nil
}

func resolve(cfg *bridge.Config, c bridge.SPConfig) (*bridge.ServiceProvider, error) {
	sp := &bridge.ServiceProvider{
		ID: c.ID, Name: c.Name, Dialect: c.Dialect,
		EncryptAssertions: c.EncryptAssertions, AllowSHA1: c.LegacySHA1, AttributeNames: c.AttributeNames,
	}
	if sp.Name == "" {
		sp.Name = c.ID
	}
	var err error
	if sp.Policy, err = policy(c); err != nil {
		return nil, err
	}
	if err := algorithms(sp, c); err != nil {
		return nil, err
	}
	if c.Metadata != "" {
		if err := applyMetadata(sp, cfg.Path(c.Metadata)); err != nil {
			return nil, err
		}
	}
	if err := applyKeys(sp, cfg, c); err != nil {
		return nil, err
	}
	for _, u := range c.ReturnURLs {
		sp.ACS = append(sp.ACS, bridge.Endpoint{URL: u, Binding: BindingPOST, Index: len(sp.ACS)})
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

func algorithms(sp *bridge.ServiceProvider, c bridge.SPConfig) error {
	var err error
	if sp.SignatureAlgorithm, err = bridge.SignatureMethod(c.SignatureAlgorithm, "rsa-sha256"); err != nil {
		return err
	}
	if sp.KeyTransport, err = bridge.KeyTransport(c.KeyTransport, "rsa-oaep-mgf1p"); err != nil {
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
	if sp.EncryptAssertions && sp.EncryptionCert == nil {
		return fmt.Errorf("encrypt_assertions is set but no encryption certificate is known")
	}
	return nil
}

// SAML binding URIs.
const (
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
)

// applyMetadata reads an SP's SAML metadata: its ACS endpoints, keys and
// whether it signs its requests.
func applyMetadata(sp *bridge.ServiceProvider, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	if _, err := samlxml.Parse(data, 1<<20); err != nil {
		return fmt.Errorf("metadata %s: %w", path, err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(data, &ed); err != nil {
		return fmt.Errorf("metadata %s: %w", path, err)
	}
	if ed.EntityID != sp.ID {
		return fmt.Errorf("metadata %s describes %q, not %q", path, ed.EntityID, sp.ID)
	}
	if len(ed.SPSSODescriptors) != 1 {
		return fmt.Errorf("metadata %s has %d SPSSODescriptors, want 1", path, len(ed.SPSSODescriptors))
	}
	d := ed.SPSSODescriptors[0]
	for _, acs := range d.AssertionConsumerServices {
		if acs.Binding != BindingPOST {
			continue // we answer by POST only
		}
		if !strings.HasPrefix(acs.Location, "https://") && !strings.HasPrefix(acs.Location, "http://") {
			return fmt.Errorf("metadata %s: ACS %q is not an http(s) URL", path, acs.Location)
		}
		sp.ACS = append(sp.ACS, bridge.Endpoint{URL: acs.Location, Binding: acs.Binding, Index: acs.Index})
	}
	if d.AuthnRequestsSigned != nil && *d.AuthnRequestsSigned {
		sp.RequireSignedRequests = true
	}
	return applyKeyDescriptors(sp, d.KeyDescriptors)
}

func applyKeyDescriptors(sp *bridge.ServiceProvider, kds []saml.KeyDescriptor) error {
	for _, kd := range kds {
		for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
			cert, err := samlxml.ParseCertificateBase64(xc.Data)
			if err != nil {
				return fmt.Errorf("metadata key: %w", err)
			}
			if kd.Use == "" || kd.Use == "signing" {
				sp.SigningCerts = append(sp.SigningCerts, cert)
			}
			if (kd.Use == "" || kd.Use == "encryption") && sp.EncryptionCert == nil {
				sp.EncryptionCert = cert
			}
		}
	}
	return nil
}
