package config

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/clavebridge/clavebridge/bridge/hsm"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// ExpiryNotice is how long before a certificate's end `check` warns.
const ExpiryNotice = 30 * 24 * time.Hour

// The roles of the certificates a configuration names, as findings name
// them (the names clavebridge_certificate_not_after_timestamp_seconds uses
// for those it has).
const (
	RoleSigning         = "signing"         // keys.signing: the bridge's seal
	RoleEncryption      = "encryption"      // keys.encryption
	RoleNextSigning     = "next_signing"    // keys.next_signing: the seal after the rollover
	RoleNextEncryption  = "next_encryption" // keys.next_encryption
	RoleGateway         = "gateway"         // upstream.gateway_certs
	RoleSimulator       = "simulator"       // simulator.signing
	RoleDemo            = "demo"            // demo.keys
	RoleSPSigning       = "sp_signing"      // service_providers[].certs and metadata keys
	RoleSPEncryption    = "sp_encryption"
	RoleSPMetadataSigns = "sp_metadata" // service_providers[].metadata_signing_cert
)

// ModeSeverity is what the things only a development setup may have (test
// keys, the demo SPs, the simulator, auto-login) weigh in c's mode: a
// warning in development, an error otherwise.
func (c *Config) ModeSeverity() Severity {
	if c.Mode == ModeDevelopment {
		return Warning
	}
	return Error
}

// modeAdvice says what development mode would allow, when it would.
func (c *Config) modeAdvice(advice string) string {
	if c.Mode == ModeDevelopment {
		return advice + "; an error in production mode"
	}
	return advice + "; allowed in development mode only"
}

// review applies the rules of the modes, and the warnings of both, to a
// decoded configuration. written tells the paths the file writes, so that
// a default copied from another key (keys.encryption from keys.signing)
// is reported once, where it is written.
func (c *Config) review(now time.Time, written func(string) bool) []Finding {
	r := reviewer{c: c, now: now}
	r.modes()
	r.plainHTTP()
	r.pages()
	r.keys(written)
	r.gatewayCertificates() // gateway.go
	r.secrets()
	r.redis() // redis.go
	for i, sp := range c.ServiceProviders {
		r.sp(fmt.Sprintf("service_providers[%d]", i), sp)
	}
	if c.Upstream.SignatureAlgorithm == "rsa-sha1" {
		r.add(Warning, "upstream.signature_algorithm", "SHA-1: requests to the gateway are signed rsa-sha1",
			"use rsa-sha512, which Cl@ve 2.0 expects")
	}
	return r.found
}

type reviewer struct {
	c     *Config
	now   time.Time
	found []Finding
}

func (r *reviewer) add(sev Severity, path, msg, advice string) {
	r.found = append(r.found, Finding{Severity: sev, Path: path, Message: msg, Advice: advice})
}

// modes: what only a development setup may have.
func (r *reviewer) modes() {
	c, sev := r.c, r.c.ModeSeverity()
	if c.Upstream.Mode == "simulated" {
		r.add(sev, "upstream.mode", "the simulated Cl@ve 2.0 gateway: anyone logs in as any test citizen",
			c.modeAdvice("set upstream.mode: clave2 with sso_url and gateway_certs"))
	}
	if c.Demo.Enabled {
		r.add(sev, "demo.enabled", "the demo SPs are on (/demo/): they start logins signed with a public test key",
			c.modeAdvice("set demo.enabled: false"))
	}
	if c.Simulator.AutoLogin != nil {
		r.add(sev, "simulator.auto_login", "auto_login logs every login in as a test citizen, without a page",
			c.modeAdvice("remove simulator.auto_login"))
	}
}

// pages: every page citizens see links to the operator's accessibility
// statement and contact (RD 1112/2018 asks it of public-sector sites).
func (r *reviewer) pages() {
	if r.c.Server.AccessibilityURL == "" {
		r.add(r.c.ModeSeverity(), "server.accessibility_url", "no accessibility statement: the citizens' pages link to none, as RD 1112/2018 requires of public-sector sites",
			r.c.modeAdvice("set it to the URL of your accessibility statement and contact"))
	}
}

