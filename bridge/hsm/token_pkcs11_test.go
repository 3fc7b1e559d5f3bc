//go:build pkcs11

package hsm_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/hsm"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/internal/softhsmtest"
)

// testToken is a token holding the bridge's test signing key as "sign"
// (CKA_ID 01) and its test encryption key as "enc" (02).
func testToken(t *testing.T) *softhsmtest.Token {
	t.Helper()
	tok := softhsmtest.New(t, "clavebridge-test")
	keys := filepath.Join(samlxmltest.RepoRoot(), "testdata", "keys")
	tok.Import(t, filepath.Join(keys, "bridge-sign.key"), "sign", "01")
	tok.Import(t, filepath.Join(keys, "bridge-enc.key"), "enc", "02")
	return tok
}

func parse(t *testing.T, raw string) *hsm.URI {
	t.Helper()
	u, err := hsm.ParseURI(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestTokenKeyFound: the PIN from a file or from the environment opens the
// token; a wrong PIN, a missing PIN or a missing object is a clear error
// that never shows the PIN.
func TestTokenKeyFound(t *testing.T) {
	tok := testToken(t)
	pinFile := tok.PINFile(t, softhsmtest.PIN)
	t.Setenv("TEST_TOKEN_PIN", softhsmtest.PIN)
	t.Setenv("TEST_TOKEN_WRONG_PIN", "9876")
	tests := []struct {
		name, uri, err string
	}{
		{"PIN from a file", tok.URI("sign", "pin-source=file:"+pinFile), ""},
		{"PIN from the environment", tok.URI("enc", "pin-env=TEST_TOKEN_PIN"), ""},
		{"by id alone", strings.Replace(tok.URI("x", "pin-env=TEST_TOKEN_PIN"), "object=x", "id=%02", 1), ""},
		{"wrong PIN", tok.URI("sign", "pin-env=TEST_TOKEN_WRONG_PIN"), "CKR_PIN_INCORRECT"},
		{"PIN not set", tok.URI("sign", "pin-env=TEST_TOKEN_PIN_UNSET"), "not set"},
		{"missing object", tok.URI("nope", "pin-env=TEST_TOKEN_PIN"), "no such key pair"},
		{"missing token", strings.Replace(tok.URI("sign", "pin-env=TEST_TOKEN_PIN"), "token=clavebridge-test", "token=other", 1), "token \"other\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens := hsm.NewTokens()
			defer tokens.Close()
			use := tokens.Begin()
			key, err := use.Key(parse(t, tt.uri), nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "9876") || strings.Contains(err.Error(), softhsmtest.PIN+" ") {
					t.Fatalf("the error shows a PIN: %v", err)
				}
				if err := tokens.Discard(use); err != nil || tokens.Open() != 0 {
					t.Fatalf("a failed load leaves %d contexts open (%v)", tokens.Open(), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := key.Public().(*rsa.PublicKey); !ok {
				t.Fatalf("public key %T", key.Public())
			}
		})
	}
}

// TestTokenSignsAndVerifies: the token signs with both RSA methods, and the
// signatures verify with the certificate's key.
func TestTokenSignsAndVerifies(t *testing.T) {
	tok := testToken(t)
	t.Setenv("TEST_TOKEN_PIN", softhsmtest.PIN)
	tokens := hsm.NewTokens()
	defer tokens.Close()
	key, err := tokens.Begin().Key(parse(t, tok.URI("sign", "pin-env=TEST_TOKEN_PIN")), nil)
	if err != nil {
		t.Fatal(err)
	}
	cert := samlxmltest.Committed(t, "bridge-sign").Cert
	digest := sha256.Sum256([]byte("hello"))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("the token's signature does not verify with the certificate: %v", err)
	}
	for _, c := range hsm.Probe(key, hsm.SigningMethods(key.Public()), false, rand.Reader) {
		if !c.OK() {
			t.Errorf("%s", c.Message())
		}
	}
}

// TestTokenOAEPForms: rsa-oaep-mgf1p decrypts through the token; for
// xmlenc11#rsa-oaep (SHA-256) the probe reports what the token really
// does — SoftHSM2 2.6 cannot, a later one may — and names the remedy.
func TestTokenOAEPForms(t *testing.T) {
	tok := testToken(t)
	t.Setenv("TEST_TOKEN_PIN", softhsmtest.PIN)
	tokens := hsm.NewTokens()
	defer tokens.Close()
	key, err := tokens.Begin().Key(parse(t, tok.URI("enc", "pin-env=TEST_TOKEN_PIN")), nil)
	if err != nil {
		t.Fatal(err)
	}
	dec := key.(crypto.Decrypter)
	pub := key.Public().(*rsa.PublicKey)
	// What the token does, asked directly.
	sha256Opts := &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}
	ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, []byte("k"), sha256Opts)
	if err != nil {
		t.Fatal(err)
	}
	_, rawErr := dec.Decrypt(rand.Reader, ct, sha256Opts)
	tokenDoesSHA256 := rawErr == nil
	if v := softhsmVersion(t); strings.HasPrefix(v, "2.6") && tokenDoesSHA256 {
		t.Fatalf("SoftHSM2 %s decrypted OAEP with SHA-256, which 2.6 is known not to", v)
	}
	caps := hsm.Probe(key, nil, true, rand.Reader)
	got := map[string]hsm.Capability{}
	for _, c := range caps {
		got[c.Algorithm] = c
	}
	if c := got[samlxml.RSAOAEPMGF1P]; !c.OK() {
		t.Fatalf("rsa-oaep-mgf1p: %s", c.Message())
	}
	c := got[samlxml.RSAOAEP]
	if c.OK() != tokenDoesSHA256 {
		t.Fatalf("probe says xmlenc11#rsa-oaep ok=%t, the token says %v", c.OK(), rawErr)
	}
	if !c.OK() {
		msg := c.Message()
		for _, want := range []string{"cannot decrypt xmlenc11#rsa-oaep (SHA-256, MGF1-SHA256)", "must use rsa-oaep-mgf1p"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
		t.Logf("as expected of this token: %s", msg)
	}
	// OAEP with a different MGF1 hash than its digest is refused, not
	// silently decrypted with the wrong MGF.
	mixed := &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1}
	ct, _ = rsa.EncryptOAEPWithOptions(rand.Reader, pub, []byte("k"), mixed)
	if _, err := dec.Decrypt(rand.Reader, ct, mixed); err == nil || !strings.Contains(err.Error(), "one hash for both") {
		t.Fatalf("mixed OAEP hashes: %v", err)
	}
}

