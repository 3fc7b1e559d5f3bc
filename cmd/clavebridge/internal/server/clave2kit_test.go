package server

// End-to-end tests of /Proxy2/ServiceProvider with an SP that behaves like
// one built with the official Cl@ve 2.0 Java kit (webapp SP2 on the
// clave-j20068 SAML engine, "NoMetadata" mode): it builds its AuthnRequest
// and validates the bridge's answer the way the kit does, so the bridge is
// checked against the kit's expectations rather than against its own code.
// The same harness, given an entityID, acts as an eIDAS-profile SP
// (Issuer = metadata URL, signed metadata, SPType, RSA-PSS).
//
// The values the SP expects on the wire (attribute URIs and xsi:types,
// algorithm URIs, the IdP-disable flags) are written out here from the
// reference notes, not taken from the bridge's tables.

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	kitProvider    = "S2800000X_E04975701" // provider.name: <NIF>_<DIR3>
	kitApplication = "clave2kit-test"      // sp.aplication
	kitACSURL      = "https://kit-sp.clave2.test/SP2/ReturnPage"
	// eIDAS-profile mode.
	kitEIDASEntityID = "https://eidas-sp.clave2.test/metadata"
	kitEIDASACSURL   = "https://eidas-sp.clave2.test/acs"

	kitProxyPath     = "/Proxy2/ServiceProvider"
	kitMetadataPath  = "/Proxy2/metadata"
	kitAssertionLife = 5 * time.Minute // timeNotOnOrAfter of the gateway and the kit engine
	kitSkew          = 5 * time.Second
)

// Attribute names as the kit requests them and as the answer must carry
// them: FriendlyName → Name, and the xsi:type of the values as a
// namespace-qualified name.
const (
	nsNatural = "http://eidas.europa.eu/attributes/naturalperson/"
	nsLegal   = "http://eidas.europa.eu/attributes/legalperson/"
	nsClave   = "http://es.minhafp.clave/"
	nsXS      = "http://www.w3.org/2001/XMLSchema"
)

type kitWireAttr struct {
	name           string
	typeNS, typeLo string
}

var kitWire = map[string]kitWireAttr{
	"PersonIdentifier":      {nsNatural + "PersonIdentifier", strings.TrimSuffix(nsNatural, "/"), "PersonIdentifierType"},
	"FirstName":             {nsNatural + "CurrentGivenName", strings.TrimSuffix(nsNatural, "/"), "CurrentGivenNameType"},
	"FamilyName":            {nsNatural + "CurrentFamilyName", strings.TrimSuffix(nsNatural, "/"), "CurrentFamilyNameType"},
	"DateOfBirth":           {nsNatural + "DateOfBirth", strings.TrimSuffix(nsNatural, "/"), "DateOfBirthType"},
	"LegalPersonIdentifier": {nsLegal + "LegalPersonIdentifier", strings.TrimSuffix(nsLegal, "/"), "LegalPersonIdentifierType"},
	"LegalName":             {nsLegal + "LegalName", strings.TrimSuffix(nsLegal, "/"), "LegalNameType"},
	"FirstSurname":          {nsClave + "FirstSurname", nsXS, "string"},
	"SelectedIdP":           {nsClave + "SelectedIdP", nsXS, "string"},
	"PartialAfirma":         {nsClave + "PartialAfirma", nsXS, "string"},
	"RelayState":            {nsClave + "RelayState", nsXS, "string"},
}

// kitDisableFlag is the FriendlyName of the attribute that hides an IdP
// (Name = http://es.minhafp.clave/<FriendlyName>).
var kitDisableFlag = map[string]string{
	"AFIRMA": "AFirmaIdP", "SEGSOC": "GISSIdP", "PIN24H": "AEATIdP", "EIDAS": "EIDASIdP", "CLVMOVIL": "CLVMOVILIdP",
}

// Algorithm short names of the SP configuration, as URIs.
var (
	kitSignatureURIs = map[string]string{
		"rsa-sha256": samlxml.RSASHA256, "rsa-sha512": samlxml.RSASHA512,
		"rsa-pss-sha256": samlxml.RSAPSSSHA256, "rsa-pss-sha512": samlxml.RSAPSSSHA512,
	}
	kitTransportURIs = map[string]string{"rsa-oaep-mgf1p": samlxml.RSAOAEPMGF1P, "rsa-oaep": samlxml.RSAOAEP}
	kitDataURIs      = map[string]string{"aes128-gcm": samlxml.AES128GCM, "aes256-gcm": samlxml.AES256GCM}
)

// kitKeys caches fresh RSA pairs by name: key generation is the slowest
// part of these tests.
var kitKeys = struct {
	sync.Mutex
	pairs map[string]samlxmltest.Pair
}{pairs: map[string]samlxmltest.Pair{}}

func kitKey(t *testing.T, name string) samlxmltest.Pair {
	t.Helper()
	kitKeys.Lock()
	defer kitKeys.Unlock()
	p, ok := kitKeys.pairs[name]
	if !ok {
		p = samlxmltest.NewRSA(t, name)
		kitKeys.pairs[name] = p
	}
	return p
}

// kitSP is the test SP. Without EntityID it is a metadata-less Cl@ve 2.0
// kit identified by ProviderName; with it, an eIDAS-profile SP.
type kitSP struct {
	Provider, Application, ACS string
	EntityID                   string // eIDAS profile: Issuer = metadata URL
	Key                        samlxmltest.Pair
	CertFile, KeyFile          string // the seal as PEM files
	metadataFile, fedCertFile  string // eIDAS profile: signed metadata and its signer
	cfg                        config.SPConfig
	bridgeCert                 *x509.Certificate
}

