package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/internal/peertest"
)

// runClavebridge runs this test binary as the real command (TestMain) in
// dir and returns its exit status and output.
func runClavebridge(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CLAVEBRIDGE_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// snapshot maps every file under dir (relative name) to its content and mode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			files[rel+"/"] = info.Mode().String()
			return nil
		}
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			files[rel] = "link to " + target
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[rel] = info.Mode().String() + " " + string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	var diff []string
	for k, v := range before {
		if after[k] != v {
			diff = append(diff, "changed or removed: "+k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diff = append(diff, "new: "+k)
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("the directory changed:\n%s", strings.Join(diff, "\n"))
	}
}

var csrSubject = []string{"--cn", "SELLO CLAVEBRIDGE PRUEBAS", "--o", "Ayuntamiento de Ejemplo", "--ou", "Servicios Digitales",
	"--serial-number", "P2800000A", "--org-id", "VATES-P2800000A", "--c", "ES", "--l", "Madrid"}

// TestKeysRefuses: with a file in the way, a missing --out or a bad flag,
// keys exits with status 1 and changes nothing, not even the files it
// could have written.
func TestKeysRefuses(t *testing.T) {
	tests := []struct {
		name     string
		existing []string // files present before, relative to --out
		args     []string // after "keys"; OUT is replaced by the directory
		out      string
	}{
		{"test pairs, one certificate in the way", []string{"bridge-enc.crt"}, []string{"--out", "OUT"}, "refusing to write over"},
		{"test pairs, one key in the way, --dir", []string{"demo-sp.key"}, []string{"--dir", "OUT"}, "refusing to write over"},
		{"csr, one request in the way", []string{"bridge-enc.csr"}, append([]string{"--out", "OUT", "--csr"}, csrSubject...), "refusing to write over"},
		{"csr, one key in the way, --names", []string{"next-sign.key"}, append([]string{"--out", "OUT", "--csr", "--names", "next-sign"}, csrSubject...), "refusing to write over"},
		{"no --out", nil, []string{}, "--out DIR is required"},
		{"csr without --cn", nil, []string{"--out", "OUT", "--csr", "--o", "x"}, "--csr needs at least --cn"},
		{"subject without --csr", nil, []string{"--out", "OUT", "--cn", "x"}, "need --csr"},
		{"bad country", nil, []string{"--out", "OUT", "--csr", "--cn", "x", "--c", "Spain"}, "two capital letters"},
		{"name with a path", nil, []string{"--out", "OUT", "--names", "../evil"}, "not a plain, distinct file name"},
		{"weak key", nil, []string{"--out", "OUT", "--bits", "1024"}, "at least 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			out := filepath.Join(root, "keys")
			if err := os.Mkdir(out, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.existing {
				if err := os.WriteFile(filepath.Join(out, f), []byte("operator's file: keep me\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, root)
			args := []string{"keys", "--bits", "2048"}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "OUT", out))
			}
			code, output := runClavebridge(t, root, args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1:\n%s", code, output)
			}
			if !strings.Contains(output, tt.out) {
				t.Errorf("output lacks %q:\n%s", tt.out, output)
			}
			sameSnapshot(t, before, snapshot(t, root))
		})
	}
}

// TestKeysWrites: into a new or empty directory, and over existing files
// with --force, keys writes every file: keys PKCS#8 with mode 0600,
// certificates or requests that belong to them.
func TestKeysWrites(t *testing.T) {
	tests := []struct {
		name     string
		existing bool
		args     []string
		files    []string
		second   string // "crt" or "csr"
	}{
		{"test pairs, new directory", false, []string{"--out", "OUT/sub"}, testKeyNames, "crt"},
		{"test pairs over existing files, --force", true, []string{"--out", "OUT/sub", "--force"}, testKeyNames, "crt"},
		{"test pairs, --dir alias", false, []string{"--dir", "OUT/sub"}, testKeyNames, "crt"},
		{"csr", false, append([]string{"--out", "OUT/sub", "--csr"}, csrSubject...), csrKeyNames, "csr"},
		{"csr over existing files, --force", true, append([]string{"--out", "OUT/sub", "--csr", "--force"}, csrSubject...), csrKeyNames, "csr"},
		{"csr, --names", false, append([]string{"--out", "OUT/sub", "--csr", "--names", "bridge-sign-next,bridge-enc-next"}, csrSubject...),
			[]string{"bridge-sign-next", "bridge-enc-next"}, "csr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			out := filepath.Join(root, "sub")
			const old = "old content\n"
			if tt.existing {
				if err := os.Mkdir(out, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, n := range tt.files {
					for _, ext := range []string{".key", "." + tt.second} {
						if err := os.WriteFile(filepath.Join(out, n+ext), []byte(old), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			args := []string{"keys", "--bits", "2048"}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "OUT", root))
			}
			code, output := runClavebridge(t, root, args...)
			if code != 0 {
				t.Fatalf("exit status %d, want 0:\n%s", code, output)
			}
			entries, err := os.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2*len(tt.files) {
				t.Errorf("%d files in %s, want %d (no temporary files left)", len(entries), out, 2*len(tt.files))
			}
			for _, n := range tt.files {
				keyPath := filepath.Join(out, n+".key")
				info, err := os.Stat(keyPath)
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, want 0600", keyPath, info.Mode().Perm())
				}
				key := parsePEM(t, keyPath, "PRIVATE KEY")
				priv, err := x509.ParsePKCS8PrivateKey(key)
				if err != nil {
					t.Fatalf("%s: %v", keyPath, err)
				}
				secondPath := filepath.Join(out, n+"."+tt.second)
				var pub any
				if tt.second == "crt" {
					cert, err := x509.ParseCertificate(parsePEM(t, secondPath, "CERTIFICATE"))
					if err != nil {
						t.Fatal(err)
					}
					if !strings.Contains(cert.Subject.CommonName, "clavebridge TEST "+n) {
						t.Errorf("%s: subject %s lacks the test marker", secondPath, cert.Subject)
					}
					pub = cert.PublicKey
				} else {
					req, err := x509.ParseCertificateRequest(parsePEM(t, secondPath, "CERTIFICATE REQUEST"))
					if err != nil {
						t.Fatal(err)
					}
					if err := req.CheckSignature(); err != nil {
						t.Errorf("%s: %v", secondPath, err)
					}
					if req.Subject.CommonName != "SELLO CLAVEBRIDGE PRUEBAS" || req.Subject.SerialNumber != "P2800000A" {
						t.Errorf("%s: subject %s", secondPath, req.Subject)
					}
					pub = req.PublicKey
				}
				if !priv.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
					t.Errorf("%s does not belong to %s", secondPath, keyPath)
				}
			}
		})
	}
}

