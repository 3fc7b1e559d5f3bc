package metadata

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

var mdNow = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

const (
	eidasSPACS  = "https://sp.example/acs"
	eidasSPACS2 = "https://sp.example/acs2"
)

// acsSpec is one md:AssertionConsumerService.
type acsSpec struct {
	location, binding, index, isDefault string
}

// eidasSPMetadata builds an eIDAS SP's EntityDescriptor: SPType public in
// md:Extensions, signing and encryption KeyDescriptors and the given ACSs.
func eidasSPMetadata(entityID string, validUntil time.Time, signing, encryption *x509.Certificate, acs ...acsSpec) *etree.Element {
	if len(acs) == 0 {
		acs = []acsSpec{{eidasSPACS, samlxml.BindingPOST, "0", "true"}}
	}
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", samlxml.NSMetadata)
	ed.CreateAttr("xmlns:ds", samlxml.NSDSig)
	ed.CreateAttr("xmlns:eidas", clave2msg.NSEIDAS)
	ed.CreateAttr("ID", "_md1")
	ed.CreateAttr("entityID", entityID)
	if !validUntil.IsZero() {
		ed.CreateAttr("validUntil", samlxml.FormatTime(validUntil))
	}
	ed.CreateElement("md:Extensions").CreateElement("eidas:SPType").SetText("public")
	d := ed.CreateElement("md:SPSSODescriptor")
	d.CreateAttr("AuthnRequestsSigned", "true")
	d.CreateAttr("WantAssertionsSigned", "false")
	d.CreateAttr("protocolSupportEnumeration", samlxml.NSProtocol)
	for _, k := range []struct {
		use  string
		cert *x509.Certificate
	}{{"signing", signing}, {"encryption", encryption}} {
		kd := d.CreateElement("md:KeyDescriptor")
		kd.CreateAttr("use", k.use)
		kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
			SetText(base64.StdEncoding.EncodeToString(k.cert.Raw))
		if k.use == "encryption" {
			kd.CreateElement("md:EncryptionMethod").CreateAttr("Algorithm", samlxml.AES256GCM)
		}
	}
	for _, a := range acs {
		el := d.CreateElement("md:AssertionConsumerService")
		el.CreateAttr("Binding", a.binding)
		el.CreateAttr("Location", a.location)
		el.CreateAttr("index", a.index)
		if a.isDefault != "" {
			el.CreateAttr("isDefault", a.isDefault)
		}
	}
	return ed
}

func signedMetadata(t *testing.T, ed *etree.Element, by samlxmltest.Pair) []byte {
	t.Helper()
	if err := by.Signer(samlxml.RSASHA256).Sign(ed); err != nil {
		t.Fatal(err)
	}
	return serialized(t, ed)
}

