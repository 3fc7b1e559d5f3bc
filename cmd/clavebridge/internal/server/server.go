// Package server assembles a running clavebridge from its configuration:
// store, SP registry, upstream connector, simulator, the inbound dialects
// and the demo SP, behind the HTTP adapter. Time and randomness are built
// here, once, and passed down.
package server

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/hsm"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/simulator"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/upstream"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/bridge/web/metrics"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/demosp"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
	"github.com/clavebridge/clavebridge/endpoints/eidas"
	"github.com/clavebridge/clavebridge/endpoints/saml2"
	"github.com/clavebridge/clavebridge/endpoints/stork"
	"github.com/clavebridge/clavebridge/metadata"
)

// Dialects are the inbound protocols the bridge serves: one line each.
func Dialects() []dialect.Plugin {
	return []dialect.Plugin{
		saml2.Plugin,
		eidas.Plugin,
		stork.Plugin,
	}
}

// DialectRules are the configuration rules of the bridge's dialects.
func DialectRules() config.DialectSet { return dialect.Set(Dialects()) }

// Options are the injectable parts (tests pin the clock).
type Options struct {
	Now  func() time.Time
	Rand io.Reader
	// Store replaces the configured store (tests observe what is stored).
	Store store.Store
	// Dialects replaces Dialects() (a test adds one of its own).
	Dialects []dialect.Plugin
	// Metrics is the registry to count into (nil: the one of the assembly
	// a reload replaces, or a new one).
	Metrics *metrics.Metrics
	// MetadataFetcher fetches SP metadata URLs (nil: the default; tests
	// inject their TLS server's certificate pool).
	MetadataFetcher *metadata.Fetcher
	// Tokens are the PKCS#11 token contexts of the process (nil: New opens
	// its own, which Close closes); a Reloadable shares one across reloads.
	Tokens *hsm.Tokens
}

// Server is an assembled bridge.
type Server struct {
	Web       *web.Server
	Flow      *flow.Flow
	Store     store.Store
	Simulator *simulator.Simulator // nil when upstream.mode is clave2
	Registry  *metadata.Registry
	// Metrics is this bridge's registry, served by its own listener
	// (metrics.listen), never by ServeHTTP.
	Metrics   *metrics.Metrics
	publisher metadata.Publisher
	baseURL   string
	// refresher refreshes the metadata of SPs given by URL (see
	// Reloadable.RunMetadataRefresh).
	refresher *metadata.Refresher
	// gatewayTrust is what the connector trusts of the gateway: the static
	// list, or gateway (the certificates document, refreshed), which a
	// reload that leaves its keys unchanged keeps (gateway.go).
	gatewayTrust upstream.GatewayTrust
	gateway      *metadata.GatewaySource
	gatewayKey   string
	// demo is the demo SP; simKey and demoKey identify what the simulator
	// and the demo SP were built from, so that a reload that leaves them
	// unchanged keeps them, and their logins in flight (see reload.go).
	demo            *demosp.DemoSP
	simKey, demoKey string
	// keys and draining are what /readyz looks at (health.go); draining
	// is shared by the assemblies of one process.
	keys     *keySet
	draining *atomic.Bool
	// tokens are the token contexts New opened for this server alone (nil
	// when Options gave them): Close closes them.
	tokens *hsm.Tokens
}

// Metadata returns the bridge's signed IdP metadata, or with upstream its
// SP metadata towards the gateway.
func (s *Server) Metadata(upstream bool) ([]byte, error) {
	if upstream {
		return s.publisher.SP(s.baseURL+UpstreamMetadataPath, s.baseURL+web.UpstreamACSPath)
	}
	return s.publisher.IdP(s.baseURL+saml2.MetadataPath, s.baseURL+saml2.SSOPath, s.baseURL+saml2.SLOPath)
}

// withDefaults fills what opts leaves out: the real clock and randomness,
// the bridge's dialects.
func (opts Options) withDefaults() Options {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Dialects == nil {
		opts.Dialects = Dialects()
	}
	return opts
}