func newKitSP(t *testing.T) *kitSP {
	t.Helper()
	key := kitKey(t, "Cl@ve 2.0 kit SP seal")
	certFile, keyFile := writeInteropPair(t, t.TempDir(), "kit-seal", key)
	return &kitSP{
		Provider: kitProvider, Application: kitApplication, ACS: kitACSURL,
		Key: key, CertFile: certFile, KeyFile: keyFile,
		bridgeCert: samlxmltest.Committed(t, "bridge-sign").Cert,
	}
}

// newEIDASProfileSP is the harness as an eIDAS-profile SP: its metadata
// (signing and encryption key = its seal, one POST ACS) is signed by a
// "federation" key the bridge is configured to trust.
func newEIDASProfileSP(t *testing.T) *kitSP {
	t.Helper()
	sp := newKitSP(t)
	sp.EntityID, sp.ACS, sp.Provider = kitEIDASEntityID, kitEIDASACSURL, ""
	dir := t.TempDir()
	fed := kitKey(t, "metadata federation")
	sp.fedCertFile, _ = writeInteropPair(t, dir, "federation", fed)
	b64 := base64.StdEncoding.EncodeToString(sp.Key.Cert.Raw)
	kd := func(use string) string {
		return `<md:KeyDescriptor use="` + use + `"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64 +
			`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
	}
	md := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"` +
		` ID="_eidas-sp-metadata" entityID="` + sp.EntityID + `" validUntil="` + samlxml.FormatTime(time.Now().Add(24*time.Hour)) + `">` +
		`<md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		kd("signing") + kd("encryption") +
		`<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + sp.ACS + `" index="0" isDefault="true"/>` +
		`</md:SPSSODescriptor></md:EntityDescriptor>`
	sp.metadataFile = writeInteropFile(t, dir, "eidas-sp-metadata.xml", signedXML(t, []byte(md), fed))
	return sp
}

// signedXML signs the root element of doc (which carries an ID) with pair.
func signedXML(t *testing.T, doc []byte, pair samlxmltest.Pair) []byte {
	t.Helper()
	parsed, err := samlxml.Parse(doc, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	root := parsed.Root()
	if err := pair.Signer(samlxml.RSASHA256).Sign(root); err != nil {
		t.Fatal(err)
	}
	out, err := samlxml.Serialize(root.Copy())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (sp *kitSP) eidasProfile() bool { return sp.EntityID != "" }

// register adds the SP to the bridge's configuration, after edits.
func (sp *kitSP) register(edits ...func(*config.SPConfig)) func(*config.Config) {
	return func(cfg *config.Config) {
		c := config.SPConfig{
			ID: sp.Provider, Name: "Cl@ve 2.0 kit SP (test)", Dialect: "eidas", Profile: "clave2",
			Certs: []string{sp.CertFile}, ReturnURLs: []string{sp.ACS}, MinLoA: "low", AttributeNames: "friendly",
		}
		if sp.eidasProfile() {
			c = config.SPConfig{
				ID: sp.EntityID, Name: "eIDAS-profile SP (test)", Dialect: "eidas", Profile: "eidas",
				Metadata: sp.metadataFile, MetadataSigningCert: sp.fedCertFile, MinLoA: "low", AttributeNames: "friendly",
			}
		}
		for _, edit := range edits {
			edit(&c)
		}
		sp.cfg = c
		cfg.ServiceProviders = append(cfg.ServiceProviders, c)
	}
}

// The algorithms the answer must use: the SP's configuration, or the
// defaults of its profile (Cl@ve 2.0: what the gateway sends; eIDAS: what
// node 2.9 requires).
func (sp *kitSP) wantSignature() string {
	if m := kitSignatureURIs[sp.cfg.SignatureAlgorithm]; m != "" {
		return m
	}
	if sp.eidasProfile() {
		return samlxml.RSAPSSSHA512
	}
	return samlxml.RSASHA512
}

func (sp *kitSP) wantTransport() string {
	if m := kitTransportURIs[sp.cfg.KeyTransport]; m != "" {
		return m
	}
	if sp.eidasProfile() {
		return samlxml.RSAOAEP
	}
	return samlxml.RSAOAEPMGF1P
}

func (sp *kitSP) wantData() string {
	if m := kitDataURIs[sp.cfg.DataEncryption]; m != "" {
		return m
	}
	return samlxml.AES256GCM
}

// audience is what the assertion must be restricted to: the request's ACS
// for a Cl@ve 2.0 kit, the Issuer for an eIDAS-profile SP.
func (sp *kitSP) audience() string {
	if sp.eidasProfile() {
		return sp.EntityID
	}
	return sp.ACS
}

// countingStore is the harness's store, with a count of the logins the
// flow started (sent upstream, their pending login sealed into the
// browser) read from the harness's log.
type countingStore struct {
	store.Store
	logs *observer.ObservedLogs
}

// started counts the logins sent upstream so far.
func (s *countingStore) started() int64 {
	return int64(s.logs.FilterMessage("login sent upstream").Len())
}

// startKitHarness is startHarness with the edits applied in order and an
// observed store.
func startKitHarness(t *testing.T, edits ...func(*config.Config)) (*harness, *countingStore) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := exampleConfig(t, base, func(c *config.Config) {
		for _, edit := range edits {
			edit(c)
		}
	})
	core, logs := observer.New(zap.InfoLevel)
	st := &countingStore{Store: store.NewMemory(nil, 0), logs: logs}
	srv, err := New(cfg, zap.New(core), Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv}}
	hs.Start()
	t.Cleanup(hs.Close)
	return &harness{URL: base, Server: srv, Browser: browser.New(http.DefaultTransport), Logs: logs}, st
}