func serialized(t *testing.T, ed *etree.Element) []byte {
	t.Helper()
	xml, err := samlxml.Serialize(ed)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// mdKeys are the keys of these tests: the federation that signs metadata,
// the SP's signing and encryption keys.
type mdKeys struct {
	federation, other, spSign, spEnc samlxmltest.Pair
}

func newMDKeys(t *testing.T) mdKeys {
	return mdKeys{
		federation: samlxmltest.NewRSA(t, "federation"),
		other:      samlxmltest.Committed(t, "bridge-enc"),
		spSign:     samlxmltest.Committed(t, "demo-sp"),
		spEnc:      samlxmltest.Committed(t, "simulator-sign"),
	}
}

// eidasRegistry writes the metadata (when not nil) and the federation
// certificate next to a configuration with one SP entry, parses the
// configuration as clavebridge does and builds the registry.
func eidasRegistry(t *testing.T, k mdKeys, metadataXML []byte, spYAML string) (*Registry, error) {
	t.Helper()
	// Metadata URLs are fetched on the fake network of fetch_test.go:
	// nothing leaves loopback even if a guard broke.
	return eidasRegistryWith(t, k, metadataXML, spYAML, newFakeNet(t).fetcher(nil))
}

// eidasRegistryWith is eidasRegistry fetching metadata URLs with fetch.
func eidasRegistryWith(t *testing.T, k mdKeys, metadataXML []byte, spYAML string, fetch *Fetcher) (*Registry, error) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if metadataXML != nil {
		write("sp.xml", metadataXML)
	}
	write("federation.crt", certPEM(k.federation.Cert))
	write("kit.crt", certPEM(k.spSign.Cert))
	for _, f := range []string{"c.yaml", "k.crt", "k.key"} {
		write(f, []byte("x"))
	}
	text := "simulator: {citizens: c.yaml}\nkeys: {signing: {cert: k.crt, key: k.key}}\nsecrets: {state_keys: [{id: t, file: k.key}], pairwise: {file: k.key}}\nservice_providers:\n" + spYAML
	cfg, err := config.Parse([]byte(text), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	return NewRegistryWith(cfg, mdNow, fetch)
}

func eidasEntry(metadata string) string {
	return "  - id: " + spEntity + "\n    dialect: eidas\n    profile: eidas\n    metadata: " + metadata +
		"\n    metadata_signing_cert: federation.crt\n"
}

// loopbackFetch are the per-SP keys a metadata URL served by an
// httptest.Server (plain http on 127.0.0.1) needs.
const loopbackFetch = "    metadata_allow_http: true\n    metadata_allow_private: true\n"

func checkEIDASSP(t *testing.T, k mdKeys, reg *Registry) {
	t.Helper()
	sp, err := reg.Lookup("eidas", spEntity)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Profile != "eidas" || sp.Dialect != "eidas" || sp.SPType != "public" {
		t.Errorf("profile %q, dialect %q, SPType %q", sp.Profile, sp.Dialect, sp.SPType)
	}
	if len(sp.SigningCerts) != 1 || !sp.SigningCerts[0].Equal(k.spSign.Cert) {
		t.Errorf("signing certificates = %d, not the metadata's", len(sp.SigningCerts))
	}
	if sp.EncryptionCert == nil || !sp.EncryptionCert.Equal(k.spEnc.Cert) {
		t.Error("encryption certificate is not the metadata's")
	}
	if len(sp.ACS) != 1 || sp.ACS[0] != (bridge.Endpoint{URL: eidasSPACS, Binding: samlxml.BindingPOST, Index: 0}) {
		t.Errorf("ACS = %+v", sp.ACS)
	}
	if !sp.RequireSignedRequests || !sp.EncryptAssertions {
		t.Errorf("signed requests %v, encrypt assertions %v", sp.RequireSignedRequests, sp.EncryptAssertions)
	}
	if sp.SignatureAlgorithm != samlxml.RSAPSSSHA512 || sp.KeyTransport != samlxml.RSAOAEP || sp.DataEncryption != samlxml.AES256GCM {
		t.Errorf("algorithms %s, %s, %s; want rsa-pss-sha512, xmlenc11#rsa-oaep, aes256-gcm", sp.SignatureAlgorithm, sp.KeyTransport, sp.DataEncryption)
	}
}

func TestEIDASRegistryFromSignedMetadataFile(t *testing.T) {
	k := newMDKeys(t)
	md := signedMetadata(t, eidasSPMetadata(spEntity, mdNow.Add(24*time.Hour), k.spSign.Cert, k.spEnc.Cert), k.federation)
	reg, err := eidasRegistry(t, k, md, eidasEntry("sp.xml"))
	if err != nil {
		t.Fatal(err)
	}
	checkEIDASSP(t, k, reg)
}

func TestEIDASRegistryFromSignedMetadataURL(t *testing.T) {
	k := newMDKeys(t)
	md := signedMetadata(t, eidasSPMetadata(spEntity, mdNow.Add(24*time.Hour), k.spSign.Cert, k.spEnc.Cert), k.federation)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metadata" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = w.Write(md)
	}))
	defer srv.Close()
	reg, err := eidasRegistry(t, k, nil, eidasEntry(srv.URL+"/metadata")+loopbackFetch)
	if err != nil {
		t.Fatal(err)
	}
	checkEIDASSP(t, k, reg)
}

