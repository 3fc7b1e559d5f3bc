package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// testKeyNames are the key pairs config.example.yaml uses.
var testKeyNames = []string{"bridge-sign", "bridge-enc", "simulator-sign", "demo-sp"}

// csrKeyNames are the key pairs `keys --csr` makes by default: ours.
var csrKeyNames = []string{"bridge-sign", "bridge-enc"}

// oidOrganizationIdentifier is organizationIdentifier (X.520, 2.5.4.97),
// e.g. VATES-Q2826004J in a qualified seal certificate.
var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// keysOptions are the flags of `clavebridge keys`.
type keysOptions struct {
	out   string
	bits  int
	force bool
	names []string
	csr   bool
	subj  subjectFlags
}

type subjectFlags struct {
	cn, o, ou, serial, orgID, c, st, l string
}

func keysCommand() *cobra.Command {
	var o keysOptions
	cmd := &cobra.Command{
		Use:   "keys --out DIR",
		Short: "Generate key pairs: self-signed TEST certificates, or (--csr) keys and certificate signing requests for a CA",
		Long: `keys writes RSA key pairs into --out (a directory; required).

Without --csr it writes self-signed TEST certificates and keys (NAME.crt,
NAME.key) for bridge-sign, bridge-enc, simulator-sign and demo-sp: never for
production (check refuses them there).

With --csr it writes, for bridge-sign and bridge-enc (or --names), a new key
(NAME.key) and a PKCS#10 certificate signing request (NAME.csr) with the
subject given by --cn, --o, --ou, --serial-number, --org-id, --c, --st, --l,
to send to FNMT or another qualified CA; the CA's certificate becomes NAME.crt.

It never writes over an existing file unless --force (then it changes
nothing and exits with status 1), and never into a testdata directory unless
--out names it. Keys are written with mode 0600.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeys(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory for the files (required; created if missing)")
	f.StringVar(&o.out, "dir", "", "alias of --out")
	f.IntVar(&o.bits, "bits", 3072, "RSA key size")
	f.BoolVar(&o.force, "force", false, "write over existing files")
	f.StringSliceVar(&o.names, "names", nil, "key pair names (default: the four test pairs; with --csr bridge-sign,bridge-enc)")
	f.BoolVar(&o.csr, "csr", false, "write keys and certificate signing requests instead of self-signed test certificates")
	f.StringVar(&o.subj.cn, "cn", "", "CSR subject commonName (required with --csr), e.g. the seal's name")
	f.StringVar(&o.subj.o, "o", "", "CSR subject organizationName")
	f.StringVar(&o.subj.ou, "ou", "", "CSR subject organizationalUnitName")
	f.StringVar(&o.subj.serial, "serial-number", "", "CSR subject serialNumber (the organisation's NIF)")
	f.StringVar(&o.subj.orgID, "org-id", "", "CSR subject organizationIdentifier, e.g. VATES-<NIF>")
	f.StringVar(&o.subj.c, "c", "", "CSR subject countryName (two letters, e.g. ES)")
	f.StringVar(&o.subj.st, "st", "", "CSR subject stateOrProvinceName")
	f.StringVar(&o.subj.l, "l", "", "CSR subject localityName")
	return cmd
}

// keyFile is one file `keys` writes.
type keyFile struct {
	path string
	data []byte
	mode os.FileMode
}

func runKeys(cmd *cobra.Command, o keysOptions) error {
	if o.out == "" {
		return errors.New("keys: --out DIR is required (the committed test keys are in testdata/keys: name that directory to rewrite them)")
	}
	if err := refuseImplicitTestdata(o.out); err != nil {
		return err
	}
	if o.bits < 2048 {
		return fmt.Errorf("keys: --bits %d: at least 2048", o.bits)
	}
	names := o.names
	if len(names) == 0 {
		names = testKeyNames
		if o.csr {
			names = csrKeyNames
		}
	}
	var subject pkix.Name
	if o.csr {
		var err error
		if subject, err = o.subj.name(); err != nil {
			return err
		}
	} else if o.subj != (subjectFlags{}) {
		return errors.New("keys: subject flags (--cn, --o, ...) need --csr")
	}
	seen := map[string]bool{}
	var files []keyFile
	for _, name := range names {
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") || seen[name] {
			return fmt.Errorf("keys: --names: %q is not a plain, distinct file name", name)
		}
		seen[name] = true
		second := filepath.Join(o.out, name+".crt")
		if o.csr {
			second = filepath.Join(o.out, name+".csr")
		}
		files = append(files, keyFile{path: filepath.Join(o.out, name+".key")}, keyFile{path: second})
	}
	// Refuse before generating anything: nothing is changed.
	if !o.force {
		var exist []string
		for _, f := range files {
			if _, err := os.Lstat(f.path); err == nil {
				exist = append(exist, f.path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("keys: %w", err)
			}
		}
		if len(exist) > 0 {
			return fmt.Errorf("keys: refusing to write over %s (nothing written; --force overwrites)", strings.Join(exist, ", "))
		}
	}
	for i, name := range names {
		var err error
		if o.csr {
			files[2*i].data, files[2*i+1].data, err = keyAndCSR(o.bits, subject)
		} else {
			files[2*i].data, files[2*i+1].data, err = testPair(name, o.bits)
		}
		if err != nil {
			return fmt.Errorf("keys: %s: %w", name, err)
		}
		files[2*i].mode, files[2*i+1].mode = 0o600, 0o644
	}
	if err := os.MkdirAll(o.out, 0o700); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := writeAll(files, o.force); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	for _, f := range files {
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", f.path)
	}
	if o.csr {
		fmt.Fprintln(cmd.OutOrStdout(), "send the .csr files to your CA; save each certificate it returns as NAME.crt beside NAME.key")
	}
	return nil
}

// refuseImplicitTestdata refuses an output directory inside a testdata
// directory (after symbolic links, relative to the working directory)
// unless out itself names testdata.
func refuseImplicitTestdata(out string) error {
	if hasTestdata(out) {
		return nil
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	// Resolve the longest existing prefix: the rest is created by us.
	resolved, rest := abs, ""
	for {
		r, err := filepath.EvalSymlinks(resolved)
		if err == nil {
			resolved = filepath.Join(r, rest)
			break
		}
		parent := filepath.Dir(resolved)
		if parent == resolved {
			resolved = abs
			break
		}
		rest = filepath.Join(filepath.Base(resolved), rest)
		resolved = parent
	}
	if hasTestdata(resolved) {
		return fmt.Errorf("keys: --out %s is inside %s, a testdata directory: name testdata in --out to write there", out, resolved)
	}
	return nil
}

func hasTestdata(path string) bool {
	for _, part := range strings.Split(filepath.ToSlash(filepath.Clean(path)), "/") {
		if part == "testdata" {
			return true
		}
	}
	return false
}

// writeAll writes every file through a temporary file in its directory and
// a rename (force) or a hard link, which fails if the name exists (no
// force). If one fails, the files this call created are removed.
func writeAll(files []keyFile, force bool) error {
	var created []string
	undo := func() {
		for _, p := range created {
			_ = os.Remove(p)
		}
	}
	for _, f := range files {
		tmp, err := os.CreateTemp(filepath.Dir(f.path), ".clavebridge-keys-*")
		if err != nil {
			undo()
			return err
		}
		err = tmp.Chmod(f.mode)
		if err == nil {
			_, err = tmp.Write(f.data)
		}
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			if force {
				err = os.Rename(tmp.Name(), f.path)
			} else if err = os.Link(tmp.Name(), f.path); err == nil {
				created = append(created, f.path)
			}
		}
		_ = os.Remove(tmp.Name())
		if err != nil {
			undo()
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

func (s subjectFlags) name() (pkix.Name, error) {
	if s.cn == "" {
		return pkix.Name{}, errors.New("keys: --csr needs at least --cn")
	}
	if s.c != "" && (len(s.c) != 2 || strings.ToUpper(s.c) != s.c) {
		return pkix.Name{}, fmt.Errorf("keys: --c %q: two capital letters (ISO 3166), e.g. ES", s.c)
	}
	n := pkix.Name{CommonName: s.cn, SerialNumber: s.serial}
	for _, v := range []struct {
		dst *[]string
		val string
	}{{&n.Country, s.c}, {&n.Province, s.st}, {&n.Locality, s.l}, {&n.Organization, s.o}, {&n.OrganizationalUnit, s.ou}} {
		if v.val != "" {
			*v.dst = []string{v.val}
		}
	}
	if s.orgID != "" {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidOrganizationIdentifier, Value: s.orgID})
	}
	return n, nil
}

// keyAndCSR makes a key (PKCS#8 PEM) and a PKCS#10 request for it (PEM).
func keyAndCSR(bits int, subject pkix.Name) (keyPEM, csrPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:            subject,
		SignatureAlgorithm: x509.SHA256WithRSA,
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate request: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// testPair makes a key (PKCS#8 PEM) and a ten-year self-signed TEST
// certificate (PEM) named name.
func testPair(name string, bits int) (keyPEM, certPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "clavebridge TEST " + name, Organization: []string{"clavebridge test keys - not for production"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
