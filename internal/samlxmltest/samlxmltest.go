// Package samlxmltest gives tests key pairs: fresh ones, or the committed
// TEST keys under testdata/keys.
package samlxmltest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// Pair is a private key with its self-signed certificate.
type Pair struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// Decrypter returns the key as a crypto.Decrypter (RSA keys only).
func (p Pair) Decrypter() crypto.Decrypter { return p.Key.(crypto.Decrypter) }

// Signer returns a samlxml.Signer for the pair.
func (p Pair) Signer(method string) samlxml.Signer {
	return samlxml.Signer{Key: p.Key, Cert: p.Cert, Method: method, IncludeCert: true}
}

// NewRSA makes a fresh RSA-2048 pair with a self-signed certificate.
func NewRSA(t testing.TB, cn string) Pair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Pair{Key: key, Cert: cert}
}

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Committed loads testdata/keys/<name>.{crt,key}.
func Committed(t testing.TB, name string) Pair {
	t.Helper()
	dir := filepath.Join(RepoRoot(), "testdata", "keys")
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := samlxml.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, err := samlxml.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return Pair{Key: key, Cert: cert}
}
