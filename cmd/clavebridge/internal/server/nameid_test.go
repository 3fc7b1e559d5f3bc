package server

// End-to-end tests of issue 11, item 3: an SP's attribute policy governs
// every identifier it receives. Without the PersonIdentifier released, the
// SAML2 and Cl@ve 2 NameIDs are transient or pairwise, the STORK
// eIdentifier is NotAvailable, and the LogoutRequests the bridge sends name
// the pairwise NameID; the citizen's DNI appears nowhere in what an SP gets.

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	nidCitizen     = "00000000T" // the SEGSOC auto-login citizen
	nidPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nidTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nidUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	nidSP2Path     = "/nid/sp2" // a second SAML2 SP (demo-sp key), nobody listening
)

// nidWithheld is an attribute policy without the PersonIdentifier; it lists
// PartialAfirma, which is withheld all the same (it carries the identifier).
var nidWithheld = []string{
	string(translate.AttrGivenName), string(translate.AttrFamilyName), string(translate.AttrFirstSurname),
	string(translate.AttrSelectedIdP), string(translate.AttrDateOfBirth), string(translate.AttrPartialAfirma),
}

// nidDemoSP reports whether c is one of the three demo SPs.
func nidDemoSP(c config.SPConfig) bool {
	return strings.HasSuffix(c.ID, "/demo/saml2/metadata") || c.ID == "S2800000X_E00000001" || c.ID == "demo_stork_sp"
}

// nidConfig signs the simulator's SEGSOC citizen in, withholds the
// PersonIdentifier from the demo SPs when withhold is set, and registers a
// second SAML2 SP (the demo SP's key) that never gets it.
func nidConfig(withhold bool) func(*config.Config) {
	return nidConfigFor(autoLogin("SEGSOC", nidCitizen, ""), withhold)
}

// nidConfigFor is nidConfig with another auto-login.
func nidConfigFor(auto func(*config.Config), withhold bool) func(*config.Config) {
	return func(cfg *config.Config) {
		auto(cfg)
		for i := range cfg.ServiceProviders {
			if withhold && nidDemoSP(cfg.ServiceProviders[i]) {
				cfg.ServiceProviders[i].Attributes = nidWithheld
			}
		}
		base := cfg.Server.BaseURL + nidSP2Path
		signed := true
		cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{
			ID: base + "/metadata", Name: "Second SAML2 SP (test)", Dialect: "saml2",
			Certs: []string{"testdata/keys/demo-sp.crt"}, ReturnURLs: []string{base + "/acs"}, LogoutURLs: []string{base + "/slo"},
			MinLoA: "low", Attributes: nidWithheld, RequireSigned: &signed, SignatureAlgorithm: "rsa-sha256",
		})
	}
}

// nidAnswer is what an SP received: the status, the identifiers, the
// attributes by short name, and every byte of it (form fields, the
// Response, the decrypted assertion) for the leak check.
type nidAnswer struct {
	Status, SubStatus    string
	NameID, NameIDFormat string
	SessionIndex         string
	Issuer               string // the Response's
	Attrs                map[string][]string
	All                  []byte
}

// leaks reports whether the citizen's identifier (by default the SEGSOC
// citizen's) appears anywhere in the answer.
func (a *nidAnswer) leaks(id ...string) bool {
	if len(id) == 0 {
		id = []string{nidCitizen}
	}
	return bytes.Contains(a.All, []byte(id[0]))
}

