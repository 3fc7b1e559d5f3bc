// Package metadata builds the registry of service providers from the YAML
// configuration and their SAML metadata files, and writes the metadata the
// bridge publishes about itself.
package metadata

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// Registry holds the registered SPs, keyed by dialect and identifier.
type Registry struct {
	mu    sync.RWMutex
	sps   map[string]*bridge.ServiceProvider
	order []*bridge.ServiceProvider // as configured
	// refused holds, by key, why an SP's requests are refused: its
	// metadata's validUntil passed and no fresh copy could be had.
	refused map[string]error
	// copies holds, by key, the metadata in use of SPs given by URL.
	copies   map[string]copyInfo
	cacheDir string
	now      func() time.Time // nil: an expired copy is found by the refresher only
	// cacheErrs are the good copies read at start that could not be
	// written to cacheDir: the SPs serve, the caller warns.
	cacheErrs []error
	// unavailable are the SPs given by URL a serving registry could not
	// resolve at start: refused until a refresh gets their metadata.
	unavailable []error
}

// CacheWarnings are the metadata copies fetched at start that could not
// be kept in metadata_cache_dir (each an *SPError). Those SPs serve; a
// restart while their URL is unreachable would not find a copy.
func (r *Registry) CacheWarnings() []error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]error(nil), r.cacheErrs...)
}

// UseClock makes Lookup refuse an SP whose metadata copy's validUntil has
// passed by now, between two refreshes too.
func (r *Registry) UseClock(now func() time.Time) {
	r.mu.Lock()
	r.now = now
	r.mu.Unlock()
}

// copyInfo is what the registry knows of the metadata copy in use.
type copyInfo struct {
	fetched, validUntil time.Time // validUntil zero: none
	cacheDuration       time.Duration
}

func key(dialect, id string) string { return dialect + "\x00" + id }

// Lookup finds a registered SP.
func (r *Registry) Lookup(dialect, id string) (*bridge.ServiceProvider, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if err := r.refused[key(dialect, id)]; err != nil {
		return nil, bridge.Refuse(bridge.ReasonMetadataExpired, id, "the service's metadata cannot be had",
			fmt.Errorf("%w: %s %q: %v", bridge.ErrUnknownSP, dialect, id, err))
	}
	if c, ok := r.copies[key(dialect, id)]; ok && r.now != nil && !c.validUntil.IsZero() && !r.now().Before(c.validUntil) {
		return nil, bridge.Refuse(bridge.ReasonMetadataExpired, id, "the service's metadata expired", fmt.Errorf("%w: %s %q: its metadata expired at %s (validUntil) and has not been refreshed",
			bridge.ErrUnknownSP, dialect, id, c.validUntil.UTC().Format(time.RFC3339)))
	}
	sp, ok := r.sps[key(dialect, id)]
	if !ok {
		return nil, fmt.Errorf("%w: %s %q", bridge.ErrUnknownSP, dialect, id)
	}
	return sp, nil
}

// All lists the registered SPs in configuration order.
func (r *Registry) All() []*bridge.ServiceProvider {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*bridge.ServiceProvider(nil), r.order...)
}

// NewRegistry resolves every SP of cfg: certificates, metadata and policy;
// now decides whether metadata has expired. Metadata URLs are fetched by a
// default Fetcher.
func NewRegistry(cfg *config.Config, now time.Time) (*Registry, error) {
	return NewRegistryWith(cfg, now, &Fetcher{})
}

// NewRegistryWith is NewRegistry fetching metadata URLs with fetch, each
// under its SP's metadata_allow_http and metadata_allow_private.
func NewRegistryWith(cfg *config.Config, now time.Time, fetch *Fetcher) (*Registry, error) {
	return newRegistry(cfg, now, fetch, false)
}

// NewServingRegistry is NewRegistryWith for a bridge that is starting to
// serve: an SP given by URL whose metadata can be had neither from its URL
// nor from a good copy in metadata_cache_dir does not stop the bridge. It
// is registered as refused, with the reason (Lookup answers it, Unavailable
// lists it), and the refresher keeps trying its URL; every other error
// still fails.
func NewServingRegistry(cfg *config.Config, now time.Time, fetch *Fetcher) (*Registry, error) {
	return newRegistry(cfg, now, fetch, true)
}

// Unavailable lists the SPs a serving registry refuses because their
// metadata could not be had at start (each an *SPError), until a refresh
// gets a good copy.
func (r *Registry) Unavailable() []error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]error(nil), r.unavailable...)
}

