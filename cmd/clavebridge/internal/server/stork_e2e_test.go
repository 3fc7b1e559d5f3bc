package server

// End-to-end tests of the Cl@ve 1 (STORK 1.0) endpoint with an SP harness
// that has its own key and sends requests laid out as the two families of
// Cl@ve 1 kits write them (the Java STORK engine and the RedIRIS
// SimpleSAMLphp module), and validates every answer the way each of them
// does: the Java engine (STORKSAMLEngine.validateSTORKAuthnResponse and
// SignSW.validateSignature) and RedIRIS (SPlib_clave1.0.php
// validateStorkResponse). xmlsec1 checks both signatures independently.
//
// Run them with: go test ./cmd/clavebridge/internal/server/ -run 'Stork'

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	nsStork        = "urn:eu:stork:names:tc:STORK:1.0:assertion"
	nsStorkP       = "urn:eu:stork:names:tc:STORK:1.0:protocol"
	storkAttrURI   = "http://www.stork.gov.eu/1.0/"
	storkStatus    = "urn:oasis:names:tc:SAML:2.0:status:"
	storkQAANotSup = "http://www.stork.gov.eu/saml20/statusCodes/QAANotSupported"
	storkSPID      = "sp_stork_test"    // legal persons allowed, legacy SHA-1
	storkNoLegalID = "sp_stork_nolegal" // same key, legal persons forbidden
	storkSPIssuer  = "http://S-PEPS.gov.xx"
	storkLegalOID  = "1.3.6.1.4.1.5734.3.11.1"
)

// The Cl@ve 1 SP's own key, made once for the package's tests.
var (
	storkKeyOnce sync.Once
	storkKey     samlxmltest.Pair
)

func storkSPKey(t testing.TB) samlxmltest.Pair {
	storkKeyOnce.Do(func() { storkKey = samlxmltest.NewRSA(t, "sp_stork_test TEST") })
	return storkKey
}

// storkKit is a Cl@ve 1 SP in front of a running bridge.
type storkKit struct {
	h    *harness
	key  samlxmltest.Pair
	acs  string
	cert *x509.Certificate // the bridge certificate the SP is configured with (RedIRIS)
	// trust is the Java SP's trust store: certificates the answer's signing
	// certificate must equal or be signed by.
	trust []*x509.Certificate
}

// startStorkKit runs the bridge with the two Cl@ve 1 SPs registered (the
// certificate written as PEM), the auto-login and any other edits.
func startStorkKit(t *testing.T, auto func(*config.Config), edits ...func(*config.Config)) *storkKit {
	t.Helper()
	key := storkSPKey(t)
	certFile := filepath.Join(t.TempDir(), "sp_stork_test.crt")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: key.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	var acs string
	h := startHarness(t, func(cfg *config.Config) {
		acs = cfg.Server.BaseURL + "/stork-sp/ReturnPage"
		cfg.ServiceProviders = append(cfg.ServiceProviders,
			config.SPConfig{ID: storkSPID, Dialect: "stork", Certs: []string{certFile}, ReturnURLs: []string{acs},
				MinLoA: "low", AttributeNames: "friendly", LegalPersons: true, LegacySHA1: true},
			config.SPConfig{ID: storkNoLegalID, Dialect: "stork", Certs: []string{certFile}, ReturnURLs: []string{acs},
				MinLoA: "low", AttributeNames: "friendly", LegalPersons: false, LegacySHA1: true})
		if auto != nil {
			auto(cfg)
		}
		for _, e := range edits {
			e(cfg)
		}
	})
	bridgeCert := storkReadCert(t, repoPath("testdata", "keys", "bridge-sign.crt"))
	return &storkKit{h: h, key: key, acs: acs, cert: bridgeCert, trust: []*x509.Certificate{bridgeCert}}
}

func storkReadCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := samlxml.ParseCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// storkRequest is what the SP asks for.
type storkRequest struct {
	layout       string // "java" or "rediris"
	qaa          string
	providerName string   // default storkSPID
	attrs        []string // "name", "name!" (required), "name=value"
	params       url.Values
	id           string // filled in by build
}