// TestRegistryMetadataFetchKeys: each SP's metadata_allow_http and
// metadata_allow_private govern its own fetch. The TLS server is reached
// either at its loopback address or as sp.example.com, a public-looking
// address of the fake network routed to it.
func TestRegistryMetadataFetchKeys(t *testing.T) {
	k := newMDKeys(t)
	md := signedMetadata(t, eidasSPMetadata(spEntity, mdNow.Add(24*time.Hour), k.spSign.Cert, k.spEnc.Cert), k.federation)
	serve := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(md) })
	tlsSrv := httptest.NewTLSServer(serve)
	t.Cleanup(tlsSrv.Close)
	plainSrv := httptest.NewServer(serve)
	t.Cleanup(plainSrv.Close)
	const allowHTTP, allowPrivate = "    metadata_allow_http: true\n", "    metadata_allow_private: true\n"
	tests := []struct {
		name, url, keys string
		want            string // "" registers the SP
	}{
		{"https, public address", "https://sp.example.com/metadata", "", ""},
		{"https, public address, plain http allowed", "https://sp.example.com/metadata", allowHTTP, ""},
		{"http, public address, no key", "http://sp.example.com/metadata", "", "https is required"},
		{"http, public address, metadata_allow_http", "http://sp.example.com/metadata", allowHTTP, ""},
		{"https, loopback, no key", tlsSrv.URL + "/metadata", "", "metadata_allow_private"},
		{"https, loopback, metadata_allow_http only", tlsSrv.URL + "/metadata", allowHTTP, "metadata_allow_private"},
		{"https, loopback, metadata_allow_private", tlsSrv.URL + "/metadata", allowPrivate, ""},
		{"http, loopback, metadata_allow_private only", plainSrv.URL + "/metadata", allowPrivate, "https is required"},
		{"http, loopback, both keys", plainSrv.URL + "/metadata", allowHTTP + allowPrivate, ""},
		{"private name, metadata_allow_http", "http://internal.example.com/metadata", allowHTTP, "10.1.2.3 is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t)
			n.route(publicIP, 443, tlsSrv)
			n.route(publicIP, 80, plainSrv)
			reg, err := eidasRegistryWith(t, k, nil, eidasEntry(tt.url)+tt.keys, n.fetcher(tlsSrv))
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkEIDASSP(t, k, reg)
		})
	}
}

// TestClave2ProfileDefaults: a Cl@ve 2.0 kit (the eidas dialect's default
// profile) is registered by certificate and return URLs, without an
// encryption certificate, and gets the kit's algorithms.
func TestClave2ProfileDefaults(t *testing.T) {
	k := newMDKeys(t)
	for name, profile := range map[string]string{"explicit": "    profile: clave2\n", "default": ""} {
		t.Run(name, func(t *testing.T) {
			reg, err := eidasRegistry(t, k, nil, "  - id: S2800000X_E00000001\n    dialect: eidas\n"+profile+
				"    certs: [kit.crt]\n    return_urls: [https://kit.example/SP2/ReturnPage]\n")
			if err != nil {
				t.Fatal(err)
			}
			sp, err := reg.Lookup("eidas", "S2800000X_E00000001")
			if err != nil {
				t.Fatal(err)
			}
			if sp.Profile != "clave2" || sp.EncryptionCert != nil || !sp.EncryptAssertions || !sp.RequireSignedRequests {
				t.Errorf("sp = %+v", sp)
			}
			if sp.SignatureAlgorithm != samlxml.RSASHA512 || sp.KeyTransport != samlxml.RSAOAEPMGF1P {
				t.Errorf("algorithms %s, %s; want rsa-sha512, rsa-oaep-mgf1p", sp.SignatureAlgorithm, sp.KeyTransport)
			}
		})
	}
}

