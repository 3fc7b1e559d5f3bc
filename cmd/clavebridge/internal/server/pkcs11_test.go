//go:build pkcs11

package server

import (
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/internal/softhsmtest"
)

// tokenKeys is a throwaway SoftHSM2 token holding every key of the bridge
// (signing, encryption, next signing, next encryption), and the edit that
// makes a configuration name them: the signing keys' PIN from a file, the
// encryption keys' from the environment.
func tokenKeys(t *testing.T) func(*config.Config) {
	t.Helper()
	tok := softhsmtest.New(t, "clavebridge")
	keys := filepath.Join(samlxmltest.RepoRoot(), "testdata", "keys")
	objects := []struct{ file, label, id string }{
		{"bridge-sign", "sign", "01"}, {"bridge-enc", "enc", "02"}, {"demo-sp", "next-sign", "03"}, {"simulator-sign", "next-enc", "04"},
	}
	for _, o := range objects {
		tok.Import(t, filepath.Join(keys, o.file+".key"), o.label, o.id)
	}
	pinFile := tok.PINFile(t, softhsmtest.PIN)
	t.Setenv("CLAVEBRIDGE_TEST_TOKEN_PIN", softhsmtest.PIN)
	return func(cfg *config.Config) {
		cfg.Keys.Signing.Key = tok.URI("sign", "pin-source=file:"+pinFile)
		cfg.Keys.Encryption.Key = tok.URI("enc", "pin-env=CLAVEBRIDGE_TEST_TOKEN_PIN")
		cfg.Keys.NextSigning = config.KeyPair{Cert: filepath.Join(keys, "demo-sp.crt"), Key: tok.URI("next-sign", "pin-source=file:"+pinFile)}
		cfg.Keys.NextEncryption = config.KeyPair{Cert: filepath.Join(keys, "simulator-sign.crt"), Key: tok.URI("next-enc", "pin-env=CLAVEBRIDGE_TEST_TOKEN_PIN")}
	}
}