// build writes and signs the request in its kit's layout.
func (k *storkKit) build(t *testing.T, r *storkRequest) []byte {
	t.Helper()
	id, err := samlxml.NewID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r.id = id
	if r.providerName == "" {
		r.providerName = storkSPID
	}
	java := r.layout == "java"
	el := etree.NewElement("saml2p:AuthnRequest")
	ns := [][2]string{{"saml2p", samlxml.NSProtocol}, {"ds", samlxml.NSDSig}, {"saml2", samlxml.NSAssertion}, {"stork", nsStork}, {"storkp", nsStorkP}}
	if !java {
		ns = append(ns, [2]string{"xs", samlxml.NSXS}, [2]string{"xsi", samlxml.NSXSI})
	}
	for _, n := range ns {
		el.CreateAttr("xmlns:"+n[0], n[1])
	}
	now := time.Now().UTC()
	issueInstant, forceAuthn, provider, issuer := samlxml.FormatTime(now), "true", r.providerName, storkSPIssuer
	if !java {
		// RedIRIS: seconds only, ForceAuthn false, "<ProviderName>_<remote app>".
		issueInstant, forceAuthn, provider, issuer = now.Format("2006-01-02T15:04:05Z"), "false", r.providerName+"_rediris-app",
			"https://rediris.example/simplesaml/module.php/clave/sp/metadata.php/clave/hosted"
	}
	for _, kv := range [][2]string{
		{"AssertionConsumerServiceURL", k.acs}, {"Consent", "urn:oasis:names:tc:SAML:2.0:consent:unspecified"},
		{"Destination", k.h.URL + "/Proxy/ServiceProvider"}, {"ForceAuthn", forceAuthn}, {"ID", id}, {"IsPassive", "false"},
		{"IssueInstant", issueInstant}, {"ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
		{"ProviderName", provider}, {"Version", "2.0"},
	} {
		el.CreateAttr(kv[0], kv[1])
	}
	iss := el.CreateElement("saml2:Issuer")
	iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
	iss.SetText(issuer)
	ext := el.CreateElement("saml2p:Extensions")
	ext.CreateElement("stork:QualityAuthenticationAssuranceLevel").SetText(r.qaa)
	if !java {
		ext.CreateElement("stork:spCountry").SetText("ES")
	}
	ext.CreateElement("stork:spSector").SetText("SECTOR")
	ext.CreateElement("stork:spInstitution").SetText(r.providerName)
	ext.CreateElement("stork:spApplication").SetText("APP")
	for _, s := range []string{"eIDSectorShare", "eIDCrossSectorShare", "eIDCrossBorderShare"} {
		ext.CreateElement("storkp:" + s).SetText("true")
	}
	ras := ext.CreateElement("storkp:RequestedAttributes")
	for _, a := range r.attrs {
		name, values, _ := strings.Cut(a, "=")
		ra := ras.CreateElement("stork:RequestedAttribute")
		ra.CreateAttr("Name", storkAttrURI+strings.TrimSuffix(name, "!"))
		ra.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
		ra.CreateAttr("isRequired", fmt.Sprint(strings.HasSuffix(name, "!")))
		if values != "" {
			v := ra.CreateElement("stork:AttributeValue")
			if !java {
				v.CreateAttr("xsi:type", "xs:string")
			}
			v.SetText(values)
		}
	}
	if java {
		vidp := ext.CreateElement("storkp:AuthenticationAttributes").CreateElement("storkp:VIDPAuthenticationAttributes")
		vidp.CreateElement("storkp:CitizenCountryCode").SetText("ES")
		vidp.CreateElement("storkp:SPInformation").CreateElement("storkp:SPID").SetText(strings.ToUpper(r.providerName))
	}
	signer := k.key.Signer(samlxml.RSASHA256)
	signer.Digest = samlxml.DigestSHA1 // OpenSAML 2's default digest
	if !java {
		signer = k.key.Signer(samlxml.RSASHA512)
		signer.Digest = samlxml.DigestSHA512
	}
	if err := signer.Sign(el); err != nil {
		t.Fatal(err)
	}
	if !java { // RedIRIS' calculateXMLDsig put the Signature first
		sig := el.SelectElement("Signature")
		el.RemoveChild(sig)
		el.InsertChildAt(0, sig)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	if java {
		xml = append([]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), xml...)
	}
	return xml
}

// login sends r through the browser and stops at the form the bridge posts
// to the SP's ACS.
func (k *storkKit) login(t *testing.T, r *storkRequest) *interopCapture {
	t.Helper()
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(k.build(t, r))}}
	for key, vs := range r.params {
		form[key] = vs
	}
	page, err := k.h.Browser.Post(k.h.URL+"/Proxy/ServiceProvider", form)
	if err != nil {
		t.Fatal(err)
	}
	return followInteropLogin(t, k.h, page, k.acs)
}

// storkAnswer is what an SP reads from the bridge's answer.
type storkAnswer struct {
	Status, SubStatus, Message string
	Issuer                     string
	Attributes                 map[string]storkAttribute
	ResponseID, AssertionID    string
}

type storkAttribute struct {
	Status string // stork:AttributeStatus, "" if absent
	Values []string
}

func (a *storkAnswer) success() bool { return a.Status == storkStatus+"Success" }

// javaTrusts is SignSW.validateSignature's trust rule: the KeyInfo
// certificate must be time-valid and equal to, or signed by, a certificate
// of the SP's trust store.
func javaTrusts(cert *x509.Certificate, trust []*x509.Certificate, now time.Time) error {
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fmt.Errorf("signing certificate is not valid at %s (%s – %s)", now.Format(time.RFC3339), cert.NotBefore, cert.NotAfter)
	}
	for _, tc := range trust {
		if cert.Equal(tc) {
			return nil
		}
		if bytes.Equal(cert.RawIssuer, tc.RawSubject) && tc.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil {
			return nil
		}
	}
	return errors.New("signing certificate is neither a trusted certificate nor signed by one")
}