func TestRegistryRefusesBadEIDASMetadata(t *testing.T) {
	k := newMDKeys(t)
	valid := mdNow.Add(24 * time.Hour)
	good := func() *etree.Element { return eidasSPMetadata(spEntity, valid, k.spSign.Cert, k.spEnc.Cert) }
	serve := func(t *testing.T, h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL + "/metadata"
	}
	tests := []struct {
		name string
		// xml is the metadata file; url, if set, replaces the file source.
		xml func(t *testing.T) []byte
		url func(t *testing.T) string
		// extra are more keys of the SP entry.
		extra string
		want  string
	}{
		{name: "unsigned", xml: func(t *testing.T) []byte { return serialized(t, good()) }, want: "metadata signature"},
		{name: "signed by another key", xml: func(t *testing.T) []byte { return signedMetadata(t, good(), k.other) }, want: "metadata signature"},
		{name: "signed by the SP itself", xml: func(t *testing.T) []byte { return signedMetadata(t, good(), k.spSign) }, want: "metadata signature"},
		{name: "tampered after signing", xml: func(t *testing.T) []byte {
			md := signedMetadata(t, good(), k.federation)
			return []byte(strings.Replace(string(md), eidasSPACS, "https://evil.example/acs", 1))
		}, want: "metadata signature"},
		{name: "signing certificate swapped after signing", xml: func(t *testing.T) []byte {
			md := signedMetadata(t, good(), k.federation)
			spSign := base64.StdEncoding.EncodeToString(k.spSign.Cert.Raw)
			other := base64.StdEncoding.EncodeToString(k.other.Cert.Raw)
			return []byte(strings.Replace(string(md), spSign, other, 1))
		}, want: "metadata signature"},
		{name: "validUntil in the past", xml: func(t *testing.T) []byte {
			return signedMetadata(t, eidasSPMetadata(spEntity, mdNow.Add(-time.Hour), k.spSign.Cert, k.spEnc.Cert), k.federation)
		}, want: "validUntil"},
		{name: "validUntil now", xml: func(t *testing.T) []byte {
			return signedMetadata(t, eidasSPMetadata(spEntity, mdNow, k.spSign.Cert, k.spEnc.Cert), k.federation)
		}, want: "validUntil"},
		{name: "entityID mismatch", xml: func(t *testing.T) []byte {
			return signedMetadata(t, eidasSPMetadata("https://evil.example/metadata", valid, k.spSign.Cert, k.spEnc.Cert), k.federation)
		}, want: "describes"},
		{name: "not an EntityDescriptor", xml: func(t *testing.T) []byte {
			el := etree.NewElement("md:EntitiesDescriptor")
			el.CreateAttr("xmlns:md", samlxml.NSMetadata)
			el.CreateAttr("ID", "_e")
			el.AddChild(good())
			return signedMetadata(t, el, k.federation)
		}, want: "not an EntityDescriptor"},
		{name: "non-loopback http URL", url: func(*testing.T) string { return "http://sp.example/metadata" }, want: "https is required"},
		{name: "HTTP 404", url: func(t *testing.T) string { return serve(t, http.NotFound) }, extra: loopbackFetch, want: "HTTP 404"},
		{name: "body over 1 MiB", url: func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(strings.Repeat(" ", maxMetadataBytes+1)))
			})
		}, extra: loopbackFetch, want: "larger than"},
		{name: "unsigned, by URL", url: func(t *testing.T) string {
			md := serialized(t, good())
			return serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(md) })
		}, extra: loopbackFetch, want: "metadata signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var md []byte
			source := "sp.xml"
			if tt.url != nil {
				source = tt.url(t)
			} else {
				md = tt.xml(t)
			}
			_, err := eidasRegistry(t, k, md, eidasEntry(source)+tt.extra)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestMetadataDefaultACSFirst: the eIDAS endpoint takes the SP's first ACS
// as "the metadata's default" (an AssertionConsumerServiceURL must equal it,
// and a request naming none is answered there). The default is the ACS
// with isDefault="true" (SAML metadata §2.2.3), wherever it stands in the
// document.
func TestMetadataDefaultACSFirst(t *testing.T) {
	k := newMDKeys(t)
	tests := []struct {
		name string
		acs  []acsSpec
		want string
	}{
		{"default listed first", []acsSpec{{eidasSPACS, samlxml.BindingPOST, "0", "true"}, {eidasSPACS2, samlxml.BindingPOST, "1", ""}}, eidasSPACS},
		{"no isDefault: the first", []acsSpec{{eidasSPACS2, samlxml.BindingPOST, "1", ""}, {eidasSPACS, samlxml.BindingPOST, "0", ""}}, eidasSPACS2},
		{"default listed second", []acsSpec{{eidasSPACS2, samlxml.BindingPOST, "1", ""}, {eidasSPACS, samlxml.BindingPOST, "0", "true"}}, eidasSPACS},
		{"first one not default", []acsSpec{{eidasSPACS2, samlxml.BindingPOST, "1", "false"}, {eidasSPACS, samlxml.BindingPOST, "0", ""}}, eidasSPACS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := signedMetadata(t, eidasSPMetadata(spEntity, mdNow.Add(time.Hour), k.spSign.Cert, k.spEnc.Cert, tt.acs...), k.federation)
			reg, err := eidasRegistry(t, k, md, eidasEntry("sp.xml"))
			if err != nil {
				t.Fatal(err)
			}
			sp, _ := reg.Lookup("eidas", spEntity)
			if len(sp.ACS) != 2 || sp.ACS[0].URL != tt.want {
				t.Fatalf("ACS = %+v, want %s first", sp.ACS, tt.want)
			}
		})
	}
}

