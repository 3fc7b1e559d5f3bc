package server

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/internal/softhsmtest"
)

// TestProbeTokenKeys: at start, a token signing key that cannot sign what
// the configuration asks refuses the start; a key transport a decryption
// key cannot do is a warning, and the metadata advertises only what every
// published encryption key can decrypt.
func TestProbeTokenKeys(t *testing.T) {
	k := samlxmltest.NewRSA(t, "probe").Key.(*rsa.PrivateKey)
	file := &pair{key: k}
	tokenPair := func(key crypto.Signer) *pair { return &pair{key: key, token: true} }
	cfg := &config.Config{}
	cfg.Upstream.SignatureAlgorithm = "rsa-sha512"
	tests := []struct {
		name       string
		pairs      []probed
		err        string
		warnings   []string // path: algorithm
		transports []string
	}{
		{"files only", []probed{{path: "keys.signing", p: file, signs: true, publish: true}}, "", nil, nil},
		{"SoftHSM2 2.6 for both", []probed{{path: "keys.signing", p: tokenPair(softhsmtest.OAEPOnly{PrivateKey: k, Hash: crypto.SHA1}), signs: true, publish: true}}, "",
			[]string{"keys.signing: " + samlxml.RSAOAEP}, []string{samlxml.RSAOAEPMGF1P}},
		{"signing key without the configured rsa-sha512", []probed{{path: "keys.signing", p: tokenPair(softhsmtest.SignOnly{PrivateKey: k, Hash: crypto.SHA256}), signs: true}},
			"keys.signing.key: the key cannot sign with rsa-sha512", nil, nil},
		{"encryption key that cannot sign is fine", []probed{
			{path: "keys.signing", p: file, signs: true},
			{path: "keys.encryption", p: tokenPair(softhsmtest.SignOnly{PrivateKey: k, Hash: crypto.SHA256}), publish: true}}, "", nil,
			[]string{samlxml.RSAOAEPMGF1P, samlxml.RSAOAEP}},
		{"published keys with no transport in common", []probed{
			{path: "keys.encryption", p: tokenPair(softhsmtest.OAEPOnly{PrivateKey: k, Hash: crypto.SHA1}), publish: true},
			{path: "keys.next_encryption", p: tokenPair(softhsmtest.OAEPOnly{PrivateKey: k, Hash: crypto.SHA256}), publish: true}},
			"keys.next_encryption.key: the published encryption keys have no key transport in common", nil, nil},
		{"keys not configured", []probed{
			{path: "keys.signing", p: nil, signs: true},
		}, "", nil, nil},
	}
	shared := tokenPair(softhsmtest.OAEPOnly{PrivateKey: k, Hash: crypto.SHA1})
	tests = append(tests, struct {
		name       string
		pairs      []probed
		err        string
		warnings   []string
		transports []string
	}{"the same pair under two paths", []probed{
		{path: "keys.signing", p: shared, signs: true, publish: true},
		{path: "keys.encryption", p: shared, publish: true}}, "",
		[]string{"keys.signing: " + samlxml.RSAOAEP}, []string{samlxml.RSAOAEPMGF1P}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			transports, warnings, err := probeTokenKeys(cfg, tt.pairs, rand.Reader)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range warnings {
				got = append(got, w.path+": "+w.cap.Algorithm)
			}
			if !slices.Equal(got, tt.warnings) || !slices.Equal(transports, tt.transports) {
				t.Fatalf("warnings %v, transports %v; want %v, %v", got, transports, tt.warnings, tt.transports)
			}
		})
	}
}