// kitOptions are the login options of the kit's index page, plus the
// deviations the bad-input tests need.
type kitOptions struct {
	LoA        string   // low (default), substantial, high
	LoAURI     string   // sent instead of LoA (a non-notified level)
	ForceAuthn bool     // eIDAS-profile requests always force
	IsPassive  bool     // the kit never sets it
	Disable    []string // IdPs to hide: AFIRMA, SEGSOC, PIN24H, EIDAS, CLVMOVIL
	Extra      []string // more attributes by FriendlyName (PartialAfirma, LegalName...)
	Redirect   bool     // HTTP-Redirect with the signature embedded in the XML

	Unsigned     bool
	SignWith     *samlxmltest.Pair // another key (certificate in KeyInfo)
	ProviderName string            // instead of "<provider>;<application>"
	ACS          string            // instead of the registered ACS
	Destination  string            // instead of the bridge's SSO URL
	IssueInstant time.Time         // instead of now
}

// kitRequest is one AuthnRequest as sent.
type kitRequest struct {
	ID, RelayState string
	XML            []byte
	Redirect       bool
	Seal           samlxmltest.Pair // the key that signed it
}

// kitRelayState is the kit's random 8-character RelayState.
func kitRelayState(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	for range 8 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String()
}

// build writes the AuthnRequest the kit's IndexAction + engine produce
// (reference §4): no Issuer, Destination the gateway, Consent unspecified,
// ACS URL, ProviderName "<provider>;<application>", ForceAuthn as chosen,
// IsPassive false, NameIDPolicy AllowCreate unspecified, one minimum LoA,
// the MDS attributes required, the options, the IdP-disable flags and the
// RelayState attribute with the RelayState field's value; signed rsa-sha512
// with the certificate in KeyInfo. In eIDAS-profile mode: the Issuer, SPType
// public, ForceAuthn, a persistent NameIDPolicy, no Cl@ve attributes, and
// sha512-rsa-MGF1 as an eIDAS node signs.
func (sp *kitSP) build(t *testing.T, h *harness, o kitOptions) *kitRequest {
	t.Helper()
	id, err := samlxml.NewID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	req := &kitRequest{ID: id, RelayState: kitRelayState(t), Redirect: o.Redirect}
	loa := o.LoAURI
	if loa == "" {
		loa = "http://eidas.europa.eu/LoA/" + cmpOr(o.LoA, "low")
	}
	ar := &clave2msg.AuthnRequest{
		ID: id, IssueInstant: time.Now(), Destination: h.URL + kitProxyPath,
		ACS: sp.ACS, ProviderName: sp.Provider + ";" + sp.Application,
		ForceAuthn: o.ForceAuthn, IsPassive: o.IsPassive, Consent: clave2msg.ConsentUnspec,
		HasNameIDPolicy: true, NameIDFormat: clave2msg.NameIDUnspec,
		Comparison: "minimum", LoAs: []string{loa},
	}
	signature := samlxml.RSASHA512
	if sp.eidasProfile() {
		ar.Issuer, ar.ProviderName, ar.SPType, ar.ForceAuthn = sp.EntityID, "eIDAS test SP", "public", true
		ar.NameIDFormat, ar.Consent = clave2msg.NameIDPersist, ""
		signature = samlxml.RSAPSSSHA512
	}
	for _, f := range []string{"PersonIdentifier", "FirstName", "FamilyName"} {
		ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{Name: kitWire[f].name, FriendlyName: f, Required: true})
	}
	for _, f := range o.Extra {
		w, ok := kitWire[f]
		if !ok {
			t.Fatalf("no wire name for attribute %s", f)
		}
		ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{Name: w.name, FriendlyName: f})
	}
	for _, idp := range o.Disable {
		f := kitDisableFlag[idp]
		if f == "" {
			t.Fatalf("no disable flag for IdP %s", idp)
		}
		ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{Name: nsClave + f, FriendlyName: f})
	}
	if !sp.eidasProfile() {
		ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{
			Name: kitWire["RelayState"].name, FriendlyName: "RelayState", Values: []string{req.RelayState},
		})
	}
	if o.ProviderName != "" {
		ar.ProviderName = o.ProviderName
	}
	if o.ACS != "" {
		ar.ACS = o.ACS
	}
	if o.Destination != "" {
		ar.Destination = o.Destination
	}
	if !o.IssueInstant.IsZero() {
		ar.IssueInstant = o.IssueInstant
	}
	el := ar.Element()
	req.Seal = sp.Key
	if o.SignWith != nil {
		req.Seal = *o.SignWith
	}
	if !o.Unsigned {
		if err := req.Seal.Signer(signature).Sign(el); err != nil {
			t.Fatal(err)
		}
	}
	if req.XML, err = samlxml.Serialize(el); err != nil {
		t.Fatal(err)
	}
	return req
}

func cmpOr(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// fields is the POST form (SAMLRequest + RelayState); url the Redirect URL
// (no query signature: the kit signs the XML).
func (r *kitRequest) fields() url.Values {
	return url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(r.XML)}, "RelayState": {r.RelayState}}
}