// nidDecode reads the answer form the bridge posts to an SP: the Response
// signature checked with the bridge's certificate, an encrypted assertion
// opened with key (the demo SPs' key).
func nidDecode(t *testing.T, form *browser.Form, key samlxmltest.Pair) *nidAnswer {
	t.Helper()
	if form == nil {
		t.Fatal("no answer posted to the SP")
	}
	a := &nidAnswer{Attrs: map[string][]string{}}
	for name, vs := range form.Fields {
		if name != "SAMLResponse" {
			a.All = append(a.All, []byte(name+"="+strings.Join(vs, ",")+"\n")...)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(form.Fields.Get("SAMLResponse"))
	if err != nil || len(raw) == 0 {
		t.Fatalf("SAMLResponse: %v", err)
	}
	a.All = append(a.All, raw...)
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{samlxmltest.Committed(t, "bridge-sign").Cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatalf("the Response does not verify with the bridge's certificate: %v", err)
	}
	resp := v.Element
	a.Issuer, _ = samlxml.ChildText(resp, samlxml.NSAssertion, "Issuer")
	if st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status"); st != nil {
		if sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode"); sc != nil {
			a.Status = strings.TrimPrefix(sc.SelectAttrValue("Value", ""), clave2msg.StatusPrefix)
			if sub, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode"); sub != nil {
				a.SubStatus = sub.SelectAttrValue("Value", "")
			}
		}
	}
	assertion, _ := samlxml.Child(resp, samlxml.NSAssertion, "Assertion")
	if enc, _ := samlxml.Child(resp, samlxml.NSAssertion, "EncryptedAssertion"); enc != nil {
		ed, _ := samlxml.Child(enc, samlxml.NSXMLEnc, "EncryptedData")
		if ed == nil {
			t.Fatal("EncryptedAssertion without EncryptedData")
		}
		if assertion, err = samlxml.Decrypt(ed, key.Decrypter(), samlxml.DefaultMaxMessageBytes); err != nil {
			t.Fatalf("the SP's key does not open the assertion: %v", err)
		}
		plain, err := samlxml.Serialize(assertion)
		if err != nil {
			t.Fatal(err)
		}
		a.All = append(a.All, plain...)
	}
	if assertion == nil {
		return a
	}
	if nid := assertion.FindElement("./Subject/NameID"); nid != nil {
		a.NameID, a.NameIDFormat = nid.Text(), nid.SelectAttrValue("Format", "")
	}
	if as := assertion.FindElement("./AuthnStatement"); as != nil {
		a.SessionIndex = as.SelectAttrValue("SessionIndex", "")
	}
	for _, at := range assertion.FindElements("./AttributeStatement/Attribute") {
		name := at.SelectAttrValue("FriendlyName", "")
		if full := at.SelectAttrValue("Name", ""); name == "" {
			name = full[strings.LastIndex(full, "/")+1:]
		}
		values := []string{}
		for _, v := range at.SelectElements("AttributeValue") {
			values = append(values, v.Text())
		}
		a.Attrs[name] = values
	}
	return a
}

// nidFollow posts fields to u in b and follows the browser to the form the
// bridge posts to acs (not submitted).
func nidFollow(t *testing.T, b *browser.Browser, u string, fields url.Values, acs string) (*browser.Form, error) {
	t.Helper()
	page, err := b.Post(u, fields)
	if err != nil {
		return nil, err
	}
	last, form, err := b.FollowPosts(page, func(f browser.Form) bool { return f.Action == acs })
	if err == nil && form == nil {
		t.Fatalf("no answer posted to %s; stopped at %s (status %d): %.1500s", acs, last.URL, last.Status, last.Body)
	}
	return form, err
}

// nidSAML2 logs b in to the SAML2 SP sp (the demo SP or nidSP2Path) asking
// for format, and returns its answer.
func nidSAML2(t *testing.T, h *harness, b *browser.Browser, sp, format string) *nidAnswer {
	t.Helper()
	demo := samlxmltest.Committed(t, "demo-sp")
	ar := &clave2msg.AuthnRequest{
		ID: freshID(), IssueInstant: time.Now().UTC(), Destination: h.URL + "/saml2/sso", ACS: h.URL + sp + "/acs",
		Issuer: h.URL + sp + "/metadata", NameIDFormat: format, Comparison: "minimum", LoAs: []string{translate.LoALow.EIDAS()},
	}
	form, err := nidFollow(t, b, h.URL+"/saml2/sso", b64Form(signEl(t, ar.Element(), demo, samlxml.RSASHA256), "nid"), ar.ACS)
	if err != nil {
		t.Fatal(err)
	}
	return nidDecode(t, form, demo)
}