// New builds every part from cfg.
func New(cfg *config.Config, log *zap.Logger, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	var own *hsm.Tokens
	if opts.Tokens == nil {
		own = hsm.NewTokens()
		opts.Tokens = own
	}
	use := opts.Tokens.Begin()
	fail := func(err error) (*Server, error) {
		_ = opts.Tokens.Discard(use)
		if own != nil {
			_ = own.Close()
		}
		return nil, err
	}
	keys, err := loadKeys(cfg, use, opts.Rand)
	if err != nil {
		return fail(err)
	}
	st, err := newStore(cfg, opts)
	if err != nil {
		return fail(err)
	}
	s, err := assemble(cfg, log, opts, keys, st, nil)
	if err != nil {
		_ = st.Close()
		return fail(err)
	}
	if err := opts.Tokens.Keep(use); err != nil {
		log.Warn("closing unused token contexts", zap.Error(err))
	}
	logKeyWarnings(log, keys)
	s.tokens = own
	return s, nil
}

// Close releases the store (a Redis connection pool) and the token
// contexts New opened.
func (s *Server) Close() error {
	err := s.Store.Close()
	if s.tokens != nil {
		err = errors.Join(err, s.tokens.Close())
	}
	return err
}

// assemble builds everything that sits on the keys and the store; prev is
// the assembly a reload replaces (nil at startup).
func assemble(cfg *config.Config, log *zap.Logger, opts Options, keys *keySet, st store.Store, prev *Server) (*Server, error) {
	reg, err := metadata.NewServingRegistry(cfg, opts.Now(), opts.MetadataFetcher)
	if err != nil {
		return nil, err
	}
	reg.UseClock(opts.Now) // an SP whose metadata's validUntil passed is refused
	base := cfg.Server.BaseURL
	s := &Server{
		Web: newWeb(cfg, log, opts, reg), Store: st, Registry: reg, baseURL: base,
		publisher: metadata.Publisher{Signer: keys.signer, EncryptionCert: keys.encCert, NextSigningCert: keys.nextSignCert,
			NextEncryptionCert: keys.nextEncCert, KeyTransports: keys.transports, Now: opts.Now, Rand: opts.Rand},
	}
	// The simulator first: the gateway's certificates start from its
	// document, in process (gateway.go).
	if err := s.mountSimulator(cfg, keys, log, opts, prev); err != nil {
		return nil, err
	}
	if err := s.trustGateway(cfg, log, opts, prev); err != nil {
		return nil, err
	}
	conn, err := s.upstream(cfg, keys, opts)
	if err != nil {
		return nil, err
	}
	sealer, keyer, err := loadSecrets(cfg, opts)
	if err != nil {
		return nil, err
	}
	s.Flow = &flow.Flow{
		Store: withFaults(st), Upstream: conn, Registry: reg, Log: log, Now: opts.Now, Rand: opts.Rand,
		PendingTTL: cfg.Upstream.RequestLifetime.D(), Seal: sealer, Pairwise: keyer,
		Sessions: &session.Sessions{Store: withFaults(st), Lifetime: cfg.SSO.Lifetime.D(), Now: opts.Now, Rand: opts.Rand, Seal: sealer, Log: log},
	}
	deps := dialect.Deps{
		Flow: s.Flow, Registry: reg, Signer: keys.signer, BaseURL: base,
		Guard:              bridge.RequestGuard{Replay: withFaults(st), Now: opts.Now, Skew: cfg.Upstream.ClockSkew.D()},
		IdPMetadata:        s.publisher.IdP,
		Clave2Certificates: s.publisher.Clave2Certificates,
		Now:                opts.Now, Rand: opts.Rand, Log: log,
	}
	for _, p := range opts.Dialects {
		ep, err := p.New(deps)
		if err != nil {
			return nil, fmt.Errorf("dialect %s: %w", p.Rules.Name(), err)
		}
		s.Flow.Register(ep)
		s.Web.Mount(ep.Routes()...)
	}
	s.Web.Mount(web.FlowRoutes(s.Flow)...)
	s.Web.MountSessionPage(s.Flow)
	s.Web.MountLogoutConfirmation(s.Flow)
	s.Web.Mount(web.Route{Method: http.MethodGet, Path: UpstreamMetadataPath, ContentType: "application/samlmetadata+xml",
		Document: func() ([]byte, error) { return s.Metadata(true) }})
	if cfg.Demo.Enabled {
		if err := s.mountDemo(cfg, keys, log, opts, prev); err != nil {
			return nil, err
		}
	}
	if err := s.mountMetrics(cfg, keys, opts, prev); err != nil {
		return nil, err
	}
	s.meterGateway() // gateway.go
	s.refresher = &metadata.Refresher{Registry: reg, Config: cfg, Fetch: opts.MetadataFetcher, Now: opts.Now, Meter: s.Metrics,
		Log: func(sp string, err error) {
			log.Warn("SP metadata", zap.String("sp", sp), zap.String("reason", err.Error()))
		}}
	for _, u := range reg.Unavailable() { // refused until a refresh gets its metadata
		var spErr *metadata.SPError
		if errors.As(u, &spErr) {
			s.Metrics.MetadataRefreshFailed(spErr.ID)
			log.Error("SP metadata", zap.String("sp", spErr.ID), zap.String("reason",
				"the SP's requests are refused until its metadata can be had: "+spErr.Err.Error()))
		}
	}
	for _, w := range reg.CacheWarnings() { // the SP serves; an offline restart would not
		var spErr *metadata.SPError
		if errors.As(w, &spErr) {
			s.Metrics.MetadataCacheWriteFailed(spErr.ID)
			log.Warn("SP metadata", zap.String("sp", spErr.ID), zap.String("reason",
				"the copy fetched serves, but it could not be kept for an offline restart: "+spErr.Err.Error()))
		}
	}
	s.mountHealth(keys, prev) // health.go
	return s, nil
}