func (r *kitRequest) redirectURL(t *testing.T, h *harness) string {
	t.Helper()
	u, err := samlxml.EncodeRedirect(h.URL+kitProxyPath, "SAMLRequest", r.XML, r.RelayState, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// send submits the request with the harness browser.
func (sp *kitSP) send(t *testing.T, h *harness, r *kitRequest) *browser.Page {
	t.Helper()
	var page *browser.Page
	var err error
	if r.Redirect {
		page, err = h.Browser.Get(r.redirectURL(t, h))
	} else {
		page, err = h.Browser.Post(h.URL+kitProxyPath, r.fields())
	}
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// login sends a request and follows the browser to the form posting the
// answer to the kit's ACS (not submitted: no server is needed there).
func (sp *kitSP) login(t *testing.T, h *harness, o kitOptions) (*kitRequest, *interopCapture) {
	t.Helper()
	r := sp.build(t, h, o)
	return r, followInteropLogin(t, h, sp.send(t, h, r), sp.ACS)
}

// kitAnswer is a validated answer.
type kitAnswer struct {
	Status, SubStatus, Message string
	Attrs                      map[string][]string // by FriendlyName, RelayState excluded
	LoA, NameID, NameIDFormat  string
	Response                   []byte // the signed Response as posted
}

// validate checks the answer as the kit's ReturnAction + engine do: the
// Response signature against the gateway's (the bridge's) certificate only,
// InResponseTo, Destination, the RelayState field; for a success, the key
// transport, decryption with the SP's key, exactly one assertion, Audience,
// Recipient, InResponseTo, the time window and the RelayState attribute; and
// that every attribute has its eIDAS/Cl@ve name and type.
func (sp *kitSP) validate(t *testing.T, h *harness, r *kitRequest, form *browser.Form) *kitAnswer {
	t.Helper()
	if form == nil || form.Action != sp.ACS {
		t.Fatalf("answer form %+v does not post to %s", form, sp.ACS)
	}
	if got := form.Fields["RelayState"]; len(got) != 1 || got[0] != r.RelayState {
		t.Errorf("RelayState field = %q, want [%q]", got, r.RelayState)
	}
	raw := decodeSAMLField(t, form, "SAMLResponse")
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, raw)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{sp.bridgeCert}}.Verify(doc.Root())
	if err != nil {
		t.Fatalf("Response signature does not verify against bridge-sign.crt: %v\n%.2000s", err, raw)
	}
	if v.Method != sp.wantSignature() {
		t.Errorf("Response signed with %s, want %s", v.Method, sp.wantSignature())
	}
	resp, enc, err := clave2msg.ParseResponse(v.Element)
	if err != nil {
		t.Fatalf("Response: %v\n%s", err, raw)
	}
	now := time.Now()
	switch {
	case resp.InResponseTo != r.ID:
		t.Errorf("Response InResponseTo = %q, want %q", resp.InResponseTo, r.ID)
	case resp.Destination != sp.ACS:
		t.Errorf("Response Destination = %q, want %q", resp.Destination, sp.ACS)
	case resp.Issuer != h.URL+kitMetadataPath:
		t.Errorf("Response Issuer = %q, want %q", resp.Issuer, h.URL+kitMetadataPath)
	case resp.IssueInstant.Before(now.Add(-time.Minute)) || resp.IssueInstant.After(now.Add(kitSkew)):
		t.Errorf("Response IssueInstant %s is not now", resp.IssueInstant)
	}
	ans := &kitAnswer{Status: resp.Status.Code, SubStatus: resp.Status.SubCode, Message: resp.Status.Message, Response: raw}
	if resp.Status.Code != clave2msg.StatusSuccess {
		if enc != nil {
			t.Errorf("a %s answer carries an assertion", resp.Status.Code)
		}
		return ans
	}
	if enc == nil {
		t.Fatalf("success without an EncryptedAssertion:\n%s", raw)
	}
	checkEncryptionMethods(t, enc, sp.wantTransport(), sp.wantData())
	// Cl@ve 2.0 encrypts to the certificate that signed the request; an
	// eIDAS node to the metadata's encryption key (here the same seal).
	recipient := r.Seal
	if sp.eidasProfile() {
		recipient = sp.Key
	}
	if certs := samlxml.RecipientCertificates(enc); len(certs) != 1 || !certs[0].Equal(recipient.Cert) {
		t.Errorf("the EncryptedKey names %d certificates, want only %s", len(certs), recipient.Cert.Subject)
	}
	plain, err := samlxml.Decrypt(enc, recipient.Decrypter(), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatalf("the SP's key does not open the assertion: %v", err)
	}
	a, err := clave2msg.ParseAssertion(plain)
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	switch {
	case a.Issuer != h.URL+kitMetadataPath:
		t.Errorf("assertion Issuer = %q", a.Issuer)
	case a.Audience != sp.audience():
		t.Errorf("Audience = %q, want %q", a.Audience, sp.audience())
	case a.Recipient != sp.ACS:
		t.Errorf("Recipient = %q, want %q", a.Recipient, sp.ACS)
	case a.InResponseTo != r.ID:
		t.Errorf("SubjectConfirmationData InResponseTo = %q, want %q", a.InResponseTo, r.ID)
	case now.Add(kitSkew).Before(a.NotBefore) || !now.Before(a.NotOnOrAfter):
		t.Errorf("now %s is outside [%s, %s)", now, a.NotBefore, a.NotOnOrAfter)
	case a.NotOnOrAfter.Sub(a.NotBefore) != kitAssertionLife || !a.ConfirmationNotOnOrAfter.Equal(a.NotOnOrAfter):
		t.Errorf("lifetime %s (confirmation until %s), want %s", a.NotOnOrAfter.Sub(a.NotBefore), a.ConfirmationNotOnOrAfter, kitAssertionLife)
	}
	ans.LoA, ans.NameID, ans.NameIDFormat = a.LoA, a.NameID, a.NameIDFormat
	ans.Attrs = kitAttributes(t, plain)
	relay, echoed := ans.Attrs["RelayState"]
	delete(ans.Attrs, "RelayState")
	switch {
	case sp.eidasProfile() && echoed:
		t.Errorf("RelayState attribute %q sent to an eIDAS-profile SP that did not request it", relay)
	case !sp.eidasProfile() && (len(relay) != 1 || relay[0] != r.RelayState):
		t.Errorf("RelayState attribute = %q, want [%q] (the field and the request's value)", relay, r.RelayState)
	}
	return ans
}

// checkEncryptionMethods checks the EncryptedData's algorithms: the data
// encryption, and the EncryptedKey in its KeyInfo with the key transport
// (xmlenc11#rsa-oaep with SHA-256 and MGF1-SHA-256).
func checkEncryptionMethods(t *testing.T, ed *etree.Element, transport, data string) {
	t.Helper()
	em, _ := samlxml.Child(ed, samlxml.NSXMLEnc, "EncryptionMethod")
	if got := attrOf(em, "Algorithm"); got != data {
		t.Errorf("data encryption = %q, want %q", got, data)
	}
	ki, _ := samlxml.Child(ed, samlxml.NSDSig, "KeyInfo")
	eks := []*etree.Element{}
	if ki != nil {
		eks = samlxml.Children(ki, samlxml.NSXMLEnc, "EncryptedKey")
	}
	if len(eks) != 1 {
		t.Fatalf("want one EncryptedKey in EncryptedData/KeyInfo, found %d", len(eks))
	}
	km, _ := samlxml.Child(eks[0], samlxml.NSXMLEnc, "EncryptionMethod")
	if got := attrOf(km, "Algorithm"); got != transport {
		t.Errorf("key transport = %q, want %q", got, transport)
	}
	if transport == samlxml.RSAOAEP {
		dm, _ := samlxml.Child(km, samlxml.NSDSig, "DigestMethod")
		mgf, _ := samlxml.Child(km, samlxml.NSXMLEnc11, "MGF")
		if attrOf(dm, "Algorithm") != samlxml.DigestSHA256 || attrOf(mgf, "Algorithm") != "http://www.w3.org/2009/xmlenc11#mgf1sha256" {
			t.Errorf("rsa-oaep parameters: digest %q, MGF %q; want sha256 and mgf1sha256", attrOf(dm, "Algorithm"), attrOf(mgf, "Algorithm"))
		}
	}
}

func attrOf(el *etree.Element, name string) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue(name, "")
}