// nidClave2 logs b in to the demo Cl@ve 2.0 kit asking for format; the
// PersonIdentifier is requested, not required.
func nidClave2(t *testing.T, h *harness, b *browser.Browser, format string) *nidAnswer {
	t.Helper()
	demo := samlxmltest.Committed(t, "demo-sp")
	ar := &clave2msg.AuthnRequest{
		ID: freshID(), IssueInstant: time.Now().UTC(), Destination: h.URL + kitProxyPath, ACS: h.URL + "/demo/clave2/acs",
		ProviderName: "S2800000X_E00000001;nid", Consent: clave2msg.ConsentUnspec, HasNameIDPolicy: true, NameIDFormat: format,
		Comparison: "minimum", LoAs: []string{translate.LoALow.EIDAS()},
	}
	for _, a := range []struct {
		attr     translate.Attr
		required bool
	}{{translate.AttrPersonIdentifier, false}, {translate.AttrGivenName, true}, {translate.AttrFamilyName, true}, {translate.AttrPartialAfirma, false}} {
		w, _ := translate.Wire(a.attr)
		ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{Name: w.Name, FriendlyName: w.FriendlyName, Required: a.required})
	}
	ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{Name: translate.ClaveRelayStateAttr, FriendlyName: "RelayState", Values: []string{"nidrelay"}})
	xml := signEl(t, ar.Element(), demo, samlxml.RSASHA512)
	form, err := nidFollow(t, b, h.URL+kitProxyPath, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}, "RelayState": {"nidrelay"}}, ar.ACS)
	if err != nil {
		t.Fatal(err)
	}
	return nidDecode(t, form, demo)
}

