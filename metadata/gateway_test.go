package metadata

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
)

var gwNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// gwCert is a self-signed certificate valid until notAfter.
func gwCert(t testing.TB, cn string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: gwNow.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func gwDoc(t testing.TB, entries ...clave2msg.CertificateEntry) []byte {
	t.Helper()
	doc, err := clave2msg.CertificatesDocument(entries)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestReadGatewayCertificates(t *testing.T) {
	year := gwNow.Add(365 * 24 * time.Hour)
	sign, next, enc := gwCert(t, "sign", year), gwCert(t, "next", year), gwCert(t, "enc", year)
	expired := gwCert(t, "old", gwNow.Add(-time.Hour))
	b64 := base64.StdEncoding.EncodeToString(sign.Raw)
	kd := func(inner string) string {
		return `<md:IDPSSODescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">` +
			inner + `</md:IDPSSODescriptor>`
	}
	okKD := `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:KeyName>proxy_sign_1</ds:KeyName><ds:X509Data><ds:X509Certificate>` +
		b64 + `</ds:X509Certificate></ds:X509Data><ds:MgmtData>active</ds:MgmtData></ds:KeyInfo></md:KeyDescriptor>`
	tests := []struct {
		name    string
		doc     []byte
		want    []*x509.Certificate // trusted, in order
		skipped int
		err     string
	}{
		{"active, inactive next, encryption left out", gwDoc(t,
			clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_1", State: "active", Cert: sign},
			clave2msg.CertificateEntry{Use: "encryption", Name: "proxy_cipher_1", State: "active", Cert: enc},
			clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_2", State: "inactive", Cert: next}),
			[]*x509.Certificate{sign, next}, 0, ""},
		{"no use means both", gwDoc(t, clave2msg.CertificateEntry{Name: "proxy_1", Cert: sign}), []*x509.Certificate{sign}, 0, ""},
		{"the kit's own markup", []byte(kd(okKD)), []*x509.Certificate{sign}, 0, ""},
		{"expired skipped", gwDoc(t,
			clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_0", State: "active", Cert: expired},
			clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_1", State: "active", Cert: sign}),
			[]*x509.Certificate{sign}, 1, ""},
		{"no signing certificate", gwDoc(t, clave2msg.CertificateEntry{Use: "encryption", Name: "c", Cert: enc}), nil, 0, "no signing certificate"},
		{"only an expired signing certificate", gwDoc(t, clave2msg.CertificateEntry{Use: "signing", Name: "s", Cert: expired}), nil, 1, "not expired"},
		{"bad certificate", []byte(kd(strings.Replace(okKD, b64, base64.StdEncoding.EncodeToString([]byte("not a certificate")), 1))), nil, 0, "certificate"},
		{"bad base64", []byte(kd(strings.Replace(okKD, b64, "!!!", 1))), nil, 0, "certificate"},
		{"two certificates in one KeyDescriptor", []byte(kd(strings.Replace(okKD, "</ds:X509Data>", "<ds:X509Certificate>"+b64+"</ds:X509Certificate></ds:X509Data>", 1))), nil, 0, "one is required"},
		{"unknown use", []byte(kd(strings.Replace(okKD, `use="signing"`, `use="both"`, 1))), nil, 0, "use"},
		{"unknown state", []byte(kd(strings.Replace(okKD, ">active<", ">revoked<", 1))), nil, 0, "MgmtData"},
		{"KeyName too long", []byte(kd(strings.Replace(okKD, "proxy_sign_1", strings.Repeat("k", clave2msg.MaxKeyNameBytes+1), 1))), nil, 0, "KeyName"},
		{"no KeyDescriptor", []byte(kd("")), nil, 0, "no KeyDescriptor"},
		{"too many KeyDescriptors", []byte(kd(strings.Repeat(okKD, clave2msg.MaxCertificateEntries+1))), nil, 0, "more than"},
		{"oversize", []byte(kd(okKD + "<!--" + strings.Repeat("x", clave2msg.MaxCertificatesBytes) + "-->")), nil, 0, "exceeds"},
		{"DTD", []byte(`<!DOCTYPE x [<!ENTITY e "e">]>` + kd(okKD)), nil, 0, "rejected XML"},
		{"wrong root", []byte(strings.ReplaceAll(kd(okKD), "IDPSSODescriptor", "SPSSODescriptor")), nil, 0, "not md:IDPSSODescriptor"},
		{"wrong namespace", []byte(strings.Replace(kd(okKD), "urn:oasis:names:tc:SAML:2.0:metadata", "urn:example", 1)), nil, 0, "not md:IDPSSODescriptor"},
		{"not XML", []byte("proxy_sign_1"), nil, 0, "certificates document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skipped, err := ReadGatewayCertificates(tt.doc, gwNow)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one saying %q", err, tt.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(skipped) != tt.skipped {
				t.Errorf("skipped %v, want %d", skipped, tt.skipped)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d trusted, want %d", len(got), len(tt.want))
			}
			for i, c := range tt.want {
				if !got[i].Cert.Equal(c) {
					t.Errorf("trusted %d is %s, want %s", i, got[i].Cert.Subject.CommonName, c.Subject.CommonName)
				}
			}
		})
	}
}

// gwServer serves a document the test changes, or fails.
type gwServer struct {
	mu   sync.Mutex
	body []byte
	down bool
	hits int
}

func (g *gwServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hits++
	if g.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write(g.body)
}

func (g *gwServer) serve(body []byte, down bool) {
	g.mu.Lock()
	g.body, g.down = body, down
	g.mu.Unlock()
}

type gwClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *gwClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *gwClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type gwMeter struct {
	age   time.Duration
	fails int
	certs []*x509.Certificate
}

func (m *gwMeter) GatewayCertificatesAge(age time.Duration)      { m.age = age }
func (m *gwMeter) GatewayCertificatesRefreshFailed()             { m.fails++ }
func (m *gwMeter) GatewayCertificates(certs []*x509.Certificate) { m.certs = certs }

func sameCerts(got []*x509.Certificate, want ...*x509.Certificate) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			return false
		}
	}
	return true
}