// kitAttributes reads the AttributeStatement by FriendlyName, checking each
// attribute's Name, NameFormat and the namespace-qualified xsi:type of every
// value against the eIDAS attribute profile and Cl@ve 2.0.
func kitAttributes(t *testing.T, assertion *etree.Element) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	st, _ := samlxml.Child(assertion, samlxml.NSAssertion, "AttributeStatement")
	if st == nil {
		t.Fatal("the assertion has no AttributeStatement")
	}
	for _, ae := range samlxml.Children(st, samlxml.NSAssertion, "Attribute") {
		friendly := ae.SelectAttrValue("FriendlyName", "")
		w, ok := kitWire[friendly]
		if !ok {
			t.Errorf("unexpected attribute %q (%s)", friendly, ae.SelectAttrValue("Name", ""))
			continue
		}
		if got := ae.SelectAttrValue("Name", ""); got != w.name {
			t.Errorf("attribute %s has Name %q, want %q", friendly, got, w.name)
		}
		if got := ae.SelectAttrValue("NameFormat", ""); got != clave2msg.AttrNameFormat {
			t.Errorf("attribute %s has NameFormat %q", friendly, got)
		}
		for _, v := range samlxml.Children(ae, samlxml.NSAssertion, "AttributeValue") {
			ns, local := xsiType(v)
			if ns != w.typeNS || local != w.typeLo {
				t.Errorf("attribute %s value type is {%s}%s, want {%s}%s", friendly, ns, local, w.typeNS, w.typeLo)
			}
			out[friendly] = append(out[friendly], strings.TrimSpace(v.Text()))
		}
	}
	return out
}

// xsiType resolves the xsi:type of el to a namespace and local name.
func xsiType(el *etree.Element) (ns, local string) {
	var value string
	for _, a := range el.Attr {
		if a.Key == "type" && a.NamespaceURI() == samlxml.NSXSI {
			value = a.Value
		}
	}
	prefix, local, ok := strings.Cut(value, ":")
	if !ok {
		prefix, local = "", value
	}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if (prefix == "" && a.Space == "" && a.Key == "xmlns") || (a.Space == "xmlns" && a.Key == prefix) {
				return a.Value, local
			}
		}
	}
	return "", local
}

// requireErrorPage requires the bridge's error page: 400 with the trace id of the
// X-Trace-Id header in the body, and a log line under that trace id whose
// error mentions reason.
func requireErrorPage(t *testing.T, h *harness, resp *http.Response, reason string) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	trace := resp.Header.Get("X-Trace-Id")
	if resp.StatusCode != http.StatusBadRequest || trace == "" || !bytes.Contains(body, []byte(trace)) ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("want the 400 error page with a trace id; got %d, trace %q:\n%.500s", resp.StatusCode, trace, body)
	}
	if bytes.Contains(body, []byte("SAMLResponse")) {
		t.Errorf("the error page carries a SAMLResponse:\n%.500s", body)
	}
	var logged []string
	for _, e := range h.Logs.FilterField(zap.String("trace_id", trace)).All() {
		logged = append(logged, fmt.Sprint(e.ContextMap()["error"]))
	}
	if len(logged) == 0 || !strings.Contains(strings.Join(logged, " | "), reason) {
		t.Errorf("the refusal logged under trace %s is %q, want it to mention %q", trace, logged, reason)
	}
}

