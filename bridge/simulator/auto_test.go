package simulator

import (
	"crypto/x509"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/translate"
)

func TestAutoLogin(t *testing.T) {
	tests := []struct {
		name    string
		auto    AutoLogin
		loa     translate.LoA
		disable []translate.IdP
		want    translate.LoA // LoANone: RequestDenied
		subject string
	}{
		{"DNIe", AutoLogin{translate.IdPAfirma, "99999999R", "dnie"}, translate.LoAHigh, nil, translate.LoAHigh, "ES/ES/99999999R"},
		{"legal certificate", AutoLogin{"afirma", "11111111h", "legal"}, translate.LoALow, nil, translate.LoASubstantial, "ES/ES/11111111H"},
		{"first certificate by default", AutoLogin{translate.IdPAfirma, "99999999R", ""}, translate.LoALow, nil, translate.LoAHigh, "ES/ES/99999999R"},
		{"PIN24H", AutoLogin{translate.IdPPin24H, "12345678Z", ""}, translate.LoALow, nil, translate.LoALow, "ES/ES/12345678Z"},
		{"EIDAS", AutoLogin{translate.IdPEIDAS, "T22000129", ""}, translate.LoASubstantial, nil, translate.LoASubstantial, "DE/ES/T22000129"},
		{"PIN24H below the level", AutoLogin{translate.IdPPin24H, "12345678Z", ""}, translate.LoASubstantial, nil, translate.LoANone, ""},
		{"software certificate below high", AutoLogin{translate.IdPAfirma, "99999999R", "software"}, translate.LoAHigh, nil, translate.LoANone, ""},
		{"IdP disabled by the request", AutoLogin{translate.IdPSegSoc, "00000000T", ""}, translate.LoALow, []translate.IdP{translate.IdPSegSoc}, translate.LoANone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auto := tt.auto
			f := newFixture(t, func(c *Config) { c.AutoLogin = &auto })
			req := f.request(tt.loa)
			req.Attributes = append(req.Attributes, disable(tt.disable...)...)
			a := f.answerOf(f.sso(b64(f.signed(req, f.bridge)), testRelay))
			if tt.want == translate.LoANone {
				checkFailure(t, f, a, clave2msg.StatusRequester, "RequestDenied")
				return
			}
			checkSuccess(t, f, req, a, tt.want)
			if got := values(a.assertion)["PersonIdentifier"]; got != tt.subject {
				t.Errorf("PersonIdentifier %q, want %q", got, tt.subject)
			}
		})
	}
}

func TestAutoLoginConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		auto AutoLogin
		want string
	}{
		{"unknown IdP", AutoLogin{"FNMT", "99999999R", ""}, "unknown identity provider"},
		{"unknown citizen", AutoLogin{translate.IdPAfirma, "00000001R", ""}, "not in the citizens list"},
		{"IdP not allowed", AutoLogin{translate.IdPPin24H, "99999999R", ""}, "cannot log in at PIN24H"},
		{"missing certificate", AutoLogin{translate.IdPAfirma, "99999999R", "legal"}, "no certificate"},
		{"bad method", AutoLogin{translate.IdPAfirma, "99999999R", "usb"}, "not dnie, software or legal"},
		{"method outside AFIRMA", AutoLogin{translate.IdPSegSoc, "00000000T", "dnie"}, "AFIRMA only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			citizens, err := LoadCitizens(testCitizensFile)
			if err != nil {
				t.Fatal(err)
			}
			gw := loadIdentity(t, "gateway")
			auto := tt.auto
			_, err = New(Config{BaseURL: testBaseURL, Signer: gw.signer(), BridgeCerts: []*x509.Certificate{gw.cert},
				Citizens: citizens, AutoLogin: &auto})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error with %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), strings.ToUpper(tt.auto.Citizen)) {
				t.Errorf("error names the citizen in clear: %v", err)
			}
		})
	}
}

// TestConcurrentLogins runs auto-logins in parallel (run with -race).
func TestConcurrentLogins(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AutoLogin = &AutoLogin{IdP: translate.IdPPin24H, Citizen: "12345678Z"} })
	var values []string
	for range 20 {
		values = append(values, b64(f.signed(f.request(translate.LoALow), f.bridge)))
	}
	var wg sync.WaitGroup
	codes := make([]int, len(values))
	for i, v := range values {
		wg.Go(func() { codes[i] = f.sso(v, testRelay).Code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d answered %d", i, c)
		}
	}
	if f.sim.Logins() != len(values) {
		t.Errorf("Logins() = %d, want %d", f.sim.Logins(), len(values))
	}
}
