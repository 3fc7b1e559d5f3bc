package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// tree writes files (name → content) under a fresh directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// placeholders are the files a minimal configuration names.
var placeholders = map[string]string{"a.crt": "x", "a.key": "x", "citizens.yaml": "x", "gw.crt": "x", "sp.crt": "x", "md.xml": "x"}

const minimal = "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n"

// TestValidateReportsPath: every check of Validate names the YAML path of
// the value it refuses.
func TestValidateReportsPath(t *testing.T) {
	dir := tree(t, placeholders)
	sp := func(extra string) string {
		return "service_providers: [{id: x, name: X, dialect: saml2, return_urls: ['https://sp/acs']" + extra + "}]\n"
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"bad base url", minimal + "server: {base_url: 'localhost:8080'}\n", []string{`server.base_url: "localhost:8080" is not an absolute http(s) URL`}},
		{"base url without host", minimal + "server: {base_url: 'https://'}\n", []string{"server.base_url"}},
		{"signing key missing", "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt, key: nope.key}}\n", []string{"keys.signing.key:", "keys.encryption.key:"}},
		{"signing pair half given", "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt}}\n", []string{"keys.signing: needs cert and key"}},
		{"encryption cert missing", "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt, key: a.key}, encryption: {cert: nope.crt, key: a.key}}\n", []string{"keys.encryption.cert:"}},
		{"simulator signing missing", "simulator: {citizens: citizens.yaml, signing: {cert: sim.crt, key: a.key}}\nkeys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n", []string{"simulator.signing.cert:"}},
		{"no citizens", "keys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n", []string{"simulator.citizens: the simulator needs a citizens file"}},
		{"citizens file missing", "simulator: {citizens: people.yaml}\nkeys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n", []string{"simulator.citizens:", "people.yaml"}},
		{"clave2 bad sso url", minimal + "upstream: {mode: clave2, sso_url: '/Proxy2/ServiceProvider', gateway_certs: [gw.crt]}\n", []string{"upstream.sso_url:"}},
		{"clave2 no sso url", minimal + "upstream: {mode: clave2, gateway_certs: [gw.crt]}\n", []string{`upstream.sso_url: "" is not`}},
		{"clave2 gateway cert missing", minimal + "upstream: {mode: clave2, sso_url: 'https://gw/sso', gateway_certs: [gw.crt, nope.crt]}\n", []string{"upstream.gateway_certs[1]:"}},
		{"simulated gateway cert missing", minimal + "upstream: {gateway_certs: [nope.crt]}\n", []string{"upstream.gateway_certs[0]:"}},
		{"provider name with ;", minimal + "upstream: {provider_name: 'a;b'}\n", []string{"upstream.provider_name: must not contain ';'"}},
		{"bad read timeout", minimal + "server: {read_timeout: 10}\n", []string{`"10" is not a duration`}},
		{"duration not a scalar", minimal + "upstream: {clock_skew: [1s]}\n", []string{"is not a duration"}},
		{"sp without id", minimal + "service_providers: [{name: X, dialect: saml2, return_urls: ['https://sp/acs']}]\n", []string{"service_providers[0].id: required"}},
		{"sp without anything", minimal + "service_providers: [{id: x, name: X, dialect: saml2}]\n", []string{"service_providers[0]: needs metadata, or certs and return_urls"}},
		{"sp cert missing", minimal + sp(", certs: [sp.crt, nope.crt]"), []string{"service_providers[0].certs[1]:"}},
		{"sp bad logout url", minimal + sp(", logout_urls: ['https://sp/slo', 'ftp://sp/slo']"), []string{"service_providers[0].logout_urls[1]:"}},
		{"sp bad allowed idp", minimal + sp(", allow_idps: [AFIRMA, FACEBOOK]"), []string{"service_providers[0].allow_idps[1]:"}},
		{"sp bad attribute names", minimal + sp(", attribute_names: oid"), []string{`service_providers[0].attribute_names: "oid" is not friendly or uri`}},
		{"sp metadata file missing", minimal + "service_providers: [{id: x, name: X, dialect: saml2, metadata: nope.xml}]\n", []string{"service_providers[0].metadata:"}},
		{"sp metadata cert missing", minimal + "service_providers: [{id: x, name: X, dialect: saml2, metadata: md.xml, metadata_signing_cert: nope.crt}]\n", []string{"service_providers[0].metadata_signing_cert:"}},
		{"sp remote metadata unsigned", minimal + "service_providers: [{id: x, name: X, dialect: saml2, metadata: 'https://sp/md'}]\n", []string{"service_providers[0].metadata_signing_cert: required to check the metadata's signature"}},
		{"sp remote metadata without host", minimal + "service_providers: [{id: x, name: X, dialect: saml2, metadata: 'https://', metadata_signing_cert: sp.crt}]\n", []string{"service_providers[0].metadata:"}},
		{"errors of two SPs", minimal + "service_providers: [{id: x, name: X, dialect: saml2, min_loa: top, return_urls: ['https://sp/a']}, {id: y, dialect: stork, return_urls: ['https://sp/b']}]\n", []string{"service_providers[0].min_loa", "service_providers[1].name"}},
		{"accessibility url not https", minimal + "server: {accessibility_url: 'ftp://a/x'}\n", []string{`server.accessibility_url: "ftp://a/x" is not an absolute https URL`}},
		{"accessibility url http in production", minimal + "server: {accessibility_url: 'http://a/x'}\n", []string{"server.accessibility_url:"}},
		{"sp home_url relative", minimal + sp(", home_url: '/inicio'"), []string{"service_providers[0].home_url:"}},
		{"sp home_url http in production", minimal + sp(", home_url: 'http://sp/'"), []string{"service_providers[0].home_url:"}},
		{"same id in two dialects", minimal + "service_providers: [{id: x, name: X, dialect: saml2, return_urls: ['https://sp/a']}, {id: x, name: X, dialect: stork, return_urls: ['https://sp/b']}, {id: x, dialect: stork, name: Y, return_urls: ['https://sp/c']}]\n",
			[]string{`service_providers[2].id: "x" is already registered at service_providers[1]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), dir, testDialects)
			if err == nil {
				t.Fatalf("accepted, want errors mentioning %q", tt.want)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %v\nwant one mentioning %q", err, want)
				}
			}
		})
	}
}

// TestValidateAccepts: configurations every check lets through.
func TestValidateAccepts(t *testing.T) {
	dir := tree(t, placeholders)
	tests := []struct{ name, yaml string }{
		{"clave2 upstream", minimal + "upstream: {mode: clave2, sso_url: 'https://gw/Proxy2/ServiceProvider', gateway_certs: [gw.crt]}\n"},
		{"remote metadata with its cert", minimal + "service_providers: [{id: x, name: X, dialect: saml2, metadata: 'https://sp/md', metadata_signing_cert: sp.crt}]\n"},
		{"metadata file", minimal + "service_providers: [{id: x, name: X, dialect: saml2, metadata: md.xml}]\n"},
		{"certs only", minimal + "service_providers: [{id: x, name: X, dialect: saml2, certs: [sp.crt]}]\n"},
		{"full SP", minimal + "service_providers: [{id: x, name: X, dialect: saml2, certs: [sp.crt], return_urls: ['http://sp/acs'], logout_urls: ['https://sp/slo'], min_loa: high, allow_idps: [AFIRMA], deny_idps: [PIN24H], attributes: [PersonIdentifier, DateOfBirth], attribute_names: uri, sso_lifetime: 5m}]\n"},
		{"redis", minimal + "store: {type: redis, address: '127.0.0.1:6379'}\n"},
		{"pages", minimal + "server: {accessibility_url: 'https://op.example/accesibilidad'}\nservice_providers: [{id: x, name: X, display_name: Sede, home_url: 'https://sp/', dialect: saml2, certs: [sp.crt]}]\n"},
		{"pages over http in development", "mode: development\n" + minimal + "server: {accessibility_url: 'http://localhost/a'}\nservice_providers: [{id: x, name: X, home_url: 'http://localhost/', dialect: saml2, certs: [sp.crt]}]\n"},
		{"absolute paths", "simulator: {citizens: " + filepath.Join(dir, "citizens.yaml") + "}\nkeys: {signing: {cert: " + filepath.Join(dir, "a.crt") + ", key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.yaml), dir, testDialects); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	dir := tree(t, placeholders)
	cfg, err := Parse([]byte(minimal+"server: {base_url: 'https://bridge.example/'}\nservice_providers: [{id: x, name: X, dialect: saml2, return_urls: ['https://sp/acs']}, {id: y, name: Y, dialect: other, return_urls: ['https://sp/acs']}]\n"), dir,
		NewDialectSet(testRules{"saml2"}, testRules{"other"}))
	if err != nil {
		t.Fatal(err)
	}
	signing := KeyPair{Cert: "a.crt", Key: "a.key"}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Server.Listen, "127.0.0.1:8080"},
		{"base_url trimmed", cfg.Server.BaseURL, "https://bridge.example"},
		{"max_body_bytes", cfg.Server.MaxBodyBytes, 512 << 10},
		{"read_timeout", cfg.Server.ReadTimeout.D(), 10 * time.Second},
		{"write_timeout", cfg.Server.WriteTimeout.D(), 10 * time.Second},
		{"store", cfg.Store.Type, "memory"},
		{"sso lifetime", cfg.SSO.Lifetime.D(), time.Hour},
		{"mode", cfg.Upstream.Mode, "simulated"},
		{"simulated sso_url", cfg.Upstream.SSOURL, "https://bridge.example/sim/Proxy2/ServiceProvider"},
		{"provider_name", cfg.Upstream.ProviderName, "clavebridge"},
		{"application", cfg.Upstream.Application, "clavebridge"},
		{"upstream signature", cfg.Upstream.SignatureAlgorithm, "rsa-sha512"},
		{"clock_skew", cfg.Upstream.ClockSkew.D(), 30 * time.Second},
		{"request_lifetime", cfg.Upstream.RequestLifetime.D(), 15 * time.Minute},
		{"encryption = signing", cfg.Keys.Encryption, signing},
		{"simulator signing = signing", cfg.Simulator.Signing, signing},
		{"sp min_loa", cfg.ServiceProviders[0].MinLoA, "low"},
		{"sp attribute_names", cfg.ServiceProviders[0].AttributeNames, "friendly"},
		{"sp dialect default", cfg.ServiceProviders[1].SignatureAlgorithm, "rsa-sha512"},
		{"sp sso_lifetime unset", cfg.ServiceProviders[0].SSOLifetime == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// What the file sets is kept.
	dir = tree(t, map[string]string{"a.crt": "x", "a.key": "x", "e.crt": "x", "e.key": "x", "s.crt": "x", "s.key": "x", "citizens.yaml": "x", "gw.crt": "x"})
	cfg, err = Parse([]byte(`
server: {listen: ':9000', base_url: 'http://b', max_body_bytes: 1024, read_timeout: 1s, write_timeout: 2s}
keys: {signing: {cert: a.crt, key: a.key}, encryption: {cert: e.crt, key: e.key}}
simulator: {citizens: citizens.yaml, signing: {cert: s.crt, key: s.key}}
secrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}
sso: {lifetime: 20m}
upstream: {mode: clave2, sso_url: 'https://gw/sso', gateway_certs: [gw.crt], provider_name: P, application: A, signature_algorithm: rsa-pss-sha256, clock_skew: 5s, request_lifetime: 1m}
service_providers: [{id: x, name: X, dialect: saml2, return_urls: ['https://sp/acs'], min_loa: substantial, attribute_names: uri, signature_algorithm: ecdsa-sha256, sso_lifetime: 0s}]
`), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	sp := cfg.ServiceProviders[0]
	checks = []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Server.Listen, ":9000"},
		{"max_body_bytes", cfg.Server.MaxBodyBytes, 1024},
		{"read_timeout", cfg.Server.ReadTimeout.D(), time.Second},
		{"write_timeout", cfg.Server.WriteTimeout.D(), 2 * time.Second},
		{"sso lifetime", cfg.SSO.Lifetime.D(), 20 * time.Minute},
		{"clave2 sso_url", cfg.Upstream.SSOURL, "https://gw/sso"},
		{"provider_name", cfg.Upstream.ProviderName, "P"},
		{"signature", cfg.Upstream.SignatureAlgorithm, "rsa-pss-sha256"},
		{"clock_skew", cfg.Upstream.ClockSkew.D(), 5 * time.Second},
		{"request_lifetime", cfg.Upstream.RequestLifetime.D(), time.Minute},
		{"encryption", cfg.Keys.Encryption, KeyPair{Cert: "e.crt", Key: "e.key"}},
		{"simulator signing", cfg.Simulator.Signing, KeyPair{Cert: "s.crt", Key: "s.key"}},
		{"sp min_loa", sp.MinLoA, "substantial"},
		{"sp attribute_names", sp.AttributeNames, "uri"},
		{"sp signature", sp.SignatureAlgorithm, "ecdsa-sha256"},
		{"sp sso_lifetime 0s kept", sp.SSOLifetime != nil && sp.SSOLifetime.D() == 0, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if cfg.Upstream.SSOURL == "" || strings.Contains(cfg.Upstream.SSOURL, "/sim/") {
		t.Errorf("clave2 mode got the simulator's URL: %q", cfg.Upstream.SSOURL)
	}
}

// TestClave2ModeHasNoSimulatedURL: the simulator's URL is only a default
// in simulated mode.
func TestClave2ModeHasNoSimulatedURL(t *testing.T) {
	dir := tree(t, placeholders)
	_, err := Parse([]byte(minimal+"upstream: {mode: clave2, gateway_certs: [gw.crt]}\n"), dir, testDialects)
	if err == nil || !strings.Contains(err.Error(), "upstream.sso_url") {
		t.Fatalf("clave2 without sso_url: %v", err)
	}
}

func TestPath(t *testing.T) {
	c := &Config{dir: filepath.FromSlash("/etc/clavebridge")}
	abs, _ := filepath.Abs(filepath.FromSlash("/srv/keys/a.crt"))
	tests := []struct{ name, want string }{
		{"", ""},
		{"a.crt", filepath.FromSlash("/etc/clavebridge/a.crt")},
		{"keys/../a.crt", filepath.FromSlash("/etc/clavebridge/a.crt")},
		{abs, abs},
	}
	for _, tt := range tests {
		if got := c.Path(tt.name); got != tt.want {
			t.Errorf("Path(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := tree(t, map[string]string{
		"conf/bridge.yaml":    minimal,
		"conf/a.crt":          "x",
		"conf/a.key":          "x",
		"conf/citizens.yaml":  "x",
		"conf/broken.yaml":    "server: [\n",
		"conf/incomplete.yml": "simulator: {citizens: citizens.yaml}\n",
	})
	cfg, err := Load(filepath.Join(dir, "conf", "bridge.yaml"), testDialects)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	// Relative names resolve against the file's folder, not the working one.
	if got, want := cfg.Path("a.crt"), filepath.Join(dir, "conf", "a.crt"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	if _, err := Load(filepath.Join(dir, "conf", "nope.yaml"), testDialects); err == nil || !strings.Contains(err.Error(), "read config") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	broken := filepath.Join(dir, "conf", "broken.yaml")
	if _, err := Load(broken, testDialects); err == nil || !strings.HasPrefix(err.Error(), broken+": decode config") {
		t.Errorf("broken file: %v", err)
	}
	incomplete := filepath.Join(dir, "conf", "incomplete.yml")
	_, err = Load(incomplete, testDialects)
	var fe *FieldError
	if err == nil || !strings.HasPrefix(err.Error(), incomplete+": ") || !errors.As(err, &fe) || fe.Path != "keys.signing" {
		t.Errorf("invalid file: %v", err)
	}
}

func TestFieldError(t *testing.T) {
	err := FieldErrorf("service_providers[3].certs[0]", "cannot read %s: %w", "a.crt", os.ErrNotExist)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "service_providers[3].certs[0]" {
		t.Fatalf("FieldErrorf = %#v", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatal("FieldError does not unwrap to its cause")
	}
	if err.Error() != "service_providers[3].certs[0]: cannot read a.crt: file does not exist" {
		t.Fatalf("Error() = %q", err.Error())
	}
}

func TestUnsupported(t *testing.T) {
	sp := SPConfig{Dialect: "saml2", Profile: "eidas", UsedIdP: true}
	errs := Unsupported("service_providers[1]", sp, "profile", "used_idp", "string_value_types", "no_such_key")
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	want := []string{
		"service_providers[1].profile: the saml2 dialect has no profile",
		"service_providers[1].used_idp: the saml2 dialect has no used_idp",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Unsupported = %q, want %q", got, want)
	}
	if errs := Unsupported("p", SPConfig{StringValueTypes: true}, "profile"); len(errs) != 0 {
		t.Fatalf("a key not asked about is reported: %v", errs)
	}
	if errs := Unsupported("p", SPConfig{StringValueTypes: true}, "string_value_types"); len(errs) != 1 || !strings.Contains(errs[0].Error(), "p.string_value_types") {
		t.Fatalf("string_value_types: %v", errs)
	}
	if errs := Unsupported("p", SPConfig{}, "profile", "used_idp", "string_value_types"); len(errs) != 0 {
		t.Fatalf("unset keys reported: %v", errs)
	}
}

func TestAlgorithms(t *testing.T) {
	tests := []struct {
		name       string
		lookup     func(name, dflt string) (string, error)
		in, dflt   string
		want, fail string
	}{
		{"signature by name", SignatureMethod, "rsa-sha256", "rsa-sha512", samlxml.RSASHA256, ""},
		{"signature default", SignatureMethod, "", "rsa-pss-sha512", samlxml.RSAPSSSHA512, ""},
		{"signature ecdsa", SignatureMethod, "ecdsa-sha512", "", samlxml.ECDSASHA512, ""},
		{"signature sha1", SignatureMethod, "rsa-sha1", "", samlxml.RSASHA1, ""},
		{"signature unknown", SignatureMethod, "dsa-sha1", "rsa-sha512", "", `unknown signature algorithm "dsa-sha1"`},
		{"signature URI is not a name", SignatureMethod, samlxml.RSASHA256, "", "", "unknown signature algorithm"},
		{"signature bad default", SignatureMethod, "", "md5", "", `unknown signature algorithm "md5"`},
		{"key transport", KeyTransport, "rsa-oaep", "", samlxml.RSAOAEP, ""},
		{"key transport default", KeyTransport, "", "rsa-oaep-mgf1p", samlxml.RSAOAEPMGF1P, ""},
		{"key transport unknown", KeyTransport, "rsa-1_5", "rsa-oaep", "", `unknown key transport "rsa-1_5"`},
		{"data encryption", DataEncryption, "aes128-gcm", "", samlxml.AES128GCM, ""},
		{"data encryption default", DataEncryption, "", "aes256-gcm", samlxml.AES256GCM, ""},
		{"data encryption unknown", DataEncryption, "aes256-cbc", "aes256-gcm", "", `unknown data encryption "aes256-cbc"`},
	}
	for _, tt := range tests {
		got, err := tt.lookup(tt.in, tt.dflt)
		if tt.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tt.fail) || got != "" {
				t.Errorf("%s: = %q, %v; want an error %q", tt.name, got, err, tt.fail)
			}
			continue
		}
		if err != nil || got != tt.want || got == "" {
			t.Errorf("%s: = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// testPEM makes a self-signed ECDSA certificate and its key as PEM.
func testPEM(t *testing.T) (certPEM, keyPEM string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "config test"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})), cert
}

func TestReadKeys(t *testing.T) {
	certPEM, keyPEM, cert := testPEM(t)
	_, otherKey, _ := testPEM(t)
	dir := tree(t, map[string]string{
		"keys/a.crt":     certPEM,
		"keys/a.key":     keyPEM,
		"keys/other.key": otherKey,
		"keys/both.pem":  keyPEM + certPEM,
		"bad.crt":        "not PEM",
		"bad.key":        certPEM, // a PEM file without a key
	})
	c := &Config{dir: dir}

	got, err := c.ReadCertificate("keys/a.crt")
	if err != nil || !got.Equal(cert) {
		t.Fatalf("ReadCertificate = %v, %v", got, err)
	}
	if got, err := c.ReadCertificate("keys/both.pem"); err != nil || !got.Equal(cert) {
		t.Fatalf("certificate after a key: %v, %v", got, err)
	}
	signer, kpCert, err := c.ReadKeyPair(KeyPair{Cert: "keys/a.crt", Key: "keys/a.key"})
	if err != nil || !kpCert.Equal(cert) {
		t.Fatalf("ReadKeyPair = %v, %v", kpCert, err)
	}
	if pub, ok := signer.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(cert.PublicKey) {
		t.Fatalf("the key is not the certificate's: %T", signer.Public())
	}

	failures := []struct {
		name string
		kp   KeyPair
		want string
	}{
		{"cert missing", KeyPair{Cert: "keys/none.crt", Key: "keys/a.key"}, "read certificate"},
		{"cert not PEM", KeyPair{Cert: "bad.crt", Key: "keys/a.key"}, "certificate " + filepath.Join(dir, "bad.crt")},
		{"key missing", KeyPair{Cert: "keys/a.crt", Key: "keys/none.key"}, "read key"},
		{"key file holds no key", KeyPair{Cert: "keys/a.crt", Key: "bad.key"}, "key " + filepath.Join(dir, "bad.key")},
	}
	for _, tt := range failures {
		signer, cert, err := c.ReadKeyPair(tt.kp)
		if err == nil || !strings.Contains(err.Error(), tt.want) || signer != nil || cert != nil {
			t.Errorf("%s: ReadKeyPair = %v, %v, %v; want %q", tt.name, signer, cert, err, tt.want)
		}
	}
}

// TestSSOLifetimeZeroTurnsSSOOff: an explicit 0s is kept, not replaced by
// the 1 h default that an absent key gets.
func TestSSOLifetimeZeroTurnsSSOOff(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.crt", "a.key", "citizens.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	head := "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n"
	for yaml, want := range map[string]time.Duration{"": time.Hour, "sso: {lifetime: 0s}\n": 0, "sso: {lifetime: 5m}\n": 5 * time.Minute} {
		cfg, err := Parse([]byte(head+yaml), dir, testDialects)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.SSO.Lifetime.D(); got != want {
			t.Errorf("%q: lifetime %v, want %v", yaml, got, want)
		}
	}
}

// TestAccessibilityFinding: no accessibility statement is an error in
// production and a warning in development, at server.accessibility_url.
func TestAccessibilityFinding(t *testing.T) {
	dir := tree(t, placeholders)
	for _, tt := range []struct {
		yaml string
		want Severity
		has  bool
	}{
		{minimal, Error, true},
		{"mode: development\n" + minimal, Warning, true},
		{minimal + "server: {accessibility_url: 'https://op.example/accesibilidad'}\n", Error, false},
	} {
		var found *Finding
		for _, f := range Check([]byte(tt.yaml), dir, testDialects, time.Now()).Findings {
			if f.Path == "server.accessibility_url" {
				found = &f
			}
		}
		if (found != nil) != tt.has || (found != nil && found.Severity != tt.want) {
			t.Errorf("%q: finding %+v, want one %v (severity %v)", tt.yaml, found, tt.has, tt.want)
		}
	}
}