func TestParseSPMetadataDirect(t *testing.T) {
	k := newMDKeys(t)
	md := signedMetadata(t, eidasSPMetadata(spEntity, mdNow.Add(time.Hour), k.spSign.Cert, k.spEnc.Cert), k.federation)
	got, err := parseSPMetadata(md, []*x509.Certificate{k.other.Cert, k.federation.Cert}, mdNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.EntityID != spEntity || got.SPType != "public" || !got.AuthnRequestsSigned || len(got.ACS) != 1 {
		t.Fatalf("metadata = %+v", got)
	}
	// Without configured signers the same document is read as is.
	if _, err := parseSPMetadata(md, nil, mdNow); err != nil {
		t.Fatal(err)
	}
	// Only the verified element is read: a second, unsigned SPSSODescriptor
	// or Extensions added outside the signature is refused.
	wrapped := strings.Replace(string(md), "</md:EntityDescriptor>",
		`<md:SPSSODescriptor protocolSupportEnumeration="`+samlxml.NSProtocol+`"/></md:EntityDescriptor>`, 1)
	if _, err := parseSPMetadata([]byte(wrapped), []*x509.Certificate{k.federation.Cert}, mdNow); err == nil {
		t.Fatal("metadata changed after signing accepted")
	}
}

func TestClave2Certificates(t *testing.T) {
	sign, enc := samlxmltest.Committed(t, "bridge-sign"), samlxmltest.Committed(t, "bridge-enc")
	pub := Publisher{Signer: samlxml.Signer{Key: sign.Key, Cert: sign.Cert}, EncryptionCert: enc.Cert,
		Now: func() time.Time { return mdNow }, Rand: rand.Reader}
	doc, err := pub.Clave2Certificates()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := samlxml.Parse(doc, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	root := parsed.Root()
	if !samlxml.Is(root, samlxml.NSMetadata, "IDPSSODescriptor") {
		t.Fatalf("root is %s", root.FullTag())
	}
	kds := samlxml.Children(root, samlxml.NSMetadata, "KeyDescriptor")
	if len(kds) != 2 {
		t.Fatalf("%d KeyDescriptors, want 2", len(kds))
	}
	want := []struct {
		use, name string
		cert      *x509.Certificate
	}{{"signing", "proxy_sign_clavebridge", sign.Cert}, {"encryption", "proxy_cipher_clavebridge", enc.Cert}}
	for i, kd := range kds {
		w := want[i]
		ki, _ := samlxml.Child(kd, samlxml.NSDSig, "KeyInfo")
		if ki == nil {
			t.Fatalf("KeyDescriptor %d without KeyInfo", i)
		}
		name, _ := samlxml.ChildText(ki, samlxml.NSDSig, "KeyName")
		mgmt, _ := samlxml.ChildText(ki, samlxml.NSDSig, "MgmtData")
		xd, _ := samlxml.Child(ki, samlxml.NSDSig, "X509Data")
		if kd.SelectAttrValue("use", "") != w.use || name != w.name || mgmt != "active" || xd == nil {
			t.Fatalf("KeyDescriptor %d: use %q, KeyName %q, MgmtData %q", i, kd.SelectAttrValue("use", ""), name, mgmt)
		}
		b64, _ := samlxml.ChildText(xd, samlxml.NSDSig, "X509Certificate")
		cert, err := samlxml.ParseCertificateBase64(b64)
		if err != nil || !cert.Equal(w.cert) {
			t.Fatalf("KeyDescriptor %d: certificate is not the publisher's (%v)", i, err)
		}
	}
	// Without an encryption certificate only the signing key is listed.
	pub.EncryptionCert = nil
	doc, err = pub.Clave2Certificates()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(doc), "KeyDescriptor "); n != 1 || strings.Contains(string(doc), "proxy_cipher") {
		t.Fatalf("without encryption certificate: %s", doc)
	}
}
