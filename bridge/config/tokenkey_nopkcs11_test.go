//go:build !pkcs11

package config

import (
	"strings"
	"testing"
	"time"
)

// TestTokenKeyWithoutPKCS11Support: a binary built without the pkcs11 tag
// refuses a key in a token, at its YAML path, saying how to build one
// that does not.
func TestTokenKeyWithoutPKCS11Support(t *testing.T) {
	dir := rolloverFixtures(t, time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC))
	t.Setenv("TOKEN_PIN_SET", "1234")
	r := tokenKeyCheck(t, dir, ModeDevelopment, "pkcs11:token=bridge;object=sign?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-env=TOKEN_PIN_SET")
	if !has(r, Error, "keys.signing.key", "this binary was built without PKCS#11 support; build it with `go build -tags pkcs11`") {
		t.Fatalf("findings %+v", r.Findings)
	}
	if r.Config != nil {
		t.Fatal("the configuration passed")
	}
	var kp = KeyPair{Cert: "cur.crt", Key: "pkcs11:token=bridge;object=sign?module-path=/m.so&pin-env=X"}
	if _, _, err := (&Config{}).ReadKeyPair(kp); err == nil || !strings.Contains(err.Error(), "is in a PKCS#11 token") {
		t.Fatalf("ReadKeyPair of a token key: %v", err)
	}
}
