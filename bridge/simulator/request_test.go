package simulator

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

func TestBadRequests(t *testing.T) {
	// modify builds a signed request after changing the default one.
	modify := func(change func(*clave2msg.AuthnRequest)) func(*fixture) (string, string) {
		return func(f *fixture) (string, string) {
			req := f.request(translate.LoALow)
			change(req)
			return b64(f.signed(req, f.bridge)), testRelay
		}
	}
	// raw edits the signed bytes of the default request.
	raw := func(edit func([]byte) []byte) func(*fixture) (string, string) {
		return func(f *fixture) (string, string) {
			return b64(edit(f.signed(f.request(translate.LoALow), f.bridge))), testRelay
		}
	}
	tests := []struct {
		name  string
		build func(*fixture) (samlRequest, relay string)
	}{
		{"unsigned", func(f *fixture) (string, string) {
			return b64(f.signed(f.request(translate.LoALow), identity{})), testRelay
		}},
		{"signed by an unknown key", func(f *fixture) (string, string) {
			return b64(f.signed(f.request(translate.LoALow), f.stranger)), testRelay
		}},
		{"tampered ACS", raw(func(b []byte) []byte {
			return bytes.Replace(b, []byte(testACS), []byte("https://evil.test/acs"), 1)
		})},
		{"tampered LoA", raw(func(b []byte) []byte {
			return bytes.Replace(b, []byte("LoA/low"), []byte("LoA/high"), 1)
		})},
		{"DOCTYPE", raw(func(b []byte) []byte {
			return append([]byte(`<!DOCTYPE x [<!ENTITY e "x">]>`), b...)
		})},
		{"garbage base64", func(*fixture) (string, string) { return "!!! not base64 ***", testRelay }},
		{"no SAMLRequest", func(*fixture) (string, string) { return "", testRelay }},
		{"not XML", func(*fixture) (string, string) { return b64([]byte("hello")), testRelay }},
		{"over 131072 bytes", modify(func(r *clave2msg.AuthnRequest) {
			r.ProviderName = "x;" + strings.Repeat("a", maxRequestBytes)
		})},
		{"ProviderName without ';'", modify(func(r *clave2msg.AuthnRequest) { r.ProviderName = "Q2891006E_EA0009994" })},
		{"ProviderName without application", modify(func(r *clave2msg.AuthnRequest) { r.ProviderName = "Q2891006E_EA0009994;" })},
		{"no NameIDPolicy", modify(func(r *clave2msg.AuthnRequest) { r.HasNameIDPolicy, r.NameIDFormat = false, "" })},
		{"no requested attributes", modify(func(r *clave2msg.AuthnRequest) { r.Attributes = nil })},
		{"IsPassive", modify(func(r *clave2msg.AuthnRequest) { r.IsPassive = true })},
		{"wrong Destination", modify(func(r *clave2msg.AuthnRequest) {
			r.Destination = "https://pasarela.clave.gob.es/Proxy2/ServiceProvider"
		})},
		{"no ACS", modify(func(r *clave2msg.AuthnRequest) { r.ACS = "" })},
		{"relative ACS", modify(func(r *clave2msg.AuthnRequest) { r.ACS = "/upstream/acs" })},
		{"javascript ACS", modify(func(r *clave2msg.AuthnRequest) { r.ACS = "javascript:alert(1)" })},
		{"stale IssueInstant", modify(func(r *clave2msg.AuthnRequest) { r.IssueInstant = r.IssueInstant.Add(-6 * time.Minute) })},
		{"future IssueInstant", modify(func(r *clave2msg.AuthnRequest) { r.IssueInstant = r.IssueInstant.Add(6 * time.Minute) })},
		{"two LoAs", modify(func(r *clave2msg.AuthnRequest) {
			r.LoAs = []string{translate.LoALow.EIDAS(), translate.LoASubstantial.EIDAS()}
		})},
		{"Comparison exact", modify(func(r *clave2msg.AuthnRequest) { r.Comparison = "exact" })},
		{"no Comparison", modify(func(r *clave2msg.AuthnRequest) { r.Comparison = "" })},
		{"no LoA", modify(func(r *clave2msg.AuthnRequest) { r.LoAs = nil })},
		{"non-notified LoA", modify(func(r *clave2msg.AuthnRequest) { r.LoAs = []string{"http://eidas.europa.eu/NotNotified/LoA/low"} })},
		{"RelayState mismatch", func(f *fixture) (string, string) {
			return b64(f.signed(f.request(translate.LoALow), f.bridge)), "other"
		}},
		{"no RelayState field", func(f *fixture) (string, string) {
			return b64(f.signed(f.request(translate.LoALow), f.bridge)), ""
		}},
		{"no RelayState attribute", modify(func(r *clave2msg.AuthnRequest) { r.Attributes = requested(translate.AttrPersonIdentifier) })},
		{"two RelayState values", modify(func(r *clave2msg.AuthnRequest) {
			r.Attributes = append(requested(translate.AttrPersonIdentifier), relayAttr(testRelay, testRelay))
		})},
		{"replayed ID", func(f *fixture) (string, string) {
			v := b64(f.signed(f.request(translate.LoALow), f.bridge))
			if rec := f.sso(v, testRelay); rec.Code != http.StatusOK {
				f.t.Fatalf("first use answered %d", rec.Code)
			}
			return v, testRelay
		}},
		{"replayed after a refusal", func(f *fixture) (string, string) {
			v := b64(f.signed(f.request(translate.LoALow), f.bridge))
			if rec := f.sso(v, "wrong"); rec.Code != http.StatusBadRequest {
				f.t.Fatalf("first use answered %d", rec.Code)
			}
			f.logs.TakeAll()
			return v, testRelay
		}},
		{"ID too long", modify(func(r *clave2msg.AuthnRequest) { r.ID = "_" + strings.Repeat("a", maxIDBytes) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			value, relay := tt.build(f)
			rec := f.sso(value, relay)
			checkRefused(t, f, rec)
		})
	}
}

// checkRefused expects the 400 error page, a log line and no login.
func checkRefused(t *testing.T, f *fixture, rec *httptest.ResponseRecorder) {
	t.Helper()
	res := rec.Result()
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("answered %d, want 400:\n%s", res.StatusCode, body.String())
	}
	if !strings.Contains(body.String(), es("reason.bad_request.title")) ||
		res.Header.Get("Content-Security-Policy") != pageCSP {
		t.Errorf("not the error page:\n%s", body.String())
	}
	if strings.Contains(body.String(), `name="SAMLResponse"`) {
		t.Error("a refused request was answered to the SP")
	}
	if n := f.logs.FilterMessage("request refused").Len(); n != 1 {
		t.Errorf("%d refusal log lines, want 1", n)
	}
	if f.sim.Logins() != 0 {
		t.Errorf("Logins() = %d", f.sim.Logins())
	}
}