func TestGatewaySource(t *testing.T) {
	year := gwNow.Add(365 * 24 * time.Hour)
	first, next, pinned := gwCert(t, "first", year), gwCert(t, "next", year), gwCert(t, "pinned", year)
	g := &gwServer{body: gwDoc(t, clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_1", State: "active", Cert: first})}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	cache := filepath.Join(t.TempDir(), "state", "gateway-certificates.xml")
	clock := &gwClock{now: gwNow}
	var logs []string
	newSource := func(static ...*x509.Certificate) (*GatewaySource, *gwMeter) {
		m := &gwMeter{}
		logs = nil
		return &GatewaySource{URL: srv.URL + "/Proxy2/Certificates", Policy: FetchPolicy{AllowHTTP: true, AllowPrivate: true},
			Static: static, CacheFile: cache, Every: 24 * time.Hour, Now: clock.Now, Meter: m,
			Log: func(_ LogLevel, msg string) { logs = append(logs, msg) }}, m
	}
	logged := func(t *testing.T, words ...string) {
		t.Helper()
		for _, l := range logs {
			ok := true
			for _, w := range words {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				return
			}
		}
		t.Errorf("no log line with %q in %q", words, logs)
	}
	ctx := context.Background()

	src, meter := newSource(pinned)
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !sameCerts(src.Certificates(), pinned, first) {
		t.Fatal("start: the union of static and fetched is not trusted")
	}
	logged(t, "trusted", "proxy_sign_1")
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("no last good copy written: %v", err)
	}

	t.Run("not due: no fetch", func(t *testing.T) {
		hits := g.hits
		clock.Advance(23 * time.Hour)
		src.Refresh(ctx)
		if g.hits != hits || meter.age != 23*time.Hour {
			t.Errorf("hits %d→%d, age %s", hits, g.hits, meter.age)
		}
	})
	t.Run("due: the announced next key is trusted, inactive", func(t *testing.T) {
		g.serve(gwDoc(t, clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_1", State: "active", Cert: first},
			clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_2", State: "inactive", Cert: next}), false)
		clock.Advance(time.Hour)
		src.Refresh(ctx)
		if !sameCerts(src.Certificates(), pinned, first, next) || !sameCerts(meter.certs, pinned, first, next) || meter.age != 0 {
			t.Fatalf("after the refresh: %d certificates, metered %d, age %s", len(src.Certificates()), len(meter.certs), meter.age)
		}
		logged(t, "changed", "added [proxy_sign_2]", "removed []")
	})
	t.Run("a failing fetch keeps the last good list, retries sooner, bounded", func(t *testing.T) {
		g.serve(nil, true)
		clock.Advance(24 * time.Hour)
		src.Refresh(ctx)
		if !sameCerts(src.Certificates(), pinned, first, next) || meter.fails != 1 {
			t.Fatalf("after a failure: %d certificates, %d failures", len(src.Certificates()), meter.fails)
		}
		logged(t, "refresh failed", "last good list")
		hits := g.hits
		clock.Advance(time.Minute) // the first retry
		src.Refresh(ctx)
		clock.Advance(time.Minute) // the second waits 2 minutes
		src.Refresh(ctx)
		if g.hits != hits+1 || meter.fails != 2 {
			t.Errorf("retries: %d fetches, %d failures; want 1 and 2", g.hits-hits, meter.fails)
		}
		for range 12 { // the wait doubles, up to an hour
			clock.Advance(time.Hour)
			src.Refresh(ctx)
		}
		if g.hits != hits+13 {
			t.Errorf("%d fetches in 12 hours of failures, want one an hour", g.hits-hits-1)
		}
	})
	t.Run("a document with no signing certificate is refused", func(t *testing.T) {
		g.serve(gwDoc(t, clave2msg.CertificateEntry{Use: "encryption", Name: "proxy_cipher_1", Cert: next}), false)
		if err := src.Update(ctx); err == nil || !strings.Contains(err.Error(), "no signing certificate") {
			t.Fatalf("err = %v", err)
		}
		if !sameCerts(src.Certificates(), pinned, first, next) {
			t.Fatal("the trusted set changed on a refused document")
		}
	})
	t.Run("the gateway switches: the old key removed", func(t *testing.T) {
		g.serve(gwDoc(t, clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_2", State: "active", Cert: next}), false)
		if err := src.Update(ctx); err != nil {
			t.Fatal(err)
		}
		if !sameCerts(src.Certificates(), pinned, next) {
			t.Fatal("the removed key is still trusted")
		}
		logged(t, "added []", "removed [proxy_sign_1]")
	})
	t.Run("offline start: the copy on disk", func(t *testing.T) {
		g.serve(nil, true)
		clock.Advance(time.Hour)
		written := clock.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(cache, written, written); err != nil {
			t.Fatal(err)
		}
		src2, meter2 := newSource()
		if err := src2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if !sameCerts(src2.Certificates(), next) || meter2.fails != 1 {
			t.Fatalf("offline start: %d certificates, %d failures", len(src2.Certificates()), meter2.fails)
		}
		logged(t, "last good copy", cache)
		src2.Refresh(ctx) // not due for a minute: no fetch, the copy's age
		if meter2.age != 2*time.Hour {
			t.Errorf("age of the copy = %s, want 2h (its modification time)", meter2.age)
		}
	})
	t.Run("offline start without a copy: static alone, or refused", func(t *testing.T) {
		if err := os.Remove(cache); err != nil {
			t.Fatal(err)
		}
		src3, _ := newSource(pinned)
		if err := src3.Start(ctx); err != nil || !sameCerts(src3.Certificates(), pinned) {
			t.Fatalf("with a static list: %v", err)
		}
		src4, _ := newSource()
		if err := src4.Start(ctx); err == nil || !strings.Contains(err.Error(), "no trusted gateway certificate") {
			t.Fatalf("with nothing to trust: %v", err)
		}
	})
	t.Run("seeded in process, then fetched", func(t *testing.T) {
		src5, _ := newSource()
		src5.Seed = func() ([]byte, error) {
			return gwDoc(t, clave2msg.CertificateEntry{Use: "signing", Name: "seed", Cert: first}), nil
		}
		hits := g.hits
		if err := src5.Start(ctx); err != nil || !sameCerts(src5.Certificates(), first) || g.hits != hits {
			t.Fatalf("seeded start: %v, %d fetches", err, g.hits-hits)
		}
		src6, _ := newSource()
		src6.Seed = func() ([]byte, error) { return nil, errors.New("no simulator") }
		if err := src6.Start(ctx); err == nil {
			t.Fatal("a failed seed with nothing else was accepted")
		}
	})
	t.Run("a certificate that expires while trusted is dropped", func(t *testing.T) {
		short := gwCert(t, "short", clock.Now().Add(2*time.Hour))
		g.serve(gwDoc(t, clave2msg.CertificateEntry{Use: "signing", Name: "short", Cert: short},
			clave2msg.CertificateEntry{Use: "signing", Name: "proxy_sign_2", Cert: next}), false)
		if err := src.Update(ctx); err != nil || !sameCerts(src.Certificates(), pinned, short, next) {
			t.Fatalf("update: %v", err)
		}
		clock.Advance(3 * time.Hour)
		if !sameCerts(src.Certificates(), pinned, next) {
			t.Fatal("an expired certificate is still trusted")
		}
	})
}