// noRedirects is a client that shows the bridge's own answer.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (sp *kitSP) sendRaw(t *testing.T, h *harness, r *kitRequest) *http.Response {
	t.Helper()
	var resp *http.Response
	var err error
	if r.Redirect {
		resp, err = noRedirects.Get(r.redirectURL(t, h))
	} else {
		resp, err = noRedirects.PostForm(h.URL+kitProxyPath, r.fields())
	}
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestClave2KitLogin: successful logins of a Cl@ve 2.0 kit SP through every
// simulated IdP, validated as the kit validates them.
func TestClave2KitLogin(t *testing.T) {
	tests := []struct {
		name    string
		auto    func(*config.Config)
		policy  func(*config.SPConfig)
		opts    kitOptions
		want    map[string]string // attributes by FriendlyName (PartialAfirma: checked apart)
		loa     string
		upDisab []string // IdP-disable flags the bridge must forward upstream
	}{
		{
			name: "AFIRMA DNIe, high, PartialAfirma", auto: autoLogin("AFIRMA", "99999999R", "dnie"),
			opts: kitOptions{LoA: "high", ForceAuthn: true, Extra: []string{"PartialAfirma"}},
			want: map[string]string{
				"PersonIdentifier": "ES/ES/99999999R", "FirstName": "JUAN", "FamilyName": "ESPAÑOL PRUEBAS",
				"FirstSurname": "ESPAÑOL", "SelectedIdP": "AFIRMA", "PartialAfirma": "",
			},
			loa: "high",
		},
		{
			name: "Cl@ve permanente, substantial, certificate and PIN hidden", auto: autoLogin("SEGSOC", "00000000T", ""),
			opts: kitOptions{LoA: "substantial", Disable: []string{"AFIRMA", "PIN24H"}},
			want: map[string]string{
				"PersonIdentifier": "ES/ES/00000000T", "FirstName": "MARÍA", "FamilyName": "PERMANENTE GARCÍA",
				"FirstSurname": "PERMANENTE", "SelectedIdP": "SEGSOC",
			},
			loa: "substantial", upDisab: []string{"AFirmaIdP", "AEATIdP"},
		},
		{
			name: "EIDAS citizen from Germany", auto: autoLogin("EIDAS", "T22000129", ""),
			opts: kitOptions{LoA: "low"},
			want: map[string]string{
				"PersonIdentifier": "DE/ES/T22000129", "FirstName": "ERIKA", "FamilyName": "MUSTERMANN",
				"FirstSurname": "MUSTERMANN", "SelectedIdP": "EIDAS",
			},
			loa: "substantial",
		},
		{
			name: "legal person representative", auto: autoLogin("AFIRMA", "11111111H", "legal"),
			policy: func(c *config.SPConfig) { c.LegalPersons = true },
			opts:   kitOptions{LoA: "substantial", Extra: []string{"LegalPersonIdentifier", "LegalName"}},
			want: map[string]string{
				"PersonIdentifier": "ES/ES/11111111H", "FirstName": "ANA", "FamilyName": "REPRESENTANTE LÓPEZ",
				"FirstSurname": "REPRESENTANTE", "SelectedIdP": "AFIRMA",
				"LegalPersonIdentifier": "ES/ES/B00000000", "LegalName": "EMPRESA DE PRUEBAS SL",
			},
			loa: "substantial",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := newKitSP(t)
			var edits []func(*config.SPConfig)
			if tt.policy != nil {
				edits = append(edits, tt.policy)
			}
			h, st := startKitHarness(t, tt.auto, sp.register(edits...))
			req, lc := sp.login(t, h, tt.opts)
			ans := sp.validate(t, h, req, lc.SPResponse)
			if ans.Status != clave2msg.StatusSuccess {
				t.Fatalf("status %s / %s: %s", ans.Status, ans.SubStatus, ans.Message)
			}
			if ans.LoA != "http://eidas.europa.eu/LoA/"+tt.loa {
				t.Errorf("LoA = %q, want %s", ans.LoA, tt.loa)
			}
			if ans.NameID != tt.want["PersonIdentifier"] || ans.NameIDFormat != clave2msg.NameIDUnspec {
				t.Errorf("NameID = %q (%s), want the PersonIdentifier, unspecified", ans.NameID, ans.NameIDFormat)
			}
			checkKitAttributes(t, ans.Attrs, tt.want)
			if _, ok := tt.want["PartialAfirma"]; ok {
				checkPartialAfirma(t, ans.Attrs["PartialAfirma"])
			}
			up := decodeSAMLField(t, lc.UpstreamRequest, "SAMLRequest")
			for _, flag := range tt.upDisab {
				if !bytes.Contains(up, []byte(`Name="`+nsClave+flag+`"`)) {
					t.Errorf("the upstream request does not hide %s:\n%s", flag, up)
				}
			}
			if n := st.started(); n != 1 {
				t.Errorf("%d pending logins stored, want 1", n)
			}
			assertNoPersonalData(t, h.Logs, "99999999R", "00000000T", "T22000129", "11111111H", "JUAN", "MARÍA", "ERIKA")
		})
	}
}