// UpstreamMetadataPath is where our SP metadata towards the gateway is.
const UpstreamMetadataPath = "/upstream/metadata"

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Web.ServeHTTP(w, r) }

func newWeb(cfg *config.Config, log *zap.Logger, opts Options, reg bridge.Lister) *web.Server {
	return web.New(web.Options{
		Log: log, Rand: opts.Rand, MaxBodyBytes: cfg.Server.MaxBodyBytes,
		ReadTimeout: cfg.Server.ReadTimeout.D(), WriteTimeout: cfg.Server.WriteTimeout.D(),
		Secure: strings.HasPrefix(cfg.Server.BaseURL, "https://"), BaseURL: cfg.Server.BaseURL,
		AccessibilityURL: cfg.Server.AccessibilityURL, Services: services(reg),
	})
}

// services names the registered SPs for the citizen's pages (display
// name, home page), by entity id.
func services(reg bridge.Lister) func(string) (web.Service, bool) {
	return func(id string) (web.Service, bool) {
		for _, sp := range reg.All() {
			if sp.ID == id {
				return web.Service{Name: sp.DisplayName, HomeURL: sp.HomeURL}, true
			}
		}
		return web.Service{}, false
	}
}

func newStore(cfg *config.Config, opts Options) (store.Store, error) {
	if opts.Store != nil {
		return opts.Store, nil
	}
	switch cfg.Store.Type {
	case "memory":
		b := cfg.Store.Budgets
		return store.NewMemoryBudgets(opts.Now, store.Budgets{Pending: b.Pending, Replay: b.Replay, Sessions: b.Sessions}), nil
	case "redis":
		r, err := openRedis(cfg) // redis.go
		if err != nil {
			return nil, err // not a nil *Redis in a non-nil Store
		}
		return r, nil
	default:
		return nil, fmt.Errorf("store type %q is not available yet", cfg.Store.Type)
	}
}

