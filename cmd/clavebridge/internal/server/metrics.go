package server

import (
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/web/metrics"
)

// mountMetrics gives the flow its meter and tells the metrics what this
// configuration names: its SPs (their label sets start at 0) and every
// certificate in use. It runs last in assemble, once nothing can fail any
// more, so that a reload that fails leaves the metrics of the
// configuration still serving. A reload counts on into the registry of
// the assembly it replaces.
func (s *Server) mountMetrics(cfg *config.Config, k *keySet, opts Options, prev *Server) error {
	gateway := s.gatewayTrust.Certificates()
	m := opts.Metrics
	if m == nil && prev != nil {
		m = prev.Metrics
	}
	if m == nil {
		m = metrics.New()
	}
	if mem, ok := s.Store.(*store.Memory); ok {
		m.WatchStore(mem.Counts) // Redis: watch Redis itself
	}
	c := metrics.Configuration{Certificates: []metrics.Certificate{
		{Role: metrics.RoleSigning, Cert: k.signer.Cert},
		{Role: metrics.RoleEncryption, Cert: k.encCert},
	}}
	if k.nextSignCert != nil {
		c.Certificates = append(c.Certificates, metrics.Certificate{Role: metrics.RoleNextSigning, Cert: k.nextSignCert})
	}
	if k.nextEncCert != nil && !k.nextEncCert.Equal(k.nextSignCert) {
		c.Certificates = append(c.Certificates, metrics.Certificate{Role: metrics.RoleNextEnc, Cert: k.nextEncCert})
	}
	for _, g := range gateway {
		c.Certificates = append(c.Certificates, metrics.Certificate{Role: metrics.RoleGateway, Cert: g})
	}
	for _, sp := range s.Registry.All() {
		c.SPs = append(c.SPs, metrics.SP{ID: sp.ID, Dialect: sp.Dialect})
		for _, cert := range sp.SigningCerts {
			c.Certificates = append(c.Certificates, metrics.Certificate{Role: metrics.RoleSPSigning, SP: sp.ID, Cert: cert})
		}
		if sp.EncryptionCert != nil {
			c.Certificates = append(c.Certificates, metrics.Certificate{Role: metrics.RoleSPEncryption, SP: sp.ID, Cert: sp.EncryptionCert})
		}
	}
	m.Configure(c)
	s.Metrics, s.Flow.Meter = m, m
	return nil
}
