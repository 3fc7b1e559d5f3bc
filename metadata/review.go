package metadata

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/clavebridge/clavebridge/bridge/config"
)

// Check is the gate `clavebridge check` and `serve` pass a configuration
// through: config.CheckFile, then, for a valid configuration, every SP
// resolved (metadata read and fetched with fetch, its signature checked)
// and what only the resolved registry shows (Review). The registry is nil
// unless every SP could be registered.
func Check(path string, dialects config.DialectSet, now time.Time, fetch *Fetcher) (*config.Report, *Registry) {
	rep := config.CheckFile(path, dialects, now)
	if rep.Config == nil {
		return rep, nil
	}
	reg, err := NewRegistryWith(rep.Config, now, fetch)
	if err != nil {
		for _, e := range unjoin(err) {
			f := config.Finding{Severity: config.Error, Message: e.Error(),
				Advice: "fix the SP's registration: its metadata, certificates and return URLs"}
			var spErr *SPError
			if errors.As(e, &spErr) {
				f.Path, f.Message = spErr.Path(), spErr.Err.Error()
			}
			rep.Add(f)
		}
		return rep, nil
	}
	rep.Add(reg.Review(rep.Config, now)...)
	return rep, reg
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Review reports what the configuration alone does not show: SPs that may
// send unsigned requests (a SAML2 SP whose metadata does not say
// AuthnRequestsSigned and that require_signed_requests does not bind), and
// the certificates that came from SP metadata, when they are test
// certificates or past or near their end at now. cfg is the configuration
// r was built from.
func (r *Registry) Review(cfg *config.Config, now time.Time) []config.Finding {
	var found []config.Finding
	for i, sp := range r.order {
		if i >= len(cfg.ServiceProviders) {
			break
		}
		spc := cfg.ServiceProviders[i]
		path := fmt.Sprintf("service_providers[%d]", i)
		if !sp.RequireSignedRequests {
			found = append(found, config.Finding{Severity: config.Warning, Path: path + ".require_signed_requests",
				Message: "the SP may send unsigned requests: anyone can start a login in its name (answers still go only to its registered return URLs)",
				Advice:  "set require_signed_requests: true once the SP signs its requests (metadata saying AuthnRequestsSigned does the same)"})
		}
		if spc.Metadata == "" {
			continue
		}
		configured := configuredCerts(cfg, spc)
		fromMetadata := func(c *x509.Certificate) bool {
			for _, k := range configured {
				if bytes.Equal(k.Raw, c.Raw) {
					return false
				}
			}
			return true
		}
		seen := map[string]bool{} // a KeyDescriptor without use is both
		check := func(role string, c *x509.Certificate) {
			if c == nil || !fromMetadata(c) || seen[string(c.Raw)] {
				return
			}
			seen[string(c.Raw)] = true
			if why, ok := config.TestCertificate(c); ok {
				found = append(found, config.Finding{Severity: cfg.ModeSeverity(), Path: path + ".metadata",
					Message: "test key: the metadata's " + role + " certificate: " + why,
					Advice:  "register the SP's own metadata; test keys are allowed in development mode only"})
			}
			if f := config.CertificateExpiry(path+".metadata", role, sp.ID, c, now); f != nil {
				found = append(found, *f)
			}
		}
		for _, c := range sp.SigningCerts {
			check(config.RoleSPSigning, c)
		}
		check(config.RoleSPEncryption, sp.EncryptionCert)
	}
	return found
}

// configuredCerts are the certificates an SP's configuration names as
// files (config.Config's own review covers them).
func configuredCerts(cfg *config.Config, spc config.SPConfig) []*x509.Certificate {
	var certs []*x509.Certificate
	for _, name := range append(append([]string(nil), spc.Certs...), spc.EncryptionCert) {
		if name == "" {
			continue
		}
		if c, err := cfg.ReadCertificate(name); err == nil {
			certs = append(certs, c)
		}
	}
	return certs
}
