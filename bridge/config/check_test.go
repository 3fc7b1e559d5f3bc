package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// TestTestMaterialIsCurrent: every committed test key, certificate and
// secret is known as test material by its content, and each key pair by
// its public key; regenerate them and this fails until testMaterial is
// updated.
func TestTestMaterialIsCurrent(t *testing.T) {
	root := filepath.Join("..", "..", "testdata")
	files, err := filepath.Glob(filepath.Join(root, "keys", "*"))
	if err != nil {
		t.Fatal(err)
	}
	secrets, _ := filepath.Glob(filepath.Join(root, "secrets", "*.key"))
	files = append(files, secrets...)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		n++
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := committedTest(data); !ok {
			t.Errorf("%s: its content is not in testMaterial", f)
		}
		switch {
		case strings.HasSuffix(f, ".crt"):
			cert, err := samlxml.ParseCertificatePEM(data)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := committedTest(publicKeyDER(cert.PublicKey)); !ok {
				t.Errorf("%s: its public key is not in testMaterial", f)
			}
		case strings.Contains(f, string(filepath.Separator)+"keys"+string(filepath.Separator)):
			key, err := samlxml.ParsePrivateKeyPEM(data)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := committedTest(publicKeyDER(key.Public())); !ok {
				t.Errorf("%s: its public key is not in testMaterial", f)
			}
		default:
			b, err := decodeSecret(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := committedTest(b); !ok {
				t.Errorf("%s: its bytes are not in testMaterial", f)
			}
		}
	}
	if n != 10 {
		t.Errorf("%d committed test files, testMaterial knows 10: update it", n)
	}
}

// TestTestCertificate: a certificate is a test one by its key or by the
// subject `clavebridge keys` gives it, never by other names.
func TestTestCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(subject pkix.Name) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: subject, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
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
	tests := []struct {
		subject pkix.Name
		want    bool
	}{
		{pkix.Name{CommonName: "clavebridge TEST bridge-sign", Organization: []string{"clavebridge test keys - not for production"}}, true},
		{pkix.Name{CommonName: "clavebridge TEST x"}, true},
		{pkix.Name{CommonName: "sello", Organization: []string{"Not for production use"}}, true},
		{pkix.Name{CommonName: "clavebridge.example.org", Organization: []string{"Ayuntamiento"}}, false},
		{pkix.Name{CommonName: "testing"}, false},
	}
	for _, tt := range tests {
		if _, got := TestCertificate(cert(tt.subject)); got != tt.want {
			t.Errorf("%v: test = %t, want %t", tt.subject, got, tt.want)
		}
	}
}

// TestLines: every written path has the line of its key (or item), a key
// left out the line of its nearest written ancestor.
func TestLines(t *testing.T) {
	doc := `mode: production
server:
  listen: 127.0.0.1:8080
base: &base
  min_loa: low
service_providers:
  - id: a
    certs:
      - a.crt
      - b.crt
  - {id: b, certs: [c.crt]}
  - <<: *base
    id: c
`
	l := indexLines([]byte(doc))
	tests := []struct {
		path string
		want int
	}{
		{"mode", 1},
		{"server", 2},
		{"server.listen", 3},
		{"server.base_url", 2},
		{"service_providers", 6},
		{"service_providers[0]", 7},
		{"service_providers[0].id", 7},
		{"service_providers[0].certs[1]", 10},
		{"service_providers[1].certs[0]", 11},
		{"service_providers[2].min_loa", 5},
		{"service_providers[2].id", 13},
		{"service_providers[2].name", 12},
		{"keys.signing.cert", 1},
	}
	for _, tt := range tests {
		if got := l.line(tt.path); got != tt.want {
			t.Errorf("line(%s) = %d, want %d", tt.path, got, tt.want)
		}
	}
	if !l.written("service_providers[1].id") || l.written("keys") {
		t.Error("written is wrong")
	}
}

// TestPlainPublic: http is allowed only for this machine.
func TestPlainPublic(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"https://bridge.example.org", false},
		{"http://localhost:8080", false},
		{"http://LOCALHOST", false},
		{"http://bridge.localhost:8080", false},
		{"http://127.0.0.1:8080", false},
		{"http://127.8.9.10", false},
		{"http://[::1]:8080", false},
		{"http://bridge.example.org", true},
		{"http://localhost.example.org", true},
		{"http://10.0.0.7", true},
		{"http://[::2]", true},
		{"HTTP://bridge.example.org", true},
	}
	for _, tt := range tests {
		if got := plainPublic(tt.url); got != tt.want {
			t.Errorf("plainPublic(%s) = %t, want %t", tt.url, got, tt.want)
		}
	}
}
