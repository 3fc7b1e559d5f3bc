package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// TestMain lets a test run this binary as the real command (to see its
// exit status): with CLAVEBRIDGE_RUN_MAIN=1 it is clavebridge.
func TestMain(m *testing.M) {
	if os.Getenv("CLAVEBRIDGE_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if fixtureDir != "" {
		_ = os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// checkNow is the clock the checks run at: certificates are dated around it.
var checkNow = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

// fixtures makes, once, a folder with the files the configurations below
// name: key pairs of our own (not test keys), certificates near and past
// their end, a certificate with the test marker, copies of committed test
// material, secrets, SP metadata.
func fixtures(t *testing.T) string {
	t.Helper()
	fixtureOnce.Do(func() { fixtureDir, fixtureErr = makeFixtures() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureDir
}

func makeFixtures() (string, error) {
	dir, err := os.MkdirTemp("", "clavebridge-check-")
	if err != nil {
		return "", err
	}
	ours, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	theirs, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	long := func(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
	from, far := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	demo, err := os.ReadFile(filepath.Join(repoTestdata(), "keys", "demo-sp.crt"))
	if err != nil {
		return "", err
	}
	demoCert, err := samlxml.ParseCertificatePEM(demo)
	if err != nil {
		return "", err
	}
	testSecret, err := os.ReadFile(filepath.Join(repoTestdata(), "secrets", "state-test-1.key"))
	if err != nil {
		return "", err
	}
	files := map[string][]byte{
		"own.key":       keyPEM(ours),
		"other.key":     keyPEM(theirs),
		"own.crt":       certPEM(ours, long("bridge.example.org"), 0x1001, from, far),
		"gw.crt":        certPEM(theirs, long("pasarela"), 0x2002, from, far),
		"sp.crt":        certPEM(theirs, long("sp.example.org"), 0x3003, from, far),
		"expired.crt":   certPEM(theirs, long("old sp"), 0xE1, from, time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)),
		"soon.crt":      certPEM(theirs, long("gateway"), 0x50, from, checkNow.AddDate(0, 0, 10)),
		"own-soon.crt":  certPEM(ours, long("bridge.example.org"), 0x51, from, checkNow.AddDate(0, 0, 20)),
		"marker.crt":    certPEM(theirs, pkix.Name{CommonName: "clavebridge TEST gateway", Organization: []string{"clavebridge test keys - not for production"}}, 0x7E57, from, far),
		"demo-copy.crt": demo,
		// the demo certificate again, with text before the PEM block: a
		// different file of the same (public) key
		"demo-reenc.crt": append([]byte("the demo SP's certificate\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: demoCert.Raw})...),
		"bad.crt":        []byte("x\n"),
		"state.key":      []byte(randomHex(32) + "\n"),
		"pairwise.key":   []byte(randomHex(32) + "\n"),
		"short.key":      []byte(randomHex(8) + "\n"),
		"citizens.yaml":  []byte("citizens: []\n"),
		"md.xml":         spMetadata("https://sp.example.org/shibboleth", certPEM(theirs, long("sp.example.org"), 0x4D, from, checkNow.AddDate(0, 0, 10))),
	}
	files["state-test.b64"] = []byte(base64.StdEncoding.EncodeToString(mustHex(strings.TrimSpace(string(testSecret)))))
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func repoTestdata() string {
	abs, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		panic(err)
	}
	return abs
}

func keyPEM(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func certPEM(k *ecdsa.PrivateKey, subject pkix.Name, serial int64, from, until time.Time) []byte {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: from, NotAfter: until,
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func spMetadata(entityID string, cert []byte) []byte {
	block, _ := pem.Decode(cert)
	return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="` + entityID + `">
  <md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(block.Bytes) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.org/acs" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// cleanProduction is a production configuration with nothing to report;
// each case below changes it to show one finding.
const cleanProduction = `mode: production
server:
  listen: 127.0.0.1:8080
  base_url: https://bridge.example.org
  accessibility_url: https://bridge.example.org/accesibilidad
keys:
  signing:
    cert: own.crt
    key: own.key
secrets:
  state_keys:
    - {id: k1, file: state.key}
  pairwise: {file: pairwise.key}
store:
  type: memory
upstream:
  mode: clave2
  sso_url: https://pasarela.clave.gob.es/Proxy2/ServiceProvider
  gateway_certs: [gw.crt]
  provider_name: Q2891006E_EA0009994
  signature_algorithm: rsa-sha512
service_providers:
  - id: https://sp.example.org/shibboleth
    name: SP
    dialect: saml2
    certs: [sp.crt]
    return_urls: [https://sp.example.org/acs]
    require_signed_requests: true
`

// simulated replaces the upstream with the simulator.
var simulated = []string{
	"upstream:\n  mode: clave2\n  sso_url: https://pasarela.clave.gob.es/Proxy2/ServiceProvider\n  gateway_certs: [gw.crt]\n",
	"simulator:\n  citizens: citizens.yaml\n  signing: {cert: own.crt, key: own.key}\nupstream:\n  mode: simulated\n",
}

// finding is one line `check` must print: its severity and path, at the
// line of the first line of the file that holds at, with a message that
// holds msg.
type finding struct {
	sev, path, msg, at string
}

type checkCase struct {
	name   string
	edits  []string // old, new, ...: replaced in cleanProduction (each must be there)
	strict bool
	want   []finding // exactly these, in any order
	fails  bool      // exit status 1
}

func checkCases(t *testing.T) []checkCase {
	testdata := repoTestdata()
	testKeys := filepath.Join(testdata, "keys")
	return []checkCase{
		{name: "clean production"},
		{name: "http on localhost", edits: []string{"https://bridge.example.org", "http://localhost:8080"}},
		{name: "http on 127.0.0.1", edits: []string{"https://bridge.example.org", "http://127.0.0.1:8080"}},
		{name: "http on ::1", edits: []string{"https://bridge.example.org", "http://[::1]:8080"}},
		{name: "http on a .localhost name", edits: []string{"https://bridge.example.org", "http://bridge.localhost"}},

		// what cannot be decoded or is not valid
		{name: "unknown key", edits: []string{"mode: production\n", "mode: production\nnonsense: 1\n"}, fails: true,
			want: []finding{{"error", "nonsense", "unknown key nonsense", "nonsense:"}}},
		{name: "unknown key in an SP", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    certz: [sp.crt]\n"}, fails: true,
			want: []finding{{"error", "service_providers[0].certz", "unknown key certz", "certz:"}}},
		{name: "unknown key in a flow mapping", edits: []string{"{id: k1, file: state.key}", "{id: k1, file: state.key, rotate: yes}"}, fails: true,
			want: []finding{{"error", "secrets.state_keys[0].rotate", "unknown key rotate", "rotate: yes"}}},
		{name: "not a duration", edits: []string{"store:\n", "sso:\n  lifetime: forever\nstore:\n"}, fails: true,
			want: []finding{{"error", "sso.lifetime", `"forever" is not a duration`, "lifetime: forever"}}},
		{name: "wrong kind of value", edits: []string{"server:\n", "server:\n  max_body_bytes: lots\n"}, fails: true,
			want: []finding{{"error", "server.max_body_bytes", "cannot unmarshal !!str `lots` into int", "max_body_bytes"}}},
		{name: "YAML syntax", edits: []string{"store:\n  type: memory\n", "store:\n  type: memory: redis\n"}, fails: true,
			want: []finding{{"error", "", "YAML syntax: mapping values are not allowed in this context", "type: memory: redis"}}},
		{name: "unknown mode", edits: []string{"mode: production", "mode: prod"}, fails: true,
			want: []finding{{"error", "mode", `"prod" is not production or development`, "mode: prod"}}},
		{name: "unknown level", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    min_loa: medium\n"}, fails: true,
			want: []finding{{"error", "service_providers[0].min_loa", "unknown level of assurance", "min_loa"}}},
		{name: "missing file", edits: []string{"certs: [sp.crt]", "certs: [sp.crt, nope.crt]"}, fails: true,
			want: []finding{{"error", "service_providers[0].certs[1]", "no such file", "certs: [sp.crt, nope.crt]"}}},
		{name: "left out", edits: []string{"  pairwise: {file: pairwise.key}\n", ""}, fails: true,
			want: []finding{{"error", "secrets.pairwise", "name a file or an environment variable", "secrets:"}}},
		{name: "not a certificate", edits: []string{"gateway_certs: [gw.crt]", "gateway_certs: [bad.crt]"}, fails: true,
			want: []finding{{"error", "upstream.gateway_certs[0]", "bad.crt is not a PEM certificate", "gateway_certs"}}},
		{name: "key of another certificate", edits: []string{"    key: own.key", "    key: other.key"}, fails: true,
			want: []finding{{"error", "keys.signing.key", "other.key is not the key of the certificate own.crt", "key: other.key"}}},
		{name: "secret too short", edits: []string{"{file: pairwise.key}", "{file: short.key}"}, fails: true,
			want: []finding{{"error", "secrets.pairwise.file", "secret has 8 bytes, fewer than 32", "pairwise:"}}},
		{name: "secret's variable not set", edits: []string{"{file: pairwise.key}", "{env: CLAVEBRIDGE_TEST_UNSET_SECRET}"},
			want: []finding{{"warning", "secrets.pairwise.env", "environment variable CLAVEBRIDGE_TEST_UNSET_SECRET is not set here", "pairwise:"}}},
		{name: "SP the registry refuses", edits: []string{"    require_signed_requests: true\n", "    require_signed_requests: true\n    encrypt_assertions: true\n"}, fails: true,
			want: []finding{{"error", "service_providers[0]", "encrypt_assertions is set but no encryption certificate is known", "- id: https://sp.example.org"}}},

		// test keys: errors in production, warnings in development
		{name: "test key pair in production", edits: []string{"    cert: own.crt\n    key: own.key", "    cert: " + testKeys + "/bridge-sign.crt\n    key: " + testKeys + "/bridge-sign.key"}, fails: true,
			want: []finding{{"error", "keys.signing.cert", "test key: the committed testdata/keys/bridge-sign.crt", "bridge-sign.crt"}}},
		{name: "test key pair in development", edits: []string{"mode: production", "mode: development", "    cert: own.crt\n    key: own.key", "    cert: " + testKeys + "/bridge-sign.crt\n    key: " + testKeys + "/bridge-sign.key"},
			want: []finding{{"warning", "keys.signing.cert", "test key", "bridge-sign.crt"}}},
		{name: "test key in development, strict", strict: true, fails: true, edits: []string{"mode: production", "mode: development", "    cert: own.crt\n    key: own.key", "    cert: " + testKeys + "/bridge-sign.crt\n    key: " + testKeys + "/bridge-sign.key"},
			want: []finding{{"warning", "keys.signing.cert", "test key", "bridge-sign.crt"}}},
		{name: "test key only", edits: []string{"    key: own.key", "    key: " + testKeys + "/bridge-sign.key"}, fails: true,
			want: []finding{
				{"error", "keys.signing.key", "is not the key of the certificate own.crt", "bridge-sign.key"},
				{"error", "keys.signing.key", "test key: the committed testdata/keys/bridge-sign.key", "bridge-sign.key"},
			}},
		{name: "SP certificate copied from the test keys", edits: []string{"certs: [sp.crt]", "certs: [demo-copy.crt]"}, fails: true,
			want: []finding{{"error", "service_providers[0].certs[0]", "test key: the committed testdata/keys/demo-sp.crt", "certs: [demo-copy.crt]"}}},
		{name: "test certificate written anew", edits: []string{"certs: [sp.crt]", "certs: [sp.crt, demo-reenc.crt]"}, fails: true,
			want: []finding{{"error", "service_providers[0].certs[1]", "test key: the committed testdata/keys/demo-sp.{crt,key}", "demo-reenc.crt"}}},
		{name: "certificate with the test marker", edits: []string{"gateway_certs: [gw.crt]", "gateway_certs: [gw.crt, marker.crt]"}, fails: true,
			want: []finding{{"error", "upstream.gateway_certs[1]", `test key: its subject says "clavebridge TEST gateway"`, "marker.crt"}}},
		{name: "test secret", edits: []string{"{file: pairwise.key}", "{file: " + testdata + "/secrets/pairwise-test.key}"}, fails: true,
			want: []finding{{"error", "secrets.pairwise.file", "test key: the committed secret testdata/secrets/pairwise-test.key", "pairwise-test.key"}}},
		{name: "test secret in base64", edits: []string{"{id: k1, file: state.key}", "{id: k1, file: state-test.b64}"}, fails: true,
			want: []finding{{"error", "secrets.state_keys[0].file", "test key: the committed secret testdata/secrets/state-test-1.key", "state-test.b64"}}},
		{name: "metadata certificate from the test keys", edits: []string{"certs: [sp.crt]", "metadata: md-demo.xml"}, fails: true,
			want: []finding{{"error", "service_providers[0].metadata", "test key: the metadata's sp_signing certificate", "metadata: md-demo.xml"}}},

		// the demo SPs, the simulator, auto-login
		{name: "demo SPs in production", edits: []string{"store:\n", "demo: {enabled: true, keys: {cert: own.crt, key: own.key}}\nstore:\n"}, fails: true,
			want: []finding{{"error", "demo.enabled", "the demo SPs are on", "demo:"}}},
		{name: "demo SPs in development", edits: []string{"mode: production", "mode: development", "store:\n", "demo: {enabled: true, keys: {cert: own.crt, key: own.key}}\nstore:\n"},
			want: []finding{{"warning", "demo.enabled", "the demo SPs are on", "demo:"}}},
		{name: "simulator in production", edits: simulated, fails: true,
			want: []finding{{"error", "upstream.mode", "the simulated Cl@ve 2.0 gateway", "mode: simulated"}}},
		{name: "simulator in development", edits: append([]string{"mode: production", "mode: development"}, simulated...),
			want: []finding{{"warning", "upstream.mode", "the simulated Cl@ve 2.0 gateway", "mode: simulated"}}},
		{name: "auto-login in production", edits: append(append([]string{}, simulated...), "  citizens: citizens.yaml\n", "  citizens: citizens.yaml\n  auto_login: {idp: AFIRMA, citizen: '99999999R', method: dnie}\n"), fails: true,
			want: []finding{
				{"error", "upstream.mode", "the simulated Cl@ve 2.0 gateway", "mode: simulated"},
				{"error", "simulator.auto_login", "auto_login logs every login in as a test citizen", "auto_login"},
			}},
		{name: "auto-login in development", edits: append(append([]string{"mode: production", "mode: development"}, simulated...), "  citizens: citizens.yaml\n", "  citizens: citizens.yaml\n  auto_login: {idp: AFIRMA, citizen: '99999999R', method: dnie}\n"),
			want: []finding{
				{"warning", "upstream.mode", "the simulated Cl@ve 2.0 gateway", "mode: simulated"},
				{"warning", "simulator.auto_login", "auto_login logs every login in as a test citizen", "auto_login"},
			}},

		// the pages' accessibility statement: required in production
		{name: "no accessibility statement", edits: []string{"  accessibility_url: https://bridge.example.org/accesibilidad\n", ""}, fails: true,
			want: []finding{{"error", "server.accessibility_url", "no accessibility statement", "server:"}}},
		{name: "no accessibility statement in development", edits: []string{"mode: production", "mode: development", "  accessibility_url: https://bridge.example.org/accesibilidad\n", ""},
			want: []finding{{"warning", "server.accessibility_url", "no accessibility statement", "server:"}}},

		// plain http on a public host: errors in both modes
		{name: "public base URL on http", edits: []string{"mode: production", "mode: development", "https://bridge.example.org", "http://bridge.example.org"}, fails: true,
			want: []finding{{"error", "server.base_url", `"http://bridge.example.org" is plain http on a public host: browsers drop the bridge's Secure cookies`, "base_url"}}},
		{name: "gateway URL on http", edits: []string{"https://pasarela.clave.gob.es", "http://pasarela.clave.gob.es"}, fails: true,
			want: []finding{{"error", "upstream.sso_url", `"http://pasarela.clave.gob.es/Proxy2/ServiceProvider" is plain http on a public host`, "sso_url"}}},
		{name: "gateway URL on a private address over http", edits: []string{"https://pasarela.clave.gob.es", "http://10.0.0.7"}, fails: true,
			want: []finding{{"error", "upstream.sso_url", "is plain http on a public host", "sso_url"}}},

		// warnings in both modes
		{name: "SHA-1 allowed", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    legacy_sha1: true\n"},
			want: []finding{{"warning", "service_providers[0].legacy_sha1", "SHA-1 allowed", "legacy_sha1"}}},
		{name: "SHA-1 allowed, strict", strict: true, fails: true, edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    legacy_sha1: true\n"},
			want: []finding{{"warning", "service_providers[0].legacy_sha1", "SHA-1 allowed", "legacy_sha1"}}},
		{name: "SHA-1 signatures to an SP", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    signature_algorithm: rsa-sha1\n"},
			want: []finding{{"warning", "service_providers[0].signature_algorithm", "SHA-1: the bridge signs this SP's answers rsa-sha1", "rsa-sha1"}}},
		{name: "SHA-1 signatures to the gateway", edits: []string{"signature_algorithm: rsa-sha512", "signature_algorithm: rsa-sha1"},
			want: []finding{{"warning", "upstream.signature_algorithm", "SHA-1: requests to the gateway are signed rsa-sha1", "rsa-sha1"}}},
		{name: "unsigned requests allowed", edits: []string{"require_signed_requests: true", "require_signed_requests: false"},
			want: []finding{{"warning", "service_providers[0].require_signed_requests", "the SP may send unsigned requests", "require_signed_requests"}}},
		{name: "unsigned requests by default", edits: []string{"    require_signed_requests: true\n", ""},
			want: []finding{{"warning", "service_providers[0].require_signed_requests", "the SP may send unsigned requests", "- id: https://sp.example.org"}}},
		{name: "used_idp", edits: []string{"dialect: saml2", "dialect: stork", "    dialect: stork\n", "    dialect: stork\n    used_idp: true\n"},
			want: []finding{{"warning", "service_providers[0].used_idp", "a legacy switch: the SP is told the IdP used", "used_idp"}}},
		{name: "string_value_types", edits: []string{"dialect: saml2", "dialect: eidas", "    dialect: eidas\n", "    dialect: eidas\n    string_value_types: true\n"},
			want: []finding{{"warning", "service_providers[0].string_value_types", "a legacy switch: eIDAS attribute values are typed xs:string", "string_value_types"}}},
		{name: "metadata over http", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    metadata_allow_http: true\n"},
			want: []finding{{"warning", "service_providers[0].metadata_allow_http", "plain http", "metadata_allow_http"}}},
		{name: "SIR profile releasing everything", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    attribute_profile: sir\n"},
			want: []finding{{"warning", "service_providers[0].attribute_profile", "profile sir with no attributes list", "attribute_profile: sir"}}},
		{name: "SIR profile with a list", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    attribute_profile: sir\n    attributes: [CurrentGivenName, CurrentFamilyName]\n"}},
		{name: "unknown attribute profile", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    attribute_profile: ldap\n"}, fails: true,
			want: []finding{{"error", "service_providers[0].attribute_profile", `"ldap" is not an attribute profile of the saml2 dialect`, "attribute_profile: ldap"}}},
		{name: "metadata from private addresses", edits: []string{"    dialect: saml2\n", "    dialect: saml2\n    metadata_allow_private: true\n"},
			want: []finding{{"warning", "service_providers[0].metadata_allow_private", "loopback and private addresses", "metadata_allow_private"}}},
		{name: "SP certificate expired", edits: []string{"certs: [sp.crt]", "certs: [sp.crt, expired.crt]"},
			want: []finding{{"warning", "service_providers[0].certs[1]", `certificate (role sp_signing, SP "https://sp.example.org/shibboleth", serial E1) expired on 2027-05-01 00:00 UTC`, "expired.crt"}}},
		{name: "gateway certificate expiring", edits: []string{"gateway_certs: [gw.crt]", "gateway_certs: [soon.crt]"},
			want: []finding{{"warning", "upstream.gateway_certs[0]", "certificate (role gateway, serial 50) expires on 2027-06-11 12:00 UTC, in 10 days", "soon.crt"}}},
		{name: "our certificate expiring", edits: []string{"    cert: own.crt", "    cert: own-soon.crt"},
			want: []finding{{"warning", "keys.signing.cert", "certificate (role signing, serial 51) expires on 2027-06-21 12:00 UTC, in 20 days", "own-soon.crt"}}},
		{name: "metadata certificate expiring", edits: []string{"certs: [sp.crt]", "metadata: md.xml"},
			want: []finding{{"warning", "service_providers[0].metadata", `certificate (role sp_signing, SP "https://sp.example.org/shibboleth", serial 4D) expires on 2027-06-11 12:00 UTC, in 10 days`, "metadata: md.xml"}}},
	}
}

// TestCheckFindings: one configuration per finding; `check` prints it at
// its YAML path and line, with its message, and exits 1 exactly when the
// configuration must not run.
func TestCheckFindings(t *testing.T) {
	dir := fixtures(t)
	demo, err := os.ReadFile(filepath.Join(repoTestdata(), "keys", "demo-sp.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "md-demo.xml"), spMetadata("https://sp.example.org/shibboleth", demo), 0o600); err != nil {
		t.Fatal(err)
	}
	findingLine := regexp.MustCompile(`^[^ ]+:\d+: (error|warning): `)
	for i, tt := range checkCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			doc := cleanProduction
			for j := 0; j+1 < len(tt.edits); j += 2 {
				if !strings.Contains(doc, tt.edits[j]) {
					t.Fatalf("the configuration has no %q to replace", tt.edits[j])
				}
				doc = strings.Replace(doc, tt.edits[j], tt.edits[j+1], 1)
			}
			file := filepath.Join(dir, fmt.Sprintf("case-%d.yaml", i))
			if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := runCheck(&out, file, checkOptions{Now: checkNow, Strict: tt.strict})
			if failed := err != nil; failed != tt.fails {
				t.Errorf("check failed = %t (%v), want %t", failed, err, tt.fails)
			}
			var printed []string
			for _, l := range strings.Split(out.String(), "\n") {
				if findingLine.MatchString(l) {
					printed = append(printed, l)
				}
			}
			if len(printed) != len(tt.want) {
				t.Errorf("%d findings, want %d:\n%s", len(printed), len(tt.want), strings.Join(printed, "\n"))
			}
			for _, w := range tt.want {
				prefix := fmt.Sprintf("%s:%d: %s: ", file, lineOf(t, doc, w.at), w.sev)
				if w.path != "" {
					prefix += w.path + ": "
				}
				found := false
				for _, l := range printed {
					if strings.HasPrefix(l, prefix) && strings.Contains(l[len(prefix):], w.msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("no finding %q … %q; printed:\n%s", prefix, w.msg, strings.Join(printed, "\n"))
				}
			}
			summary := file + ": valid"
			if tt.fails {
				summary = file + ": "
			}
			if !strings.Contains(out.String(), "\n"+summary) && !strings.HasPrefix(out.String(), summary) {
				t.Errorf("no summary %q in:\n%s", summary, out.String())
			}
		})
	}
}

// lineOf is the 1-based line of the first line of doc that holds s.
func lineOf(t *testing.T, doc, s string) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("no line holds %q", s)
	return 0
}

// TestCheckExitStatus runs the command itself: exit status 0 for a
// configuration with nothing or only warnings, 1 on an error, and 1 on a
// warning with --strict.
func TestCheckExitStatus(t *testing.T) {
	dir := fixtures(t)
	write := func(name, doc string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	clean := write("exit-clean.yaml", cleanProduction)
	warned := write("exit-warning.yaml", strings.Replace(cleanProduction, "require_signed_requests: true", "require_signed_requests: false", 1))
	unknown := write("exit-unknown.yaml", cleanProduction+"nonsense: 1\n")
	testKey := write("exit-test-key.yaml", strings.Replace(cleanProduction, "{file: pairwise.key}", "{file: "+repoTestdata()+"/secrets/pairwise-test.key}", 1))
	tests := []struct {
		name string
		args []string
		want int
		out  string
	}{
		{"clean", []string{"check", "-c", clean}, 0, "valid, 0 warnings (mode production)"},
		{"warning", []string{"check", "-c", warned}, 0, "warning: service_providers[0].require_signed_requests"},
		{"warning, strict", []string{"check", "--strict", "-c", warned}, 1, "1 warning, which --strict counts as errors"},
		{"unknown key", []string{"check", "-c", unknown}, 1, "error: nonsense: unknown key nonsense"},
		{"test key in production", []string{"check", "-c", testKey}, 1, "error: secrets.pairwise.file: test key"},
		{"no such file", []string{"check", "-c", filepath.Join(dir, "nope.yaml")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), "CLAVEBRIDGE_RUN_MAIN=1")
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.want {
				t.Errorf("exit status %d, want %d:\n%s", code, tt.want, out)
			}
			if !strings.Contains(string(out), tt.out) {
				t.Errorf("output lacks %q:\n%s", tt.out, out)
			}
		})
	}
}

// TestServeGate: serve refuses a production configuration with the test
// keys, printing why, and starts on config.example.yaml (development
// mode), printing its warnings.
func TestServeGate(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	prod := strings.Replace(string(example), "\nmode: development", "\nmode: production", 1)
	prod = strings.ReplaceAll(prod, "testdata/", repoTestdata()+"/")
	if prod == string(example) {
		t.Fatal("the example has no mode: development to change")
	}
	prodFile := filepath.Join(dir, "production.yaml")
	if err := os.WriteFile(prodFile, []byte(prod), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	var out bytes.Buffer
	cfg, err := serveGate(&out, prodFile, now)
	if err == nil || cfg != nil || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("serve gate on a production config with test keys = %v, %v", cfg, err)
	}
	for _, want := range []string{
		":" + fmt.Sprint(lineOf(t, prod, "bridge-sign.crt")) + ": error: keys.signing.cert: test key",
		": error: secrets.pairwise.file: test key",
		": error: demo.enabled: ",
		": error: upstream.mode: ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve printed no %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	cfg, err = serveGate(&out, filepath.Join("..", "..", "config.example.yaml"), now)
	if err != nil || cfg == nil {
		t.Fatalf("serve gate refused config.example.yaml: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), ": error: ") || !strings.Contains(out.String(), ": warning: keys.signing.cert: test key") {
		t.Errorf("config.example.yaml: want warnings only, with the test keys:\n%s", out.String())
	}
}

// TestProductionExamplePasses: config.production.example.yaml, its
// placeholders filled with real (non-test) files, passes the check in
// production mode.
func TestProductionExamplePasses(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "config.production.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checkFilledProductionExample(t, example)
}

func checkFilledProductionExample(t *testing.T, example []byte) {
	t.Helper()
	dir := t.TempDir()
	fill := map[string]string{
		"keys dir": dir, "secrets dir": dir, "metadata dir": dir,
		"bridge host": "bridge.example.org", "sp host": "sp.example.org", "kit host": "kit.example.org",
		"key id, e.g. 2027a": "2027a", "key id": "2027a", "redis host": "127.0.0.1",
		"NIF": "Q2891006E", "DIR3": "EA0009994", "DIR3 of the SP": "L01280796", "application name": "tramites",
		"service name": "Sede electrónica", "sp": "sede", "kit seal": "kit-seal",
		"your site": "www.example.org", "name citizens know the service by": "Sede electrónica",
	}
	placeholder := regexp.MustCompile(`<([^<>\n]+)>`)
	var unknown []string
	doc := placeholder.ReplaceAllStringFunc(string(example), func(m string) string {
		name := m[1 : len(m)-1]
		if v, ok := fill[name]; ok {
			return v
		}
		if name != "..." { // the header's "<...>" is prose
			unknown = append(unknown, m)
		}
		return m
	})
	if len(unknown) > 0 {
		t.Fatalf("placeholders this test does not fill: %v", unknown)
	}
	// every file the filled template names, made: secrets random, key
	// pairs of one fresh key, the SP's metadata saying it signs
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := certPEM(key, pkix.Name{CommonName: "bridge.example.org"}, 0x600D, time.Now().AddDate(-1, 0, 0), time.Now().AddDate(2, 0, 0))
	named := regexp.MustCompile(regexp.QuoteMeta(dir) + `/[^\s,\]}]+`)
	for _, f := range named.FindAllString(doc, -1) {
		var data []byte
		base := filepath.Base(f)
		switch {
		case strings.HasSuffix(f, ".xml"):
			data = spMetadata("https://sp.example.org/shibboleth", cert)
		case strings.HasPrefix(base, "state-") || strings.HasPrefix(base, "pairwise"):
			data = []byte(randomHex(32) + "\n")
		case strings.HasSuffix(f, ".key"):
			data = keyPEM(key)
		default:
			data = cert
		}
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runCheck(&out, file, checkOptions{Now: time.Now()}); err != nil {
		t.Fatalf("check refused the filled production example: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "(mode production)") {
		t.Errorf("not checked in production mode:\n%s", out.String())
	}
	t.Logf("%s", out.String())
}