func checkKitAttributes(t *testing.T, got map[string][]string, want map[string]string) {
	t.Helper()
	var gotNames, wantNames []string
	for k := range got {
		gotNames = append(gotNames, k)
	}
	for k := range want {
		wantNames = append(wantNames, k)
	}
	sort.Strings(gotNames)
	sort.Strings(wantNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("attributes %v, want exactly %v", gotNames, wantNames)
	}
	for k, v := range want {
		if v == "" {
			continue
		}
		if g := got[k]; len(g) != 1 || g[0] != v {
			t.Errorf("attribute %s = %q, want [%q]", k, g, v)
		}
	}
}

// checkPartialAfirma: one value, base64 of an XML document (@firma's DSS
// answer).
func checkPartialAfirma(t *testing.T, values []string) {
	t.Helper()
	if len(values) != 1 {
		t.Fatalf("PartialAfirma has %d values", len(values))
	}
	xml, err := base64.StdEncoding.DecodeString(values[0])
	if err != nil {
		t.Fatalf("PartialAfirma is not base64: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil || doc.Root() == nil {
		t.Fatalf("PartialAfirma is not XML (%v):\n%s", err, xml)
	}
}

// TestClave2KitRefusals: requests the bridge or the gateway refuses come
// back to the kit's ACS as a signed status without an assertion.
func TestClave2KitRefusals(t *testing.T) {
	tests := []struct {
		name     string
		auto     func(*config.Config)
		policy   func(*config.SPConfig)
		opts     kitOptions
		sub      string
		upstream bool // the refusal comes from the gateway (a pending login was stored)
	}{
		{"LoA high with a Cl@ve permanente login", autoLogin("SEGSOC", "00000000T", ""), nil,
			kitOptions{LoA: "high"}, clave2msg.StatusRequestDenied, true},
		{"the SP hides the IdP used", autoLogin("SEGSOC", "00000000T", ""), nil,
			kitOptions{Disable: []string{"SEGSOC"}}, clave2msg.StatusRequestDenied, true},
		{"policy denies every IdP the SP left", autoLogin("SEGSOC", "00000000T", ""),
			func(c *config.SPConfig) { c.DenyIdPs = []string{"SEGSOC", "EIDAS", "CLVMOVIL"} },
			kitOptions{Disable: []string{"AFIRMA", "PIN24H"}}, clave2msg.StatusRequestDenied, false},
		{"legal person attributes without legal_persons", autoLogin("AFIRMA", "11111111H", "legal"), nil,
			kitOptions{Extra: []string{"LegalPersonIdentifier"}}, clave2msg.StatusRequestDenied, false},
		{"IsPassive", autoLogin("SEGSOC", "00000000T", ""), nil,
			kitOptions{IsPassive: true}, clave2msg.StatusNoPassive, false},
		{"non-notified LoA", autoLogin("SEGSOC", "00000000T", ""), nil,
			kitOptions{LoAURI: "http://eidas.europa.eu/NotNotified/LoA/low"}, clave2msg.StatusNoAuthnContext, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := newKitSP(t)
			var edits []func(*config.SPConfig)
			if tt.policy != nil {
				edits = append(edits, tt.policy)
			}
			h, st := startKitHarness(t, tt.auto, sp.register(edits...))
			req, lc := sp.login(t, h, tt.opts)
			ans := sp.validate(t, h, req, lc.SPResponse)
			if ans.Status == clave2msg.StatusSuccess || ans.SubStatus != tt.sub {
				t.Errorf("status %s / %s (%s), want %s", ans.Status, ans.SubStatus, ans.Message, tt.sub)
			}
			if bytes.Contains(ans.Response, []byte("EncryptedAssertion")) || bytes.Contains(ans.Response, []byte(":Assertion ")) {
				t.Errorf("a refusal carries an assertion:\n%s", ans.Response)
			}
			if got := lc.UpstreamRequest != nil; got != tt.upstream {
				t.Errorf("went upstream = %v, want %v", got, tt.upstream)
			}
			if n, want := st.started(), map[bool]int64{true: 1, false: 0}[tt.upstream]; n != want {
				t.Errorf("%d pending logins stored, want %d", n, want)
			}
		})
	}
}

// TestClave2KitBadRequests: requests that cannot be answered to an
// identified SP get the error page, and no login starts.
func TestClave2KitBadRequests(t *testing.T) {
	sp := newKitSP(t)
	h, st := startKitHarness(t, autoLogin("SEGSOC", "00000000T", ""), sp.register())
	impostor := kitKey(t, "impostor seal")
	tests := []struct {
		name   string
		opts   kitOptions
		reason string // in the logged error
	}{
		{"unsigned", kitOptions{Unsigned: true}, "request signature"},
		{"signed with another key", kitOptions{SignWith: &impostor}, "request signature"},
		{"unknown provider", kitOptions{ProviderName: "Q0000000J_E00000000;" + kitApplication}, "unknown service provider"},
		{"ProviderName without application", kitOptions{ProviderName: kitProvider}, "ProviderName"},
		{"ACS not registered", kitOptions{ACS: "https://kit-sp.clave2.test/SP2/OtherPage"}, "is not registered"},
		{"Destination elsewhere", kitOptions{Destination: "https://pasarela.clave.gob.es/Proxy2/ServiceProvider"}, "Destination"},
		{"IssueInstant 10 minutes old", kitOptions{IssueInstant: time.Now().Add(-10 * time.Minute)}, "IssueInstant"},
		{"unsigned, Redirect binding", kitOptions{Unsigned: true, Redirect: true}, "request signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := st.started()
			requireErrorPage(t, h, sp.sendRaw(t, h, sp.build(t, h, tt.opts)), tt.reason)
			if n := st.started(); n != before {
				t.Errorf("%d pending logins stored for a bad request", n-before)
			}
		})
	}
	t.Run("replayed identical request", func(t *testing.T) {
		r := sp.build(t, h, kitOptions{})
		before := st.started()
		first := sp.sendRaw(t, h, r)
		body, _ := io.ReadAll(first.Body)
		first.Body.Close()
		if first.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("/sim/Proxy2/ServiceProvider")) {
			t.Fatalf("the first request did not start a login: %d\n%.500s", first.StatusCode, body)
		}
		requireErrorPage(t, h, sp.sendRaw(t, h, r), "replayed")
		if n := st.started() - before; n != 1 {
			t.Errorf("%d pending logins stored, want 1 (the first request only)", n)
		}
	})
}

