// Package config reads the one YAML file an operator writes: strict
// decoding (unknown keys are errors), defaults, and validation that names
// every error's YAML path. What a dialect requires of its SPs is asked of
// that dialect through DialectRules.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the one YAML file an operator writes.
type Config struct {
	// Mode is production (the default: test keys, demo SPs, the simulator
	// and auto-login are errors) or development (they are warnings).
	Mode             string          `yaml:"mode"`
	Server           ServerConfig    `yaml:"server"`
	Metrics          MetricsConfig   `yaml:"metrics"`
	Keys             KeysConfig      `yaml:"keys"`
	Store            StoreConfig     `yaml:"store"`
	SSO              SSOConfig       `yaml:"sso"`
	Upstream         UpstreamConfig  `yaml:"upstream"`
	Simulator        SimulatorConfig `yaml:"simulator"`
	Demo             DemoConfig      `yaml:"demo"`
	ServiceProviders []SPConfig      `yaml:"service_providers"`
	Log              LogConfig       `yaml:"log"`
	Secrets          SecretsConfig   `yaml:"secrets"`
	// MetadataRefresh bounds how often SP metadata given by URL is fetched
	// again (its cacheDuration, clamped to [min, max]; default 1h and 24h).
	MetadataRefresh MetadataRefreshConfig `yaml:"metadata_refresh"`
	// MetadataCacheDir keeps the last good copy of each SP's metadata
	// fetched by URL, so that a restart works while the SP's server is down
	// (empty: no copies are kept).
	MetadataCacheDir string `yaml:"metadata_cache_dir"`

	dir      string     // directory of the file, for relative paths
	dialects DialectSet // the dialects SPs may speak
}

// DialectRules are what a dialect knows of its SPs' configuration; each
// package under endpoints/ provides them.
type DialectRules interface {
	// Name is the value of service_providers[].dialect it serves.
	Name() string
	// Defaults fills the dialect's defaults into an SP's configuration
	// (profile, algorithms, whether requests must be signed).
	Defaults(sp *SPConfig)
	// ValidateSP reports the dialect's own errors in an SP's
	// configuration, each with its YAML path below path.
	ValidateSP(path string, sp SPConfig) []error
	// EncryptsToSigner reports whether, with no encryption certificate
	// registered, the dialect encrypts sp's assertions to the certificate
	// that signed its request (as Cl@ve 2.0 does towards its kits).
	EncryptsToSigner(sp SPConfig) bool
}

// DialectSet is the dialects a bridge serves, by name.
type DialectSet map[string]DialectRules

// NewDialectSet indexes rules by their names.
func NewDialectSet(rules ...DialectRules) DialectSet {
	set := DialectSet{}
	for _, r := range rules {
		set[r.Name()] = r
	}
	return set
}

// Names lists the dialects in alphabetical order.
func (s DialectSet) Names() []string {
	return slices.Sorted(maps.Keys(s))
}

// Dialect returns the rules of an SP's dialect, nil when none.
func (c *Config) Dialect(name string) DialectRules { return c.dialects[name] }

// ServerConfig is where the bridge listens and how it names itself.
type ServerConfig struct {
	Listen       string   `yaml:"listen"`
	BaseURL      string   `yaml:"base_url"`
	MaxBodyBytes int      `yaml:"max_body_bytes"`
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// ShutdownTimeout is how long in-flight requests may drain after
	// SIGTERM.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// AccessibilityURL is the operator's accessibility statement and
	// contact (RD 1112/2018), linked from every page citizens see;
	// required in production.
	AccessibilityURL string `yaml:"accessibility_url"`
	// ReplicaID names this replica, opaquely, in the X-Clavebridge-Replica
	// header of every response ("": a random 8-hex id drawn at start).
	ReplicaID string `yaml:"replica_id"`
}

// MetricsConfig is the Prometheus listener, apart from the public one.
type MetricsConfig struct {
	Listen string `yaml:"listen"` // host:port; empty: no metrics
}

// The modes.
const (
	ModeProduction  = "production"
	ModeDevelopment = "development"
)

// SimulatorCertificatesPath is the simulated gateway's certificates
// document below server.base_url (upstream.gateway_certificates_url's
// default in simulated mode).
const SimulatorCertificatesPath = "/sim/Proxy2/Certificates"

