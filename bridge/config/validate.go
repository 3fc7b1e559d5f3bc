package config

// validate.go: the checks Validate runs on a decoded configuration, each
// error with its YAML path.

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/clavebridge/clavebridge/bridge/hsm"
	"github.com/clavebridge/clavebridge/translate"
)

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
	if c.Server.AccessibilityURL != "" {
		add(c.checkPageURL("server.accessibility_url", c.Server.AccessibilityURL))
	}
	if id := c.Server.ReplicaID; id != "" && !replicaIDPattern.MatchString(id) {
		add(fieldErr("server.replica_id", "%q is not 1 to 64 letters, digits, dots, dashes or underscores", id))
	}
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
	if c.Store.Type == "redis" {
		errs = append(errs, c.validateRedis()...) // redis.go
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
		if sp.HomeURL != "" {
			add(c.checkPageURL(path+".home_url", sp.HomeURL))
		}
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
		if len(u.GatewayCerts) == 0 && u.GatewayCertificatesURL == "" {
			errs = append(errs, fieldErr("upstream.gateway_certs", "at least one trusted gateway certificate, or upstream.gateway_certificates_url, is required"))
		}
	default:
		errs = append(errs, fieldErr("upstream.mode", "%q is not simulated or clave2", u.Mode))
	}
	for i, f := range u.GatewayCerts {
		if err := c.checkFile(fmt.Sprintf("upstream.gateway_certs[%d]", i), f); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.validateGatewayCertificates()...)
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
	if hsm.IsURI(kp.Key) {
		return checkTokenKey(path+".key", kp.Key)
	}
	return c.checkFile(path+".key", kp.Key)
}

// checkTokenKey validates a key held in a PKCS#11 token (a pkcs11: URI),
// and refuses it in a binary built without PKCS#11 support.
func checkTokenKey(path, raw string) error {
	if _, err := hsm.ParseURI(raw); err != nil {
		return &FieldError{Path: path, Err: err}
	}
	if !hsm.Supported {
		return &FieldError{Path: path, Err: hsm.ErrNotBuilt}
	}
	return nil
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

// checkPageURL checks a URL the citizen's pages link to: absolute https,
// or http in development mode only.
func (c *Config) checkPageURL(path, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && (u.Scheme != "http" || c.Mode != ModeDevelopment)) {
		return fieldErr(path, "%q is not an absolute https URL (http only in development mode)", raw)
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
		"attribute_profile":  sp.AttributeProfile != "",
	}
	var errs []error
	for _, k := range keys {
		if set[k] {
			errs = append(errs, fieldErr(path+"."+k, "the %s dialect has no %s", sp.Dialect, k))
		}
	}
	return errs
}