// plainHTTP: the public URL and the gateway's on plain http are errors in
// both modes, except on this machine.
func (r *reviewer) plainHTTP() {
	c := r.c
	if plainPublic(c.Server.BaseURL) {
		r.add(Error, "server.base_url", fmt.Sprintf("%q is plain http on a public host: browsers drop the bridge's Secure cookies, so every login would end in 403, and messages would travel in clear", c.Server.BaseURL),
			"use the https URL citizens reach, with TLS ended at a proxy in front if you like, or http://localhost for development")
	}
	simulated := c.Upstream.Mode == "simulated" && c.Upstream.SSOURL == c.Server.BaseURL+"/sim/Proxy2/ServiceProvider"
	if !simulated && plainPublic(c.Upstream.SSOURL) {
		r.add(Error, "upstream.sso_url", fmt.Sprintf("%q is plain http on a public host: requests and assertions would travel in clear", c.Upstream.SSOURL),
			"use the gateway's https URL")
	}
}

// plainPublic reports an http URL whose host is not localhost (or a
// *.localhost name) or a loopback address.
func plainPublic(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// keys: every certificate and key file the configuration names is read:
// it must parse, a key must match its certificate, a test key is a
// mode finding, and a certificate near or past its end a warning.
func (r *reviewer) keys(written func(string) bool) {
	c := r.c
	r.pair("keys.signing", RoleSigning, "", c.Keys.Signing)
	if c.Keys.Encryption != c.Keys.Signing || written("keys.encryption") {
		r.pair("keys.encryption", RoleEncryption, "", c.Keys.Encryption)
	}
	r.next("keys.next_signing", RoleNextSigning, c.Keys.NextSigning, c.Keys.Signing)
	if c.Keys.NextEncryption != c.Keys.NextSigning || written("keys.next_encryption") {
		r.next("keys.next_encryption", RoleNextEncryption, c.Keys.NextEncryption, c.Keys.Encryption)
	}
	if c.Upstream.Mode == "simulated" && (c.Simulator.Signing != c.Keys.Signing || written("simulator.signing")) {
		r.pair("simulator.signing", RoleSimulator, "", c.Simulator.Signing)
	}
	if c.Demo.Enabled {
		r.pair("demo.keys", RoleDemo, "", c.Demo.Keys)
	}
	for i, f := range c.Upstream.GatewayCerts {
		r.certFile(fmt.Sprintf("upstream.gateway_certs[%d]", i), RoleGateway, "", f)
	}
}

// next reviews an optional next key pair like the current ones, and warns
// when it names the current certificate (a rollover to the same key).
func (r *reviewer) next(path, role string, next, current KeyPair) {
	if next == (KeyPair{}) {
		return
	}
	r.pair(path, role, "", next)
	if next.Cert == current.Cert {
		r.add(Warning, path+".cert", fmt.Sprintf("%s is the current certificate: nothing to roll over to", next.Cert),
			"name the new pair here, or remove "+path)
	}
}

// pair reviews a certificate and its private key; a test pair is one
// finding, at the certificate.
func (r *reviewer) pair(path, role, sp string, kp KeyPair) {
	if kp.Cert == "" || kp.Key == "" {
		return // Validate reports it
	}
	cert, certIsTest := r.certFile(path+".cert", role, sp, kp.Cert)
	if hsm.IsURI(kp.Key) {
		r.tokenKey(path+".key", kp.Key) // tokenkey.go
		return
	}
	data, ok := r.read(path+".key", kp.Key)
	if !ok {
		return
	}
	key, err := samlxml.ParsePrivateKeyPEM(data)
	if err != nil {
		r.add(Error, path+".key", fmt.Sprintf("%s is not a PEM private key: %v", kp.Key, err), "name the PEM (PKCS#1, PKCS#8 or SEC1) key of the certificate")
		return
	}
	pub := publicKeyDER(key.Public())
	if cert != nil && !bytes.Equal(pub, publicKeyDER(cert.PublicKey)) {
		r.add(Error, path+".key", fmt.Sprintf("%s is not the key of the certificate %s", kp.Key, kp.Cert), "name the certificate and key of one pair")
	}
	if certIsTest {
		return
	}
	if name, ok := committedTest(data, pub); ok {
		r.add(r.c.ModeSeverity(), path+".key", "test key: the committed "+name+", whose private key is public",
			r.c.modeAdvice(testKeyAdvice(role)))
	}
}

// certFile reviews one certificate file; it returns the certificate (nil
// when unreadable) and whether it is a test certificate.
func (r *reviewer) certFile(path, role, sp, name string) (*x509.Certificate, bool) {
	data, ok := r.read(path, name)
	if !ok {
		return nil, false
	}
	cert, err := samlxml.ParseCertificatePEM(data)
	if err != nil {
		r.add(Error, path, fmt.Sprintf("%s is not a PEM certificate: %v", name, err), "name a PEM file with a CERTIFICATE block")
		return nil, false
	}
	why, isTest := TestCertificate(cert)
	if name, ok := committedTest(data); ok {
		why, isTest = "the committed "+name+", whose private key is public", true
	}
	if isTest {
		r.add(r.c.ModeSeverity(), path, "test key: "+why, r.c.modeAdvice(testKeyAdvice(role)))
	}
	if f := CertificateExpiry(path, role, sp, cert, r.now); f != nil {
		r.found = append(r.found, *f)
	}
	return cert, isTest
}

// read reads a named file; a missing one is Validate's to report.
func (r *reviewer) read(path, name string) ([]byte, bool) {
	data, err := readSmallFile(r.c.Path(name))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.add(Error, path, err.Error(), "make the file readable by the bridge")
		}
		return nil, false
	}
	return data, true
}

