package clave2msg

import (
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

var fuzzT0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func seedRequest() []byte {
	ar := &AuthnRequest{
		ID: "_r", IssueInstant: fuzzT0, Destination: "https://gw/sso", ACS: "https://b/acs", ProviderName: "P;app",
		HasNameIDPolicy: true, Comparison: "minimum", LoAs: []string{translate.LoALow.EIDAS()},
		Attributes: []RequestedAttribute{{Name: translate.ClaveRelayStateAttr, Values: []string{"x"}}, {Name: "http://es.minhafp.clave/AFirmaIdP"}},
	}
	b, _ := samlxml.Serialize(ar.Element())
	return b
}

func seedAssertion() []byte {
	w, _ := WireAttribute(translate.AttrPersonIdentifier, "ES/ES/1")
	a := &Assertion{ID: "_a", IssueInstant: fuzzT0, Issuer: "gw", NameID: "ES/ES/1", InResponseTo: "_r", Recipient: "https://b/acs",
		NotBefore: fuzzT0, NotOnOrAfter: fuzzT0.Add(time.Minute), Audience: "https://b/acs", AuthnInstant: fuzzT0,
		LoA: translate.LoALow.EIDAS(), Attributes: []Attribute{w}}
	b, _ := samlxml.Serialize(a.Element())
	return b
}

func seedResponse() []byte {
	r := &Response{ID: "_s", InResponseTo: "_r", IssueInstant: fuzzT0, Destination: "https://b/acs", Issuer: "gw",
		Status: Status{Code: StatusResponder, SubCode: StatusPrefix + "AuthnFailed", Message: "m"}}
	b, _ := samlxml.Serialize(r.Element(nil))
	return b
}

// fuzzParse runs one parser on anything the hardened parser accepts: it
// may refuse, never panic.
func fuzzParse(f *testing.F, seeds [][]byte, parse func(data []byte)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { parse(data) })
}

func FuzzParseAuthnRequest(f *testing.F) {
	fuzzParse(f, [][]byte{seedRequest()}, func(data []byte) {
		if doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes); err == nil {
			_, _ = ParseAuthnRequest(doc.Root())
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	fuzzParse(f, [][]byte{seedResponse()}, func(data []byte) {
		if doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes); err == nil {
			_, _, _ = ParseResponse(doc.Root())
		}
	})
}

func FuzzParseAssertion(f *testing.F) {
	fuzzParse(f, [][]byte{seedAssertion()}, func(data []byte) {
		if doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes); err == nil {
			_, _ = ParseAssertion(doc.Root())
		}
	})
}

// TestRoundTrip: what Element writes, the parsers read back unchanged.
func TestRoundTrip(t *testing.T) {
	doc, err := samlxml.Parse(seedRequest(), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	ar, err := ParseAuthnRequest(doc.Root())
	if err != nil || ar.ProviderName != "P;app" || !ar.HasNameIDPolicy || len(ar.Attributes) != 2 || ar.Attributes[0].Values[0] != "x" {
		t.Fatalf("request: %+v, %v", ar, err)
	}
	doc, _ = samlxml.Parse(seedAssertion(), samlxml.DefaultMaxMessageBytes)
	a, err := ParseAssertion(doc.Root())
	if err != nil || a.NameID != "ES/ES/1" || !a.NotOnOrAfter.Equal(fuzzT0.Add(time.Minute)) || a.Attributes[0].XSIType != "" && a.Attributes[0].Values[0] != "ES/ES/1" {
		t.Fatalf("assertion: %+v, %v", a, err)
	}
	doc, _ = samlxml.Parse(seedResponse(), samlxml.DefaultMaxMessageBytes)
	r, enc, err := ParseResponse(doc.Root())
	if err != nil || enc != nil || r.Status.SubCode != StatusPrefix+"AuthnFailed" || r.Status.Message != "m" {
		t.Fatalf("response: %+v, %v", r, err)
	}
}

// certificatesSeed is the shape of a /Proxy2/Certificates document with a
// stand-in certificate: the fuzzer explores the structure (a seed with a
// real certificate's 2 KB of base64 stalls Go's mutator; the parser's
// table tests cover real certificates).
const certificatesSeed = `<md:IDPSSODescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">` +
	`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:KeyName>proxy_sign_1</ds:KeyName><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data>` +
	`<ds:MgmtData>active</ds:MgmtData></ds:KeyInfo></md:KeyDescriptor>` +
	`<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:KeyName>proxy_cipher_2</ds:KeyName><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data>` +
	`<ds:MgmtData>inactive</ds:MgmtData></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor>`

// FuzzParseCertificates: whatever the gateway's certificates URL serves,
// the parser refuses it or returns entries within their bounds, each with
// a certificate and a known use and state; it never panics.
func FuzzParseCertificates(f *testing.F) {
	f.Add([]byte(certificatesSeed))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseCertificates(data)
		if err != nil {
			return
		}
		if len(entries) == 0 || len(entries) > MaxCertificateEntries {
			t.Fatalf("%d entries accepted", len(entries))
		}
		for _, e := range entries {
			if e.Cert == nil || len(e.Name) > MaxKeyNameBytes {
				t.Fatalf("entry out of bounds: %+v", e)
			}
			if e.Use != "" && e.Use != UseSigning && e.Use != UseEncryption {
				t.Fatalf("unknown use %q accepted", e.Use)
			}
			if e.State != "" && e.State != KeyActive && e.State != KeyInactive {
				t.Fatalf("unknown state %q accepted", e.State)
			}
		}
	})
}