func newRegistry(cfg *config.Config, now time.Time, fetch *Fetcher, serving bool) (*Registry, error) {
	if fetch == nil {
		fetch = &Fetcher{}
	}
	r := &Registry{sps: map[string]*bridge.ServiceProvider{}, refused: map[string]error{}, copies: map[string]copyInfo{}}
	if cfg.MetadataCacheDir != "" {
		r.cacheDir = cfg.Path(cfg.MetadataCacheDir)
	}
	var errs []error
	for i, spc := range cfg.ServiceProviders {
		src := &source{fetch: fetch, cacheDir: r.cacheDir, useCache: true}
		sp, err := resolve(cfg, spc, now, src)
		if err != nil && serving && src.remote {
			why := fmt.Errorf("its metadata could not be had from %s nor from a good copy kept: %w", spc.Metadata, err)
			r.refused[key(spc.Dialect, spc.ID)] = why
			r.unavailable = append(r.unavailable, &SPError{Index: i, ID: spc.ID, Err: why})
			continue
		}
		if err != nil {
			errs = append(errs, &SPError{Index: i, ID: spc.ID, Err: err})
			continue
		}
		r.sps[key(sp.Dialect, sp.ID)] = sp
		if src.remote {
			r.copies[key(sp.Dialect, sp.ID)] = src.info
		}
		if src.cacheErr != nil {
			r.cacheErrs = append(r.cacheErrs, &SPError{Index: i, ID: spc.ID, Err: src.cacheErr})
		}
		r.order = append(r.order, sp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// SPError is why one configured SP could not be registered; NewRegistry
// joins one for each such SP.
type SPError struct {
	Index int    // in service_providers
	ID    string // its id
	Err   error
}

// Path is the SP's YAML path.
func (e *SPError) Path() string { return fmt.Sprintf("service_providers[%d]", e.Index) }

func (e *SPError) Error() string { return fmt.Sprintf("%s (%s): %v", e.Path(), e.ID, e.Err) }
func (e *SPError) Unwrap() error { return e.Err }

func resolve(cfg *config.Config, c config.SPConfig, now time.Time, src *source) (*bridge.ServiceProvider, error) {
	d := cfg.Dialect(c.Dialect)
	if d == nil {
		return nil, fmt.Errorf("dialect %q is not served by this bridge", c.Dialect)
	}
	d.Defaults(&c) // again, for SPs added after the file was read
	sp := &bridge.ServiceProvider{
		ID: c.ID, Name: c.Name, Dialect: c.Dialect, Profile: c.Profile,
		EncryptAssertions: c.EncryptAssertions, AllowSHA1: c.LegacySHA1, AttributeNames: c.AttributeNames,
		SendUsedIdP: c.UsedIdP, StringValueTypes: c.StringValueTypes, AttributeProfile: c.AttributeProfile,
	}
	if sp.Name == "" {
		sp.Name = c.ID
	}
	sp.DisplayName, sp.HomeURL = c.DisplayName, c.HomeURL
	if sp.DisplayName == "" && c.Name != "" {
		sp.DisplayName = c.Name
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
		if err := applyMetadata(sp, cfg, c, now, src); err != nil {
			return nil, err
		}
	}
	if err := applyKeys(sp, cfg, c); err != nil {
		return nil, err
	}
	for _, u := range c.ReturnURLs {
		sp.ACS = append(sp.ACS, bridge.Endpoint{URL: u, Binding: samlxml.BindingPOST, Index: len(sp.ACS)})
	}
	for _, u := range c.LogoutURLs {
		sp.Logout = append(sp.Logout, bridge.Endpoint{URL: u, Binding: samlxml.BindingPOST})
	}
	if c.RequireSigned != nil { // each dialect sets its default (Cl@ve 1 and 2 always sign)
		sp.RequireSignedRequests = *c.RequireSigned
	}
	if sp.RequireSignedRequests && len(sp.SigningCerts) == 0 {
		return nil, fmt.Errorf("signed requests are required but no signing certificate is known")
	}
	if len(sp.ACS) == 0 {
		return nil, fmt.Errorf("no return URL (ACS) is registered")
	}
	return sp, nil
}

func policy(c config.SPConfig) (bridge.Policy, error) {
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

// algorithms resolves an SP's algorithm names; each dialect's rules have
// filled in its defaults, and these are the defaults of last resort.
func algorithms(sp *bridge.ServiceProvider, c config.SPConfig) error {
	var err error
	if sp.SignatureAlgorithm, err = config.SignatureMethod(c.SignatureAlgorithm, "rsa-sha256"); err != nil {
		return err
	}
	if sp.KeyTransport, err = config.KeyTransport(c.KeyTransport, "rsa-oaep-mgf1p"); err != nil {
		return err
	}
	sp.DataEncryption, err = config.DataEncryption(c.DataEncryption, "aes256-gcm")
	return err
}

func applyKeys(sp *bridge.ServiceProvider, cfg *config.Config, c config.SPConfig) error {
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
	// Some dialects encrypt to the certificate that signed the request (a
	// Cl@ve 2.0 kit, as the gateway does) unless one is configured.
	toSigner := cfg.Dialect(c.Dialect).EncryptsToSigner(c)
	if sp.EncryptAssertions && !toSigner && sp.EncryptionCert == nil {
		return fmt.Errorf("encrypt_assertions is set but no encryption certificate is known")
	}
	return nil
}

// applyMetadata reads an SP's SAML metadata (file or URL): its ACS
// endpoints, keys, whether it signs its requests and its eIDAS SPType.
func applyMetadata(sp *bridge.ServiceProvider, cfg *config.Config, c config.SPConfig, now time.Time, src *source) error {
	source := c.Metadata
	if !config.IsURL(source) {
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
	md, err := src.read(context.Background(), c, source, signers, now)
	if err != nil {
		return err
	}
	sp.ACS = append(sp.ACS, md.ACS...)
	sp.Logout = append(sp.Logout, md.Logout...)
	sp.SigningCerts = append(sp.SigningCerts, md.SigningCerts...)
	if sp.EncryptionCert == nil {
		sp.EncryptionCert = md.EncryptionCert
	}
	sp.RequireSignedRequests = sp.RequireSignedRequests || md.AuthnRequestsSigned
	sp.SPType = md.SPType
	if sp.DisplayName == "" {
		sp.DisplayName = md.OrganizationName
	}
	if sp.HomeURL == "" {
		sp.HomeURL = md.OrganizationURL
	}
	return nil
}
