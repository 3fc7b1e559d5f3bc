package attacks

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const testResponse = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" IssueInstant="2026-01-01T00:00:00.000Z" Destination="https://sp.example/acs">
  <saml:Issuer>https://idp.example</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="_assert1" Version="2.0" IssueInstant="2026-01-01T00:00:00.000Z">
    <saml:Issuer>https://idp.example</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID>
    </saml:Subject>
    <saml:AttributeStatement>
      <saml:Attribute Name="mail">
        <saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">alice@example.com</saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>`

// fixture is a signed Response with a signed Assertion, and the keys.
type fixture struct {
	msg    []byte
	keys   Keys
	victim samlxmltest.Pair
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	victim := samlxmltest.Committed(t, "bridge-sign")
	attacker := samlxmltest.Committed(t, "demo-sp")
	doc, err := samlxml.Parse([]byte(testResponse), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	s := victim.Signer("")
	a := samlxml.Children(doc.Root(), samlxml.NSAssertion, "Assertion")[0]
	if err := s.Sign(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(doc.Root()); err != nil {
		t.Fatal(err)
	}
	msg, err := writeDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{
		msg:    msg,
		victim: victim,
		keys: Keys{Attacker: attacker.Key, AttackerCert: attacker.Cert, Victim: victim.Cert,
			Trusted: victim.Key, TrustedCert: victim.Cert},
	}
}

// consume verifies msg as a consumer does: parse, verify the root, then
// verify each Assertion inside the verified root. It returns the verified
// elements, or the first error.
func consume(msg []byte, victim *x509.Certificate) ([]*etree.Element, error) {
	doc, err := samlxml.Parse(msg, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	v := samlxml.Verifier{Certs: []*x509.Certificate{victim}}
	root, err := v.Verify(doc.Root())
	if err != nil {
		return nil, err
	}
	out := []*etree.Element{root.Element}
	for _, a := range samlxml.Children(root.Element, samlxml.NSAssertion, "Assertion") {
		va, err := v.Verify(a)
		if err != nil {
			return nil, err
		}
		out = append(out, va.Element)
	}
	return out, nil
}

// writeDoc serializes doc with c14n escaping (samlxml.Serialize refuses a
// parsed document's root: etree gives it the document as parent).
func writeDoc(doc *etree.Document) ([]byte, error) {
	doc.WriteSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalText: true}
	return doc.WriteToBytes()
}

func elementString(t *testing.T, el *etree.Element) string {
	t.Helper()
	s, err := etree.NewDocumentWithRoot(el.Copy()).WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPositiveControl(t *testing.T) {
	f := newFixture(t)
	els, err := consume(f.msg, f.victim.Cert)
	if err != nil {
		t.Fatalf("the unmodified message does not verify: %v\n%s", err, f.msg)
	}
	if len(els) != 2 {
		t.Fatalf("verified %d elements, want the Response and its Assertion", len(els))
	}
	if !strings.Contains(elementString(t, els[1]), "alice@example.com") {
		t.Error("the verified Assertion lost its NameID")
	}
	// The same message re-serialized by the attack machinery, unchanged,
	// still verifies (so rejections below are due to the mutations).
	round, err := mutate(func(*message) error { return nil })(f.msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consume(round, f.victim.Cert); err != nil {
		t.Fatalf("a no-op mutation breaks the signature: %v", err)
	}
}

func TestVariantsAreRejected(t *testing.T) {
	f := newFixture(t)
	variants := Variants(f.keys)
	seen := map[string]bool{}
	counts := map[Class]int{}
	applied := 0
	for _, v := range variants {
		if seen[v.Name] {
			t.Errorf("duplicate variant name %q", v.Name)
		}
		seen[v.Name] = true
		counts[v.Class]++
		t.Run(string(v.Class)+"/"+v.Name, func(t *testing.T) {
			out, err := v.Apply(append([]byte(nil), f.msg...))
			if err != nil {
				if !errors.Is(err, errNotApplicable) {
					t.Fatalf("Apply failed for a reason other than not applying: %v", err)
				}
				t.Skipf("does not apply: %v", err)
			}
			applied++
			if string(out) == string(f.msg) {
				t.Fatal("the variant did not change the message")
			}
			// The variant must be well-formed XML, so a rejection is due to
			// the attack, not to garbage. (encoding/xml cannot resolve
			// entities declared in a DTD, so the DTD class is exempt.)
			if err := etree.NewDocument().ReadFromBytes(out); err != nil && v.Class != DTD {
				t.Fatalf("the variant is not well-formed: %v\n%s", err, out)
			}
			els, err := consume(out, f.victim.Cert)
			if err != nil {
				t.Logf("rejected: %v", err)
				return
			}
			for _, el := range els {
				if s := elementString(t, el); strings.Contains(s, EvilMarker) {
					t.Fatalf("SECURITY: the evil marker is in a verified element\nverified: %s\nmessage: %s", s, out)
				}
			}
			// Every variant changes the signed root or its signature, so
			// acceptance without the marker is still unexpected.
			t.Errorf("the modified message was accepted (no evil marker in the verified elements)\nmessage: %s", out)
		})
	}
	if len(variants) < 30 {
		t.Errorf("only %d variants", len(variants))
	}
	if counts[XSW] < 8 {
		t.Errorf("only %d XSW variants", counts[XSW])
	}
	for _, c := range []Class{XSW, MultipleAssertions, CommentInjection, SignatureExclusion, CertificateFaking,
		DTD, Size, AlgorithmDowngrade, ParserDifferential, TransformAbuse, KeyConfusion} {
		if counts[c] == 0 {
			t.Errorf("no variant of class %q", c)
		}
		t.Logf("%-28s %d", c, counts[c])
	}
	t.Logf("%d variants, %d applied to the fixture", len(variants), applied)
}

func TestVariantsWithoutTrustedKey(t *testing.T) {
	f := newFixture(t)
	k := f.keys
	k.Trusted, k.TrustedCert = nil, nil
	all, some := Variants(f.keys), Variants(k)
	if len(some) >= len(all) {
		t.Errorf("without Trusted: %d variants, with: %d; want fewer", len(some), len(all))
	}
}

// encryptedMessage is the fixture's Response with the signed Assertion
// encrypted into a saml:EncryptedAssertion, then the Response signed.
func encryptedMessage(t *testing.T, f fixture) []byte {
	t.Helper()
	doc, err := samlxml.Parse([]byte(testResponse), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	s := f.victim.Signer("")
	a := samlxml.Children(doc.Root(), samlxml.NSAssertion, "Assertion")[0]
	if err := s.Sign(a); err != nil {
		t.Fatal(err)
	}
	ed, err := samlxml.Encrypter{Cert: samlxmltest.Committed(t, "bridge-enc").Cert}.Encrypt(a)
	if err != nil {
		t.Fatal(err)
	}
	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.AddChild(ed)
	doc.Root().InsertChildAt(a.Index(), ea)
	doc.Root().RemoveChild(a)
	if err := s.Sign(doc.Root()); err != nil {
		t.Fatal(err)
	}
	msg, err := writeDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestVariantsOtherMessages runs every variant on a Response with an
// EncryptedAssertion and on a signed LogoutRequest (no Assertion).
func TestVariantsOtherMessages(t *testing.T) {
	f := newFixture(t)
	t.Run("EncryptedAssertion", func(t *testing.T) {
		msg := encryptedMessage(t, f)
		for _, v := range Variants(f.keys) {
			if v.Class == MultipleAssertions && strings.Contains(v.Name, "EncryptedAssertion") {
				if _, err := v.Apply(msg); err != nil {
					t.Errorf("%s does not apply to a Response with an EncryptedAssertion: %v", v.Name, err)
				}
			}
		}
		if n := checkVariants(t, f, msg); n == 0 {
			t.Error("no variant applied")
		}
	})
	t.Run("LogoutRequest", func(t *testing.T) {
		checkVariants(t, f, logoutRequest(t, f))
	})
}

// checkVariants applies every variant to msg and fails on any accepted one.
// It returns how many applied.
func checkVariants(t *testing.T, f fixture, msg []byte) int {
	t.Helper()
	if _, err := consume(msg, f.victim.Cert); err != nil {
		t.Fatalf("positive control: %v\n%s", err, msg)
	}
	applied := 0
	for _, v := range Variants(f.keys) {
		out, err := v.Apply(msg)
		if err != nil {
			if !errors.Is(err, errNotApplicable) {
				t.Errorf("%s: %v", v.Name, err)
			}
			continue
		}
		applied++
		els, err := consume(out, f.victim.Cert)
		if err != nil {
			continue
		}
		for _, el := range els {
			if strings.Contains(elementString(t, el), EvilMarker) {
				t.Errorf("SECURITY: %s: evil marker verified\n%s", v.Name, out)
			}
		}
		t.Errorf("%s: the modified message was accepted\n%s", v.Name, out)
	}
	t.Logf("%d variants applied", applied)
	return applied
}

func logoutRequest(t *testing.T, f fixture) []byte {
	t.Helper()
	doc, err := samlxml.Parse([]byte(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr1" Version="2.0" IssueInstant="2026-01-01T00:00:00.000Z"><saml:Issuer>https://idp.example</saml:Issuer><saml:NameID>alice@example.com</saml:NameID></samlp:LogoutRequest>`), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.victim.Signer("").Sign(doc.Root()); err != nil {
		t.Fatal(err)
	}
	msg, err := writeDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestVariantsAssertionOnlySigned runs every variant on a Response whose
// Assertion alone is signed (the Response is not), so the assertion-level
// wrapping variants meet the Assertion's own signature rather than the
// Response's. The Response is unsigned, so changes outside the Assertion are
// allowed; what must never happen is a verified Assertion holding the marker.
// Every direct Assertion child is verified (stricter than a consumer that
// also insists on exactly one).
func TestVariantsAssertionOnlySigned(t *testing.T) {
	f := newFixture(t)
	doc, err := samlxml.Parse([]byte(testResponse), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	a := samlxml.Children(doc.Root(), samlxml.NSAssertion, "Assertion")[0]
	if err := f.victim.Signer("").Sign(a); err != nil {
		t.Fatal(err)
	}
	msg, err := writeDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	verifyAssertions := func(data []byte) (verified []*etree.Element, errs []error) {
		doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
		if err != nil {
			return nil, []error{err}
		}
		v := samlxml.Verifier{Certs: []*x509.Certificate{f.victim.Cert}}
		for _, a := range samlxml.Children(doc.Root(), samlxml.NSAssertion, "Assertion") {
			va, err := v.Verify(a)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			verified = append(verified, va.Element)
		}
		return verified, errs
	}
	if ok, errs := verifyAssertions(msg); len(ok) != 1 || len(errs) != 0 {
		t.Fatalf("positive control: %d verified, errors %v", len(ok), errs)
	}
	for _, v := range Variants(f.keys) {
		if v.Class != XSW && v.Class != MultipleAssertions && v.Class != CommentInjection {
			continue
		}
		t.Run(string(v.Class)+"/"+v.Name, func(t *testing.T) {
			out, err := v.Apply(msg)
			if err != nil {
				t.Skipf("does not apply: %v", err)
			}
			verified, errs := verifyAssertions(out)
			for _, el := range verified {
				if s := elementString(t, el); strings.Contains(s, EvilMarker) {
					t.Fatalf("SECURITY: the evil marker is in a verified Assertion\nverified: %s\nmessage: %s", s, out)
				}
			}
			t.Logf("%d Assertion(s) verified without the marker; rejections: %v", len(verified), errs)
		})
	}
}