// softhsm26 reports whether the installed SoftHSM2 is 2.6, which decrypts
// RSA-OAEP with SHA-1 only.
func softhsm26(t *testing.T) bool {
	out, err := exec.Command("softhsm2-util", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.HasPrefix(strings.TrimSpace(string(out)), "2.6")
}

// TestLoginWithKeysInSoftHSM: a whole login (demo SP → bridge → simulated
// gateway → bridge → demo SP) with every key of the bridge in a SoftHSM2
// token: the bridge signs its requests and responses and decrypts the
// gateway's assertion through the token. What the token cannot do is
// logged at start, and our metadata advertises only the key transports it
// can decrypt.
func TestLoginWithKeysInSoftHSM(t *testing.T) {
	edit := tokenKeys(t)
	h := startHarness(t, func(cfg *config.Config) {
		edit(cfg)
		autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
	})
	t.Cleanup(func() { _ = h.Server.Close() }) // the token's context, before the next test's token
	if !h.Server.keys.signer.Cert.Equal(samlxmltest.Committed(t, "bridge-sign").Cert) {
		t.Fatal("the signing certificate is not bridge-sign's")
	}
	page := h.demoLogin(t, url.Values{"loa": {"high"}, "binding": {"post"}, "nameid": {"persistent"}})
	if page.Status != http.StatusOK || !strings.Contains(page.Body, demoLoggedIn) || !strings.Contains(page.Body, "ES/ES/99999999R") {
		t.Fatalf("status %d:\n%.2000s", page.Status, page.Body)
	}
	if len(h.Server.keys.decrypters) != 4 {
		t.Fatalf("%d decryption keys, want the 4 in the token", len(h.Server.keys.decrypters))
	}

	md, err := h.Server.Metadata(true)
	if err != nil {
		t.Fatal(err)
	}
	transports := h.Server.keys.transports
	warned := h.Logs.FilterMessage("token key capability missing").FilterField(zap.String("algorithm", samlxml.RSAOAEP)).Len() > 0
	if softhsm26(t) {
		if !slices.Equal(transports, []string{samlxml.RSAOAEPMGF1P}) || !warned {
			t.Fatalf("SoftHSM2 2.6: transports %v, warned %t; want rsa-oaep-mgf1p only, and a warning", transports, warned)
		}
	}
	if strings.Contains(string(md), samlxml.RSAOAEP+`"`) != slices.Contains(transports, samlxml.RSAOAEP) ||
		!strings.Contains(string(md), samlxml.RSAOAEPMGF1P) {
		t.Fatalf("metadata advertises other key transports than the token can do (%v):\n%s", transports, md)
	}
	for _, e := range h.Logs.FilterMessage("token key capability missing").All() {
		if strings.Contains(e.ContextMap()["reason"].(string), softhsmtest.PIN+" ") {
			t.Fatalf("a log line shows the PIN: %v", e.ContextMap())
		}
	}
	assertNoPersonalData(t, h.Logs, "99999999R", "JUAN")
}

// TestCheckProbesTokenKeys: `check` tries the token keys as serve will and
// says which key transport the token cannot do, at the key's path.
func TestCheckProbesTokenKeys(t *testing.T) {
	cfg := exampleConfig(t, "http://127.0.0.1:1", tokenKeys(t))
	findings := KeyProbeFindings(cfg)
	var msgs []string
	for _, f := range findings {
		if f.Severity == config.Error {
			t.Fatalf("error: %+v", f)
		}
		msgs = append(msgs, f.Path+": "+f.Message)
	}
	if softhsm26(t) {
		want := "keys.encryption.key: the key cannot decrypt xmlenc11#rsa-oaep (SHA-256, MGF1-SHA256)"
		if !slices.ContainsFunc(msgs, func(m string) bool {
			return strings.HasPrefix(m, want) && strings.Contains(m, "must use rsa-oaep-mgf1p")
		}) {
			t.Fatalf("findings %q lack %q", msgs, want)
		}
	}
	// A missing object is an error at check, and the tokens are closed.
	cfg.Keys.Encryption.Key = strings.Replace(cfg.Keys.Encryption.Key, "object=enc", "object=gone", 1)
	f := KeyProbeFindings(cfg)
	if len(f) != 1 || f[0].Severity != config.Error || !strings.Contains(f[0].Message, "keys.encryption: key: pkcs11:token=clavebridge;object=gone: no such key pair") {
		t.Fatalf("findings %+v", f)
	}
}

// TestReloadTokenContexts: a reload with the same token keys reuses the
// token's context, a failed reload leaves it alone, a reload to key files
// closes it, and Close closes everything.
func TestReloadTokenContexts(t *testing.T) {
	edit := tokenKeys(t)
	cfg := exampleConfig(t, "http://127.0.0.1:1", edit)
	r, err := NewReloadable(cfg, zap.NewNop(), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens := r.opts.Tokens
	if tokens.Open() != 1 { // one context a token (and PIN), whichever the PIN's source
		t.Fatalf("%d contexts at start", tokens.Open())
	}
	steps := []struct {
		name   string
		edit   func(*config.Config)
		fails  bool
		open   int
		signed bool // the signing key is the token's
	}{
		{"same keys", edit, false, 1, true},
		{"a missing object", func(c *config.Config) {
			edit(c)
			c.Keys.NextSigning.Key = strings.Replace(c.Keys.NextSigning.Key, "object=next-sign", "object=gone", 1)
		}, true, 1, true},
		{"encryption keys back to files", func(c *config.Config) {
			edit(c)
			c.Keys.Encryption.Key = "testdata/keys/bridge-enc.key"
			c.Keys.NextEncryption = config.KeyPair{}
		}, false, 1, true},
		{"every key a file", nil, false, 0, false},
	}
	for _, s := range steps {
		err := r.Reload(func() (*config.Config, error) { return exampleConfig(t, "http://127.0.0.1:1", s.edit), nil })
		if (err != nil) != s.fails {
			t.Fatalf("%s: reload error %v", s.name, err)
		}
		if tokens.Open() != s.open {
			t.Fatalf("%s: %d token contexts open, want %d", s.name, tokens.Open(), s.open)
		}
		_, isFile := r.Current().keys.signer.Key.(interface{ Precompute() })
		if isFile == s.signed {
			t.Fatalf("%s: signing key %T", s.name, r.Current().keys.signer.Key)
		}
	}
	if err := r.Reload(func() (*config.Config, error) { return exampleConfig(t, "http://127.0.0.1:1", edit), nil }); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil || tokens.Open() != 0 {
		t.Fatalf("after Close: %d contexts (%v)", tokens.Open(), err)
	}
}