func softhsmVersion(t *testing.T) string {
	out, err := exec.Command("softhsm2-util", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestTokensReuseAndRelease: keys of one token share one context; a load
// that keeps using it keeps it, one that names it no more closes it, a
// failed load closes only what it opened, and Close closes everything.
func TestTokensReuseAndRelease(t *testing.T) {
	tok := testToken(t)
	other := tok.Another(t, "clavebridge-other")
	other.Import(t, filepath.Join(samlxmltest.RepoRoot(), "testdata", "keys", "bridge-enc.key"), "enc", "02")
	t.Setenv("TEST_TOKEN_PIN", softhsmtest.PIN)
	pinFile := tok.PINFile(t, softhsmtest.PIN)
	sign := parse(t, tok.URI("sign", "pin-env=TEST_TOKEN_PIN"))
	enc := parse(t, tok.URI("enc", "pin-source=file:"+pinFile)) // same token, same PIN: same context
	tokens := hsm.NewTokens()
	first := tokens.Begin()
	for _, u := range []*hsm.URI{sign, enc} {
		if _, err := first.Key(u, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := tokens.Keep(first); err != nil || tokens.Open() != 1 {
		t.Fatalf("one token, one PIN: %d contexts (%v)", tokens.Open(), err)
	}
	// A reload with the same URIs reuses the context.
	second := tokens.Begin()
	if _, err := second.Key(sign, nil); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Keep(second); err != nil || tokens.Open() != 1 {
		t.Fatalf("after a reload: %d contexts (%v)", tokens.Open(), err)
	}
	// A reload that opens a second token, then fails, closes that one and
	// keeps the one in use.
	failed := tokens.Begin()
	if _, err := failed.Key(sign, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := failed.Key(parse(t, other.URI("nope", "pin-env=TEST_TOKEN_PIN")), nil); err == nil {
		t.Fatal("a missing object was found")
	}
	if tokens.Open() != 2 {
		t.Fatalf("during the failed reload: %d contexts", tokens.Open())
	}
	if err := tokens.Discard(failed); err != nil || tokens.Open() != 1 {
		t.Fatalf("after a failed reload: %d contexts (%v)", tokens.Open(), err)
	}
	if _, err := second.Key(enc, nil); err != nil {
		t.Fatalf("the context in use was closed: %v", err)
	}
	// A reload moving to the other token closes the first one's context.
	third := tokens.Begin()
	if _, err := third.Key(parse(t, other.URI("enc", "pin-env=TEST_TOKEN_PIN")), nil); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Keep(third); err != nil || tokens.Open() != 1 {
		t.Fatalf("after moving to the other token: %d contexts (%v)", tokens.Open(), err)
	}
	// A reload naming no token key closes the last context.
	if err := tokens.Keep(tokens.Begin()); err != nil || tokens.Open() != 0 {
		t.Fatalf("after a reload without token keys: %d contexts (%v)", tokens.Open(), err)
	}
	if _, err := tokens.Begin().Key(sign, nil); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Close(); err != nil || tokens.Open() != 0 {
		t.Fatalf("after Close: %d contexts (%v)", tokens.Open(), err)
	}
	if _, err := tokens.Begin().Key(sign, nil); err == nil {
		t.Fatal("a closed set opened a token")
	}
}
