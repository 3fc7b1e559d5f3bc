package stork

import (
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
)

func boolPtr(b bool) *bool { return &b }

// TestRulesDefaults: a Cl@ve 1 SP must sign its requests, and gets
// rsa-sha256 and rsa-oaep-mgf1p, unless its configuration says otherwise.
func TestRulesDefaults(t *testing.T) {
	tests := []struct {
		name string
		sp   config.SPConfig
		want config.SPConfig
	}{
		{"unset", config.SPConfig{Dialect: DialectName},
			config.SPConfig{Dialect: DialectName, RequireSigned: boolPtr(true), SignatureAlgorithm: "rsa-sha256", KeyTransport: "rsa-oaep-mgf1p"}},
		{"unsigned requests allowed", config.SPConfig{Dialect: DialectName, RequireSigned: boolPtr(false)},
			config.SPConfig{Dialect: DialectName, RequireSigned: boolPtr(false), SignatureAlgorithm: "rsa-sha256", KeyTransport: "rsa-oaep-mgf1p"}},
		{"signed requests required", config.SPConfig{Dialect: DialectName, RequireSigned: boolPtr(true)},
			config.SPConfig{Dialect: DialectName, RequireSigned: boolPtr(true), SignatureAlgorithm: "rsa-sha256", KeyTransport: "rsa-oaep-mgf1p"}},
		{"algorithms set", config.SPConfig{Dialect: DialectName, SignatureAlgorithm: "rsa-sha512", KeyTransport: "rsa-oaep"},
			config.SPConfig{Dialect: DialectName, RequireSigned: boolPtr(true), SignatureAlgorithm: "rsa-sha512", KeyTransport: "rsa-oaep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := tt.sp
			Rules{}.Defaults(&sp)
			if !reflect.DeepEqual(sp, tt.want) {
				t.Errorf("got %+v (require_signed_requests %v), want %+v (%v)", sp, *sp.RequireSigned, tt.want, *tt.want.RequireSigned)
			}
		})
	}
}

// TestRulesValidateSP: profile and string_value_types are not Cl@ve 1's;
// used_idp is.
func TestRulesValidateSP(t *testing.T) {
	const path = "service_providers[2]"
	tests := []struct {
		name  string
		sp    config.SPConfig
		paths []string
	}{
		{"plain", config.SPConfig{}, nil},
		{"used_idp", config.SPConfig{UsedIdP: true}, nil},
		{"profile", config.SPConfig{Profile: "clave2"}, []string{path + ".profile"}},
		{"string_value_types", config.SPConfig{StringValueTypes: true}, []string{path + ".string_value_types"}},
		{"attribute_profile", config.SPConfig{AttributeProfile: "sir"}, []string{path + ".attribute_profile"}},
		{"both", config.SPConfig{Profile: "eidas", StringValueTypes: true, UsedIdP: true},
			[]string{path + ".profile", path + ".string_value_types"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sp.Dialect = DialectName
			var got []string
			for _, err := range (Rules{}).ValidateSP(path, tt.sp) {
				var fe *config.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%v is not a FieldError", err)
				}
				if !strings.Contains(err.Error(), "the stork dialect has no") {
					t.Errorf("error %q", err)
				}
				got = append(got, fe.Path)
			}
			if !reflect.DeepEqual(got, tt.paths) {
				t.Errorf("errors at %v, want %v", got, tt.paths)
			}
		})
	}
}

// TestRulesIdentity: the rules are the stork dialect's, which never
// encrypts to a request's signer.
func TestRulesIdentity(t *testing.T) {
	if got := (Rules{}).Name(); got != DialectName {
		t.Errorf("Name() = %q", got)
	}
	if Plugin.Rules.Name() != DialectName {
		t.Errorf("Plugin rules %q", Plugin.Rules.Name())
	}
	if (Rules{}).EncryptsToSigner(config.SPConfig{Dialect: DialectName, EncryptAssertions: true}) {
		t.Error("EncryptsToSigner = true")
	}
	if set := dialect.Set([]dialect.Plugin{Plugin}); set[DialectName] == nil {
		t.Errorf("dialect set %v", set.Names())
	}
}