// javaEngineValidate reads an answer as STORKSAMLEngine.validateSTORKAuthnResponse
// does (ipValidation off, as the kits run).
func javaEngineValidate(raw []byte, trust []*x509.Certificate, now time.Time) (*storkAnswer, error) {
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	if !samlxml.Is(root, samlxml.NSProtocol, "Response") {
		return nil, fmt.Errorf("root is %s, not a Response", root.FullTag())
	}
	// SignSW.validateSignature: the certificate of KeyInfo/X509Data/X509Certificate[0].
	kc := root.FindElement("./Signature/KeyInfo/X509Data/X509Certificate")
	if kc == nil {
		return nil, errors.New("no KeyInfo X509Certificate in the Response signature")
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(kc.Text()), ""))
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := javaTrusts(cert, trust, now); err != nil {
		return nil, err
	}
	// SAMLSignatureProfileValidator + signature with that certificate; only
	// the Response's own signature.
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{cert}, Policy: samlxml.AlgorithmPolicy{AllowSHA1: true}}.Verify(root)
	if err != nil {
		return nil, fmt.Errorf("response signature: %w", err)
	}
	resp := v.Element
	// OpenSAML core schema validation of what the engine reads.
	if resp.SelectAttrValue("ID", "") == "" || resp.SelectAttrValue("Version", "") != "2.0" || resp.SelectAttrValue("IssueInstant", "") == "" {
		return nil, errors.New("schema: Response without ID, Version 2.0 or IssueInstant")
	}
	ans := storkReadStatus(resp)
	if ans.Status == "" {
		return nil, errors.New("schema: no Status/StatusCode")
	}
	as := samlxml.Children(resp, samlxml.NSAssertion, "Assertion")
	if len(as) == 0 {
		if ans.success() {
			return nil, errors.New("success without an Assertion: the engine marks it failed")
		}
		return ans, nil
	}
	a := as[0]
	ans.AssertionID = a.SelectAttrValue("ID", "")
	ans.Issuer, _ = samlxml.ChildText(a, samlxml.NSAssertion, "Issuer")
	if ans.AssertionID == "" || ans.Issuer == "" || a.SelectAttrValue("IssueInstant", "") == "" {
		return nil, errors.New("schema: Assertion without ID, Issuer or IssueInstant")
	}
	// validateStorkResponse iterates the Subject's confirmations.
	if a.FindElement("./Subject/SubjectConfirmation[@Method='urn:oasis:names:tc:SAML:2.0:cm:bearer']") == nil {
		return nil, errors.New("no bearer SubjectConfirmation")
	}
	cond, _ := samlxml.Child(a, samlxml.NSAssertion, "Conditions")
	if cond == nil {
		return nil, errors.New("assertion without Conditions (NullPointerException)")
	}
	noa, err := samlxml.ParseTime(cond.SelectAttrValue("NotOnOrAfter", ""))
	if err != nil {
		return nil, errors.New("Conditions/@NotOnOrAfter missing (NullPointerException)")
	}
	if noa.Before(now) { // no skew
		return nil, fmt.Errorf("token date expired (NotOnOrAfter %s, server date %s)", noa, now)
	}
	aud := cond.FindElement("./AudienceRestriction/Audience")
	if aud == nil {
		return nil, errors.New("AudienceRestriction[0]/Audience[0] missing (NullPointerException)")
	}
	if strings.TrimSpace(aud.Text()) == "" {
		return nil, errors.New("schema: Audience without a URI")
	}
	if !ans.success() {
		return ans, nil
	}
	st, _ := samlxml.Child(a, samlxml.NSAssertion, "AttributeStatement")
	if st == nil {
		return nil, errors.New("success without an AttributeStatement")
	}
	ans.Attributes = storkReadAttributes(st)
	if len(ans.Attributes) == 0 {
		return nil, errors.New("schema: AttributeStatement without attributes")
	}
	return ans, nil
}

