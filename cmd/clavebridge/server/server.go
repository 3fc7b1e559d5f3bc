// Package server assembles a running clavebridge from its configuration:
// store, SP registry, upstream connector, simulator, inbound endpoints and
// the demo SP, behind one echo instance.
package server

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/simulator"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/upstream"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/demosp"
	"github.com/clavebridge/clavebridge/endpoints/eidas"
	"github.com/clavebridge/clavebridge/endpoints/saml2"
	"github.com/clavebridge/clavebridge/endpoints/stork"
	"github.com/clavebridge/clavebridge/metadata"
)

// Options are the injectable parts (tests pin the clock).
type Options struct {
	Now  func() time.Time
	Rand io.Reader
	// Store replaces the configured store (tests observe what is stored).
	Store store.Store
}

// Server is an assembled bridge.
type Server struct {
	Echo      *echo.Echo
	Flow      *bridge.Flow
	Store     store.Store
	Simulator *simulator.Simulator // nil when upstream.mode is clave2
	Registry  *metadata.Registry
	publisher metadata.Publisher
	baseURL   string
}

// Metadata returns the bridge's signed IdP metadata, or with upstream its
// SP metadata towards the gateway.
func (s *Server) Metadata(upstream bool) ([]byte, error) {
	if upstream {
		return s.publisher.SP(s.baseURL+"/upstream/metadata", s.baseURL+"/upstream/acs")
	}
	return s.publisher.IdP(s.baseURL+"/saml2/metadata", s.baseURL+"/saml2/sso", s.baseURL+saml2.SLOPath)
}

// New builds every part from cfg.
func New(cfg *bridge.Config, log *zap.Logger, opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return nil, err
	}
	st, err := newStore(cfg, opts)
	if err != nil {
		return nil, err
	}
	s, err := assemble(cfg, log, opts, keys, st)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the store (a Redis connection pool).
func (s *Server) Close() error { return s.Store.Close() }

// assemble builds everything that sits on the keys and the store.
func assemble(cfg *bridge.Config, log *zap.Logger, opts Options, keys *keySet, st store.Store) (*Server, error) {
	reg, err := metadata.NewRegistry(cfg, opts.Now())
	if err != nil {
		return nil, err
	}
	base := cfg.Server.BaseURL
	s := &Server{
		Echo: newEcho(cfg, log), Store: st, Registry: reg, baseURL: base,
		publisher: metadata.Publisher{Signer: keys.signer, EncryptionCert: keys.encCert, Now: opts.Now, Rand: opts.Rand},
	}
	conn, err := s.upstream(cfg, keys, opts)
	if err != nil {
		return nil, err
	}
	s.Flow = &bridge.Flow{
		Store: st, Upstream: conn, Registry: reg, Log: log, Now: opts.Now, Rand: opts.Rand,
		PendingTTL: cfg.Upstream.RequestLifetime.D(),
		Sessions:   &bridge.Sessions{Store: st, Lifetime: cfg.SSO.Lifetime.D(), Now: opts.Now, Rand: opts.Rand},
	}
	guard := bridge.RequestGuard{Replay: st, Now: opts.Now, Skew: cfg.Upstream.ClockSkew.D()}
	ep := saml2.New(saml2.Config{
		Flow: s.Flow, Registry: reg, Guard: guard, Signer: keys.signer,
		EntityID: base + "/saml2/metadata", SSOURL: base + "/saml2/sso", SLOURL: base + saml2.SLOPath,
		Metadata: func() ([]byte, error) { return s.Metadata(false) },
		Now:      opts.Now, Rand: opts.Rand, Log: log,
	})
	s.Flow.Register(ep)
	ep.Mount(s.Echo)
	proxy := eidas.New(eidas.Config{
		Flow: s.Flow, Registry: reg, Guard: guard, Signer: keys.signer,
		EntityID: base + eidas.MetadataPath, SSOURL: base + eidas.SSOPath,
		Metadata:     func() ([]byte, error) { return s.publisher.IdP(base+eidas.MetadataPath, base+eidas.SSOPath) },
		Certificates: s.publisher.Clave2Certificates,
		Now:          opts.Now, Rand: opts.Rand, Log: log,
	})
	s.Flow.Register(proxy)
	proxy.Mount(s.Echo)
	legacy := stork.New(stork.Config{
		Flow: s.Flow, Registry: reg, Guard: guard, Signer: keys.signer, SSOURL: base + stork.SSOPath,
		Now: opts.Now, Rand: opts.Rand, Log: log,
	})
	s.Flow.Register(legacy)
	legacy.Mount(s.Echo)
	s.Echo.POST("/upstream/acs", s.Flow.ACSHandler)
	s.Echo.POST("/upstream/slo", s.Flow.UpstreamSLOHandler)
	s.Echo.GET("/session", s.Flow.SessionHandler)
	s.Echo.GET("/upstream/metadata", func(c echo.Context) error {
		md, err := s.Metadata(true)
		if err != nil {
			return bridge.ErrorPage(c, log, http.StatusInternalServerError, "Metadata is not available.", err)
		}
		return c.Blob(http.StatusOK, "application/samlmetadata+xml", md)
	})
	if err := s.mountSimulator(cfg, keys, log, opts); err != nil {
		return nil, err
	}
	if cfg.Demo.Enabled {
		if err := s.mountDemo(cfg, keys, log, opts); err != nil {
			return nil, err
		}
	}
	s.mountHealth()
	return s, nil
}