// maxKeyFileBytes bounds what the review reads of a key, certificate or
// secret file.
const maxKeyFileBytes = 1 << 20

// readSmallFile reads a regular file of at most maxKeyFileBytes (never a
// device or a pipe, which could block the check).
func readSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxKeyFileBytes)
	}
	return data, nil
}

func testKeyAdvice(role string) string {
	switch role {
	case RoleSigning, RoleEncryption, RoleNextSigning, RoleNextEncryption:
		return "make a key pair of your own and register its certificate with Cl@ve and the SPs"
	case RoleGateway:
		return "trust the gateway's own certificate, from its /Proxy2/Certificates"
	case RoleSimulator, RoleDemo:
		return "make a key pair of your own with clavebridge keys"
	case "secret":
		return "make a secret of your own with openssl rand -hex 32 and keep it outside the repository"
	}
	return "register the SP's own certificate"
}

// CertificateExpiry is the warning about a certificate past its end or
// within ExpiryNotice of it at now, nil if none: which one (path, role, SP,
// serial) and when. Trust rests on the pinned key, not on its dates, so an
// expired certificate keeps working here; peers that check dates may not.
func CertificateExpiry(path, role, sp string, cert *x509.Certificate, now time.Time) *Finding {
	end := cert.NotAfter
	left := end.Sub(now)
	if left >= ExpiryNotice {
		return nil
	}
	which := "role " + role
	if sp != "" {
		which += fmt.Sprintf(", SP %q", sp)
	}
	if cert.SerialNumber != nil {
		which += fmt.Sprintf(", serial %X", cert.SerialNumber)
	}
	when := end.UTC().Format("2006-01-02 15:04 MST")
	msg := fmt.Sprintf("certificate (%s) expired on %s", which, when)
	if left > 0 {
		msg = fmt.Sprintf("certificate (%s) expires on %s, in %d days", which, when, int(left.Hours())/24)
	}
	advice := "renew it: name the new pair in keys.next_signing (and keys.next_encryption), register its certificate with Cl@ve and the SPs, then switch (the bridge trusts the pinned key, not its dates; peers that check dates may refuse it)"
	switch role {
	case RoleNextSigning, RoleNextEncryption:
		advice = "a next key should outlive the current one: make another pair; if this is the old pair kept after a switch, drop it once upstream.request_lifetime has passed"
	case RoleGateway:
		advice = "trust the gateway's renewed certificate (its /Proxy2/Certificates) as well, before it changes keys"
	case RoleSPSigning, RoleSPEncryption, RoleSPMetadataSigns:
		advice = "ask the SP for its renewed certificate and register it next to this one (trust is the pinned key, not its dates)"
	case RoleSimulator, RoleDemo:
		advice = "make a new test pair with clavebridge keys"
	}
	return &Finding{Severity: Warning, Path: path, Message: msg, Advice: advice}
}