// KeyPair names a PEM certificate and private key.
type KeyPair struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// KeysConfig holds the bridge's own keys.
type KeysConfig struct {
	Signing    KeyPair `yaml:"signing"`
	Encryption KeyPair `yaml:"encryption"`
	// NextSigning and NextEncryption are the keys that will replace them
	// (optional): published in our metadata beside the current ones, and
	// tried when decrypting, so that SPs and Cl@ve can learn them before
	// the operator moves them to signing and encryption and reloads.
	NextSigning    KeyPair `yaml:"next_signing"`
	NextEncryption KeyPair `yaml:"next_encryption"`
}

// StoreConfig chooses the state store.
type StoreConfig struct {
	Type    string `yaml:"type"` // memory (default) or redis
	Address string `yaml:"address"`
	// Redis: mode, servers, credentials, TLS, timeouts (see redis.go).
	Redis RedisConfig `yaml:"redis"`
	// Budgets cap each kind of state separately, so that one kind filling
	// up never locks the others out.
	Budgets StoreBudgets `yaml:"budgets"`
}

// StoreBudgets are the most entries of each kind the store keeps.
type StoreBudgets struct {
	Pending  int `yaml:"pending"`  // logouts under way (default 10000)
	Replay   int `yaml:"replay"`   // message IDs seen (default 200000)
	Sessions int `yaml:"sessions"` // SSO sessions (default 100000)
}

// SecretsConfig names the bridge's secrets. Each comes from a file or an
// environment variable, never from this file itself.
type SecretsConfig struct {
	// StateKeys seal what the bridge keeps in browsers (pending logins)
	// and at rest (SSO sessions): the first seals, every one opens, so a
	// key can rotate by adding a new one first.
	StateKeys []StateKey `yaml:"state_keys"`
	// Pairwise keys the persistent pairwise NameIDs; it must never change,
	// or every SP sees its citizens as new ones.
	Pairwise Secret `yaml:"pairwise"`
}

// Secret is where one secret is: a file or an environment variable whose
// content is at least 32 bytes, written in hex or base64.
type Secret struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
}

// StateKey is a sealing key with the id that names it in what it seals.
type StateKey struct {
	ID     string `yaml:"id"`
	Secret `yaml:",inline"`
}

// SSOConfig sets the single sign-on session lifetime.
type SSOConfig struct {
	Lifetime Duration `yaml:"lifetime"`
}

// UpstreamConfig describes the Cl@ve 2.0 gateway the bridge logs in through.
type UpstreamConfig struct {
	Mode         string   `yaml:"mode"` // simulated (default) or clave2
	SSOURL       string   `yaml:"sso_url"`
	ProviderName string   `yaml:"provider_name"`
	Application  string   `yaml:"application"`
	GatewayCerts []string `yaml:"gateway_certs"`
	// GatewayCertificatesURL is the gateway's /Proxy2/Certificates document,
	// fetched and refreshed as its trust store, its signing certificates
	// trusted beside GatewayCerts (simulated mode: the simulator's). The
	// document is not signed: its trust is TLS's (https, the system roots
	// or GatewayCertificatesCA).
	GatewayCertificatesURL string `yaml:"gateway_certificates_url"`
	// GatewayCertificatesRefresh is how often it is fetched again (24h).
	GatewayCertificatesRefresh Duration `yaml:"gateway_certificates_refresh"`
	// GatewayCertificatesCA is a PEM file of the CAs its https server's
	// certificate must chain to, instead of the system roots.
	GatewayCertificatesCA string `yaml:"gateway_certificates_ca"`
	// GatewayCertificatesCache is the file keeping the last good copy
	// (default: gateway-certificates.xml in metadata_cache_dir, if set).
	GatewayCertificatesCache string   `yaml:"gateway_certificates_cache"`
	SignatureAlgorithm       string   `yaml:"signature_algorithm"`
	ClockSkew                Duration `yaml:"clock_skew"`
	RequestLifetime          Duration `yaml:"request_lifetime"`
}

// SimulatorConfig drives the embedded Cl@ve 2.0 gateway simulator.
type SimulatorConfig struct {
	Citizens  string           `yaml:"citizens"`
	Signing   KeyPair          `yaml:"signing"`
	AutoLogin *AutoLoginConfig `yaml:"auto_login"`
}

