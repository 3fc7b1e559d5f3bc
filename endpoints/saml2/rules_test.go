package saml2

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/config"
)

func TestRulesName(t *testing.T) {
	if got := (Rules{}).Name(); got != "saml2" {
		t.Fatalf("Name = %q", got)
	}
}

// TestRulesDefaults: rsa-sha256 and rsa-oaep-mgf1p when unset, what the
// SP set otherwise; require_signed_requests stays unset.
func TestRulesDefaults(t *testing.T) {
	tests := []struct {
		name           string
		sp             config.SPConfig
		wantSig, wantK string
	}{
		{"unset", config.SPConfig{}, "rsa-sha256", "rsa-oaep-mgf1p"},
		{"signature set", config.SPConfig{SignatureAlgorithm: "rsa-sha512"}, "rsa-sha512", "rsa-oaep-mgf1p"},
		{"key transport set", config.SPConfig{KeyTransport: "rsa-oaep"}, "rsa-sha256", "rsa-oaep"},
		{"both set", config.SPConfig{SignatureAlgorithm: "rsa-pss-sha256", KeyTransport: "rsa-oaep"}, "rsa-pss-sha256", "rsa-oaep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := tt.sp
			Rules{}.Defaults(&sp)
			if sp.SignatureAlgorithm != tt.wantSig || sp.KeyTransport != tt.wantK {
				t.Fatalf("signature_algorithm %q, key_transport %q; want %q, %q", sp.SignatureAlgorithm, sp.KeyTransport, tt.wantSig, tt.wantK)
			}
			if sp.RequireSigned != nil {
				t.Fatalf("require_signed_requests set to %v: it must stay unset (the SP's metadata decides)", *sp.RequireSigned)
			}
			if sp.Profile != "" {
				t.Fatalf("profile set to %q", sp.Profile)
			}
		})
	}
}

// TestRulesDefaultsKeepRequireSigned: an explicit require_signed_requests
// is left as configured.
func TestRulesDefaultsKeepRequireSigned(t *testing.T) {
	for _, v := range []bool{false, true} {
		sp := config.SPConfig{RequireSigned: &v}
		Rules{}.Defaults(&sp)
		if sp.RequireSigned == nil || *sp.RequireSigned != v {
			t.Fatalf("require_signed_requests %v changed to %v", v, sp.RequireSigned)
		}
	}
}

// TestRulesValidateSP: the keys of other dialects are errors at their YAML
// paths; everything else is the common validation's.
func TestRulesValidateSP(t *testing.T) {
	const path = "service_providers[2]"
	tests := []struct {
		name  string
		sp    config.SPConfig
		paths []string
	}{
		{"plain", config.SPConfig{ID: "https://sp.example/metadata", Dialect: "saml2"}, nil},
		{"algorithms and signing are its own", config.SPConfig{Dialect: "saml2", SignatureAlgorithm: "rsa-sha512",
			KeyTransport: "rsa-oaep", RequireSigned: new(bool), EncryptAssertions: true, AttributeNames: "uri"}, nil},
		{"profile", config.SPConfig{Dialect: "saml2", Profile: "eidas"}, []string{path + ".profile"}},
		{"profile clave2", config.SPConfig{Dialect: "saml2", Profile: "clave2"}, []string{path + ".profile"}},
		{"used_idp", config.SPConfig{Dialect: "saml2", UsedIdP: true}, []string{path + ".used_idp"}},
		{"string_value_types", config.SPConfig{Dialect: "saml2", StringValueTypes: true}, []string{path + ".string_value_types"}},
		{"attribute_profile sir", config.SPConfig{Dialect: "saml2", AttributeProfile: "sir"}, nil},
		{"attribute_profile eidas", config.SPConfig{Dialect: "saml2", AttributeProfile: "eidas"}, nil},
		{"attribute_profile unknown", config.SPConfig{Dialect: "saml2", AttributeProfile: "SIR"}, []string{path + ".attribute_profile"}},
		{"attribute_profile ldap", config.SPConfig{Dialect: "saml2", AttributeProfile: "ldap"}, []string{path + ".attribute_profile"}},
		{"all three", config.SPConfig{Dialect: "saml2", Profile: "eidas", UsedIdP: true, StringValueTypes: true},
			[]string{path + ".profile", path + ".used_idp", path + ".string_value_types"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Rules{}.ValidateSP(path, tt.sp)
			if len(errs) != len(tt.paths) {
				t.Fatalf("errors %v, want at %v", errs, tt.paths)
			}
			for i, err := range errs {
				var fe *config.FieldError
				if !errors.As(err, &fe) || fe.Path != tt.paths[i] {
					t.Fatalf("error %d = %v, want a FieldError at %s", i, err, tt.paths[i])
				}
				if !strings.Contains(err.Error(), "saml2") {
					t.Fatalf("error %q does not name the dialect", err)
				}
			}
		})
	}
}

// TestRulesEncryptsToSigner: a saml2 SP's assertions are only encrypted to
// its registered encryption certificate.
func TestRulesEncryptsToSigner(t *testing.T) {
	for _, sp := range []config.SPConfig{{}, {EncryptAssertions: true}, {Dialect: "saml2", EncryptAssertions: true, Certs: []string{"sp.pem"}}} {
		if (Rules{}).EncryptsToSigner(sp) {
			t.Fatalf("EncryptsToSigner(%+v) = true", sp)
		}
	}
}

// TestRulesInConfig: the rules at work in the configuration loader: the
// defaults are filled in, and the errors carry their YAML paths.
func TestRulesInConfig(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.crt", "a.key", "citizens.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	head := "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n"
	dialects := config.NewDialectSet(Rules{})
	cfg, err := config.Parse([]byte(head+"service_providers: [{id: x, dialect: saml2, return_urls: ['https://sp/acs']}]\n"), dir, dialects)
	if err != nil {
		t.Fatal(err)
	}
	sp := cfg.ServiceProviders[0]
	if sp.SignatureAlgorithm != "rsa-sha256" || sp.KeyTransport != "rsa-oaep-mgf1p" || sp.RequireSigned != nil || sp.AttributeProfile != "eidas" {
		t.Fatalf("defaults: signature_algorithm %q, key_transport %q, require_signed_requests %v", sp.SignatureAlgorithm, sp.KeyTransport, sp.RequireSigned)
	}
	if cfg.Dialect(DialectName) == nil {
		t.Fatal("the saml2 rules are not found by name")
	}
	_, err = config.Parse([]byte(head+"service_providers: [{id: x, dialect: saml2, return_urls: ['https://sp/acs']}, "+
		"{id: y, dialect: saml2, profile: eidas, used_idp: true, string_value_types: true, return_urls: ['https://sp/acs']}]\n"), dir, dialects)
	for _, want := range []string{
		"service_providers[1].profile: the saml2 dialect has no profile",
		"service_providers[1].used_idp: the saml2 dialect has no used_idp",
		"service_providers[1].string_value_types: the saml2 dialect has no string_value_types",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "service_providers[0]") {
		t.Errorf("the valid SP was refused: %v", err)
	}
}
