package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testRules stands in for a dialect: it requires a name and sets a default.
type testRules struct{ name string }

func (r testRules) Name() string { return r.name }
func (r testRules) Defaults(sp *SPConfig) {
	if sp.SignatureAlgorithm == "" {
		sp.SignatureAlgorithm = "rsa-sha512"
	}
}
func (r testRules) ValidateSP(path string, sp SPConfig) []error {
	errs := Unsupported(path, sp, "profile", "used_idp")
	if sp.Name == "" {
		errs = append(errs, FieldErrorf(path+".name", "the %s dialect needs a name", r.name))
	}
	return errs
}
func (r testRules) EncryptsToSigner(SPConfig) bool { return false }

var testDialects = NewDialectSet(testRules{"saml2"}, testRules{"stork"})

func TestDialectRulesApply(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.crt", "a.key", "citizens.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	head := "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n"
	cfg, err := Parse([]byte(head+"service_providers: [{id: x, name: X, dialect: stork, return_urls: ['https://sp/acs']}]\n"), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ServiceProviders[0].SignatureAlgorithm; got != "rsa-sha512" {
		t.Fatalf("the dialect's default was not applied: %q", got)
	}
	if cfg.Dialect("stork") == nil || cfg.Dialect("oidc") != nil {
		t.Fatal("Dialect finds the wrong rules")
	}
	_, err = Parse([]byte(head+"service_providers: [{id: x, dialect: stork, profile: p, return_urls: ['https://sp/acs']}]\n"), dir, testDialects)
	for _, want := range []string{"service_providers[0].name: the stork dialect needs a name", "service_providers[0].profile: the stork dialect has no profile"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		}
	}
	if got := testDialects.Names(); !slices.Equal(got, []string{"saml2", "stork"}) {
		t.Fatalf("Names = %v", got)
	}
}

// TestConfigErrorsNameTheirPath: each mistake is reported with its YAML path.
func TestConfigErrorsNameTheirPath(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.crt", "a.key", "citizens.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := "simulator: {citizens: citizens.yaml}\n"
	keys := "keys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "nonsense: 1\n", "field nonsense not found"},
		{"bad store", "store: {type: etcd}\n", "store.type"},
		{"redis without address", "store: {type: redis}\n", "store.address"},
		{"bad mode", "upstream: {mode: magic}\n", "upstream.mode"},
		{"clave2 without certs", "upstream: {mode: clave2, sso_url: 'https://gw.example/Proxy2/ServiceProvider'}\n", "upstream.gateway_certs"},
		{"bad duration", "sso: {lifetime: forever}\n", "not a duration"},
		{"missing key file", "keys: {signing: {cert: nope.crt, key: a.key}}\n", "keys.signing.cert"},
		{"no keys", "", "keys.signing: needs cert and key"},
		{"sp bad loa", "service_providers: [{id: x, name: X, dialect: saml2, return_urls: ['https://sp/acs'], min_loa: medium}]\n", "service_providers[0].min_loa"},
		{"sp bad idp", "service_providers: [{id: x, name: X, dialect: saml2, return_urls: ['https://sp/acs'], deny_idps: [GOOGLE]}]\n", "service_providers[0].deny_idps[0]"},
		{"sp bad dialect", "service_providers: [{id: x, dialect: oidc, return_urls: ['https://sp/acs']}]\n", "service_providers[0].dialect: \"oidc\" is not one of saml2, stork"},
		{"sp bad url", "service_providers: [{id: x, name: X, dialect: saml2, return_urls: ['javascript:alert(1)']}]\n", "service_providers[0].return_urls[0]"},
		{"sp bad attribute", "service_providers: [{id: x, name: X, dialect: saml2, return_urls: ['https://sp/acs'], attributes: [shoeSize]}]\n", "service_providers[0].attributes[0]"},
		{"metadata refresh max below min", "metadata_refresh: {min: 2h, max: 1h}\n", "metadata_refresh: min 2h0m0s and max 1h0m0s"},
		{"metadata refresh negative", "metadata_refresh: {min: -1h}\n", "metadata_refresh: min -1h0m0s"},
		{"sp duplicate", "service_providers: [{id: x, name: X, dialect: saml2, return_urls: ['https://sp/a']}, {id: x, name: X, dialect: saml2, return_urls: ['https://sp/b']}]\n", "service_providers[1].id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := base + tt.yaml
			if !strings.HasPrefix(tt.yaml, "keys:") && tt.name != "no keys" {
				doc += keys
			}
			_, err := Parse([]byte(doc), dir, testDialects)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := Parse([]byte(base+keys), dir, testDialects); err != nil {
		t.Fatalf("minimal config refused: %v", err)
	}
}

// TestMetadataRefreshBounds: metadata_refresh's defaults and clamping.
func TestMetadataRefreshBounds(t *testing.T) {
	tests := []struct {
		in       MetadataRefreshConfig
		min, max time.Duration
	}{
		{MetadataRefreshConfig{}, time.Hour, 24 * time.Hour},
		{MetadataRefreshConfig{Min: Duration(10 * time.Minute)}, 10 * time.Minute, 24 * time.Hour},
		{MetadataRefreshConfig{Min: Duration(2 * time.Hour), Max: Duration(6 * time.Hour)}, 2 * time.Hour, 6 * time.Hour},
		{MetadataRefreshConfig{Min: Duration(48 * time.Hour)}, 48 * time.Hour, 48 * time.Hour},
	}
	for _, tt := range tests {
		if min, max := tt.in.Bounds(); min != tt.min || max != tt.max {
			t.Errorf("%+v: %v, %v; want %v, %v", tt.in, min, max, tt.min, tt.max)
		}
	}
}