// AutoLoginConfig makes the simulator authenticate without pages.
type AutoLoginConfig struct {
	IdP     string `yaml:"idp"`
	Citizen string `yaml:"citizen"`
	Method  string `yaml:"method"` // AFIRMA certificate kind: dnie, software, legal
}

// DemoConfig enables the demo service provider pages.
type DemoConfig struct {
	Enabled bool    `yaml:"enabled"`
	Keys    KeyPair `yaml:"keys"`
	// Clave2Provider is the ProviderName ("<NIF>_<DIR3>") of the Cl@ve 2.0
	// kit-like demo SP; register an eidas SP with this id to use it.
	Clave2Provider string `yaml:"clave2_provider"`
	// StorkProvider is the ProviderName of the Cl@ve 1 (STORK) demo SP.
	StorkProvider string `yaml:"stork_provider"`
}

// LogConfig chooses the log format.
type LogConfig struct {
	Development bool `yaml:"development"`
}

// SPConfig is one service provider's registration and policy.
type SPConfig struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// DisplayName is how the citizen's pages name the service ("": name,
	// else the metadata's OrganizationDisplayName, else the id).
	DisplayName string `yaml:"display_name"`
	// HomeURL is the service's home page, the error pages' link back to it
	// ("": the metadata's OrganizationURL, if any); https (http only in
	// development mode).
	HomeURL string `yaml:"home_url"`
	Dialect string `yaml:"dialect"` // saml2, eidas, stork, or another registered dialect
	// Profile, for the eidas dialect: clave2 (metadata-less Cl@ve 2.0 kit,
	// identified by ProviderName; the default) or eidas (identified by the
	// Issuer = its metadata URL).
	Profile  string `yaml:"profile"`
	Metadata string `yaml:"metadata"` // file, or https URL
	// MetadataSigningCert verifies the metadata's signature (required for
	// metadata fetched from a URL and for eIDAS-profile SPs).
	MetadataSigningCert string   `yaml:"metadata_signing_cert"`
	Certs               []string `yaml:"certs"`
	EncryptionCert      string   `yaml:"encryption_cert"`
	ReturnURLs          []string `yaml:"return_urls"`
	LogoutURLs          []string `yaml:"logout_urls"` // where LogoutRequests/Responses go
	MinLoA              string   `yaml:"min_loa"`
	AllowIdPs           []string `yaml:"allow_idps"`
	DenyIdPs            []string `yaml:"deny_idps"`
	Attributes          []string `yaml:"attributes"`
	LegalPersons        bool     `yaml:"legal_persons"`
	RequireSigned       *bool    `yaml:"require_signed_requests"`
	EncryptAssertions   bool     `yaml:"encrypt_assertions"`
	SignatureAlgorithm  string   `yaml:"signature_algorithm"`
	KeyTransport        string   `yaml:"key_transport"`
	DataEncryption      string   `yaml:"data_encryption"`
	LegacySHA1          bool     `yaml:"legacy_sha1"`
	AttributeNames      string   `yaml:"attribute_names"`    // friendly (default) or uri
	StringValueTypes    bool     `yaml:"string_value_types"` // eidas: xs:string values
	// AttributeProfile, for the saml2 dialect: eidas (the default) or sir
	// (the SIR federation's LDAP/SCHAC names where one exists).
	AttributeProfile string `yaml:"attribute_profile"`
	// SSOLifetime overrides sso.lifetime for this SP; 0s: never reuse a session.
	SSOLifetime *Duration `yaml:"sso_lifetime"`
	// MetadataAllowHTTP lets this SP's metadata come over plain http.
	MetadataAllowHTTP bool `yaml:"metadata_allow_http"`
	// MetadataAllowPrivate lets this SP's metadata come from a loopback,
	// private or link-local address.
	MetadataAllowPrivate bool `yaml:"metadata_allow_private"`
	UsedIdP              bool `yaml:"used_idp"` // stork: always send usedIdP
}

// MetadataRefreshConfig bounds the refresh of SP metadata given by URL.
type MetadataRefreshConfig struct {
	Min Duration `yaml:"min"`
	Max Duration `yaml:"max"`
}

// Bounds returns min and max with their defaults (1h, 24h).
func (m MetadataRefreshConfig) Bounds() (min, max time.Duration) {
	min, max = m.Min.D(), m.Max.D()
	if min <= 0 {
		min = time.Hour
	}
	if max <= 0 {
		max = 24 * time.Hour
	}
	if max < min {
		max = min
	}
	return min, max
}

