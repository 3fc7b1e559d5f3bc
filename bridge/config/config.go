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
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clavebridge/clavebridge/translate"
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
	Mode               string   `yaml:"mode"` // simulated (default) or clave2
	SSOURL             string   `yaml:"sso_url"`
	ProviderName       string   `yaml:"provider_name"`
	Application        string   `yaml:"application"`
	GatewayCerts       []string `yaml:"gateway_certs"`
	SignatureAlgorithm string   `yaml:"signature_algorithm"`
	ClockSkew          Duration `yaml:"clock_skew"`
	RequestLifetime    Duration `yaml:"request_lifetime"`
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
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
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
	setDefault(&c.Upstream.Mode, "simulated")
	if c.Upstream.Mode == "simulated" {
		setDefault(&c.Upstream.SSOURL, c.Server.BaseURL+"/sim/Proxy2/ServiceProvider")
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

// FieldError is one configuration error at a YAML path.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf builds a FieldError at path.
func FieldErrorf(path, format string, args ...any) error {
	return fieldErr(path, format, args...)
}

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// Validate reports every error in the configuration with its YAML path.
func (c *Config) Validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.Mode != ModeProduction && c.Mode != ModeDevelopment {
		add(fieldErr("mode", "%q is not production or development", c.Mode))
	}
	add(checkURL("server.base_url", c.Server.BaseURL))
	add(c.checkKeyPair("keys.signing", c.Keys.Signing))
	add(c.checkKeyPair("keys.encryption", c.Keys.Encryption))
	if c.Keys.NextSigning != (KeyPair{}) {
		add(c.checkKeyPair("keys.next_signing", c.Keys.NextSigning))
	}
	if c.Keys.NextEncryption != (KeyPair{}) && c.Keys.NextEncryption != c.Keys.NextSigning {
		add(c.checkKeyPair("keys.next_encryption", c.Keys.NextEncryption))
	}
	if c.Store.Type != "memory" && c.Store.Type != "redis" {
		add(fieldErr("store.type", "%q is not memory or redis", c.Store.Type))
	}
	if c.Store.Type == "redis" && c.Store.Address == "" {
		add(fieldErr("store.address", "redis needs an address"))
	}
	if r := c.MetadataRefresh; r.Min < 0 || r.Max < 0 || (r.Min > 0 && r.Max > 0 && r.Max < r.Min) {
		add(fieldErr("metadata_refresh", "min %s and max %s: both must be positive, and max at least min", r.Min.D(), r.Max.D()))
	}
	errs = append(errs, c.validateUpstream()...)
	errs = append(errs, c.validateSecrets()...)
	seen := map[string]int{}
	for i, sp := range c.ServiceProviders {
		path := fmt.Sprintf("service_providers[%d]", i)
		key := sp.Dialect + " " + sp.ID
		if j, dup := seen[key]; dup {
			add(fieldErr(path+".id", "%q is already registered at service_providers[%d]", sp.ID, j))
		}
		seen[key] = i
		errs = append(errs, c.validateSP(path, sp)...)
	}
	return errs
}

func (c *Config) validateUpstream() []error {
	var errs []error
	u := c.Upstream
	switch u.Mode {
	case "simulated":
		if c.Simulator.Citizens == "" {
			errs = append(errs, fieldErr("simulator.citizens", "the simulator needs a citizens file"))
		} else if err := c.checkFile("simulator.citizens", c.Simulator.Citizens); err != nil {
			errs = append(errs, err)
		}
		if err := c.checkKeyPair("simulator.signing", c.Simulator.Signing); err != nil {
			errs = append(errs, err)
		}
	case "clave2":
		if err := checkURL("upstream.sso_url", u.SSOURL); err != nil {
			errs = append(errs, err)
		}
		if len(u.GatewayCerts) == 0 {
			errs = append(errs, fieldErr("upstream.gateway_certs", "at least one trusted gateway certificate is required"))
		}
	default:
		errs = append(errs, fieldErr("upstream.mode", "%q is not simulated or clave2", u.Mode))
	}
	for i, f := range u.GatewayCerts {
		if err := c.checkFile(fmt.Sprintf("upstream.gateway_certs[%d]", i), f); err != nil {
			errs = append(errs, err)
		}
	}
	if strings.Contains(u.ProviderName, ";") {
		errs = append(errs, fieldErr("upstream.provider_name", "must not contain ';'"))
	}
	return errs
}

