package stork

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"reflect"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

const excC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

// renderRaw renders res for req and returns the raw Response bytes and the
// posted fields.
func (f *stFixture) renderRaw(t *testing.T, req *bridge.Request, res bridge.Result) ([]byte, map[string]string) {
	t.Helper()
	out, err := f.ep.Render(context.Background(), f.reg, req, res)
	if err != nil {
		t.Fatal(err)
	}
	if out.URL != req.ReturnURL {
		t.Fatalf("posted to %q, want the request's ACS %q", out.URL, req.ReturnURL)
	}
	fields := map[string]string{}
	for _, fl := range out.Fields {
		fields[fl.Name] = fl.Value
	}
	raw, err := base64.StdEncoding.DecodeString(fields["SAMLResponse"])
	if err != nil {
		t.Fatal(err)
	}
	return raw, fields
}

// childTags lists el's child elements as prefix:tag.
func childTags(el *etree.Element) []string {
	var out []string
	for _, c := range el.ChildElements() {
		out = append(out, c.FullTag())
	}
	return out
}

// checkSignature checks the signature profile of el's ds:Signature.
func checkSignature(t *testing.T, what string, el *etree.Element, bridgeCert *x509.Certificate) {
	t.Helper()
	sig := el.SelectElement("Signature")
	if sig == nil || sig.NamespaceURI() != samlxml.NSDSig {
		t.Fatalf("%s: no ds:Signature", what)
	}
	alg := func(path string) string {
		e := sig.FindElement(path)
		if e == nil {
			t.Fatalf("%s: no %s in the Signature", what, path)
		}
		return e.SelectAttrValue("Algorithm", "")
	}
	if got := alg("./SignedInfo/CanonicalizationMethod"); got != excC14N {
		t.Errorf("%s: CanonicalizationMethod %s", what, got)
	}
	if got := alg("./SignedInfo/SignatureMethod"); got != samlxml.RSASHA256 {
		t.Errorf("%s: SignatureMethod %s, want rsa-sha256", what, got)
	}
	ref := sig.FindElement("./SignedInfo/Reference")
	if ref == nil || ref.SelectAttrValue("URI", "") != "#"+el.SelectAttrValue("ID", "") {
		t.Fatalf("%s: Reference is not to #ID", what)
	}
	transforms := ref.FindElements("./Transforms/Transform")
	if len(transforms) != 2 || transforms[0].SelectAttrValue("Algorithm", "") != "http://www.w3.org/2000/09/xmldsig#enveloped-signature" ||
		transforms[1].SelectAttrValue("Algorithm", "") != excC14N {
		t.Fatalf("%s: transforms are not enveloped + exc-c14n", what)
	}
	incl := transforms[1].SelectElement("InclusiveNamespaces")
	if incl == nil || incl.NamespaceURI() != excC14N || incl.SelectAttrValue("PrefixList", "") != "xs" {
		t.Errorf("%s: exc-c14n transform without InclusiveNamespaces PrefixList=\"xs\"", what)
	}
	if got := alg("./SignedInfo/Reference/DigestMethod"); got == "" {
		t.Errorf("%s: no DigestMethod", what)
	}
	kc := sig.FindElement("./KeyInfo/X509Data/X509Certificate")
	if kc == nil {
		t.Fatalf("%s: no KeyInfo/X509Data/X509Certificate (the Java engine reads the certificate there)", what)
	}
	der, err := base64.StdEncoding.DecodeString(kc.Text())
	if err != nil || !bytes.Equal(der, bridgeCert.Raw) {
		t.Errorf("%s: KeyInfo certificate is not the bridge's", what)
	}
}