// TestClave2KitRedirectBinding: the kit may send its request by
// HTTP-Redirect, the signature staying in the XML (no query signature).
func TestClave2KitRedirectBinding(t *testing.T) {
	sp := newKitSP(t)
	h, _ := startKitHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"), sp.register())
	req, lc := sp.login(t, h, kitOptions{LoA: "substantial", Redirect: true})
	if u := req.redirectURL(t, h); strings.Contains(u, "Signature=") || strings.Contains(u, "SigAlg=") {
		t.Fatalf("the redirect URL carries a query signature: %s", u)
	}
	ans := sp.validate(t, h, req, lc.SPResponse)
	if ans.Status != clave2msg.StatusSuccess || ans.LoA != "http://eidas.europa.eu/LoA/high" {
		t.Fatalf("status %s / %s (%s), LoA %s", ans.Status, ans.SubStatus, ans.Message, ans.LoA)
	}
	checkKitAttributes(t, ans.Attrs, map[string]string{
		"PersonIdentifier": "ES/ES/99999999R", "FirstName": "JUAN", "FamilyName": "ESPAÑOL PRUEBAS",
		"FirstSurname": "ESPAÑOL", "SelectedIdP": "AFIRMA",
	})
}

// TestClave2KitEncryptsToTheSigningSeal: a kit registered with two seals
// (a certificate rollover) gets its assertion encrypted to the one that
// signed the request, and the other seal cannot open it.
func TestClave2KitEncryptsToTheSigningSeal(t *testing.T) {
	sp := newKitSP(t)
	next := kitKey(t, "Cl@ve 2.0 kit SP next seal")
	nextCert, _ := writeInteropPair(t, t.TempDir(), "kit-next-seal", next)
	h, _ := startKitHarness(t, autoLogin("SEGSOC", "00000000T", ""),
		sp.register(func(c *config.SPConfig) { c.Certs = append(c.Certs, nextCert) }))
	for _, seal := range []samlxmltest.Pair{sp.Key, next} {
		req, lc := sp.login(t, h, kitOptions{SignWith: &seal})
		ans := sp.validate(t, h, req, lc.SPResponse) // decrypts with seal
		if ans.Status != clave2msg.StatusSuccess {
			t.Fatalf("status %s / %s: %s", ans.Status, ans.SubStatus, ans.Message)
		}
		other := next
		if seal.Cert.Equal(next.Cert) {
			other = sp.Key
		}
		doc, err := samlxml.Parse(ans.Response, samlxml.DefaultMaxMessageBytes)
		if err != nil {
			t.Fatal(err)
		}
		_, enc, err := clave2msg.ParseResponse(doc.Root())
		if err != nil || enc == nil {
			t.Fatalf("no EncryptedData: %v", err)
		}
		if _, err := samlxml.Decrypt(enc, other.Decrypter(), samlxml.DefaultMaxMessageBytes); err == nil {
			t.Errorf("the seal that did not sign the request (%s) opens the assertion", other.Cert.Subject)
		}
	}
}

// TestEIDASProfileSPLogin: the harness as an eIDAS-profile SP (signed
// metadata, Issuer, SPType, PSS request) gets the eIDAS node 2.9 defaults:
// RSA-PSS SHA-512, xmlenc11#rsa-oaep (SHA-256, MGF1-SHA-256), AES-256-GCM,
// Audience = its Issuer, a persistent NameID, no Cl@ve attributes.
func TestEIDASProfileSPLogin(t *testing.T) {
	sp := newEIDASProfileSP(t)
	h, _ := startKitHarness(t, autoLogin("SEGSOC", "00000000T", ""), sp.register())
	req, lc := sp.login(t, h, kitOptions{LoA: "substantial"})
	ans := sp.validate(t, h, req, lc.SPResponse)
	if ans.Status != clave2msg.StatusSuccess {
		t.Fatalf("status %s / %s: %s", ans.Status, ans.SubStatus, ans.Message)
	}
	if ans.NameID != "ES/ES/00000000T" || ans.NameIDFormat != clave2msg.NameIDPersist {
		t.Errorf("NameID = %q (%s), want the PersonIdentifier, persistent", ans.NameID, ans.NameIDFormat)
	}
	checkKitAttributes(t, ans.Attrs, map[string]string{
		"PersonIdentifier": "ES/ES/00000000T", "FirstName": "MARÍA", "FamilyName": "PERMANENTE GARCÍA",
	})
	// Only the metadata's default ACS may be named.
	requireErrorPage(t, h, sp.sendRaw(t, h, sp.build(t, h, kitOptions{ACS: "https://eidas-sp.clave2.test/other"})), "is not registered")
}
