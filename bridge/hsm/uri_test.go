package hsm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	const mod = "module-path=/usr/lib/softhsm/libsofthsm2.so"
	tests := []struct {
		name, raw string
		want      *URI
		err       string
	}{
		{"label, id and PIN file", "pkcs11:token=bridge;object=sign;id=%01%A2?" + mod + "&pin-source=file:/etc/clavebridge/pin",
			&URI{Token: "bridge", Object: "sign", ID: []byte{1, 0xa2}, ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINFile: "/etc/clavebridge/pin"}, ""},
		{"serial, PIN in env, type private", "pkcs11:serial=abc;type=private;object=my%20key?" + mod + "&pin-env=HSM_PIN",
			&URI{Serial: "abc", Object: "my key", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINEnv: "HSM_PIN"}, ""},
		{"file:// form", "pkcs11:token=t;id=%01?" + mod + "&pin-source=file:///run/pin",
			&URI{Token: "t", ID: []byte{1}, ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINFile: "/run/pin"}, ""},
		{"PIN in the URI", "pkcs11:token=t;object=k?" + mod + "&pin-value=1234", nil, "never written in the configuration"},
		{"no PIN", "pkcs11:token=t;object=k?" + mod, nil, "exactly one of pin-source"},
		{"both PINs", "pkcs11:token=t;object=k?" + mod + "&pin-env=A&pin-source=file:/p", nil, "exactly one of pin-source"},
		{"no token", "pkcs11:object=k?" + mod + "&pin-env=A", nil, "name the token"},
		{"no key", "pkcs11:token=t?" + mod + "&pin-env=A", nil, "name the key"},
		{"no module", "pkcs11:token=t;object=k?pin-env=A", nil, "module-path"},
		{"relative module", "pkcs11:token=t;object=k?module-path=lib.so&pin-env=A", nil, "not an absolute path"},
		{"public key", "pkcs11:token=t;object=k;type=public?" + mod + "&pin-env=A", nil, "private key"},
		{"unknown path attribute", "pkcs11:token=t;object=k;slot-id=1?" + mod + "&pin-env=A", nil, "unknown path attribute"},
		{"unknown query attribute", "pkcs11:token=t;object=k?" + mod + "&pin-env=A&module-name=softhsm2", nil, "unknown query attribute"},
		{"twice", "pkcs11:token=t;token=u;object=k?" + mod + "&pin-env=A", nil, "given twice"},
		{"bad escape", "pkcs11:token=t;object=k%zz?" + mod + "&pin-env=A", nil, "object"},
		{"not an attribute", "pkcs11:token?" + mod + "&pin-env=A", nil, "not an attribute=value"},
		{"pin-source not a file", "pkcs11:token=t;object=k?" + mod + "&pin-source=|/bin/cat", nil, "only file:"},
		{"too long", "pkcs11:token=" + strings.Repeat("a", maxURIBytes), nil, "longer than"},
		{"not pkcs11", "/etc/key.pem", nil, "not a pkcs11: URI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURI(tt.raw)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Token != tt.want.Token || got.Serial != tt.want.Serial || got.Object != tt.want.Object ||
				!bytes.Equal(got.ID, tt.want.ID) || got.ModulePath != tt.want.ModulePath ||
				got.PINFile != tt.want.PINFile || got.PINEnv != tt.want.PINEnv {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadPIN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("pin", " 4321\n")
	write("empty", "\n")
	write("long", strings.Repeat("9", maxPINBytes+1))
	t.Setenv("TEST_HSM_PIN", "8765")
	resolve := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		name string
		u    URI
		want string
		err  string
	}{
		{"file, trimmed, relative to the configuration", URI{PINFile: "pin"}, "4321", ""},
		{"environment", URI{PINEnv: "TEST_HSM_PIN"}, "8765", ""},
		{"unset environment", URI{PINEnv: "TEST_HSM_PIN_UNSET"}, "", "not set"},
		{"missing file", URI{PINFile: "nope"}, "", "no such file"},
		{"empty", URI{PINFile: "empty"}, "", "is empty"},
		{"too long", URI{PINFile: "long"}, "", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pin, err := tt.u.ReadPIN(resolve)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "9999") {
					t.Fatal("the error shows the PIN")
				}
				return
			}
			if err != nil || string(pin) != tt.want {
				t.Fatalf("PIN %q, %v; want %q", pin, err, tt.want)
			}
		})
	}
}

func TestURIStringHasNoPIN(t *testing.T) {
	u, err := ParseURI("pkcs11:token=t;object=k;id=%01?module-path=/m.so&pin-env=SECRET_NAME")
	if err != nil {
		t.Fatal(err)
	}
	if got := u.String(); got != "pkcs11:token=t;object=k;id=%01" {
		t.Fatalf("String() = %q", got)
	}
}
