package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rolloverFixtures writes key pairs of our own: the current one, a next
// one, a next certificate near its end, and a stranger's key.
func rolloverFixtures(t *testing.T, now time.Time) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	from, far := now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0)
	for _, k := range []struct {
		name  string
		until time.Time
	}{{"cur", far}, {"next", far}, {"soon", now.AddDate(0, 0, 12)}, {"other", far}} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		write(k.name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(0x5000 + len(k.name))), Subject: pkix.Name{CommonName: "bridge " + k.name},
			NotBefore: from, NotAfter: k.until}
		cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		write(k.name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
	}
	write("state.key", []byte(strings.Repeat("ab", 32)+"\n"))
	write("pairwise.key", []byte(strings.Repeat("cd", 32)+"\n"))
	write("citizens.yaml", []byte("citizens: []\n"))
	return dir
}

// TestNextKeysReviewed: the next keys are checked like the current ones:
// a key that is not its certificate's is an error, a certificate near its
// end a warning, a missing file an error, and next = current a warning.
func TestNextKeysReviewed(t *testing.T) {
	now := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	dir := rolloverFixtures(t, now)
	head := "mode: development\nsimulator: {citizens: citizens.yaml}\n" +
		"secrets: {state_keys: [{id: t, file: state.key}], pairwise: {file: pairwise.key}}\n"
	tests := []struct {
		name string
		keys string
		want []Finding // Severity, Path and a part of Message
	}{
		{"no next keys", "keys: {signing: {cert: cur.crt, key: cur.key}}", nil},
		{"a good next pair", "keys: {signing: {cert: cur.crt, key: cur.key}, next_signing: {cert: next.crt, key: next.key}}", nil},
		{"next signing and encryption", "keys: {signing: {cert: cur.crt, key: cur.key}, encryption: {cert: other.crt, key: other.key}, next_signing: {cert: next.crt, key: next.key}, next_encryption: {cert: soon.crt, key: soon.key}}",
			[]Finding{{Severity: Warning, Path: "keys.next_encryption.cert", Message: "role next_encryption"}}},
		{"next key not the certificate's", "keys: {signing: {cert: cur.crt, key: cur.key}, next_signing: {cert: next.crt, key: other.key}}",
			[]Finding{{Severity: Error, Path: "keys.next_signing.key", Message: "is not the key of the certificate next.crt"}}},
		{"next encryption key not the certificate's", "keys: {signing: {cert: cur.crt, key: cur.key}, next_encryption: {cert: next.crt, key: cur.key}}",
			[]Finding{{Severity: Error, Path: "keys.next_encryption.key", Message: "is not the key of the certificate next.crt"}}},
		{"next certificate near its end", "keys: {signing: {cert: cur.crt, key: cur.key}, next_signing: {cert: soon.crt, key: soon.key}}",
			[]Finding{{Severity: Warning, Path: "keys.next_signing.cert", Message: "role next_signing"}}},
		{"next file missing", "keys: {signing: {cert: cur.crt, key: cur.key}, next_signing: {cert: gone.crt, key: next.key}}",
			[]Finding{{Severity: Error, Path: "keys.next_signing.cert", Message: "gone.crt"}}},
		{"next without its key", "keys: {signing: {cert: cur.crt, key: cur.key}, next_signing: {cert: next.crt}}",
			[]Finding{{Severity: Error, Path: "keys.next_signing", Message: "needs cert and key"}}},
		{"next is the current pair", "keys: {signing: {cert: cur.crt, key: cur.key}, next_signing: {cert: cur.crt, key: cur.key}}",
			[]Finding{{Severity: Warning, Path: "keys.next_signing.cert", Message: "is the current certificate"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check([]byte(head+tt.keys+"\n"), dir, testDialects, now)
			var got []Finding
			for _, f := range r.Findings {
				if strings.HasPrefix(f.Path, "keys.") {
					got = append(got, f)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("findings at keys.* = %+v, want %d like %+v", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if got[i].Severity != w.Severity || got[i].Path != w.Path || !strings.Contains(got[i].Message, w.Message) {
					t.Errorf("finding %d = %+v, want %+v", i, got[i], w)
				}
			}
			if len(tt.want) == 0 && r.Config == nil {
				t.Fatalf("the configuration did not pass: %+v", r.Findings)
			}
		})
	}
}

// TestNextEncryptionDefault: with one key for both uses (no
// keys.encryption), the next encryption key is the next signing key;
// with keys.encryption written, it is only what next_encryption names.
func TestNextEncryptionDefault(t *testing.T) {
	dir := rolloverFixtures(t, time.Now())
	head := "mode: development\nsimulator: {citizens: citizens.yaml}\n" +
		"secrets: {state_keys: [{id: t, file: state.key}], pairwise: {file: pairwise.key}}\n"
	next := KeyPair{Cert: "next.crt", Key: "next.key"}
	tests := []struct {
		keys string
		want KeyPair
	}{
		{"keys: {signing: {cert: cur.crt, key: cur.key}, next_signing: {cert: next.crt, key: next.key}}", next},
		{"keys: {signing: {cert: cur.crt, key: cur.key}, encryption: {cert: other.crt, key: other.key}, next_signing: {cert: next.crt, key: next.key}}", KeyPair{}},
		{"keys: {signing: {cert: cur.crt, key: cur.key}, next_encryption: {cert: next.crt, key: next.key}}", next},
	}
	for _, tt := range tests {
		cfg, err := Parse([]byte(head+tt.keys+"\n"), dir, testDialects)
		if err != nil {
			t.Fatalf("%s: %v", tt.keys, err)
		}
		if cfg.Keys.NextEncryption != tt.want {
			t.Errorf("%s: next_encryption = %+v, want %+v", tt.keys, cfg.Keys.NextEncryption, tt.want)
		}
	}
}