func (s *Server) upstream(cfg *config.Config, k *keySet, opts Options) (*upstream.Connector, error) {
	method, err := config.SignatureMethod(cfg.Upstream.SignatureAlgorithm, "rsa-sha512")
	if err != nil {
		return nil, fmt.Errorf("upstream.signature_algorithm: %w", err)
	}
	signer := k.signer
	signer.Method, signer.IncludeCert = method, true
	return upstream.New(upstream.Config{
		SSOURL: cfg.Upstream.SSOURL, ACSURL: cfg.Server.BaseURL + web.UpstreamACSPath, LogoutURL: cfg.Server.BaseURL + web.UpstreamSLOPath,
		ProviderName: cfg.Upstream.ProviderName, Application: cfg.Upstream.Application,
		Signer: signer, DecryptionKeys: k.decrypters, Gateway: s.gatewayTrust,
		ClockSkew: cfg.Upstream.ClockSkew.D(), Replay: withFaults(s.Store), Now: opts.Now, Rand: opts.Rand, // storefault.go
		Log: s.Web.Log(), // the audit lines of the gateway leg
	})
}

// gatewayCerts are the configured gateway certificates (upstream.gateway_certs),
// or, with the simulator and neither them nor a certificates document, the
// simulator's own certificate.
func gatewayCerts(cfg *config.Config) ([]*x509.Certificate, error) {
	files := cfg.Upstream.GatewayCerts
	if cfg.Upstream.Mode == "simulated" && len(files) == 0 && cfg.Upstream.GatewayCertificatesURL == "" {
		files = []string{cfg.Simulator.Signing.Cert}
	}
	var out []*x509.Certificate
	for _, f := range files {
		c, err := cfg.ReadCertificate(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *Server) mountSimulator(cfg *config.Config, k *keySet, log *zap.Logger, opts Options, prev *Server) error {
	if cfg.Upstream.Mode != "simulated" {
		return nil
	}
	s.simKey = simulatorKey(cfg, k)
	if prev != nil && prev.Simulator != nil && s.simKey != "" && prev.simKey == s.simKey {
		s.Simulator = prev.Simulator // unchanged by a reload: its logins in flight go on
		s.Simulator.Mount(s.Web.Echo())
		return nil
	}
	simKey, err := loadPair(cfg, cfg.Simulator.Signing)
	if err != nil {
		return fmt.Errorf("simulator.signing: %w", err)
	}
	citizens, err := simulator.LoadCitizens(cfg.Path(cfg.Simulator.Citizens))
	if err != nil {
		return err
	}
	sc := simulator.Config{
		BaseURL: cfg.Server.BaseURL, Signer: samlxml.Signer{Key: simKey.key, Cert: simKey.cert, Method: samlxml.RSASHA512, IncludeCert: true},
		BridgeCerts: []*x509.Certificate{k.signer.Cert}, Citizens: citizens, BridgeLogoutURL: cfg.Server.BaseURL + web.UpstreamSLOPath,
		Now: opts.Now, Rand: opts.Rand, Log: log.Named("simulator"),
	}
	if al := cfg.Simulator.AutoLogin; al != nil {
		sc.AutoLogin = &simulator.AutoLogin{IdP: bridge.IdP(al.IdP), Citizen: al.Citizen, Method: al.Method}
	}
	if s.Simulator, err = simulator.New(sc); err != nil {
		return err
	}
	s.Simulator.Mount(s.Web.Echo())
	return nil
}

func (s *Server) mountDemo(cfg *config.Config, k *keySet, log *zap.Logger, opts Options, prev *Server) error {
	s.demoKey = demoKey(cfg, k)
	if prev != nil && prev.demo != nil && s.demoKey != "" && prev.demoKey == s.demoKey {
		s.demo = prev.demo // unchanged by a reload: its logins in flight go on
		s.demo.Mount(s.Web.Echo())
		return nil
	}
	pair, err := loadPair(cfg, cfg.Demo.Keys)
	if err != nil {
		return fmt.Errorf("demo.keys: %w", err)
	}
	d, err := demosp.New(demosp.Config{
		BaseURL: cfg.Server.BaseURL, Signer: samlxml.Signer{Key: pair.key, Cert: pair.cert, Method: samlxml.RSASHA256},
		ProviderName: cfg.Demo.Clave2Provider, Application: "demo-sp", StorkProvider: cfg.Demo.StorkProvider,
		BridgeCert: k.signer.Cert, Now: opts.Now, Rand: opts.Rand, Log: log.Named("demo"),
	})
	if err != nil {
		return err
	}
	s.demo = d
	d.Mount(s.Web.Echo())
	return nil
}