// Duration is a time.Duration written as "30s", "1h".
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil { // a TypeError: the decoder goes on and reports the rest too
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration like 30s or 1h", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads and strictly decodes a YAML config (unknown keys are
// errors), fills defaults and validates it; SPs may speak the dialects.
func Load(path string, dialects DialectSet) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data, filepath.Dir(path), dialects)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes data; relative file names resolve against dir.
func Parse(data []byte, dir string, dialects DialectSet) (*Config, error) {
	cfg, err := decode(data, dir, dialects)
	if err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	cfg.applyDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// decode strictly decodes data (unknown keys are errors). After a
// *yaml.TypeError (unknown keys, values of the wrong type) the rest of the
// file is decoded still; after any other error nothing is.
func decode(data []byte, dir string, dialects DialectSet) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// Defaults where zero is a value of its own are set before decoding,
	// so that an explicit zero stays (sso.lifetime: 0s turns SSO off).
	cfg := &Config{SSO: SSOConfig{Lifetime: Duration(time.Hour)}, dir: dir, dialects: dialects}
	return cfg, dec.Decode(cfg)
}

// Path resolves a file name from the config relative to the config's folder.
func (c *Config) Path(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(c.dir, name)
}

func (c *Config) applyDefaults() {
	setDefault(&c.Mode, ModeProduction)
	setDefault(&c.Server.Listen, "127.0.0.1:8080")
	setDurationDefault(&c.Server.ShutdownTimeout, 10*time.Second)
	setDefault(&c.Server.BaseURL, "http://localhost:8080")
	c.Server.BaseURL = strings.TrimRight(c.Server.BaseURL, "/")
	if c.Server.MaxBodyBytes == 0 {
		c.Server.MaxBodyBytes = 512 << 10
	}
	setDurationDefault(&c.Server.ReadTimeout, 10*time.Second)
	setDurationDefault(&c.Server.WriteTimeout, 10*time.Second)
	setDefault(&c.Store.Type, "memory")
	setIntDefault(&c.Store.Budgets.Pending, 10000)
	setIntDefault(&c.Store.Budgets.Replay, 200000)
	setIntDefault(&c.Store.Budgets.Sessions, 100000)
	c.redisDefaults()
	setDefault(&c.Upstream.Mode, "simulated")
	if c.Upstream.Mode == "simulated" {
		setDefault(&c.Upstream.SSOURL, c.Server.BaseURL+"/sim/Proxy2/ServiceProvider")
		if len(c.Upstream.GatewayCerts) == 0 {
			setDefault(&c.Upstream.GatewayCertificatesURL, c.Server.BaseURL+SimulatorCertificatesPath)
		}
	}
	setDurationDefault(&c.Upstream.GatewayCertificatesRefresh, 24*time.Hour)
	if c.Upstream.GatewayCertificatesURL != "" && c.MetadataCacheDir != "" {
		setDefault(&c.Upstream.GatewayCertificatesCache, filepath.Join(c.MetadataCacheDir, "gateway-certificates.xml"))
	}
	setDefault(&c.Upstream.ProviderName, "clavebridge")
	setDefault(&c.Upstream.Application, "clavebridge")
	setDefault(&c.Upstream.SignatureAlgorithm, "rsa-sha512")
	setDurationDefault(&c.Upstream.ClockSkew, 30*time.Second)
	setDurationDefault(&c.Upstream.RequestLifetime, 15*time.Minute)
	if c.Keys.Encryption == (KeyPair{}) {
		c.Keys.Encryption = c.Keys.Signing
		if c.Keys.NextEncryption == (KeyPair{}) { // one key for both, now and next
			c.Keys.NextEncryption = c.Keys.NextSigning
		}
	}
	if c.Simulator.Signing == (KeyPair{}) {
		c.Simulator.Signing = c.Keys.Signing
	}
	for i := range c.ServiceProviders {
		sp := &c.ServiceProviders[i]
		setDefault(&sp.MinLoA, "low")
		setDefault(&sp.AttributeNames, "friendly")
		if d := c.dialects[sp.Dialect]; d != nil {
			d.Defaults(sp)
		}
	}
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

func setIntDefault(n *int, v int) {
	if *n == 0 {
		*n = v
	}
}

func setDurationDefault(d *Duration, v time.Duration) {
	if *d == 0 {
		*d = Duration(v)
	}
}
