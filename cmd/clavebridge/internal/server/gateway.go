package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/upstream"
	"github.com/clavebridge/clavebridge/metadata"
)

// The gateway's certificates: upstream.gateway_certs (a static list) and,
// when upstream.gateway_certificates_url is set, the gateway's
// /Proxy2/Certificates document, fetched at start and refreshed while
// serving (RefreshGatewayCertificates); the connector trusts the union.
//
// In simulated mode the document is the simulator's, in this very process,
// which is not listening yet while it is assembled: the first list is
// taken from the simulator in process, and the refreshes fetch it over
// HTTP like any gateway's.

// trustGateway sets s.gatewayTrust: the static list, or a source of the
// certificates document, started (the one of prev when the configuration
// that shapes it, and the simulator, are unchanged: a reload keeps its
// list and schedule).
func (s *Server) trustGateway(cfg *config.Config, log *zap.Logger, opts Options, prev *Server) error {
	static, err := gatewayCerts(cfg)
	if err != nil {
		return err
	}
	u := cfg.Upstream
	if u.GatewayCertificatesURL == "" {
		s.gatewayTrust = upstream.StaticGateway(static)
		return nil
	}
	key, err := gatewaySourceKey(cfg)
	if err != nil {
		return err
	}
	seeded := u.Mode == "simulated" && s.Simulator != nil && u.GatewayCertificatesURL == s.Simulator.CertificatesURL()
	if prev != nil && prev.gateway != nil && prev.gatewayKey == key && (!seeded || prev.Simulator == s.Simulator) {
		s.gateway, s.gatewayKey, s.gatewayTrust = prev.gateway, key, prev.gateway
		return nil
	}
	fetch := metadata.Fetcher{}
	if opts.MetadataFetcher != nil {
		fetch = *opts.MetadataFetcher
	}
	if u.GatewayCertificatesCA != "" {
		pool, err := readCAFile(cfg.Path(u.GatewayCertificatesCA))
		if err != nil {
			return fmt.Errorf("upstream.gateway_certificates_ca: %w", err)
		}
		fetch.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	glog := log.Named("gateway")
	src := &metadata.GatewaySource{
		URL: u.GatewayCertificatesURL,
		// The URL is the operator's, like sso_url, not an SP's: it may be a
		// private address (a mirror, a proxy); plain http only to this
		// machine with the simulator or in development (config).
		Policy:    metadata.FetchPolicy{AllowHTTP: cfg.GatewayCertificatesAllowHTTP(), AllowPrivate: true},
		Fetch:     &fetch,
		Static:    static,
		CacheFile: cfg.Path(u.GatewayCertificatesCache),
		Every:     u.GatewayCertificatesRefresh.D(),
		Now:       opts.Now,
		Log: func(level metadata.LogLevel, msg string) {
			switch level {
			case metadata.LogWarn:
				glog.Warn(msg)
			case metadata.LogInfo:
				glog.Info(msg)
			default:
				glog.Debug(msg)
			}
		},
	}
	if seeded {
		src.Seed = s.Simulator.CertificatesDocument
	}
	if err := src.Start(context.Background()); err != nil {
		return fmt.Errorf("upstream.gateway_certificates_url: %w", err)
	}
	s.gateway, s.gatewayKey, s.gatewayTrust = src, key, src
	return nil
}

// meterGateway makes the metrics the source's meter (once they exist).
func (s *Server) meterGateway() {
	if s.gateway != nil && s.gateway.Meter == nil {
		s.gateway.Meter = s.Metrics
	}
}

// RefreshGatewayCertificates fetches the gateway's certificates document
// again when due (a no-op for a static list).
func (s *Server) RefreshGatewayCertificates(ctx context.Context) {
	if s.gateway != nil {
		s.gateway.Refresh(ctx)
	}
}

// GatewayCertificates are the gateway certificates trusted now.
func (s *Server) GatewayCertificates() []*x509.Certificate { return s.gatewayTrust.Certificates() }

// gatewaySourceKey identifies what shapes a gateway source: the upstream
// keys of the document, the static list's files and what they hold.
func gatewaySourceKey(cfg *config.Config) (string, error) {
	u := cfg.Upstream
	h := sha256.New()
	enc := json.NewEncoder(h)
	if err := enc.Encode([]any{u.Mode, cfg.Mode, u.GatewayCertificatesURL, u.GatewayCertificatesRefresh, u.GatewayCertificatesCA,
		u.GatewayCertificatesCache, u.GatewayCerts}); err != nil {
		return "", err
	}
	for _, f := range append(append([]string(nil), u.GatewayCerts...), u.GatewayCertificatesCA) {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(cfg.Path(f))
		if err != nil {
			return "", fmt.Errorf("gateway certificates: %w", err)
		}
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readCAFile reads a PEM bundle of CA certificates.
func readCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
