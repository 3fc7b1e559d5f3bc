package config

import (
	"strings"
	"testing"
	"time"
)

// TestGatewayCertificatesKeys: the upstream.gateway_certificates_* keys
// are validated (https, or http only to this machine with the simulator or
// in development; a refresh of a minute at least; a CA file that exists;
// no CA or cache without a URL), default in simulated mode to the
// simulator's document, and check warns when no copy is kept on disk.
func TestGatewayCertificatesKeys(t *testing.T) {
	dir := tree(t, placeholders)
	const clave2 = "upstream: {mode: clave2, sso_url: 'https://gw/Proxy2/ServiceProvider', "
	tests := []struct {
		name, yaml string
		err        string // "" for valid
		warning    string // a check finding at upstream.gateway_certificates_url, "" for none
	}{
		{"https URL alone", minimal + clave2 + "gateway_certificates_url: 'https://gw/Proxy2/Certificates'}\n", "", "no last good copy"},
		{"https URL with a cache", minimal + clave2 + "gateway_certificates_url: 'https://gw/Proxy2/Certificates', gateway_certificates_cache: gw.xml}\n", "", ""},
		{"cache from metadata_cache_dir", minimal + "metadata_cache_dir: state\n" + clave2 + "gateway_certificates_url: 'https://gw/Proxy2/Certificates'}\n", "", ""},
		{"static and URL", minimal + clave2 + "gateway_certs: [gw.crt], gateway_certificates_url: 'https://gw/Proxy2/Certificates', gateway_certificates_cache: gw.xml, gateway_certificates_ca: gw.crt, gateway_certificates_refresh: 6h}\n", "", ""},
		{"neither", minimal + clave2 + "}\n", "upstream.gateway_certs: at least one trusted gateway certificate, or upstream.gateway_certificates_url", ""},
		{"plain http to a public host", minimal + clave2 + "gateway_certificates_url: 'http://gw/Proxy2/Certificates'}\n", "upstream.gateway_certificates_url: \"http://gw/Proxy2/Certificates\" is plain http", ""},
		{"plain http to loopback in production", minimal + clave2 + "gateway_certificates_url: 'http://127.0.0.1:9/Proxy2/Certificates'}\n", "is plain http", ""},
		{"plain http to loopback in development", "mode: development\n" + minimal + clave2 + "gateway_certificates_url: 'http://localhost:9/Proxy2/Certificates', gateway_certificates_cache: gw.xml}\n", "", ""},
		{"plain http to loopback, simulated", minimal + "upstream: {gateway_certificates_url: 'http://127.0.0.1:9/sim/Proxy2/Certificates'}\n", "", ""},
		{"not a URL", minimal + clave2 + "gateway_certificates_url: '/Proxy2/Certificates'}\n", "upstream.gateway_certificates_url:", ""},
		{"refresh too short", minimal + clave2 + "gateway_certificates_url: 'https://gw/c', gateway_certificates_refresh: 10s}\n", "upstream.gateway_certificates_refresh: 10s is shorter", ""},
		{"CA file missing", minimal + clave2 + "gateway_certificates_url: 'https://gw/c', gateway_certificates_ca: nope.pem}\n", "upstream.gateway_certificates_ca:", ""},
		{"CA without URL", minimal + clave2 + "gateway_certs: [gw.crt], gateway_certificates_ca: gw.crt}\n", "upstream.gateway_certificates_ca: set without upstream.gateway_certificates_url", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), dir, testDialects)
			if tt.err == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			found := ""
			for _, f := range Check([]byte(tt.yaml), dir, testDialects, time.Now()).Findings {
				if f.Path == "upstream.gateway_certificates_url" {
					found = f.Message
				}
			}
			if (tt.warning == "") != (found == "") || !strings.Contains(found, tt.warning) {
				t.Errorf("finding %q, want one mentioning %q", found, tt.warning)
			}
		})
	}
}

func TestGatewayCertificatesDefaults(t *testing.T) {
	dir := tree(t, placeholders)
	cfg, err := Parse([]byte(minimal+"server: {base_url: 'http://127.0.0.1:8080'}\nmetadata_cache_dir: state\n"), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Upstream
	if u.GatewayCertificatesURL != "http://127.0.0.1:8080/sim/Proxy2/Certificates" || u.GatewayCertificatesRefresh.D() != 24*time.Hour ||
		u.GatewayCertificatesCache != "state/gateway-certificates.xml" || !cfg.GatewayCertificatesAllowHTTP() {
		t.Errorf("simulated defaults: %+v", u)
	}
	cfg, err = Parse([]byte(minimal+"upstream: {gateway_certs: [gw.crt]}\n"), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstream.GatewayCertificatesURL != "" {
		t.Errorf("a static list in simulated mode got the document too: %q", cfg.Upstream.GatewayCertificatesURL)
	}
}
