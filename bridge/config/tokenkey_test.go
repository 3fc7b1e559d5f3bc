package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tokenKeyCheck checks a configuration whose signing key is the pkcs11:
// URI uri (the certificate a file), in mode.
func tokenKeyCheck(t *testing.T, dir, mode, uri string) *Report {
	t.Helper()
	yaml := "mode: " + mode + "\nsimulator: {citizens: citizens.yaml, signing: {cert: cur.crt, key: cur.key}}\n" +
		"secrets: {state_keys: [{id: t, file: state.key}], pairwise: {file: pairwise.key}}\n" +
		"keys: {signing: {cert: cur.crt, key: '" + uri + "'}}\n"
	return Check([]byte(yaml), dir, testDialects, time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC))
}

// has reports whether r has a finding of sev at path whose message has msg.
func has(r *Report, sev Severity, path, msg string) bool {
	for _, f := range r.Findings {
		if f.Severity == sev && f.Path == path && strings.Contains(f.Message, msg) {
			return true
		}
	}
	return false
}

// TestTokenKeyFindings: check reviews where a token key's PIN is: a PIN
// file every user can read, a missing one, an unset environment variable;
// and a malformed URI is a validation error at the key's YAML path.
func TestTokenKeyFindings(t *testing.T) {
	dir := rolloverFixtures(t, time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC))
	for name, mode := range map[string]os.FileMode{"pin-open": 0o644, "pin-closed": 0o600} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("1234\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	t.Setenv("TOKEN_PIN_SET", "1234")
	const mod = "?module-path=/usr/lib/softhsm/libsofthsm2.so&"
	uri := func(pin string) string { return "pkcs11:token=bridge;object=sign" + mod + pin }
	tests := []struct {
		name, mode, uri string
		sev             Severity
		msg             string // "" for none at keys.signing.key but the build's own
	}{
		{"world-readable PIN file, production", ModeProduction, uri("pin-source=file:pin-open"), Error, "readable by every user"},
		{"world-readable PIN file, development", ModeDevelopment, uri("pin-source=file:pin-open"), Warning, "readable by every user"},
		{"missing PIN file", ModeDevelopment, uri("pin-source=file:pin-gone"), Error, "no such file"},
		{"PIN variable not set", ModeDevelopment, uri("pin-env=TOKEN_PIN_UNSET"), Warning, "TOKEN_PIN_UNSET is not set"},
		{"PIN in the URI", ModeDevelopment, uri("pin-value=1234"), Error, "the PIN is never written in the configuration"},
		{"no module", ModeDevelopment, "pkcs11:token=bridge;object=sign?pin-env=TOKEN_PIN_SET", Error, "module-path"},
		{"private PIN file", ModeDevelopment, uri("pin-source=file:pin-closed"), "", ""},
		{"PIN variable set", ModeDevelopment, uri("pin-env=TOKEN_PIN_SET"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tokenKeyCheck(t, dir, tt.mode, tt.uri)
			if tt.msg != "" && !has(r, tt.sev, "keys.signing.key", tt.msg) {
				t.Fatalf("no %s %q at keys.signing.key in %+v", tt.sev, tt.msg, r.Findings)
			}
			if tt.msg == "" {
				for _, f := range r.Findings {
					if f.Path == "keys.signing.key" && !strings.Contains(f.Message, "without PKCS#11 support") {
						t.Errorf("unexpected finding %+v", f)
					}
				}
			}
			for _, f := range r.Findings {
				if strings.Contains(f.Message, "1234") {
					t.Errorf("a finding shows the PIN: %+v", f)
				}
			}
		})
	}
}