func TestRedirectBinding(t *testing.T) {
	f := newFixture(t, nil)
	xml := f.signed(f.request(translate.LoALow), f.bridge)
	loc, err := samlxml.EncodeRedirect(f.sim.SSOURL(), "SAMLRequest", xml, testRelay, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.do(http.MethodGet, u.RequestURI(), nil)
	if rec.Code != http.StatusOK || len(idpsOffered(rec.Body.String())) != 5 {
		t.Fatalf("redirect binding answered %d:\n%s", rec.Code, rec.Body)
	}
	loc, err = samlxml.EncodeRedirect(f.sim.SSOURL(), "SAMLResponse", f.signed(f.request(translate.LoALow), f.bridge), testRelay, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ = url.Parse(loc)
	checkRefused(t, f, f.do(http.MethodGet, u.RequestURI(), nil))
}

func TestRedirectBindingNeedsEmbeddedSignature(t *testing.T) {
	f := newFixture(t, nil)
	xml := f.signed(f.request(translate.LoALow), identity{})
	b := f.bridge.signer()
	loc, err := samlxml.EncodeRedirect(f.sim.SSOURL(), "SAMLRequest", xml, testRelay, &b)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	checkRefused(t, f, f.do(http.MethodGet, u.RequestURI(), nil))
}

func TestOversizedBody(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.sso(strings.Repeat("A", maxFormBytes+1), testRelay)
	checkRefused(t, f, rec)
}