// nidStork logs b in to the demo Cl@ve 1 SP, eIdentifier and afirmaResponse
// requested, not required.
func nidStork(t *testing.T, h *harness, b *browser.Browser) *nidAnswer {
	t.Helper()
	demo := samlxmltest.Committed(t, "demo-sp")
	acs := h.URL + "/demo/stork/acs"
	k := &storkKit{h: h, key: demo, acs: acs}
	xml := k.build(t, &storkRequest{layout: "java", qaa: "2", providerName: "demo_stork_sp",
		attrs: []string{"eIdentifier", "givenName!", "surname", "afirmaResponse"}})
	// the demo SP has no legacy SHA-1: sign with SHA-256 digests
	xml = resignXML(t, []byte(strings.TrimPrefix(string(xml), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")), demo, nil)
	form, err := nidFollow(t, b, h.URL+"/Proxy/ServiceProvider", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}}, acs)
	if err != nil {
		t.Fatal(err)
	}
	return nidDecode(t, form, demo)
}

// TestNameIDPolicyEndToEnd: dialect × NameID format × policy through the
// whole bridge (simulator included): what each demo SP receives as
// identifier and attributes, with the PersonIdentifier released and
// withheld; withheld, the citizen's DNI appears nowhere in the answer.
func TestNameIDPolicyEndToEnd(t *testing.T) {
	const (
		dni       = "ES/ES/" + nidCitizen
		pairwise  = "pairwise"  // stable, opaque, not the DNI
		transient = "transient" // fresh per login
		absent    = "absent"
	)
	tests := []struct {
		dialect, format string
		released        bool
		nameID, nameFmt string // for STORK: eIdentifier (dni or absent)
	}{
		{"saml2", nidPersistent, true, dni, nidPersistent},
		{"saml2", nidPersistent, false, pairwise, nidPersistent},
		{"saml2", nidTransient, true, transient, nidTransient},
		{"saml2", nidTransient, false, transient, nidTransient},
		{"saml2", nidUnspecified, false, transient, nidTransient},
		{"clave2", nidUnspecified, true, dni, nidUnspecified},
		{"clave2", nidUnspecified, false, pairwise, nidPersistent},
		{"clave2", nidPersistent, true, dni, nidPersistent},
		{"clave2", nidPersistent, false, pairwise, nidPersistent},
		{"clave2", nidTransient, false, transient, nidTransient},
		{"stork", "", true, dni, ""},
		{"stork", "", false, absent, ""},
	}
	harnesses := map[bool]*harness{}
	persistent := map[string]string{} // dialect → pairwise NameID seen (withheld)
	for _, released := range []bool{true, false} {
		harnesses[released] = startHarness(t, nidConfig(!released))
	}
	for _, tt := range tests {
		name := tt.dialect + "/" + strings.TrimPrefix(tt.format, "urn:oasis:names:tc:SAML:") + map[bool]string{true: "/released", false: "/withheld"}[tt.released]
		t.Run(name, func(t *testing.T) {
			h := harnesses[tt.released]
			b := browser.New(http.DefaultTransport)
			var a *nidAnswer
			switch tt.dialect {
			case "saml2":
				a = nidSAML2(t, h, b, "/demo/saml2", tt.format)
			case "clave2":
				a = nidClave2(t, h, b, tt.format)
			default:
				a = nidStork(t, h, b)
			}
			if a.Status != "Success" {
				t.Fatalf("status %s %s", a.Status, a.SubStatus)
			}
			got := a.NameID
			if tt.dialect == "stork" {
				if a.NameID != nidUnspecified { // Cl@ve 1's NameID is the format URI
					t.Errorf("STORK NameID %q", a.NameID)
				}
				got = absent
				if v := a.Attrs["eIdentifier"]; len(v) == 1 {
					got = v[0]
				}
			} else if a.NameIDFormat != tt.nameFmt {
				t.Errorf("NameID format %q, want %q", a.NameIDFormat, tt.nameFmt)
			}
			switch tt.nameID {
			case pairwise:
				if len(got) != 43 || got == dni {
					t.Errorf("NameID %q, want a pairwise identifier", got)
				}
				persistent[tt.dialect+tt.format] = got
			case transient:
				if got == "" || got == dni || len(got) == 43 {
					t.Errorf("NameID %q, want a transient identifier", got)
				}
			default:
				if got != tt.nameID {
					t.Errorf("identifier %q, want %q", got, tt.nameID)
				}
			}
			pid := a.Attrs["PersonIdentifier"]
			if tt.dialect == "stork" {
				pid = a.Attrs["eIdentifier"]
			}
			if (len(pid) == 1 && pid[0] == dni) != tt.released {
				t.Errorf("PersonIdentifier attribute %v with the identifier released %v", pid, tt.released)
			}
			if !tt.released {
				if a.leaks() {
					t.Errorf("the DNI reaches the SP:\n%s", a.All)
				}
				for _, withheld := range []string{"PartialAfirma", "afirmaResponse"} {
					if v, ok := a.Attrs[withheld]; ok && len(v) > 0 {
						t.Errorf("%s released without the identifier", withheld)
					}
				}
			}
		})
	}
	// One SP, one pairwise identifier, whatever the format it asked.
	if a, b := persistent["clave2"+nidUnspecified], persistent["clave2"+nidPersistent]; a == "" || a != b {
		t.Errorf("the Cl@ve 2 kit's pairwise NameIDs %q and %q differ", a, b)
	}
	if a, b := persistent["saml2"+nidPersistent], persistent["clave2"+nidPersistent]; a == "" || a == b {
		t.Errorf("two SPs share the pairwise NameID %q", a)
	}
	for _, h := range harnesses {
		assertNoPersonalData(t, h.Logs, nidCitizen)
	}
}

// TestPairwiseStableAndUnlinkable: two SAML2 SPs that may not see the
// PersonIdentifier get different persistent NameIDs; each is the same in
// two separate logins and when answered from the SSO session.
func TestPairwiseStableAndUnlinkable(t *testing.T) {
	h := startHarness(t, nidConfig(true))
	first := nidSAML2(t, h, browser.New(http.DefaultTransport), "/demo/saml2", nidPersistent)
	b := browser.New(http.DefaultTransport)
	second := nidSAML2(t, h, b, "/demo/saml2", nidPersistent)
	other := nidSAML2(t, h, b, nidSP2Path, nidPersistent) // from the session
	again := nidSAML2(t, h, b, nidSP2Path, nidPersistent)
	if got := h.Logs.FilterMessage("SSO session reused").Len(); got < 2 {
		t.Fatalf("%d SSO reuses, want the second SP answered from the session", got)
	}
	switch {
	case first.NameID == "" || first.NameID != second.NameID:
		t.Fatalf("one SP, two logins: %q then %q", first.NameID, second.NameID)
	case other.NameID == "" || other.NameID == first.NameID:
		t.Fatalf("two SPs: %q and %q", first.NameID, other.NameID)
	case other.NameID != again.NameID:
		t.Fatalf("the second SP's NameID changed on reuse: %q then %q", other.NameID, again.NameID)
	}
	for _, a := range []*nidAnswer{first, second, other, again} {
		if a.NameIDFormat != nidPersistent || a.leaks() {
			t.Fatalf("answer %s (%s) leaks %v", a.NameID, a.NameIDFormat, a.leaks())
		}
	}
	assertNoPersonalData(t, h.Logs, nidCitizen)
}

// TestLogoutNamesThePairwiseNameID: in single logout the bridge's
// LogoutRequest to an SP that may not see the PersonIdentifier names the
// pairwise NameID it was given, never the DNI; the SP's own LogoutRequest
// naming its pairwise NameID and session index starts the logout.
func TestLogoutNamesThePairwiseNameID(t *testing.T) {
	h := startHarness(t, nidConfig(true))
	demo := samlxmltest.Committed(t, "demo-sp")
	b := browser.New(http.DefaultTransport)
	one := nidSAML2(t, h, b, "/demo/saml2", nidPersistent)
	two := nidSAML2(t, h, b, nidSP2Path, nidPersistent)
	if one.NameID == two.NameID || two.SessionIndex == "" {
		t.Fatalf("NameIDs %q and %q, session index %q", one.NameID, two.NameID, two.SessionIndex)
	}
	now := time.Now().UTC()
	lr := &clave2msg.LogoutRequest{
		ID: freshID(), IssueInstant: now, Destination: h.URL + "/saml2/slo", Issuer: h.URL + nidSP2Path + "/metadata",
		NameID: two.NameID, NameIDFormat: nidPersistent, SessionIndexes: []string{two.SessionIndex},
		NotOnOrAfter: now.Add(time.Minute), Reason: clave2msg.LogoutReasonUser,
	}
	demoSLO := h.URL + "/demo/saml2/slo"
	form, err := nidFollow(t, b, h.URL+"/saml2/slo", b64Form(signEl(t, lr.Element(), demo, samlxml.RSASHA256), "nid-slo"), demoSLO)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(form.Fields.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(nidCitizen)) {
		t.Fatalf("the LogoutRequest carries the DNI:\n%s", raw)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	told, err := clave2msg.ParseLogoutRequest(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	if told.NameID != one.NameID || told.NameIDFormat != nidPersistent || !slices.Equal(told.SessionIndexes, []string{one.SessionIndex}) {
		t.Fatalf("the demo SP is told NameID %q (%s) %v, want %q %s", told.NameID, told.NameIDFormat, told.SessionIndexes, one.NameID, one.SessionIndex)
	}
	assertNoPersonalData(t, h.Logs, nidCitizen)
}