// TestStorkResponseShape: the answer exactly as the Cl@ve 1 gateway wrote
// it (Java STORK engine).
func TestStorkResponseShape(t *testing.T) {
	f := newStFixture(t)
	req := stRequest(t, false, "eIdentifier!", "givenName!", "surname", "inheritedFamilyName", "dateOfBirth", "isAgeOver")
	res := success(translate.IdPAfirma, translate.LoAHigh, "ES/ES/99999999R", attrs(
		string(translate.AttrGivenName), "JUAN", string(translate.AttrFamilyName), "ESPAÑOL PRUEBAS",
		string(translate.AttrFirstSurname), "ESPAÑOL", string(translate.AttrDateOfBirth), "1980-01-01")...)
	raw, fields := f.renderRaw(t, req, res)
	if len(fields) != 1 {
		t.Errorf("fields = %v, want only SAMLResponse (no RelayState sent, no allowLegalPerson)", fields)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	root := doc.Root()

	t.Run("root namespaces and prefixes", func(t *testing.T) {
		if root.FullTag() != "saml2p:Response" || root.NamespaceURI() != samlxml.NSProtocol {
			t.Fatalf("root is %s", root.FullTag())
		}
		declared := map[string]string{}
		for _, a := range root.Attr {
			if a.Space == "xmlns" {
				declared[a.Key] = a.Value
			} else if a.Space == "" && a.Key == "xmlns" {
				t.Errorf("default namespace declared on the root: %s", a.Value)
			}
		}
		want := map[string]string{
			"saml2p": samlxml.NSProtocol, "ds": samlxml.NSDSig, "saml2": samlxml.NSAssertion,
			"stork": NSStork, "storkp": NSStorkP, "xs": samlxml.NSXS,
		}
		if !reflect.DeepEqual(declared, want) {
			t.Errorf("root declares %v, want %v", declared, want)
		}
		for _, kv := range [][2]string{
			{"Consent", "urn:oasis:names:tc:SAML:2.0:consent:obtained"}, {"Destination", stACS},
			{"InResponseTo", "_request1"}, {"Version", "2.0"}, {"IssueInstant", samlxml.FormatTime(stNow)},
		} {
			if got := root.SelectAttrValue(kv[0], ""); got != kv[1] {
				t.Errorf("Response/@%s = %q, want %q", kv[0], got, kv[1])
			}
		}
	})

	assertion := root.SelectElement("Assertion")
	if assertion == nil {
		t.Fatal("no Assertion")
	}

	t.Run("element order, Signature right after Issuer", func(t *testing.T) {
		if got := childTags(root); !reflect.DeepEqual(got, []string{"saml2:Issuer", "ds:Signature", "saml2p:Status", "saml2:Assertion"}) {
			t.Errorf("Response children %v", got)
		}
		want := []string{"saml2:Issuer", "ds:Signature", "saml2:Subject", "saml2:Conditions", "saml2:AuthnStatement", "saml2:AttributeStatement"}
		if got := childTags(assertion); !reflect.DeepEqual(got, want) {
			t.Errorf("Assertion children %v, want %v", got, want)
		}
	})

	t.Run("signature profile", func(t *testing.T) {
		checkSignature(t, "Response", root, f.bridge.Cert)
		checkSignature(t, "Assertion", assertion, f.bridge.Cert)
	})

	t.Run("both signatures verify with the bridge certificate", func(t *testing.T) {
		verifier := samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}}
		resp, err := verifier.Verify(root)
		if err != nil {
			t.Fatalf("Response: %v", err)
		}
		inner := resp.Element.SelectElement("Assertion")
		if inner == nil {
			t.Fatal("no Assertion in the verified Response")
		}
		if _, err := verifier.Verify(inner); err != nil {
			t.Fatalf("Assertion inside the verified Response: %v", err)
		}
		other := samlxml.Verifier{Certs: []*x509.Certificate{f.sp.Cert}}
		if _, err := other.Verify(root); err == nil {
			t.Fatal("the Response verifies with another certificate")
		}
	})

	t.Run("Issuers", func(t *testing.T) {
		for _, el := range []*etree.Element{root, assertion} {
			iss := el.SelectElement("Issuer")
			if iss.Text() != "AFIRMA" || iss.SelectAttrValue("Format", "") != "urn:oasis:names:tc:SAML:2.0:nameid-format:entity" {
				t.Errorf("%s Issuer = %q (Format %q)", el.Tag, iss.Text(), iss.SelectAttrValue("Format", ""))
			}
		}
	})

	notOnOrAfter := samlxml.FormatTime(stNow.Add(5 * time.Minute))
	t.Run("Subject", func(t *testing.T) {
		nid := assertion.FindElement("./Subject/NameID")
		if nid == nil || nid.SelectAttrValue("Format", "") != "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" {
			t.Fatalf("NameID %v", nid)
		}
		sc := assertion.FindElement("./Subject/SubjectConfirmation")
		if sc == nil || sc.SelectAttrValue("Method", "") != "urn:oasis:names:tc:SAML:2.0:cm:bearer" {
			t.Fatal("no bearer SubjectConfirmation")
		}
		scd := sc.SelectElement("SubjectConfirmationData")
		for _, kv := range [][2]string{{"InResponseTo", "_request1"}, {"NotOnOrAfter", notOnOrAfter}, {"Recipient", stACS}, {"Address", stACS}} {
			if got := scd.SelectAttrValue(kv[0], ""); got != kv[1] {
				t.Errorf("SubjectConfirmationData/@%s = %q, want %q", kv[0], got, kv[1])
			}
		}
	})

	t.Run("Conditions", func(t *testing.T) {
		cond := assertion.SelectElement("Conditions")
		if cond.SelectAttrValue("NotBefore", "") != samlxml.FormatTime(stNow) || cond.SelectAttrValue("NotOnOrAfter", "") != notOnOrAfter {
			t.Errorf("Conditions NotBefore %q NotOnOrAfter %q", cond.SelectAttrValue("NotBefore", ""), cond.SelectAttrValue("NotOnOrAfter", ""))
		}
		aud := cond.FindElement("./AudienceRestriction/Audience")
		if aud == nil || aud.Text() != "http://S-PEPS.gov.xx" {
			t.Errorf("Audience %v, want the request Issuer", aud)
		}
		if cond.SelectElement("OneTimeUse") == nil {
			t.Error("no OneTimeUse")
		}
	})

	t.Run("AuthnStatement", func(t *testing.T) {
		as := assertion.SelectElement("AuthnStatement")
		if as.SelectAttrValue("AuthnInstant", "") == "" || as.FindElement("./SubjectLocality[@Address='"+stACS+"']") == nil ||
			as.FindElement("./AuthnContext/AuthnContextDecl") == nil {
			t.Error("AuthnStatement is not AuthnInstant + SubjectLocality(ACS) + AuthnContext/AuthnContextDecl")
		}
	})

	t.Run("AttributeStatement", func(t *testing.T) {
		st := assertion.SelectElement("AttributeStatement")
		want := []struct{ name, status, value string }{
			{"eIdentifier", "Available", "ES/ES/99999999R"}, {"givenName", "Available", "JUAN"},
			{"surname", "Available", "ESPAÑOL PRUEBAS"}, {"inheritedFamilyName", "Available", "ESPAÑOL"},
			{"dateOfBirth", "Available", "19800101"}, {"isAgeOver", "NotAvailable", ""},
		}
		ats := st.ChildElements()
		if len(ats) != len(want) {
			t.Fatalf("%d attributes, want %d (request order)", len(ats), len(want))
		}
		for i, w := range want {
			at := ats[i]
			if at.FullTag() != "saml2:Attribute" || at.SelectAttrValue("Name", "") != AttrPrefix+w.name ||
				at.SelectAttrValue("NameFormat", "") != "urn:oasis:names:tc:SAML:2.0:attrname-format:uri" {
				t.Errorf("attribute %d: %s Name=%q NameFormat=%q", i, at.FullTag(), at.SelectAttrValue("Name", ""), at.SelectAttrValue("NameFormat", ""))
			}
			status := at.SelectAttr("stork:AttributeStatus")
			if status == nil || status.NamespaceURI() != NSStork || status.Value != w.status {
				t.Errorf("%s: stork:AttributeStatus %v, want %s", w.name, status, w.status)
			}
			values := at.ChildElements()
			if w.value == "" {
				if len(values) != 0 {
					t.Errorf("%s: NotAvailable with values", w.name)
				}
				continue
			}
			if len(values) != 1 || values[0].FullTag() != "saml2:AttributeValue" || values[0].Text() != w.value {
				t.Errorf("%s: values %v, want %q", w.name, childTags(at), w.value)
				continue
			}
			xt := values[0].SelectAttr("xsi:type")
			if xt == nil || xt.Value != "xs:anyType" || xt.NamespaceURI() != samlxml.NSXSI {
				t.Errorf("%s: xsi:type %v, want xs:anyType", w.name, xt)
			}
		}
	})

	t.Run("Status", func(t *testing.T) {
		code, sub, msg := statusOf(root)
		if code != statusSuccess || sub != "" || msg != statusSuccess {
			t.Errorf("status %q / %q / %q, want Success with the Success URI as StatusMessage", code, sub, msg)
		}
	})
}