// redirisValidate reads an answer as SPlib_clave1.0.php's
// validateStorkResponse does, with the validation context set (request
// ID, ACS, mandatory attributes; expected issuers NULL).
func redirisValidate(raw []byte, cert *x509.Certificate, reqID, acs string, mandatory []string, now time.Time) (*storkAnswer, error) {
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	// "/*/ds:Signature" against the configured certificate.
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{cert}, Policy: samlxml.AlgorithmPolicy{AllowSHA1: true}}.Verify(root)
	if err != nil {
		return nil, fmt.Errorf("signature verification failed: %w", err)
	}
	resp := v.Element
	if !strings.EqualFold(resp.Tag, "response") {
		return nil, errors.New("unexpected document root node")
	}
	inResponseTo, destination := resp.SelectAttrValue("InResponseTo", ""), resp.SelectAttrValue("Destination", "")
	issuer, _ := samlxml.ChildText(resp, samlxml.NSAssertion, "Issuer")
	switch {
	case inResponseTo == "":
		return nil, errors.New("no InResponseTo attribute found on response")
	case destination == "":
		return nil, errors.New("no Destination attribute found on response")
	case issuer == "":
		return nil, errors.New("no Issuer node found on response")
	case strings.TrimSpace(inResponseTo) != strings.TrimSpace(reqID):
		return nil, fmt.Errorf("InResponseTo %q is not the request ID %q", inResponseTo, reqID)
	case strings.TrimSpace(destination) != strings.TrimSpace(acs):
		return nil, fmt.Errorf("Destination %q is not the ACS %q", destination, acs)
	}
	ans := storkReadStatus(resp)
	if ans.Status == "" {
		return nil, errors.New("SAML Response has no status")
	}
	ans.Issuer = issuer
	if !ans.success() {
		return ans, nil
	}
	as := samlxml.Children(resp, samlxml.NSAssertion, "Assertion")
	if len(as) == 0 {
		return nil, errors.New("no plain assertions on a successful response")
	}
	ans.Attributes = map[string]storkAttribute{}
	for _, a := range as {
		if a.SelectAttrValue("ID", "") == "" {
			return nil, errors.New("assertion without ID")
		}
		if iss, _ := samlxml.ChildText(a, samlxml.NSAssertion, "Issuer"); iss == "" {
			return nil, errors.New("assertion without Issuer")
		}
		if sub, _ := samlxml.Child(a, samlxml.NSAssertion, "Subject"); sub == nil {
			return nil, errors.New("assertion without Subject")
		}
		st, _ := samlxml.Child(a, samlxml.NSAssertion, "AttributeStatement")
		if st == nil {
			return nil, errors.New("assertion without Attribute Statement")
		}
		// checkDates: whole seconds (time() and strtotime()).
		if cond, _ := samlxml.Child(a, samlxml.NSAssertion, "Conditions"); cond != nil {
			if nb, err := samlxml.ParseTime(cond.SelectAttrValue("NotBefore", "")); err == nil && now.Unix() < nb.Unix() {
				return nil, fmt.Errorf("SAML Response still not valid (NotBefore %s)", nb)
			}
			if noa, err := samlxml.ParseTime(cond.SelectAttrValue("NotOnOrAfter", "")); err == nil && now.Unix() >= noa.Unix() {
				return nil, fmt.Errorf("SAML Response validity has expired (NotOnOrAfter %s)", noa)
			}
		}
		for name, at := range storkReadAttributes(st) {
			if at.Status == "" { // "Status is optional. default value is available"
				at.Status = "Available"
			}
			ans.Attributes[name] = at
		}
	}
	for _, m := range mandatory {
		if ans.Attributes[m].Status != "Available" {
			return nil, fmt.Errorf("missing mandatory attribute %s on response", m)
		}
	}
	return ans, nil
}

func storkReadStatus(resp *etree.Element) *storkAnswer {
	ans := &storkAnswer{ResponseID: resp.SelectAttrValue("ID", "")}
	st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status")
	if st == nil {
		return ans
	}
	if sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode"); sc != nil {
		ans.Status = sc.SelectAttrValue("Value", "")
		if sub, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode"); sub != nil {
			ans.SubStatus = sub.SelectAttrValue("Value", "")
		}
	}
	ans.Message, _ = samlxml.ChildText(st, samlxml.NSProtocol, "StatusMessage")
	return ans
}

// storkReadAttributes reads attributes by the name after the last '/'.
func storkReadAttributes(st *etree.Element) map[string]storkAttribute {
	out := map[string]storkAttribute{}
	for _, at := range samlxml.Children(st, samlxml.NSAssertion, "Attribute") {
		full := at.SelectAttrValue("Name", "")
		a := storkAttribute{}
		for _, attr := range at.Attr {
			if attr.Key == "AttributeStatus" && attr.NamespaceURI() == nsStork {
				a.Status = attr.Value
			}
		}
		for _, v := range samlxml.Children(at, samlxml.NSAssertion, "AttributeValue") {
			a.Values = append(a.Values, strings.TrimSpace(v.Text()))
		}
		out[full[strings.LastIndex(full, "/")+1:]] = a
	}
	return out
}

// storkMandatory lists the required attributes of a request.
func storkMandatory(attrs []string) []string {
	var out []string
	for _, a := range attrs {
		name, _, _ := strings.Cut(a, "=")
		if strings.HasSuffix(name, "!") {
			out = append(out, strings.TrimSuffix(name, "!"))
		}
	}
	return out
}

// validateBoth runs both kits' validation on the intercepted answer and
// checks they read the same thing.
func (k *storkKit) validateBoth(t *testing.T, r *storkRequest, form *interopCapture) (*storkAnswer, []byte) {
	t.Helper()
	raw := decodeSAMLField(t, form.SPResponse, "SAMLResponse")
	now := time.Now()
	java, err := javaEngineValidate(raw, k.trust, now)
	if err != nil {
		t.Fatalf("the Java STORK engine refuses the answer: %v\n%s", err, raw)
	}
	rediris, err := redirisValidate(raw, k.cert, r.id, k.acs, storkMandatory(r.attrs), now)
	if err != nil {
		t.Fatalf("RedIRIS' client refuses the answer: %v\n%s", err, raw)
	}
	if java.Status != rediris.Status || java.SubStatus != rediris.SubStatus || java.Issuer != rediris.Issuer {
		t.Fatalf("the kits read different answers: %+v vs %+v", java, rediris)
	}
	return java, raw
}