func (c *Config) validateSP(path string, sp SPConfig) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if sp.ID == "" {
		add(fieldErr(path+".id", "required"))
	}
	if d := c.dialects[sp.Dialect]; d != nil {
		errs = append(errs, d.ValidateSP(path, sp)...)
	} else {
		add(fieldErr(path+".dialect", "%q is not one of %s", sp.Dialect, strings.Join(c.dialects.Names(), ", ")))
	}
	if sp.Metadata == "" && len(sp.Certs) == 0 && len(sp.ReturnURLs) == 0 {
		add(fieldErr(path, "needs metadata, or certs and return_urls"))
	}
	errs = append(errs, c.validateMetadata(path, sp)...)
	for i, f := range sp.Certs {
		add(c.checkFile(fmt.Sprintf("%s.certs[%d]", path, i), f))
	}
	for i, u := range sp.ReturnURLs {
		add(checkURL(fmt.Sprintf("%s.return_urls[%d]", path, i), u))
	}
	for i, u := range sp.LogoutURLs {
		add(checkURL(fmt.Sprintf("%s.logout_urls[%d]", path, i), u))
	}
	if _, err := translate.ParseLoA(sp.MinLoA); err != nil {
		add(&FieldError{Path: path + ".min_loa", Err: err})
	}
	for i, name := range sp.AllowIdPs {
		if _, err := translate.ParseIdP(name); err != nil {
			add(&FieldError{Path: fmt.Sprintf("%s.allow_idps[%d]", path, i), Err: err})
		}
	}
	for i, name := range sp.DenyIdPs {
		if _, err := translate.ParseIdP(name); err != nil {
			add(&FieldError{Path: fmt.Sprintf("%s.deny_idps[%d]", path, i), Err: err})
		}
	}
	for i, name := range sp.Attributes {
		if _, ok := translate.Wire(translate.Attr(name)); !ok {
			add(fieldErr(fmt.Sprintf("%s.attributes[%d]", path, i), "unknown attribute %q", name))
		}
	}
	if sp.AttributeNames != "friendly" && sp.AttributeNames != "uri" {
		add(fieldErr(path+".attribute_names", "%q is not friendly or uri", sp.AttributeNames))
	}
	return errs
}

func (c *Config) validateMetadata(path string, sp SPConfig) []error {
	var errs []error
	remote := IsURL(sp.Metadata)
	switch {
	case remote:
		if err := checkURL(path+".metadata", sp.Metadata); err != nil {
			errs = append(errs, err)
		}
	case sp.Metadata != "":
		if err := c.checkFile(path+".metadata", sp.Metadata); err != nil {
			errs = append(errs, err)
		}
	}
	if sp.MetadataSigningCert != "" {
		if err := c.checkFile(path+".metadata_signing_cert", sp.MetadataSigningCert); err != nil {
			errs = append(errs, err)
		}
	} else if remote {
		errs = append(errs, fieldErr(path+".metadata_signing_cert", "required to check the metadata's signature"))
	}
	return errs
}

// IsURL reports whether a configured metadata source is a URL, not a file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

func (c *Config) checkKeyPair(path string, kp KeyPair) error {
	if kp.Cert == "" || kp.Key == "" {
		return fieldErr(path, "needs cert and key (run `clavebridge keys` to make test keys)")
	}
	if err := c.checkFile(path+".cert", kp.Cert); err != nil {
		return err
	}
	return c.checkFile(path+".key", kp.Key)
}

func (c *Config) checkFile(path, name string) error {
	if _, err := os.Stat(c.Path(name)); err != nil {
		return &FieldError{Path: path, Err: err}
	}
	return nil
}

func checkURL(path, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fieldErr(path, "%q is not an absolute http(s) URL", raw)
	}
	return nil
}

// Unsupported reports the dialect-specific keys that sp sets although its
// dialect has none of them: profile, used_idp, string_value_types.
func Unsupported(path string, sp SPConfig, keys ...string) []error {
	set := map[string]bool{
		"profile":            sp.Profile != "",
		"used_idp":           sp.UsedIdP,
		"string_value_types": sp.StringValueTypes,
	}
	var errs []error
	for _, k := range keys {
		if set[k] {
			errs = append(errs, fieldErr(path+"."+k, "the %s dialect has no %s", sp.Dialect, k))
		}
	}
	return errs
}
