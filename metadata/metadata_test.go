package metadata

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/endpoints/eidas"
	"github.com/clavebridge/clavebridge/endpoints/saml2"
	"github.com/clavebridge/clavebridge/endpoints/stork"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const spEntity = "https://sp.example/metadata"

func spMetadataXML(cert *x509.Certificate, entityID, acsBinding, acsLocation string, signed bool) string {
	b64 := base64.StdEncoding.EncodeToString(cert.Raw)
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="` + entityID + `">
<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="` + map[bool]string{true: "true", false: "false"}[signed] + `">
<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64 + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64 + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:AssertionConsumerService Binding="` + acsBinding + `" Location="` + acsLocation + `" index="1"/>
</md:SPSSODescriptor></md:EntityDescriptor>`
}

func registryFor(t *testing.T, metadataXML string, sp config.SPConfig) (*Registry, error) {
	t.Helper()
	dir := t.TempDir()
	if metadataXML != "" {
		if err := os.WriteFile(filepath.Join(dir, "sp.xml"), []byte(metadataXML), 0o600); err != nil {
			t.Fatal(err)
		}
		sp.Metadata = "sp.xml"
	}
	sp.ID, sp.Dialect, sp.MinLoA, sp.AttributeNames = spEntity, "saml2", "low", "friendly"
	text := "simulator: {citizens: c.yaml}\nkeys: {signing: {cert: k.crt, key: k.key}}\nsecrets: {state_keys: [{id: t, file: k.key}], pairwise: {file: k.key}}\n"
	for _, f := range []string{"c.yaml", "k.crt", "k.key"} {
		_ = os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	cfg, err := config.Parse([]byte(text), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServiceProviders = []config.SPConfig{sp}
	return NewRegistry(cfg, time.Now())
}

func TestRegistryFromMetadata(t *testing.T) {
	pair := samlxmltest.Committed(t, "demo-sp")
	reg, err := registryFor(t, spMetadataXML(pair.Cert, spEntity, samlxml.BindingPOST, "https://sp.example/acs", true), config.SPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := reg.Lookup("saml2", spEntity)
	if err != nil {
		t.Fatal(err)
	}
	if !sp.RequireSignedRequests || len(sp.SigningCerts) != 1 || !sp.SigningCerts[0].Equal(pair.Cert) || sp.EncryptionCert == nil {
		t.Fatalf("keys/signing = %+v", sp)
	}
	if len(sp.ACS) != 1 || sp.ACS[0].URL != "https://sp.example/acs" || sp.ACS[0].Index != 1 {
		t.Fatalf("ACS = %+v", sp.ACS)
	}
	if _, err := reg.Lookup("saml2", "https://other.example"); !errors.Is(err, bridge.ErrUnknownSP) {
		t.Fatalf("unknown SP: %v", err)
	}
	if _, err := reg.Lookup("stork", spEntity); !errors.Is(err, bridge.ErrUnknownSP) {
		t.Fatalf("same id in another dialect: %v", err)
	}
}

func TestRegistryRefusesBadMetadata(t *testing.T) {
	cert := samlxmltest.Committed(t, "demo-sp").Cert
	tests := []struct {
		name, xml, want string
		sp              config.SPConfig
	}{
		{"other entity", spMetadataXML(cert, "https://evil.example", samlxml.BindingPOST, "https://sp.example/acs", true), "describes", config.SPConfig{}},
		{"javascript ACS", spMetadataXML(cert, spEntity, samlxml.BindingPOST, "javascript:alert(1)", true), "javascript", config.SPConfig{}},
		{"redirect-only ACS", spMetadataXML(cert, spEntity, samlxml.BindingRedirect, "https://sp.example/acs", true), "no return URL", config.SPConfig{}},
		{"doctype", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + spMetadataXML(cert, spEntity, samlxml.BindingPOST, "https://sp.example/acs", true), "DOCTYPE", config.SPConfig{}},
		{"encryption without a key", "", "encryption certificate", config.SPConfig{ReturnURLs: []string{"https://sp.example/acs"}, EncryptAssertions: true}},
		{"signing required without a key", "", "no signing certificate", config.SPConfig{ReturnURLs: []string{"https://sp.example/acs"}, RequireSigned: ptr(true)}},
		{"unknown algorithm", "", "unknown signature algorithm", config.SPConfig{ReturnURLs: []string{"https://sp.example/acs"}, SignatureAlgorithm: "hmac-sha1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := registryFor(t, tt.xml, tt.sp)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestPublishedMetadataIsSigned(t *testing.T) {
	pair := samlxmltest.Committed(t, "bridge-sign")
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	pub := Publisher{Signer: samlxml.Signer{Key: pair.Key, Cert: pair.Cert}, EncryptionCert: pair.Cert,
		Now: func() time.Time { return now }, Rand: rand.Reader}
	for name, build := range map[string]func() ([]byte, error){
		"idp": func() ([]byte, error) { return pub.IdP("https://b/saml2/metadata", "https://b/saml2/sso", "") },
		"sp":  func() ([]byte, error) { return pub.SP("https://b/upstream/metadata", "https://b/upstream/acs") },
	} {
		t.Run(name, func(t *testing.T) {
			md, err := build()
			if err != nil {
				t.Fatal(err)
			}
			doc, err := samlxml.Parse(md, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			v, err := samlxml.Verifier{Certs: []*x509.Certificate{pair.Cert}}.Verify(doc.Root())
			if err != nil {
				t.Fatalf("metadata signature: %v", err)
			}
			if v.Element.SelectAttrValue("validUntil", "") != "2026-11-30T10:00:00.000Z" {
				t.Fatalf("validUntil = %q", v.Element.SelectAttrValue("validUntil", ""))
			}
			text := string(md)
			for _, want := range map[string][]string{
				"idp": {"IDPSSODescriptor", samlxml.BindingRedirect, samlxml.BindingPOST, "https://b/saml2/sso", "FirstName"},
				"sp":  {"SPSSODescriptor", `AuthnRequestsSigned="true"`, "https://b/upstream/acs", `use="encryption"`, samlxml.AES256GCM},
			}[name] {
				if !strings.Contains(text, want) {
					t.Errorf("metadata lacks %q", want)
				}
			}
		})
	}
}

// testDialects are the rules the registry's tests configure SPs with: the
// bridge's three dialects, whose rules decide keys and algorithms.
var testDialects = config.NewDialectSet(saml2.Rules{}, eidas.Rules{}, stork.Rules{})

// TestRegistryRefusesUnservedDialect: an SP added to a configuration for a
// dialect the bridge does not serve is refused, not registered without
// its dialect's rules.
func TestRegistryRefusesUnservedDialect(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"c.yaml", "k.crt", "k.key"} {
		_ = os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	cfg, err := config.Parse([]byte("simulator: {citizens: c.yaml}\nkeys: {signing: {cert: k.crt, key: k.key}}\nsecrets: {state_keys: [{id: t, file: k.key}], pairwise: {file: k.key}}\n"), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServiceProviders = []config.SPConfig{{ID: "x", Dialect: "oidc", MinLoA: "low", ReturnURLs: []string{"https://sp/acs"}}}
	if _, err := NewRegistry(cfg, time.Now()); err == nil || !strings.Contains(err.Error(), `dialect "oidc" is not served`) {
		t.Fatalf("NewRegistry = %v", err)
	}
}