// TestStorkE2ELogins: both layouts, the Cl@ve 1 POST parameters and the
// identity providers, with every answer validated as each kit does.
func TestStorkE2ELogins(t *testing.T) {
	natural := []string{"eIdentifier!", "givenName!", "surname!", "inheritedFamilyName", "citizenQAALevel", "isdnie", "isAgeOver=18"}
	tests := []struct {
		name string
		auto func(*config.Config)
		req  storkRequest
		// want attributes: value, or "-" for NotAvailable
		want        map[string]string
		issuer      string
		fields      map[string]string // posted next to SAMLResponse ("" = must be absent)
		upstreamOn  []string          // IdP-disable attributes that must go upstream
		upstreamOff []string          // and those that must not
	}{
		{
			name: "Java layout, DNIe, QAA 4",
			auto: autoLogin("AFIRMA", "99999999R", "dnie"),
			req: storkRequest{layout: "java", qaa: "4", attrs: append(natural, "afirmaResponse"),
				params: url.Values{"excludedIdPList": {"none"}, "forcedIdP": {"none"}, "allowLegalPerson": {"false"}}},
			issuer: "AFIRMA",
			want: map[string]string{"eIdentifier": "ES/ES/99999999R", "givenName": "JUAN", "surname": "ESPAÑOL PRUEBAS",
				"inheritedFamilyName": "ESPAÑOL", "citizenQAALevel": "4", "isdnie": "true", "isAgeOver": "-"},
			fields:      map[string]string{"isLegalPerson": "", "oid": "", "RelayState": ""},
			upstreamOff: []string{"AFirmaIdP", "AEATIdP", "GISSIdP", "EIDASIdP"},
		},
		{
			name:   "RedIRIS layout, Cl@ve PIN, QAA 2, RelayState",
			auto:   autoLogin("PIN24H", "12345678Z", ""),
			req:    storkRequest{layout: "rediris", qaa: "2", attrs: natural, params: url.Values{"RelayState": {"https://sp.rediris.example/vuelta?x=1&y=2"}}},
			issuer: "PIN24H",
			want: map[string]string{"eIdentifier": "ES/ES/12345678Z", "givenName": "PEDRO", "surname": "PIN SÁNCHEZ",
				"inheritedFamilyName": "PIN", "citizenQAALevel": "2", "isdnie": "false", "isAgeOver": "-"},
			fields: map[string]string{"RelayState": "https://sp.rediris.example/vuelta?x=1&y=2"},
		},
		{
			name: "Java layout, Cl@ve permanente, QAA 3, aFirma and AEAT excluded",
			auto: autoLogin("SEGSOC", "00000000T", ""),
			req: storkRequest{layout: "java", qaa: "3", attrs: natural,
				params: url.Values{"excludedIdPList": {"aFirma;AEAT;"}, "forcedIdP": {"none"}, "allowLegalPerson": {"false"}}},
			issuer:      "SEGSOC",
			want:        map[string]string{"eIdentifier": "ES/ES/00000000T", "surname": "PERMANENTE GARCÍA", "inheritedFamilyName": "PERMANENTE", "citizenQAALevel": "3"},
			upstreamOn:  []string{"AFirmaIdP", "AEATIdP"},
			upstreamOff: []string{"GISSIdP", "EIDASIdP"},
		},
		{
			name:        "RedIRIS layout, forcedIdP SS",
			auto:        autoLogin("SEGSOC", "00000000T", ""),
			req:         storkRequest{layout: "rediris", qaa: "3", attrs: natural, params: url.Values{"forcedIdP": {"SS"}, "excludedIdPList": {"SS"}}},
			issuer:      "SEGSOC",
			want:        map[string]string{"eIdentifier": "ES/ES/00000000T"},
			upstreamOn:  []string{"AFirmaIdP", "AEATIdP", "EIDASIdP", "CLVMOVILIdP"},
			upstreamOff: []string{"GISSIdP"},
		},
		{
			name:   "Java layout, EU citizen through eIDAS",
			auto:   autoLogin("EIDAS", "T22000129", ""),
			req:    storkRequest{layout: "java", qaa: "3", attrs: []string{"eIdentifier!", "givenName!", "surname", "inheritedFamilyName", "citizenQAALevel", "isdnie"}},
			issuer: "STORK-DE",
			want: map[string]string{"eIdentifier": "DE/ES/T22000129", "givenName": "ERIKA", "surname": "MUSTERMANN",
				"inheritedFamilyName": "MUSTERMANN", "citizenQAALevel": "3", "isdnie": "false"},
		},
		{
			name: "Java layout, legal person, allowLegalPerson=true",
			auto: autoLogin("AFIRMA", "11111111H", "legal"),
			req: storkRequest{layout: "java", qaa: "3", attrs: []string{"eIdentifier!", "givenName!", "surname", "inheritedFamilyName", "isdnie"},
				params: url.Values{"excludedIdPList": {"none"}, "forcedIdP": {"none"}, "allowLegalPerson": {"true"}}},
			issuer: "AFIRMA",
			want: map[string]string{"eIdentifier": "ES/ES/B00000000", "givenName": "EMPRESA DE PRUEBAS SL", "surname": "-",
				"inheritedFamilyName": "-", "isdnie": "false"},
			fields: map[string]string{"isLegalPerson": "true", "oid": storkLegalOID},
		},
		{
			name: "RedIRIS layout, one-surname foreigner (NIE), allowLegalPerson=true",
			auto: autoLogin("PIN24H", "X1234567L", ""),
			req: storkRequest{layout: "rediris", qaa: "2", attrs: []string{"eIdentifier!", "givenName!", "surname!", "inheritedFamilyName"},
				params: url.Values{"allowLegalPerson": {"true"}}},
			issuer: "PIN24H",
			// One surname: inheritedFamilyName == surname, so the SP's split
			// gives an empty second surname.
			want:   map[string]string{"eIdentifier": "ES/ES/X1234567L", "givenName": "JOHN", "surname": "SMITH", "inheritedFamilyName": "SMITH"},
			fields: map[string]string{"isLegalPerson": "false", "oid": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := startStorkKit(t, tt.auto)
			r := tt.req
			lc := k.login(t, &r)
			ans, _ := k.validateBoth(t, &r, lc)
			if !ans.success() {
				t.Fatalf("status %s / %s: %s", ans.Status, ans.SubStatus, ans.Message)
			}
			if ans.Issuer != tt.issuer {
				t.Errorf("Issuer %q, want %q", ans.Issuer, tt.issuer)
			}
			for name, want := range tt.want {
				got, ok := ans.Attributes[name]
				switch {
				case !ok:
					t.Errorf("attribute %s missing", name)
				case want == "-" && (got.Status != "NotAvailable" || len(got.Values) != 0):
					t.Errorf("%s = %+v, want NotAvailable", name, got)
				case want != "-" && (got.Status != "Available" || len(got.Values) != 1 || got.Values[0] != want):
					t.Errorf("%s = %+v, want Available %q", name, got, want)
				}
			}
			for name, want := range tt.fields {
				got, sent := lc.SPResponse.Fields[name]
				if want == "" && sent {
					t.Errorf("field %s posted (%q), want none", name, got)
				} else if want != "" && lc.SPResponse.Fields.Get(name) != want {
					t.Errorf("field %s = %q, want %q", name, lc.SPResponse.Fields.Get(name), want)
				}
			}
			if len(tt.upstreamOn)+len(tt.upstreamOff) > 0 {
				up := decodeSAMLField(t, lc.UpstreamRequest, "SAMLRequest")
				for _, a := range tt.upstreamOn {
					if !bytes.Contains(up, []byte(`Name="http://es.minhafp.clave/`+a+`"`)) {
						t.Errorf("the upstream request does not disable %s", a)
					}
				}
				for _, a := range tt.upstreamOff {
					if bytes.Contains(up, []byte(`Name="http://es.minhafp.clave/`+a+`"`)) {
						t.Errorf("the upstream request disables %s", a)
					}
				}
			}
		})
	}
}

