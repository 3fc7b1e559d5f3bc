package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretsValidation(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.crt", "a.key", "citizens.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	head := "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt, key: a.key}}\n"
	tests := []struct{ name, yaml, want string }{
		{"none", "", "secrets.state_keys: at least one key is required"},
		{"no pairwise", "secrets: {state_keys: [{id: k, file: a.key}]}\n", "secrets.pairwise: name a file or an environment variable"},
		{"both sources", "secrets: {state_keys: [{id: k, file: a.key, env: X}], pairwise: {env: Y}}\n", "secrets.state_keys[0]: name a file or an environment variable, not both"},
		{"missing file", "secrets: {state_keys: [{id: k, file: nope.key}], pairwise: {env: Y}}\n", "secrets.state_keys[0].file:"},
		{"no id", "secrets: {state_keys: [{file: a.key}], pairwise: {env: Y}}\n", "secrets.state_keys[0].id: required"},
		{"bad id", "secrets: {state_keys: [{id: 'a.b', file: a.key}], pairwise: {env: Y}}\n", "secrets.state_keys[0].id: \"a.b\""},
		{"same id twice", "secrets: {state_keys: [{id: k, file: a.key}, {id: k, env: Z}], pairwise: {env: Y}}\n", "secrets.state_keys[1].id: \"k\" is used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tt.yaml), dir, testDialects)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	cfg, err := Parse([]byte(head+"secrets: {state_keys: [{id: k, env: Z}], pairwise: {env: Y}}\n"), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg.Store.Budgets; b.Pending != 10000 || b.Replay != 200000 || b.Sessions != 100000 {
		t.Fatalf("budget defaults = %+v", b)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	hex32 := strings.Repeat("ab", 32)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("hex.key", hex32+"\n")
	write("b64.key", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n")
	write("short.key", "abcd\n")
	write("junk.key", "not a secret at all!\n")
	t.Setenv("CLAVEBRIDGE_TEST_SECRET", hex32)
	c := &Config{dir: dir}
	tests := []struct {
		name string
		s    Secret
		want string // "" = accepted
	}{
		{"hex file", Secret{File: "hex.key"}, ""},
		{"base64 file", Secret{File: "b64.key"}, ""},
		{"environment", Secret{Env: "CLAVEBRIDGE_TEST_SECRET"}, ""},
		{"short", Secret{File: "short.key"}, "fewer than 32"},
		{"neither hex nor base64", Secret{File: "junk.key"}, "neither hex nor base64"},
		{"missing file", Secret{File: "nope.key"}, "read secret"},
		{"unset variable", Secret{Env: "CLAVEBRIDGE_TEST_UNSET"}, "is not set"},
		{"nothing named", Secret{}, "no file or environment variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.ReadSecret(tt.s)
			if tt.want == "" {
				if err != nil || len(b) != 32 || b[0] != 0xab {
					t.Fatalf("ReadSecret = %x, %v", b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
