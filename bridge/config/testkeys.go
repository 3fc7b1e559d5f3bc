package config

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
)

// testMaterial names, by SHA-256, the test keys and secrets committed under
// testdata/keys and testdata/secrets, whose private halves are public: each
// file's content, the public key of each key pair (so a certificate or key
// re-encoded, or re-issued for the same key, is still known) and each
// secret's decoded bytes (so hex written as base64 is too).
// TestTestMaterialIsCurrent fails when a file there changes without this
// table.
var testMaterial = map[string]string{
	// file contents
	"87f32f54831b8655fbf3a9200a1c826bcdea9570c9f573a79f38b8a454be42f2": "testdata/keys/bridge-enc.crt",
	"a966471a8a2561296697011b6808e0f06af243681d60045fa16cc8cbbed783f9": "testdata/keys/bridge-enc.key",
	"7ec3e37e563cb03e6e507504eb036daf5e4dbb90d28fd8dd2e3cc3d0fdbafcb1": "testdata/keys/bridge-sign.crt",
	"fc791b7072715e4bffcc3be4ecb38a73ad426ff448cf9d2a3dee4739f3ac2332": "testdata/keys/bridge-sign.key",
	"fce0d73f0c6d82bd12b2d3aafc85690d43fb2acca449b3e5ce837b8b274b2b09": "testdata/keys/demo-sp.crt",
	"303ff1f1ce5ea8e9b00c4ae4fdf38658e4052aa83fc53458ce95ce774692978d": "testdata/keys/demo-sp.key",
	"da62a4fe0de387d6434e16d512562a6441fad4b4a61da91f7aa74c06ad62a486": "testdata/keys/simulator-sign.crt",
	"e29de8c9dc21a15648d0abb7f1ec18fa8cff7161368bdfe0ac0b750a497de916": "testdata/keys/simulator-sign.key",
	"536ec29f677016ce5e54c87133baf1813a593af8c266e2780e34818817245253": "testdata/secrets/pairwise-test.key",
	"56b8c44380e98089c6e531860491c3b3145d8d1809d76923f1a6492aa785b20f": "testdata/secrets/state-test-1.key",
	// public keys (SubjectPublicKeyInfo DER) of the key pairs
	"48fb240efe3b6d3a2022fedb89e88ec7137c3751eaf5401665f3ff5f8523a455": "testdata/keys/bridge-enc.{crt,key}",
	"426d465d8ee37ba4e4c35fb9b12728593dedf1ec27e3c82027da81f4bcb9780e": "testdata/keys/bridge-sign.{crt,key}",
	"81a4ddeaf395719ed7db2a2e18afae85e036ad18a14474f7732fce4aef4146b0": "testdata/keys/demo-sp.{crt,key}",
	"52fb5134879c4066246b2128bce8d0994b9a59d23f0ffebba46682ecbc0df3ec": "testdata/keys/simulator-sign.{crt,key}",
	// decoded secrets
	"afac9806dd02ea5a1e5a82577609da900227ed603b73f9f64374d603f6c0a4aa": "testdata/secrets/pairwise-test.key",
	"8478c098d2f56a8268ad541691474e342f271f2969524fd22ae01cf8751187aa": "testdata/secrets/state-test-1.key",
}

// testMarkers are in the subject of every certificate `clavebridge keys`
// makes (CN "clavebridge TEST <name>", O "… not for production").
var testMarkers = []string{"clavebridge test", "not for production"}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// committedTest names the committed test material one of blobs (a file's
// content, a public key's DER, a secret's bytes) is, if any.
func committedTest(blobs ...[]byte) (string, bool) {
	for _, b := range blobs {
		if b == nil {
			continue
		}
		if name, ok := testMaterial[sha256Hex(b)]; ok {
			return name, true
		}
	}
	return "", false
}

// publicKeyDER is the SubjectPublicKeyInfo of a public key, nil if it
// cannot be encoded.
func publicKeyDER(pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	return der
}

// TestCertificate tells whether cert is a test certificate, and why: its
// key is one of the committed test keys, or its subject carries the marker
// of the certificates `clavebridge keys` makes.
func TestCertificate(cert *x509.Certificate) (string, bool) {
	if name, ok := committedTest(cert.Raw, publicKeyDER(cert.PublicKey)); ok {
		return "the committed " + name + ", whose private key is public", true
	}
	subject := strings.ToLower(cert.Subject.String())
	for _, m := range testMarkers {
		if strings.Contains(subject, m) {
			return "its subject says " + quoteSubject(cert) + ": one `clavebridge keys` makes", true
		}
	}
	return "", false
}

func quoteSubject(cert *x509.Certificate) string {
	if cn := cert.Subject.CommonName; cn != "" {
		return `"` + cn + `"`
	}
	return `"` + cert.Subject.String() + `"`
}
