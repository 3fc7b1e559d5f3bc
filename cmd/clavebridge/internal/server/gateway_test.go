package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/web/metrics"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// gatewayLogin runs a demo login in a fresh browser (no SSO session: the
// gateway leg always runs) and reports whether it ended logged in.
func gatewayLogin(t *testing.T, h *harness) (bool, string) {
	t.Helper()
	h.Browser = browser.New(http.DefaultTransport)
	before := h.Server.Simulator.Logins()
	page := h.demoLogin(t, url.Values{"loa": {"high"}, "binding": {"post"}})
	if h.Server.Simulator.Logins() != before+1 {
		t.Fatal("the login did not go through the gateway")
	}
	return page.Status == http.StatusOK && strings.Contains(page.Body, demoLoggedIn), page.Body
}

func trusts(s *Server, c *x509.Certificate) bool {
	return slices.ContainsFunc(s.GatewayCertificates(), c.Equal)
}

// TestGatewayCertificatesRotation: the simulated gateway announces a next
// signing key, the bridge's refresh (its clock advanced past
// gateway_certificates_refresh) picks it up from /sim/Proxy2/Certificates
// over HTTP, the gateway switches to it and logins go on with no restart;
// the old key, no longer listed, is dropped at the next refresh; and an
// answer signed by a key the bridge never saw listed is refused.
func TestGatewayCertificatesRotation(t *testing.T) {
	clock := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	h := startHarnessWith(t, Options{Now: clock.Now}, func(cfg *config.Config) {
		autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
		cfg.Upstream.GatewayCertificatesRefresh = config.Duration(time.Hour)
	})
	sim := h.Server.Simulator
	first := sim.SigningCertificate()
	if got := h.Server.GatewayCertificates(); len(got) != 1 || !got[0].Equal(first) {
		t.Fatalf("at start the bridge trusts %d certificates, want the simulator's one", len(got))
	}
	refresh := func(t *testing.T) {
		t.Helper()
		clock.Advance(time.Hour + time.Minute)
		h.Server.RefreshGatewayCertificates(context.Background())
	}

	if ok, body := gatewayLogin(t, h); !ok {
		t.Fatalf("first login failed:\n%.1500s", body)
	}
	next := samlxmltest.NewRSA(t, "gateway-next")
	if err := sim.AnnounceNextKey(next.Key, next.Cert); err != nil {
		t.Fatal(err)
	}
	if trusts(h.Server, next.Cert) {
		t.Fatal("the next key is trusted before a refresh")
	}
	refresh(t)
	if !trusts(h.Server, next.Cert) || !trusts(h.Server, first) {
		t.Fatal("after the refresh the bridge does not trust both the active and the announced key")
	}
	if n := h.Logs.FilterMessageSnippet("gateway certificates changed: added [proxy_sign_").Len(); n != 1 {
		t.Errorf("%d log lines of the added key, want 1", n)
	}
	if v, ok := series(t, h.Server.Metrics, "clavebridge_gateway_certificates_age_seconds")[""]; !ok || v != 0 {
		t.Errorf("age after the refresh = %v (%v), want 0", v, ok)
	}
	expiry := "role=" + metrics.RoleGateway + ",serial=" + metrics.Serial(next.Cert) + ",sp="
	if v, ok := series(t, h.Server.Metrics, "clavebridge_certificate_not_after_timestamp_seconds")[expiry]; !ok || v != float64(next.Cert.NotAfter.Unix()) {
		t.Errorf("the next key's expiry metric = %v (%v)", v, ok)
	}

	if err := sim.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	if ok, body := gatewayLogin(t, h); !ok {
		t.Fatalf("the login after the gateway's switch failed:\n%.1500s", body)
	}
	refresh(t)
	if trusts(h.Server, first) || !trusts(h.Server, next.Cert) {
		t.Fatal("after the switch the old key is still trusted or the new one not")
	}
	if n := h.Logs.FilterMessageSnippet("removed [proxy_sign_").Len(); n != 1 {
		t.Errorf("%d log lines of the removed key, want 1", n)
	}
	if ok, body := gatewayLogin(t, h); !ok {
		t.Fatalf("the login after the old key was dropped failed:\n%.1500s", body)
	}

	// A key the bridge never saw listed: the gateway announces it and
	// switches at once, before any refresh.
	stranger := samlxmltest.NewRSA(t, "gateway-stranger")
	if err := sim.AnnounceNextKey(stranger.Key, stranger.Cert); err != nil {
		t.Fatal(err)
	}
	if err := sim.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := gatewayLogin(t, h); ok {
		t.Fatal("an answer signed by a key never listed was accepted")
	}
	refused := false
	for _, e := range h.Logs.FilterMessage("request refused").All() {
		msg, _ := e.ContextMap()["error"].(string)
		refused = refused || (strings.Contains(msg, "response signature") && strings.Contains(msg, "certificate not trusted"))
	}
	if !refused {
		t.Error("no log line refusing the answer for its untrusted signing certificate")
	}
}

// TestGatewayCertificatesOverHTTPS: the document comes from an https
// server whose certificate chains to upstream.gateway_certificates_ca;
// without that CA the fetch fails, and with nothing else to trust the
// bridge does not start.
func TestGatewayCertificatesOverHTTPS(t *testing.T) {
	simCert := samlxmltest.Committed(t, "simulator-sign").Cert // config.example.yaml's simulator.signing
	doc, err := clave2msg.CertificatesDocument([]clave2msg.CertificateEntry{
		{Use: clave2msg.UseSigning, Name: "proxy_sign_1", State: clave2msg.KeyActive, Cert: simCert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Proxy2/Certificates" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "gateway-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	edit := func(ca string) func(*config.Config) {
		return func(cfg *config.Config) {
			autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
			cfg.Upstream.GatewayCertificatesURL = srv.URL + "/Proxy2/Certificates"
			cfg.Upstream.GatewayCertificatesCA = ca
		}
	}
	t.Run("with the CA file", func(t *testing.T) {
		h := startHarness(t, edit(caFile))
		if got := h.Server.GatewayCertificates(); len(got) != 1 || !got[0].Equal(simCert) {
			t.Fatalf("trusted %d certificates, want the document's one", len(got))
		}
		if !simCert.Equal(h.Server.Simulator.SigningCertificate()) {
			t.Fatal("the test's document does not list the simulator's key")
		}
		if ok, body := gatewayLogin(t, h); !ok {
			t.Fatalf("login failed:\n%.1500s", body)
		}
	})
	t.Run("without it the server's certificate is not trusted", func(t *testing.T) {
		cfg := exampleConfig(t, "http://127.0.0.1:1", edit(""))
		_, err := New(cfg, zap.NewNop(), Options{})
		if err == nil || !strings.Contains(err.Error(), "no trusted gateway certificate") || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v", err)
		}
	})
}