// TestStorkE2ERefusals: logins the bridge cannot serve come back to the
// SP's ACS as a STORK status both kits read.
func TestStorkE2ERefusals(t *testing.T) {
	tests := []struct {
		name     string
		auto     func(*config.Config)
		req      storkRequest
		top      []string // acceptable top-level codes
		sub      []string // acceptable second-level codes
		upstream bool     // whether the login went upstream first
	}{
		{
			// Cl@ve PIN only reaches low: the gateway (here the simulator)
			// refuses and the bridge relays a STORK status.
			name:     "QAA 4 with Cl@ve PIN",
			auto:     autoLogin("PIN24H", "12345678Z", ""),
			req:      storkRequest{layout: "java", qaa: "4", attrs: []string{"eIdentifier!", "givenName!"}},
			top:      []string{storkStatus + "Requester", storkStatus + "Responder"},
			sub:      []string{storkStatus + "RequestDenied", storkQAANotSup, storkStatus + "AuthnFailed"},
			upstream: true,
		},
		{
			name: "allowLegalPerson=true at an SP whose policy forbids legal persons",
			auto: autoLogin("AFIRMA", "11111111H", "legal"),
			req: storkRequest{layout: "rediris", qaa: "3", providerName: storkNoLegalID, attrs: []string{"eIdentifier!"},
				params: url.Values{"allowLegalPerson": {"true"}, "RelayState": {"rs-legal"}}},
			top: []string{storkStatus + "Requester"},
			sub: []string{storkStatus + "RequestDenied"},
		},
		{
			name: "QAA 5",
			auto: autoLogin("PIN24H", "12345678Z", ""),
			req:  storkRequest{layout: "java", qaa: "5", attrs: []string{"eIdentifier!"}},
			top:  []string{storkStatus + "Responder"},
			sub:  []string{storkQAANotSup},
		},
		{
			name:     "the IdP used is excluded by the SP",
			auto:     autoLogin("PIN24H", "12345678Z", ""),
			req:      storkRequest{layout: "java", qaa: "2", attrs: []string{"eIdentifier!"}, params: url.Values{"excludedIdPList": {"AEAT;"}}},
			top:      []string{storkStatus + "Requester", storkStatus + "Responder"},
			sub:      []string{storkStatus + "RequestDenied"},
			upstream: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := startStorkKit(t, tt.auto)
			r := tt.req
			lc := k.login(t, &r)
			ans, _ := k.validateBoth(t, &r, lc)
			t.Logf("status %s / %s: %s", ans.Status, ans.SubStatus, ans.Message)
			if !storkOneOf(ans.Status, tt.top) || !storkOneOf(ans.SubStatus, tt.sub) || ans.Message == "" {
				t.Fatalf("status %q / %q (%q), want one of %v / %v with a message", ans.Status, ans.SubStatus, ans.Message, tt.top, tt.sub)
			}
			if went := lc.UpstreamRequest != nil; went != tt.upstream {
				t.Errorf("went upstream = %v, want %v", went, tt.upstream)
			}
			if _, sent := lc.SPResponse.Fields["isLegalPerson"]; sent {
				t.Error("isLegalPerson posted with a refusal")
			}
			if rs := r.params.Get("RelayState"); rs != "" && lc.SPResponse.Fields.Get("RelayState") != rs {
				t.Errorf("RelayState %q, want %q", lc.SPResponse.Fields.Get("RelayState"), rs)
			}
		})
	}
}

func storkOneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// TestStorkE2EXmlsec1 has xmlsec1 verify both signatures of intercepted
// answers (a success and a failure), and refuse tampered copies.
func TestStorkE2EXmlsec1(t *testing.T) {
	requirePeer(t, "xmlsec1", haveXmlsec1)
	dir := t.TempDir()
	bridgeCert := repoPath("testdata", "keys", "bridge-sign.crt")
	otherCert := repoPath("testdata", "keys", "demo-sp.crt")
	for _, tc := range []struct {
		name   string
		auto   func(*config.Config)
		req    storkRequest
		inside [2]string // a change inside the Assertion
	}{
		{"success", autoLogin("AFIRMA", "99999999R", "dnie"),
			storkRequest{layout: "java", qaa: "4", attrs: []string{"eIdentifier!", "givenName!", "surname"}}, [2]string{">JUAN<", ">JUANA<"}},
		{"failure", autoLogin("PIN24H", "12345678Z", ""),
			storkRequest{layout: "rediris", qaa: "4", attrs: []string{"eIdentifier!"}}, [2]string{"<saml2:OneTimeUse/>", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := startStorkKit(t, tc.auto)
			r := tc.req
			lc := k.login(t, &r)
			_, doc := k.validateBoth(t, &r, lc)
			respID, assertID := samlMessageIDs(t, doc)
			if assertID == "" {
				t.Fatalf("no Assertion:\n%s", doc)
			}
			file := writeInteropFile(t, dir, "stork-"+tc.name+".xml", doc)
			expectXmlsecVerify(t, "the STORK Response signature", file, bridgeCert, respID, true)
			expectXmlsecVerify(t, "the STORK Assertion signature", file, bridgeCert, assertID, true)
			expectXmlsecVerify(t, "the STORK Response against another certificate", file, otherCert, respID, false)
			expectXmlsecVerify(t, "the STORK Assertion against another certificate", file, otherCert, assertID, false)

			inside := writeInteropFile(t, dir, "stork-"+tc.name+"-inside.xml", replaceOnce(t, doc, tc.inside[0], tc.inside[1]))
			expectXmlsecVerify(t, "the Response with a changed Assertion", inside, bridgeCert, respID, false)
			expectXmlsecVerify(t, "the changed Assertion", inside, bridgeCert, assertID, false)
			outside := writeInteropFile(t, dir, "stork-"+tc.name+"-outside.xml",
				replaceOnce(t, doc, `Destination="`+k.acs+`"`, `Destination="https://evil.example/acs"`))
			expectXmlsecVerify(t, "the Response with a changed Destination", outside, bridgeCert, respID, false)
			expectXmlsecVerify(t, "the Assertion of a Response with a changed Destination", outside, bridgeCert, assertID, true)
		})
	}
}