func newEcho(cfg *bridge.Config, log *zap.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = bridge.ErrorHandler(log)
	e.Use(bridge.TraceMiddleware)
	e.Use(middleware.BodyLimit(fmt.Sprintf("%dB", cfg.Server.MaxBodyBytes)))
	e.Use(middleware.Recover())
	e.Server.ReadTimeout = cfg.Server.ReadTimeout.D()
	e.Server.WriteTimeout = cfg.Server.WriteTimeout.D()
	e.Server.MaxHeaderBytes = 16 << 10
	return e
}

func newStore(cfg *bridge.Config, opts Options) (store.Store, error) {
	if opts.Store != nil {
		return opts.Store, nil
	}
	switch cfg.Store.Type {
	case "memory":
		return store.NewMemory(opts.Now, 0), nil
	case "redis":
		r, err := store.DialRedis(cfg.Store.Address)
		if err != nil {
			return nil, err // not a nil *Redis in a non-nil Store
		}
		return r, nil
	default:
		return nil, fmt.Errorf("store type %q is not available yet", cfg.Store.Type)
	}
}

func (s *Server) upstream(cfg *bridge.Config, k *keySet, opts Options) (*upstream.Connector, error) {
	method, err := bridge.SignatureMethod(cfg.Upstream.SignatureAlgorithm, "rsa-sha512")
	if err != nil {
		return nil, fmt.Errorf("upstream.signature_algorithm: %w", err)
	}
	signer := k.signer
	signer.Method, signer.IncludeCert = method, true
	gateway, err := gatewayCerts(cfg)
	if err != nil {
		return nil, err
	}
	return upstream.New(upstream.Config{
		SSOURL: cfg.Upstream.SSOURL, ACSURL: cfg.Server.BaseURL + "/upstream/acs", LogoutURL: cfg.Server.BaseURL + "/upstream/slo",
		ProviderName: cfg.Upstream.ProviderName, Application: cfg.Upstream.Application,
		Signer: signer, DecryptionKeys: k.decrypters, GatewayCerts: gateway,
		ClockSkew: cfg.Upstream.ClockSkew.D(), Replay: s.Store, Now: opts.Now,
	})
}

// gatewayCerts are the configured gateway certificates, or, with the
// simulator, the simulator's own certificate.
func gatewayCerts(cfg *bridge.Config) ([]*x509.Certificate, error) {
	files := cfg.Upstream.GatewayCerts
	if cfg.Upstream.Mode == "simulated" && len(files) == 0 {
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

func (s *Server) mountSimulator(cfg *bridge.Config, k *keySet, log *zap.Logger, opts Options) error {
	if cfg.Upstream.Mode != "simulated" {
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
		BridgeCerts: []*x509.Certificate{k.signer.Cert}, Citizens: citizens, BridgeLogoutURL: cfg.Server.BaseURL + "/upstream/slo",
		Now: opts.Now, Rand: opts.Rand, Log: log.Named("simulator"),
	}
	if al := cfg.Simulator.AutoLogin; al != nil {
		sc.AutoLogin = &simulator.AutoLogin{IdP: bridge.IdP(al.IdP), Citizen: al.Citizen, Method: al.Method}
	}
	if s.Simulator, err = simulator.New(sc); err != nil {
		return err
	}
	s.Simulator.Mount(s.Echo)
	return nil
}

func (s *Server) mountDemo(cfg *bridge.Config, k *keySet, log *zap.Logger, opts Options) error {
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
	d.Mount(s.Echo)
	return nil
}

func (s *Server) mountHealth() {
	s.Echo.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	s.Echo.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.Store.Ping(ctx); err != nil {
			return c.String(http.StatusServiceUnavailable, "store unreachable\n")
		}
		return c.String(http.StatusOK, "ready\n")
	})
}

// keySet is the bridge's own key material.
type keySet struct {
	signer     samlxml.Signer
	decrypters []upstream.DecryptionKey // encryption key, then the signing key
	encCert    *x509.Certificate
}

type pair struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func loadKeys(cfg *bridge.Config) (*keySet, error) {
	sig, err := loadPair(cfg, cfg.Keys.Signing)
	if err != nil {
		return nil, fmt.Errorf("keys.signing: %w", err)
	}
	enc, err := loadPair(cfg, cfg.Keys.Encryption)
	if err != nil {
		return nil, fmt.Errorf("keys.encryption: %w", err)
	}
	ks := &keySet{signer: samlxml.Signer{Key: sig.key, Cert: sig.cert}, encCert: enc.cert}
	for _, p := range []*pair{enc, sig} {
		if dec, ok := p.key.(crypto.Decrypter); ok {
			ks.decrypters = append(ks.decrypters, upstream.DecryptionKey{Key: dec, Cert: p.cert})
		}
	}
	if len(ks.decrypters) == 0 {
		return nil, fmt.Errorf("keys: no RSA key to decrypt assertions with")
	}
	return ks, nil
}

func loadPair(cfg *bridge.Config, kp bridge.KeyPair) (*pair, error) {
	key, cert, err := cfg.ReadKeyPair(kp)
	if err != nil {
		return nil, err
	}
	return &pair{key: key, cert: cert}, nil
}
