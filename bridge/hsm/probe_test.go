package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/softhsmtest"
)

func TestProbe(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		key        crypto.Signer
		decrypt    bool
		failing    []string // algorithms the probe must find missing
		transports []string
		message    string
	}{
		{"software RSA key can do everything", rsaKey, true, nil, KeyTransports, ""},
		{"SHA-1-only OAEP", softhsmtest.OAEPOnly{PrivateKey: rsaKey, Hash: crypto.SHA1}, true, []string{samlxml.RSAOAEP}, []string{samlxml.RSAOAEPMGF1P},
			"cannot decrypt xmlenc11#rsa-oaep (SHA-256, MGF1-SHA256): decrypt: CKR_ARGUMENTS_BAD; senders (the gateway) must use rsa-oaep-mgf1p"},
		{"cannot sign", softhsmtest.SignOnly{PrivateKey: rsaKey}, false, []string{samlxml.RSASHA256, samlxml.RSASHA512}, nil, "cannot sign with rsa-sha256"},
		{"EC key signs ECDSA", ecKey, false, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps := Probe(tt.key, SigningMethods(tt.key.Public(), samlxml.RSASHA512), tt.decrypt, rand.Reader)
			var failing []string
			var msgs []string
			for _, c := range caps {
				if !c.OK() {
					failing = append(failing, c.Algorithm)
					msgs = append(msgs, c.Message())
				}
			}
			if !slices.Equal(failing, tt.failing) {
				t.Fatalf("failing %v, want %v (%v)", failing, tt.failing, msgs)
			}
			if tt.decrypt && !slices.Equal(Transports(caps), tt.transports) {
				t.Fatalf("transports %v, want %v", Transports(caps), tt.transports)
			}
			if tt.message != "" && !strings.Contains(strings.Join(msgs, "\n"), tt.message) {
				t.Fatalf("messages %q lack %q", msgs, tt.message)
			}
		})
	}
}

func TestSigningMethodsFitTheKey(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	got := SigningMethods(ecKey.Public(), samlxml.RSASHA512, samlxml.ECDSASHA256)
	if !slices.Equal(got, []string{samlxml.ECDSASHA256, samlxml.ECDSASHA512}) {
		t.Fatalf("EC methods %v", got)
	}
}
