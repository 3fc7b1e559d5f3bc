package server

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// BenchmarkRoundTrip is one complete login (simulator and demo SP included;
// no Login in its name: bridgebench_test.go has the bridge-side ones): demo SP request → bridge → upstream
// request → simulator (auto-login) → encrypted response → bridge → signed
// answer → demo SP, over loopback HTTP in one process. It costs six RSA
// private-key operations (demo SP, bridge ×3, simulator, one decryption).
func BenchmarkRoundTrip(b *testing.B) {
	h := startHarness(b, autoLogin("AFIRMA", "99999999R", "dnie"))
	options := url.Values{"loa": {"low"}, "binding": {"post"}}
	b.ResetTimer()
	for b.Loop() {
		h.Browser = browser.New(http.DefaultTransport) // no SSO session: a full login
		page := h.demoLogin(b, options)
		if !strings.Contains(page.Body, demoLoggedIn) {
			b.Fatalf("login failed: %.500s", page.Body)
		}
	}
}

// BenchmarkRoundTripSSO is a login answered from the browser's SSO session,
// without going upstream: three RSA private-key operations (the demo SP's
// request, the bridge's assertion and response).
func BenchmarkRoundTripSSO(b *testing.B) {
	h := startHarness(b, autoLogin("AFIRMA", "99999999R", "dnie"))
	options := url.Values{"loa": {"low"}, "binding": {"post"}}
	h.demoLogin(b, options)
	b.ResetTimer()
	for b.Loop() {
		if page := h.demoLogin(b, options); !strings.Contains(page.Body, demoLoggedIn) {
			b.Fatalf("login failed: %.500s", page.Body)
		}
	}
	if n := h.Server.Simulator.Logins(); n != 1 {
		b.Fatalf("the simulator saw %d logins, want 1", n)
	}
}

// BenchmarkRSA3072PrivateKeyOp is the floor: one RSA-3072 PKCS#1 v1.5
// signature with the bridge's test key (the size the example config uses).
func BenchmarkRSA3072PrivateKeyOp(b *testing.B) {
	key := samlxmltest.Committed(b, "bridge-sign").Key.(*rsa.PrivateKey)
	digest := sha256.Sum256([]byte("clavebridge"))
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}
