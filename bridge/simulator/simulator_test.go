package simulator

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

func TestNewConfigErrors(t *testing.T) {
	gw := loadIdentity(t, "gateway")
	citizens, err := LoadCitizens(testCitizensFile)
	if err != nil {
		t.Fatal(err)
	}
	valid := func() Config {
		return Config{BaseURL: testBaseURL, Signer: gw.signer(), BridgeCerts: []*x509.Certificate{gw.cert}, Citizens: citizens}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"relative base URL", func(c *Config) { c.BaseURL = "/sim" }, "absolute"},
		{"base URL with query", func(c *Config) { c.BaseURL = "http://x.test/?a=1" }, "query"},
		{"no signing key", func(c *Config) { c.Signer = samlxml.Signer{Cert: gw.cert} }, "key"},
		{"no bridge certificates", func(c *Config) { c.BridgeCerts = nil }, "bridge certificate"},
		{"nil bridge certificate", func(c *Config) { c.BridgeCerts = []*x509.Certificate{nil} }, "nil"},
		{"no citizens", func(c *Config) { c.Citizens = nil }, "no citizens"},
		{"invalid citizen", func(c *Config) {
			c.Citizens = append([]Citizen(nil), citizens...)
			c.Citizens[0].IdPs = nil
		}, "idps is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.change(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error with %q", err, tt.want)
			}
		})
	}
	cfg := valid()
	cfg.BaseURL = "https://gw.test/"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.SSOURL(); got != "https://gw.test/sim/Proxy2/ServiceProvider" {
		t.Errorf("SSOURL() = %q", got)
	}
	if citizens[0].IdPs == nil {
		t.Error("New changed the caller's citizens")
	}
}

// TestLogsHoldNoPersonalData runs logins and refusals and looks for names,
// identifiers and secrets in every log entry.
func TestLogsHoldNoPersonalData(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, f.request(translate.LoALow), fields("idp", "AFIRMA"), chooseCert("Legal"))
	f.login(t, f.request(translate.LoALow), fields("idp", "SEGSOC"), fields("user", "99999999R", "password", "juan-clave-2024"), typeSMS)
	id, _ := f.start(f.request(translate.LoALow))
	f.submit(id, "idp", "PIN24H")
	f.submit(id, "user", "12345678Z", "pin", "0000")
	f.submit(id, "cancel", "1")
	f.sso(b64(f.signed(f.request(translate.LoALow), f.stranger)), testRelay)
	secret := []string{"99999999R", "11111111H", "12345678Z", "JUAN", "ANA", "ESPAÑOL", "REPRESENTANTE", "B00000000",
		"EMPRESA", "juan-clave-2024", "+34600000001"}
	entries := f.logs.All()
	if len(entries) < 6 {
		t.Fatalf("only %d log entries", len(entries))
	}
	for _, e := range entries {
		line := fmt.Sprint(e.Message, e.ContextMap())
		for _, s := range secret {
			if strings.Contains(line, s) {
				t.Errorf("log entry holds %q: %s", s, line)
			}
		}
	}
}