// TestStorkIssuerByIdP: response and assertion Issuer name the IdP used.
func TestStorkIssuerByIdP(t *testing.T) {
	f := newStFixture(t)
	for _, tc := range []struct {
		idp     translate.IdP
		subject string
		want    string
	}{
		{translate.IdPAfirma, "ES/ES/99999999R", "AFIRMA"},
		{translate.IdPPin24H, "ES/ES/12345678Z", "PIN24H"},
		{translate.IdPSegSoc, "ES/ES/00000000T", "SEGSOC"},
		{translate.IdPEIDAS, "DE/ES/T22000129", "STORK-DE"},
	} {
		raw, _ := f.renderRaw(t, stRequest(t, false, "eIdentifier!"), success(tc.idp, translate.LoASubstantial, tc.subject))
		resp := f.verifyAnswer(t, base64.StdEncoding.EncodeToString(raw))
		a := resp.SelectElement("Assertion")
		if resp.SelectElement("Issuer").Text() != tc.want || a.SelectElement("Issuer").Text() != tc.want {
			t.Errorf("%s: Issuers %q / %q, want %q", tc.idp, resp.SelectElement("Issuer").Text(), a.SelectElement("Issuer").Text(), tc.want)
		}
	}
}

// TestStorkErrorStatuses: canonical failures as the STORK engine's codes,
// with a StatusMessage text; the engine's failure answer still carries a
// signed Assertion (no AttributeStatement), which the Java kit reads
// Conditions from.
func TestStorkErrorStatuses(t *testing.T) {
	f := newStFixture(t)
	tests := []struct {
		code      bridge.StatusCode
		top, sub  string
		message   string
		wantMsgIn string
	}{
		{bridge.StatusAuthnFailed, "Responder", statusPrefix + "AuthnFailed", "the citizen cancelled", "the citizen cancelled"},
		{bridge.StatusRequestDenied, "Requester", statusPrefix + "RequestDenied", "the identity provider used is not allowed", "not allowed"},
		{bridge.StatusNoAuthnContext, "Responder", QAANotSupported, "", "NoAuthnContext"},
		{bridge.StatusInvalidAttr, "Requester", statusPrefix + "InvalidAttrNameOrValue", "required attribute x", "required attribute x"},
		{bridge.StatusResponder, "Responder", "", "upstream failure", "upstream failure"},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			raw, fields := f.renderRaw(t, stRequest(t, true, "eIdentifier!"), bridge.Failure(tt.code, tt.message))
			if _, ok := fields["isLegalPerson"]; ok {
				t.Error("isLegalPerson posted with a failure")
			}
			resp := f.verifyAnswer(t, base64.StdEncoding.EncodeToString(raw))
			code, sub, msg := statusOf(resp)
			if code != statusPrefix+tt.top || sub != tt.sub || msg == "" || !bytes.Contains([]byte(msg), []byte(tt.wantMsgIn)) {
				t.Fatalf("status %q / %q / %q", code, sub, msg)
			}
			a := resp.SelectElement("Assertion")
			if a == nil || a.FindElement("./Conditions[@NotOnOrAfter]") == nil || a.FindElement("./Conditions/AudienceRestriction/Audience") == nil {
				t.Fatal("failure without an Assertion carrying Conditions and an Audience")
			}
			if a.SelectElement("AttributeStatement") != nil {
				t.Fatal("failure with an AttributeStatement")
			}
			if resp.SelectElement("Issuer").Text() == "" || a.SelectElement("Issuer").Text() == "" {
				t.Fatal("empty Issuer on a failure")
			}
			if _, err := (samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}}).Verify(a); err != nil {
				t.Fatalf("failure Assertion signature: %v", err)
			}
		})
	}
}

// TestStorkRelayStateEchoed: RelayState goes back unchanged next to the answer.
func TestStorkRelayStateEchoed(t *testing.T) {
	f := newStFixture(t)
	relay := "https://sp.example.es/volver?a=1&b=<x>"
	rec := f.postForm(samlForm(f.stSigned(t, "prefixes", layoutPlain, setText(NSStork, "QualityAuthenticationAssuranceLevel", "9")), "RelayState", relay))
	_, fields := f.stAnswer(t, rec)
	if fields.Get("RelayState") != relay {
		t.Fatalf("RelayState %q, want %q", fields.Get("RelayState"), relay)
	}
	req := stRequest(t, false, "eIdentifier")
	req.RelayState = relay
	_, posted := f.renderRaw(t, req, success(translate.IdPPin24H, translate.LoALow, "12345678Z"))
	if posted["RelayState"] != relay {
		t.Fatalf("success: RelayState %q", posted["RelayState"])
	}
}
