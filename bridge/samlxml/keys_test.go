package samlxml

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestParsePrivateKeyPEM(t *testing.T) {
	rsaKey := rsaIdentity().key.(*rsa.PrivateKey)
	ecKey := ecIdentity().key.(*ecdsa.PrivateKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}})
	tests := []struct {
		name string
		pem  []byte
		rsa  bool
	}{
		{"PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), true},
		{"PKCS#8 RSA", rsaIdentity().keyPEM, true},
		{"SEC1 after EC PARAMETERS", append(ecParams, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...), false},
		{"PKCS#8 EC after a certificate", append(append([]byte{}, ecIdentity().certPEM...), ecIdentity().keyPEM...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParsePrivateKeyPEM(tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			want := any(ecKey)
			if tt.rsa {
				want = rsaKey
			}
			if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(want) {
				t.Error("parsed a different key")
			}
		})
	}
	for _, bad := range [][]byte{
		nil,
		[]byte("garbage"),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("junk")}),
		pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("junk")}),
	} {
		if _, err := ParsePrivateKeyPEM(bad); err == nil {
			t.Errorf("ParsePrivateKeyPEM(%q) succeeded", bad)
		}
	}
}

func TestParseCertificates(t *testing.T) {
	id := rsaIdentity()
	cert, err := ParseCertificatePEM(append(append([]byte{}, id.keyPEM...), id.certPEM...))
	if err != nil || !cert.Equal(id.cert) {
		t.Fatalf("ParseCertificatePEM: %v", err)
	}
	b64 := base64.StdEncoding.EncodeToString(id.cert.Raw)
	wrapped := "\n  " + regexp.MustCompile(`.{1,64}`).ReplaceAllStringFunc(b64, func(s string) string { return s + "\r\n\t " })
	for _, s := range []string{b64, wrapped} {
		cert, err := ParseCertificateBase64(s)
		if err != nil || !cert.Equal(id.cert) {
			t.Errorf("ParseCertificateBase64: %v", err)
		}
	}
	if _, err := ParseCertificatePEM(id.keyPEM); err == nil {
		t.Error("ParseCertificatePEM of a key succeeded")
	}
	if _, err := ParseCertificateBase64("!!"); err == nil {
		t.Error("bad base64 accepted")
	}
	if _, err := ParseCertificateBase64(base64.StdEncoding.EncodeToString([]byte("junk"))); err == nil {
		t.Error("junk DER accepted")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestNewID(t *testing.T) {
	id, err := NewID(bytes.NewReader(bytes.Repeat([]byte{0xab}, 20)))
	if err != nil || id != "_"+strings.Repeat("ab", 20) {
		t.Errorf("NewID = %q, %v", id, err)
	}
	a, _ := NewID(nil)
	b, _ := NewID(nil)
	if !regexp.MustCompile(`^_[0-9a-f]{40}$`).MatchString(a) || a == b {
		t.Errorf("NewID(nil) = %q, %q", a, b)
	}
	if _, err := NewID(failingReader{}); err == nil {
		t.Error("NewID with a failing reader succeeded")
	}
}
