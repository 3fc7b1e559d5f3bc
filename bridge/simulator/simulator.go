// Package simulator is a simulated Cl@ve 2.0 identity gateway: it checks the
// bridge's signed eIDAS AuthnRequest as the real gateway does, lets a test
// citizen from YAML pick an identity provider and log in through simulated
// pages, and answers with a signed Response carrying an encrypted assertion.
package simulator

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// Paths of the simulated gateway, below Config.BaseURL.
const (
	ssoPath      = "/sim/Proxy2/ServiceProvider"
	loginPath    = "/sim/Proxy2/Login"
	metadataPath = "/sim/Proxy2/Metadata"
	// CertificatesPath is the gateway's certificates document (certificates.go).
	CertificatesPath = "/sim/Proxy2/Certificates"
)

// Limits of the in-memory state.
const (
	defaultLifetime = 5 * time.Minute
	replayTTL       = 11 * time.Minute // longer than the ±5 minute IssueInstant window
	loginTTL        = 15 * time.Minute
	maxReplayIDs    = 100000
	maxLogins       = 10000
)

// AutoLogin makes the simulator authenticate one citizen without pages.
type AutoLogin struct {
	IdP     translate.IdP
	Citizen string // the citizen's id
	Method  string // AFIRMA certificate kind: dnie, software or legal
}

// Config configures a Simulator.
type Config struct {
	// BaseURL is the public base URL of the process, e.g.
	// http://localhost:8080; the simulator lives under BaseURL+"/sim".
	BaseURL string
	// Signer is the gateway's signing key (Method default rsa-sha512; the
	// certificate is always included).
	Signer samlxml.Signer
	// BridgeCerts are the certificates registered for the bridge, the only
	// service provider of this gateway.
	BridgeCerts []*x509.Certificate
	Citizens    []Citizen
	AutoLogin   *AutoLogin
	// BridgeLogoutURL is the bridge's registered single logout URL (its
	// /upstream/slo): the only Issuer of a LogoutRequest the gateway
	// answers, and where it sends its own. Empty disables single logout.
	BridgeLogoutURL string
	// ResponseLifetime is the assertion's validity (default 5 minutes).
	ResponseLifetime time.Duration
	Now              func() time.Time // default time.Now
	Rand             io.Reader        // default crypto/rand; used under a lock
	Log              *zap.Logger      // default no logging
}

// Simulator is the simulated gateway. It is safe for concurrent use.
type Simulator struct {
	base     string
	signer   samlxml.Signer // as configured; keys holds the one in use
	keys     signingKeys
	verifier samlxml.Verifier
	citizens []Citizen
	auto     *authn // AutoLogin, resolved
	lifetime time.Duration
	now      func() time.Time
	rand     io.Reader
	log      *zap.Logger
	replay   *ttlMap[struct{}]
	logins   *ttlMap[login]
	count    atomic.Int64
	// Single logout: the bridge's logout URL, accepted LogoutRequests and
	// the gateway-initiated logouts.
	logoutURL string
	logouts   atomic.Int64
	slo       *sloState
}

// New checks cfg and builds a Simulator.
func New(cfg Config) (*Simulator, error) {
	base, err := checkBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if err := checkKeys(cfg); err != nil {
		return nil, err
	}
	if err := checkBridgeLogoutURL(cfg.BridgeLogoutURL); err != nil {
		return nil, err
	}
	citizens, err := normalizeCitizens(cfg.Citizens)
	if err != nil {
		return nil, fmt.Errorf("simulator citizens: %w", err)
	}
	auto, err := resolveAutoLogin(cfg.AutoLogin, citizens)
	if err != nil {
		return nil, fmt.Errorf("simulator auto_login: %w", err)
	}
	s := &Simulator{
		base:     base,
		signer:   cfg.Signer,
		verifier: samlxml.Verifier{Certs: append([]*x509.Certificate(nil), cfg.BridgeCerts...)},
		citizens: citizens,
		auto:     auto,
		lifetime: cfg.ResponseLifetime,
		now:      cfg.Now,
		rand:     cfg.Rand,
		log:      cfg.Log,
		replay:   newTTLMap[struct{}](replayTTL, maxReplayIDs),
		logins:   newTTLMap[login](loginTTL, maxLogins),

		logoutURL: cfg.BridgeLogoutURL,
		slo:       newSLOState(),
	}
	s.applyDefaults()
	s.keys.active = s.signer
	return s, nil
}

func (s *Simulator) applyDefaults() {
	if s.signer.Method == "" {
		s.signer.Method = samlxml.RSASHA512
	}
	s.signer.IncludeCert = true
	if s.lifetime <= 0 {
		s.lifetime = defaultLifetime
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	s.rand = &lockedReader{r: s.rand}
	if s.log == nil {
		s.log = zap.NewNop()
	}
}

func checkBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("simulator base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("simulator base URL %q is not an absolute http(s) URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("simulator base URL %q has a query or fragment", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

func checkKeys(cfg Config) error {
	if cfg.Signer.Key == nil || cfg.Signer.Cert == nil {
		return errors.New("simulator signer needs a key and its certificate")
	}
	if len(cfg.BridgeCerts) == 0 {
		return errors.New("simulator needs at least one bridge certificate to verify requests")
	}
	for i, c := range cfg.BridgeCerts {
		if c == nil {
			return fmt.Errorf("simulator bridge certificate #%d is nil", i+1)
		}
	}
	return nil
}

// Mount registers the gateway's routes under /sim.
func (s *Simulator) Mount(e *echo.Echo) {
	e.POST(ssoPath, s.handleServiceProvider) // login, or single logout
	e.GET(ssoPath, s.handleSSO)
	e.POST(loginPath, s.handleLogin)
	e.GET(CertificatesPath, s.handleCertificates)
}

// SSOURL is where the bridge sends its AuthnRequests.
func (s *Simulator) SSOURL() string { return s.base + ssoPath }

// Logins returns how many authentications completed successfully.
func (s *Simulator) Logins() int { return int(s.count.Load()) }

func (s *Simulator) issuer() string { return s.base + metadataPath }

func (s *Simulator) loginURL() string { return s.base + loginPath }

// lockedReader serializes reads so that any injected Rand may be shared by
// concurrent requests.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