// TestPluginNew: the endpoint the wiring builds has its URLs below the
// base URL and serves the Cl@ve 1 paths.
func TestPluginNew(t *testing.T) {
	now := func() time.Time { return stNow }
	fl := &flow.Flow{}
	reg := bridgetest.Registry{}
	d := dialect.Deps{
		Flow: fl, Registry: reg, BaseURL: stBase, Guard: bridge.RequestGuard{Now: now},
		Now: now, Rand: rand.Reader, Log: zap.NewNop(),
	}
	ep, err := Plugin.New(d)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ep.(*Endpoint)
	if !ok {
		t.Fatalf("endpoint %T", ep)
	}
	if e.Name() != DialectName || e.cfg.SSOURL != stSSOURL || e.logoutURL() != stBase+LogoutPath ||
		e.cfg.Flow != fl || e.cfg.Registry == nil || e.cfg.Log == nil || e.cfg.Now == nil || e.cfg.Rand == nil {
		t.Errorf("config %+v", e.cfg)
	}
	type route struct{ method, path string }
	var got []route
	for _, r := range e.Routes() {
		if r.Handle == nil {
			t.Errorf("%s %s has no handler", r.Method, r.Path)
		}
		got = append(got, route{r.Method, r.Path})
	}
	want := []route{{http.MethodPost, SSOPath}, {http.MethodGet, SSOPath}, {http.MethodPost, LogoutPath}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
}

// TestRulesThroughConfig: in an operator's YAML, a stork SP gets the
// dialect's defaults, and its errors carry their YAML paths.
func TestRulesThroughConfig(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"sign.crt", "sign.key", "citizens.yaml", "sp.crt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const head = `keys: {signing: {cert: sign.crt, key: sign.key}}
simulator: {citizens: citizens.yaml}
secrets: {state_keys: [{id: t, file: sign.key}], pairwise: {file: sign.key}}
service_providers:
  - {id: e00000001_miapp, dialect: saml2, certs: [sp.crt], return_urls: ["https://sp.example.es/acs"]}
`
	dialects := dialect.Set([]dialect.Plugin{Plugin, {Rules: otherRules{}}})
	cfg, err := config.Parse([]byte(head+`  - {id: e00000001_miapp, dialect: stork, certs: [sp.crt], return_urls: ["https://sp.example.es/acs"], used_idp: true}
  - {id: e00000002_otra, dialect: stork, certs: [sp.crt], return_urls: ["https://sp.example.es/acs"], require_signed_requests: false, signature_algorithm: rsa-sha512}
`), dir, dialects)
	if err != nil {
		t.Fatal(err)
	}
	sps := cfg.ServiceProviders
	if sp := sps[1]; sp.RequireSigned == nil || !*sp.RequireSigned || sp.SignatureAlgorithm != "rsa-sha256" || sp.KeyTransport != "rsa-oaep-mgf1p" {
		t.Errorf("defaults of service_providers[1]: %+v", sp)
	}
	if sp := sps[2]; sp.RequireSigned == nil || *sp.RequireSigned || sp.SignatureAlgorithm != "rsa-sha512" || sp.KeyTransport != "rsa-oaep-mgf1p" {
		t.Errorf("defaults of service_providers[2]: %+v", sp)
	}
	if sp := sps[0]; sp.RequireSigned != nil || sp.SignatureAlgorithm != "" {
		t.Errorf("stork defaults applied to a saml2 SP: %+v", sp)
	}

	_, err = config.Parse([]byte(head+`  - {id: e00000001_miapp, dialect: stork, certs: [sp.crt], return_urls: ["https://sp.example.es/acs"], profile: clave2, string_value_types: true}
`), dir, dialects)
	var paths []string
	for _, e := range joined(err) {
		var fe *config.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a FieldError", e)
		}
		paths = append(paths, fe.Path)
	}
	if want := []string{"service_providers[1].profile", "service_providers[1].string_value_types"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("errors %v, want at %v", err, want)
	}
}

// otherRules stand for another dialect, with no defaults and no errors.
type otherRules struct{}

func (otherRules) Name() string                               { return "saml2" }
func (otherRules) Defaults(*config.SPConfig)                  {}
func (otherRules) ValidateSP(string, config.SPConfig) []error { return nil }
func (otherRules) EncryptsToSigner(config.SPConfig) bool      { return false }

// joined unwraps an errors.Join.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}