// secrets: a committed test secret is a mode finding; one that cannot be
// read or decoded an error; an unset environment variable a warning (the
// check may run where the bridge's environment is not).
func (r *reviewer) secrets() {
	s := r.c.Secrets
	for i, k := range s.StateKeys {
		r.secret(fmt.Sprintf("secrets.state_keys[%d]", i), k.Secret)
	}
	r.secret("secrets.pairwise", s.Pairwise)
}

func (r *reviewer) secret(path string, s Secret) {
	var raw []byte
	switch {
	case s.File != "" && s.Env == "":
		path += ".file"
		data, ok := r.read(path, s.File)
		if !ok {
			return
		}
		raw = data
	case s.Env != "" && s.File == "":
		path += ".env"
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			r.add(Warning, path, fmt.Sprintf("environment variable %s is not set here", s.Env), "serve refuses to start without it: set it where the bridge runs")
			return
		}
		raw = []byte(v)
	default:
		return // Validate reports it
	}
	key, err := decodeSecret(strings.TrimSpace(string(raw)))
	if err != nil {
		r.add(Error, path, err.Error(), "write at least 32 random bytes in hex or base64 (openssl rand -hex 32)")
		return
	}
	if name, ok := committedTest(raw, key); ok {
		r.add(r.c.ModeSeverity(), path, "test key: the committed secret "+name+", which is public", r.c.modeAdvice(testKeyAdvice("secret")))
	}
}

// sp: an SP's certificate files, and the switches that weaken what the
// bridge demands of it. The legacy switches keep an old or non-conforming
// peer working at some cost, each a warning in either mode: legacy_sha1
// (SHA-1 signatures and digests accepted), used_idp (the IdP used sent
// unasked, as Cl@ve 1 did) and string_value_types (eIDAS values typed
// xs:string); metadata_allow_http and metadata_allow_private, which relax
// the metadata fetch's guards, are warnings too.
func (r *reviewer) sp(path string, sp SPConfig) {
	for j, f := range sp.Certs {
		r.certFile(fmt.Sprintf("%s.certs[%d]", path, j), RoleSPSigning, sp.ID, f)
	}
	if sp.EncryptionCert != "" {
		r.certFile(path+".encryption_cert", RoleSPEncryption, sp.ID, sp.EncryptionCert)
	}
	if sp.MetadataSigningCert != "" {
		r.certFile(path+".metadata_signing_cert", RoleSPMetadataSigns, sp.ID, sp.MetadataSigningCert)
	}
	if sp.LegacySHA1 {
		r.add(Warning, path+".legacy_sha1", "SHA-1 allowed: this SP's signatures and digests may use SHA-1, whose collisions are practical (a legacy switch)",
			"remove it once the SP signs with SHA-256")
	}
	if sp.SignatureAlgorithm == "rsa-sha1" {
		r.add(Warning, path+".signature_algorithm", "SHA-1: the bridge signs this SP's answers rsa-sha1",
			"use rsa-sha256 or stronger once the SP accepts it")
	}
	if sp.UsedIdP {
		r.add(Warning, path+".used_idp", "a legacy switch: the SP is told the IdP used even when it did not ask (as the Cl@ve 1 gateway did)",
			"remove it once the SP no longer needs it")
	}
	if sp.StringValueTypes {
		r.add(Warning, path+".string_value_types", "a legacy switch: eIDAS attribute values are typed xs:string, not as the eIDAS profile says",
			"remove it once the SP reads eidas-natural types")
	}
	if sp.AttributeProfile == "sir" && len(sp.Attributes) == 0 {
		r.add(Warning, path+".attribute_profile", "profile sir with no attributes list: every attribute is released, the DNI or NIE among them (as schacPersonalUniqueID)",
			"list under attributes what the SP needs (without PersonIdentifier it gets no schacPersonalUniqueID)")
	}
	if sp.MetadataAllowHTTP {
		r.add(Warning, path+".metadata_allow_http", "the SP's metadata may come over plain http (its signature is still checked)",
			"publish the metadata over https and remove it")
	}
	if sp.MetadataAllowPrivate {
		r.add(Warning, path+".metadata_allow_private", "the metadata fetch may connect to loopback and private addresses",
			"remove it unless the metadata is served on your own network")
	}
}