func parsePEM(t *testing.T, path, kind string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != kind || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("%s: not one PEM %s block", path, kind)
	}
	return block.Bytes
}

// TestKeysCSROpenSSL: Debian's openssl reads and verifies the request and
// sees the operator's subject, and the request's key is the key file's.
func TestKeysCSROpenSSL(t *testing.T) {
	requireOpenSSL(t)
	root := t.TempDir()
	out := filepath.Join(root, "seal")
	code, output := runClavebridge(t, root, append([]string{"keys", "--bits", "2048", "--out", out, "--csr", "--names", "seal"}, csrSubject...)...)
	if code != 0 {
		t.Fatalf("exit status %d:\n%s", code, output)
	}
	csr, key := filepath.Join(out, "seal.csr"), filepath.Join(out, "seal.key")
	text, err := exec.Command("openssl", "req", "-in", csr, "-noout", "-text", "-verify").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl req -verify: %v\n%s", err, text)
	}
	var missing []string
	for _, want := range []string{
		"self-signature verify OK",
		"C = ES", "L = Madrid", "O = Ayuntamiento de Ejemplo", "OU = Servicios Digitales",
		"CN = SELLO CLAVEBRIDGE PRUEBAS", "serialNumber = P2800000A", "organizationIdentifier = VATES-P2800000A",
		"Public-Key: (2048 bit)", "sha256WithRSAEncryption",
	} {
		if !strings.Contains(string(text), want) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		t.Errorf("openssl req output lacks %q:\n%s", missing, text)
	}
	reqPub, err := exec.Command("openssl", "req", "-in", csr, "-noout", "-pubkey").Output()
	if err != nil {
		t.Fatal(err)
	}
	keyPub, err := exec.Command("openssl", "pkey", "-in", key, "-pubout").Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(reqPub) != string(keyPub) || len(keyPub) == 0 {
		t.Errorf("the request's public key is not the key file's:\n%s\n%s", reqPub, keyPub)
	}
}

// requireOpenSSL stops the test when openssl is missing (peertest.Missing).
func requireOpenSSL(t *testing.T) {
	t.Helper()
	if err := exec.Command("openssl", "version").Run(); err != nil {
		peertest.Missing(t, "openssl does not run (Debian: apt-get install openssl)")
	}
}

// TestKeysTestdata: keys never writes into a testdata directory that --out
// does not name (through a symbolic link, or from a working directory
// inside it), and does when --out names it.
func TestKeysTestdata(t *testing.T) {
	tests := []struct {
		name string
		wd   string // working directory, relative to the temporary root
		out  string // --out
		want int
	}{
		{"through a symbolic link", ".", "link", 1},
		{"through a symbolic link, a directory to create", ".", "link/new", 1},
		{"working directory inside testdata", "testdata/keys", ".", 1},
		{"working directory inside testdata, a subdirectory", "testdata", "keys", 1},
		{"named", ".", "testdata/keys", 0},
		{"named, relative", "testdata/keys", "../../testdata/keys", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "testdata", "keys"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(root, "testdata", "keys"), filepath.Join(root, "link")); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, root)
			code, output := runClavebridge(t, filepath.Join(root, tt.wd), "keys", "--bits", "2048", "--out", tt.out)
			if code != tt.want {
				t.Fatalf("exit status %d, want %d:\n%s", code, tt.want, output)
			}
			if tt.want == 1 {
				if !strings.Contains(output, "a testdata directory: name testdata in --out") {
					t.Errorf("output lacks the reason:\n%s", output)
				}
				sameSnapshot(t, before, snapshot(t, root))
				return
			}
			for _, n := range testKeyNames {
				if _, err := os.Stat(filepath.Join(root, "testdata", "keys", n+".key")); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestKeysWriteAllUndoes: when a file appears in the way after the check
// (a race), the files already written by this run are removed again and
// the file in the way is kept.
func TestKeysWriteAllUndoes(t *testing.T) {
	dir := t.TempDir()
	inTheWay := filepath.Join(dir, "b.crt")
	if err := os.WriteFile(inTheWay, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	err := writeAll([]keyFile{
		{path: filepath.Join(dir, "a.key"), data: []byte("a"), mode: 0o600},
		{path: filepath.Join(dir, "a.crt"), data: []byte("a"), mode: 0o644},
		{path: inTheWay, data: []byte("b"), mode: 0o644},
	}, false)
	if err == nil || !strings.Contains(err.Error(), "b.crt") {
		t.Fatalf("writeAll over an existing file: %v, want an error naming it", err)
	}
	sameSnapshot(t, before, snapshot(t, dir))
}