// storkCA makes a test CA and a signing certificate it issues.
func storkCA(t *testing.T, dir, name string) (caCert *x509.Certificate, leafCertFile, leafKeyFile string) {
	t.Helper()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " TEST CA", Country: []string{"ES"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if caCert, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name + " TEST bridge signing", Country: []string{"ES"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	leafCertFile = writeInteropFile(t, dir, name+"-leaf.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}))
	leafKeyFile = writeInteropFile(t, dir, name+"-leaf.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return caCert, leafCertFile, leafKeyFile
}

// TestStorkE2EJavaTrustRule: the Java engine trusts a signing certificate
// equal to a trusted one (the bridge's self-signed test certificate, in
// every other test) or signed by one (a bridge whose certificate a trusted
// CA issued, as the FNMT-issued Cl@ve certificates were).
func TestStorkE2EJavaTrustRule(t *testing.T) {
	dir := t.TempDir()
	ca, leafCert, leafKey := storkCA(t, dir, "clavebridge")
	otherCA, _, _ := storkCA(t, dir, "other")
	k := startStorkKit(t, autoLogin("SEGSOC", "00000000T", ""), func(cfg *config.Config) {
		cfg.Keys.Signing = config.KeyPair{Cert: leafCert, Key: leafKey}
	})
	leaf := storkReadCert(t, leafCert)
	k.cert = leaf // RedIRIS pins the certificate itself
	r := storkRequest{layout: "java", qaa: "3", attrs: []string{"eIdentifier!"}}
	lc := k.login(t, &r)
	raw := decodeSAMLField(t, lc.SPResponse, "SAMLResponse")
	now := time.Now()

	for _, tc := range []struct {
		name  string
		trust []*x509.Certificate
		ok    bool
	}{
		{"signed by the trusted CA", []*x509.Certificate{ca}, true},
		{"equal to the trusted certificate", []*x509.Certificate{leaf}, true},
		{"CA among others", []*x509.Certificate{storkReadCert(t, repoPath("testdata", "keys", "bridge-sign.crt")), ca}, true},
		{"another CA", []*x509.Certificate{otherCA}, false},
		{"the committed bridge certificate only", []*x509.Certificate{storkReadCert(t, repoPath("testdata", "keys", "bridge-sign.crt"))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, err := javaEngineValidate(raw, tc.trust, now)
			if tc.ok && (err != nil || !ans.success() || ans.Attributes["eIdentifier"].Values[0] != "ES/ES/00000000T") {
				t.Fatalf("refused: %v (%+v)", err, ans)
			}
			if !tc.ok && err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("RedIRIS with the pinned certificate", func(t *testing.T) {
		if _, err := redirisValidate(raw, leaf, r.id, k.acs, []string{"eIdentifier"}, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a certificate outside its validity", func(t *testing.T) {
		if _, err := javaEngineValidate(raw, []*x509.Certificate{ca}, leaf.NotAfter.Add(time.Hour)); err == nil {
			t.Fatal("an expired signing certificate was trusted")
		}
	})
}

// TestStorkE2EValidatorsAreStrict: the kit validators of these tests do
// refuse what the kits refuse, so that their acceptance above means something.
func TestStorkE2EValidatorsAreStrict(t *testing.T) {
	k := startStorkKit(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	r := storkRequest{layout: "java", qaa: "4", attrs: []string{"eIdentifier!", "givenName!", "gender"}}
	lc := k.login(t, &r)
	raw := decodeSAMLField(t, lc.SPResponse, "SAMLResponse")
	now := time.Now()
	if _, err := javaEngineValidate(raw, k.trust, now); err != nil {
		t.Fatal(err)
	}
	if _, err := redirisValidate(raw, k.cert, r.id, k.acs, []string{"eIdentifier", "givenName"}, now); err != nil {
		t.Fatal(err)
	}
	demo := storkReadCert(t, repoPath("testdata", "keys", "demo-sp.crt"))
	tampered := bytes.Replace(raw, []byte(">JUAN<"), []byte(">JUANA<"), 1)
	for name, err := range map[string]error{
		"java: untrusted certificate": func() error { _, err := javaEngineValidate(raw, []*x509.Certificate{demo}, now); return err }(),
		"java: after NotOnOrAfter":    func() error { _, err := javaEngineValidate(raw, k.trust, now.Add(6*time.Minute)); return err }(),
		"java: tampered":              func() error { _, err := javaEngineValidate(tampered, k.trust, now); return err }(),
		"rediris: other request ID": func() error {
			_, err := redirisValidate(raw, k.cert, "_other", k.acs, nil, now)
			return err
		}(),
		"rediris: other ACS": func() error {
			_, err := redirisValidate(raw, k.cert, r.id, k.acs+"/x", nil, now)
			return err
		}(),
		"rediris: mandatory attribute NotAvailable": func() error {
			_, err := redirisValidate(raw, k.cert, r.id, k.acs, []string{"gender"}, now)
			return err
		}(),
		"rediris: other certificate": func() error { _, err := redirisValidate(raw, demo, r.id, k.acs, nil, now); return err }(),
		"rediris: tampered":          func() error { _, err := redirisValidate(tampered, k.cert, r.id, k.acs, nil, now); return err }(),
		"rediris: expired": func() error {
			_, err := redirisValidate(raw, k.cert, r.id, k.acs, nil, now.Add(6*time.Minute))
			return err
		}(),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
