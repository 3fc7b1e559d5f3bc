package eidas

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
)

func ptr[T any](v T) *T { return &v }

// TestRulesDefaults: the profile defaults to clave2, which sets the
// algorithms the gateway uses towards kits; the eIDAS profile gets node
// 2.9's; requests are signed unless said otherwise; assertions are always
// encrypted.
func TestRulesDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   config.SPConfig
		want config.SPConfig
	}{
		{"nothing set: a Cl@ve 2.0 kit", config.SPConfig{},
			config.SPConfig{Profile: "clave2", SignatureAlgorithm: "rsa-sha512", KeyTransport: "rsa-oaep-mgf1p", RequireSigned: ptr(true), EncryptAssertions: true}},
		{"clave2", config.SPConfig{Profile: "clave2"},
			config.SPConfig{Profile: "clave2", SignatureAlgorithm: "rsa-sha512", KeyTransport: "rsa-oaep-mgf1p", RequireSigned: ptr(true), EncryptAssertions: true}},
		{"eidas", config.SPConfig{Profile: "eidas"},
			config.SPConfig{Profile: "eidas", SignatureAlgorithm: "rsa-pss-sha512", KeyTransport: "rsa-oaep", RequireSigned: ptr(true), EncryptAssertions: true}},
		{"algorithms kept", config.SPConfig{Profile: "eidas", SignatureAlgorithm: "rsa-sha256", KeyTransport: "rsa-oaep-mgf1p"},
			config.SPConfig{Profile: "eidas", SignatureAlgorithm: "rsa-sha256", KeyTransport: "rsa-oaep-mgf1p", RequireSigned: ptr(true), EncryptAssertions: true}},
		{"unsigned requests allowed when configured", config.SPConfig{RequireSigned: ptr(false)},
			config.SPConfig{Profile: "clave2", SignatureAlgorithm: "rsa-sha512", KeyTransport: "rsa-oaep-mgf1p", RequireSigned: ptr(false), EncryptAssertions: true}},
		{"encryption forced", config.SPConfig{Profile: "eidas", EncryptAssertions: false},
			config.SPConfig{Profile: "eidas", SignatureAlgorithm: "rsa-pss-sha512", KeyTransport: "rsa-oaep", RequireSigned: ptr(true), EncryptAssertions: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			Rules{}.Defaults(&got)
			if got.RequireSigned == nil || *got.RequireSigned != *tt.want.RequireSigned {
				t.Fatalf("require_signed_requests = %v, want %v", got.RequireSigned, *tt.want.RequireSigned)
			}
			got.RequireSigned, tt.want.RequireSigned = nil, nil
			if !equalSP(got, tt.want) {
				t.Errorf("defaults = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func equalSP(a, b config.SPConfig) bool {
	return a.Profile == b.Profile && a.SignatureAlgorithm == b.SignatureAlgorithm && a.KeyTransport == b.KeyTransport &&
		a.EncryptAssertions == b.EncryptAssertions && a.RequireSigned == b.RequireSigned
}

// TestRulesValidateSP: the dialect's own errors, each at its YAML path.
func TestRulesValidateSP(t *testing.T) {
	const path = "service_providers[3]"
	kit := config.SPConfig{ID: kitID, Dialect: DialectName, Profile: "clave2", Certs: []string{"kit.pem"}, ReturnURLs: []string{kitACS}}
	eid := config.SPConfig{ID: eidasID, Dialect: DialectName, Profile: "eidas", Metadata: "sp.xml", MetadataSigningCert: "md.pem"}
	with := func(sp config.SPConfig, change func(*config.SPConfig)) config.SPConfig {
		change(&sp)
		return sp
	}
	tests := []struct {
		name string
		sp   config.SPConfig
		want []string
	}{
		{"Cl@ve 2.0 kit", kit, nil},
		{"Cl@ve 2.0 kit with xs:string values", with(kit, func(sp *config.SPConfig) { sp.StringValueTypes = true }), nil},
		{"Cl@ve 2.0 kit with metadata", with(kit, func(sp *config.SPConfig) { sp.Metadata = "kit.xml" }), nil},
		{"eIDAS SP", eid, nil},
		{"eIDAS SP with metadata from a URL", with(eid, func(sp *config.SPConfig) { sp.Metadata = "https://sp.example/metadata" }), nil},
		{"unknown profile", with(kit, func(sp *config.SPConfig) { sp.Profile = "stork" }),
			[]string{`service_providers[3].profile: "stork" is not clave2 or eidas`}},
		{"no profile", with(kit, func(sp *config.SPConfig) { sp.Profile = "" }),
			[]string{`service_providers[3].profile: "" is not clave2 or eidas`}},
		{"eIDAS SP without metadata", with(eid, func(sp *config.SPConfig) { sp.Metadata = "" }),
			[]string{"service_providers[3].metadata: an eIDAS-profile SP is registered by its signed metadata"}},
		{"eIDAS SP without metadata signing certificate", with(eid, func(sp *config.SPConfig) { sp.MetadataSigningCert = "" }),
			[]string{"service_providers[3].metadata_signing_cert: required to check the metadata's signature"}},
		// The core demands the certificate of any metadata from a URL.
		{"eIDAS SP with metadata from a URL, no signing certificate", with(eid, func(sp *config.SPConfig) {
			sp.Metadata, sp.MetadataSigningCert = "https://sp.example/metadata", ""
		}), nil},
		{"eIDAS SP with certs only", with(eid, func(sp *config.SPConfig) {
			sp.Metadata, sp.MetadataSigningCert, sp.Certs, sp.ReturnURLs = "", "", []string{"sp.pem"}, []string{eidasACS}
		}), []string{
			"service_providers[3].metadata: an eIDAS-profile SP is registered by its signed metadata",
			"service_providers[3].metadata_signing_cert: required to check the metadata's signature",
		}},
		{"used_idp", with(kit, func(sp *config.SPConfig) { sp.UsedIdP = true }),
			[]string{"service_providers[3].used_idp: the eidas dialect has no used_idp"}},
		{"attribute_profile", with(kit, func(sp *config.SPConfig) { sp.AttributeProfile = "sir" }),
			[]string{"service_providers[3].attribute_profile: the eidas dialect has no attribute_profile"}},
		{"everything wrong", with(eid, func(sp *config.SPConfig) { sp.UsedIdP, sp.Metadata, sp.MetadataSigningCert = true, "", "" }), []string{
			"service_providers[3].used_idp: the eidas dialect has no used_idp",
			"service_providers[3].metadata: an eIDAS-profile SP is registered by its signed metadata",
			"service_providers[3].metadata_signing_cert: required to check the metadata's signature",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, err := range (Rules{}).ValidateSP(path, tt.sp) {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRulesEncryptsToSigner: only a Cl@ve 2.0 kit gets its assertion
// encrypted to the certificate that signed its request.
func TestRulesEncryptsToSigner(t *testing.T) {
	for profile, want := range map[string]bool{"clave2": true, "eidas": false} {
		if got := (Rules{}).EncryptsToSigner(config.SPConfig{Dialect: DialectName, Profile: profile}); got != want {
			t.Errorf("%s: %v, want %v", profile, got, want)
		}
	}
	if Plugin.Rules.Name() != DialectName {
		t.Errorf("rules name %q", Plugin.Rules.Name())
	}
}

// TestPluginNew: the wiring's endpoint stands at the base URL's /Proxy2/
// paths, publishes our metadata for them and the kits' trust document.
func TestPluginNew(t *testing.T) {
	var mdArgs []string
	deps := dialect.Deps{
		Flow: &flow.Flow{}, BaseURL: base,
		IdPMetadata: func(entityID, ssoURL, sloURL string) ([]byte, error) {
			mdArgs = []string{entityID, ssoURL, sloURL}
			return []byte("<md/>"), nil
		},
		Clave2Certificates: func() ([]byte, error) { return []byte("<certs/>"), nil },
		Log:                zap.NewNop(), Rand: rand.Reader,
	}
	d, err := Plugin.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	ep, ok := d.(*Endpoint)
	if !ok || ep.Name() != DialectName || ep.cfg.EntityID != entityID || ep.cfg.SSOURL != ssoURL || ep.cfg.Flow != deps.Flow {
		t.Fatalf("endpoint %T %+v", d, ep)
	}
	var routes []string
	for _, r := range d.Routes() {
		routes = append(routes, r.Method+" "+r.Path+" "+r.ContentType)
	}
	want := []string{
		"GET " + SSOPath + " ", "POST " + SSOPath + " ",
		"GET " + MetadataPath + " application/samlmetadata+xml", "GET " + CertificatesPath + " application/xml",
	}
	if !slices.Equal(routes, want) {
		t.Errorf("routes %q, want %q", routes, want)
	}
	srv := web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
	srv.Mount(d.Routes()...)
	for path, body := range map[string]string{MetadataPath: "<md/>", CertificatesPath: "<certs/>"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != body {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Body)
		}
	}
	if !slices.Equal(mdArgs, []string{entityID, ssoURL, ""}) {
		t.Errorf("metadata for %q", mdArgs)
	}
}

// TestRulesInConfig: loaded through the configuration, the defaults apply
// and each error is reported once, with its path.
func TestRulesInConfig(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.crt", "a.key", "citizens.yaml", "kit.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dialects := config.NewDialectSet(Rules{})
	head := "simulator: {citizens: citizens.yaml}\nkeys: {signing: {cert: a.crt, key: a.key}}\nsecrets: {state_keys: [{id: t, file: a.key}], pairwise: {file: a.key}}\n"
	cfg, err := config.Parse([]byte(head+"service_providers: [{id: kit, dialect: eidas, certs: [kit.pem], return_urls: ['https://kit/acs']}]\n"), dir, dialects)
	if err != nil {
		t.Fatal(err)
	}
	sp := cfg.ServiceProviders[0]
	if sp.Profile != ProfileClave2 || sp.SignatureAlgorithm != "rsa-sha512" || sp.KeyTransport != "rsa-oaep-mgf1p" ||
		sp.RequireSigned == nil || !*sp.RequireSigned || !sp.EncryptAssertions {
		t.Errorf("kit after defaults: %+v", sp)
	}
	_, err = config.Parse([]byte(head+`service_providers:
- {id: 'https://sp/md', dialect: eidas, profile: eidas, metadata: 'https://sp/md'}
- {id: x, dialect: eidas, profile: oidc, used_idp: true, certs: [kit.pem], return_urls: ['https://x/acs']}
`), dir, dialects)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"service_providers[0].metadata_signing_cert: required to check the metadata's signature",
		`service_providers[1].profile: "oidc" is not clave2 or eidas`,
		"service_providers[1].used_idp: the eidas dialect has no used_idp",
	} {
		if n := strings.Count(err.Error(), want); n != 1 {
			t.Errorf("%q reported %d times in %v", want, n, err)
		}
	}
}
