package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := LoadConfig("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstream.Mode != "simulated" || cfg.Upstream.SSOURL != "http://localhost:8080/sim/Proxy2/ServiceProvider" {
		t.Fatalf("upstream defaults: %+v", cfg.Upstream)
	}
	if cfg.SSO.Lifetime.D().Hours() != 1 {
		t.Fatalf("sso lifetime = %v", cfg.SSO.Lifetime.D())
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
	keys := "keys: {signing: {cert: a.crt, key: a.key}}\n"
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
		{"sp bad loa", "service_providers: [{id: x, dialect: saml2, return_urls: ['https://sp/acs'], min_loa: medium}]\n", "service_providers[0].min_loa"},
		{"sp bad idp", "service_providers: [{id: x, dialect: saml2, return_urls: ['https://sp/acs'], deny_idps: [GOOGLE]}]\n", "service_providers[0].deny_idps[0]"},
		{"sp bad dialect", "service_providers: [{id: x, dialect: oidc, return_urls: ['https://sp/acs']}]\n", "service_providers[0].dialect"},
		{"sp bad url", "service_providers: [{id: x, dialect: saml2, return_urls: ['javascript:alert(1)']}]\n", "service_providers[0].return_urls[0]"},
		{"sp bad attribute", "service_providers: [{id: x, dialect: saml2, return_urls: ['https://sp/acs'], attributes: [shoeSize]}]\n", "service_providers[0].attributes[0]"},
		{"sp duplicate", "service_providers: [{id: x, dialect: saml2, return_urls: ['https://sp/a']}, {id: x, dialect: saml2, return_urls: ['https://sp/b']}]\n", "service_providers[1].id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := base + tt.yaml
			if !strings.HasPrefix(tt.yaml, "keys:") && tt.name != "no keys" {
				doc += keys
			}
			_, err := ParseConfig([]byte(doc), dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := ParseConfig([]byte(base+keys), dir); err != nil {
		t.Fatalf("minimal config refused: %v", err)
	}
}
