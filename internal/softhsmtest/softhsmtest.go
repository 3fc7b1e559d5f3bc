// Package softhsmtest makes throwaway SoftHSM2 tokens for the tests of keys
// in a hardware module: each test gets its own token directory and
// configuration (SOFTHSM2_CONF, set for the test only), a token initialised
// with a known PIN, and the test keys of testdata imported into it. When
// SoftHSM2 is not installed the test is skipped, or fails under CI
// (peertest).
package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/clavebridge/clavebridge/internal/peertest"
)

// PIN and SOPIN are the PINs of every test token.
const (
	PIN   = "1234"
	SOPIN = "12345678"
)

// modules are where Debian and others install the SoftHSM2 library.
var modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// Token is one throwaway token.
type Token struct {
	Label  string
	Module string // the PKCS#11 library
	Dir    string // a private folder of the test (the PIN file goes here)
	util   string
}

// New initialises a token labelled label in a fresh token directory, with
// PIN and SOPIN. It sets SOFTHSM2_CONF for the rest of the test (so the
// test may not run in parallel).
func New(t testing.TB, label string) *Token {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	module := ""
	for _, m := range modules {
		if _, statErr := os.Stat(m); statErr == nil {
			module = m
			break
		}
	}
	if err != nil || module == "" {
		peertest.Missing(t, "SoftHSM2 is not installed (Debian: apt-get install softhsm2; .ci/deps installs it)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tok := &Token{Label: label, Module: module, Dir: dir, util: util}
	tok.run(t, "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SOPIN)
	return tok
}

// Another initialises a second token, labelled label, beside tok (in
// its token directory, with the same PINs).
func (tok *Token) Another(t testing.TB, label string) *Token {
	t.Helper()
	other := *tok
	other.Label = label
	other.run(t, "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SOPIN)
	return &other
}

// Import imports a PKCS#8 PEM private key file (and its public key) as the
// object label with CKA_ID id (hex).
func (tok *Token) Import(t testing.TB, pkcs8PEM, label, idHex string) {
	t.Helper()
	tok.run(t, "--import", pkcs8PEM, "--token", tok.Label, "--label", label, "--id", idHex, "--pin", PIN)
}

// PINFile writes the PIN to a file of the test readable by its owner only
// and returns its path.
func (tok *Token) PINFile(t testing.TB, pin string) string {
	t.Helper()
	path := filepath.Join(tok.Dir, "pin")
	if err := os.WriteFile(path, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// URI is a pkcs11: URI of the object label in this token, its PIN in the
// given query attribute (pin-source=file:... or pin-env=NAME).
func (tok *Token) URI(label, pin string) string {
	return fmt.Sprintf("pkcs11:token=%s;object=%s?module-path=%s&%s", tok.Label, label, tok.Module, pin)
}

func (tok *Token) run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(tok.util, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util %v: %v\n%s", args, err, out)
	}
}
