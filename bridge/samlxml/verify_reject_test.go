package samlxml

import (
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// Shortcuts into a parsed signed test Response.
func respOf(doc *etree.Document) *etree.Element { return doc.Root() }
func assertionOf(doc *etree.Document) *etree.Element {
	return find(doc.Root(), NSAssertion, "Assertion")
}
func sigOf(el *etree.Element) *etree.Element        { return Children(el, NSDSig, "Signature")[0] }
func signedInfoOf(el *etree.Element) *etree.Element { return find(sigOf(el), NSDSig, "SignedInfo") }
func referenceOf(el *etree.Element) *etree.Element  { return find(sigOf(el), NSDSig, "Reference") }

func TestVerifyRejects(t *testing.T) {
	rsaID := rsaIdentity()
	tests := []struct {
		name     string
		signer   Signer
		verifier Verifier
		mutate   func(doc *etree.Document)
		target   func(doc *etree.Document) *etree.Element
		want     string
	}{
		{name: "wrong key", verifier: rsaIdentity2().verifier(), want: "certificate not trusted"},
		{name: "wrong key, no KeyInfo", signer: Signer{Key: rsaID.key}, verifier: rsaIdentity2().verifier(),
			want: "not made by any configured certificate"},
		{name: "no configured certificates", verifier: Verifier{}, want: "no trusted certificates"},
		{name: "rsa-sha1 without AllowSHA1", signer: rsaID.signer(RSASHA1), want: "SHA-1 is disabled"},
		{name: "sha1 digest without AllowSHA1", signer: Signer{Key: rsaID.key, Digest: DigestSHA1}, want: "SHA-1 is disabled"},
		{name: "method outside Methods", verifier: Verifier{Certs: []*x509.Certificate{rsaID.cert},
			Policy: AlgorithmPolicy{Methods: []string{RSASHA512}}}, want: "not in this peer's allowed methods"},
		{name: "tampered content", target: assertionOf, mutate: func(doc *etree.Document) {
			find(doc.Root(), NSAssertion, "NameID").SetText("mallory@example.com")
		}, want: "digest mismatch"},
		{name: "tampered content outside the assertion", mutate: func(doc *etree.Document) {
			find(doc.Root(), NSProtocol, "StatusCode").CreateAttr("Value", "evil")
		}, want: "digest mismatch"},
		{name: "tampered SignatureValue", mutate: func(doc *etree.Document) {
			sv := find(sigOf(doc.Root()), NSDSig, "SignatureValue")
			raw, _ := base64.StdEncoding.DecodeString(sv.Text())
			raw[10] ^= 1
			sv.SetText(base64.StdEncoding.EncodeToString(raw))
		}, want: "verification error"},
		{name: "tampered SignedInfo", mutate: func(doc *etree.Document) {
			referenceOf(doc.Root()).CreateAttr("Type", "urn:x")
		}, want: "verification error"},
		{name: "signature moved to another element", target: assertionOf, mutate: func(doc *etree.Document) {
			a := assertionOf(doc)
			a.RemoveChild(sigOf(a))
			a.AddChild(sigOf(doc.Root()))
		}, want: "is not this element's ID"},
		{name: "Reference to another ID", mutate: func(doc *etree.Document) {
			referenceOf(doc.Root()).CreateAttr("URI", "#_assert1")
		}, want: "is not this element's ID"},
		{name: "empty Reference URI", mutate: func(doc *etree.Document) {
			referenceOf(doc.Root()).CreateAttr("URI", "")
		}, want: "not a same-document"},
		{name: "external Reference URI", mutate: func(doc *etree.Document) {
			referenceOf(doc.Root()).CreateAttr("URI", "https://evil.example/doc#_resp1")
		}, want: "not a same-document"},
		{name: "two References", mutate: func(doc *etree.Document) {
			signedInfoOf(doc.Root()).AddChild(referenceOf(doc.Root()).Copy())
		}, want: "4 child elements"},
		{name: "extra XPath transform", mutate: func(doc *etree.Document) {
			ts := find(referenceOf(doc.Root()), NSDSig, "Transforms")
			x := ts.CreateElement("ds:Transform")
			x.CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
			x.CreateElement("ds:XPath").SetText("not(ancestor-or-self::ds:Signature)")
		}, want: "want exactly the enveloped-signature and exc-c14n"},
		{name: "XSLT instead of exc-c14n", mutate: func(doc *etree.Document) {
			ts := find(referenceOf(doc.Root()), NSDSig, "Transforms")
			ts.ChildElements()[1].CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116")
		}, want: "REC-xslt"},
		{name: "enveloped transform missing", mutate: func(doc *etree.Document) {
			ts := find(referenceOf(doc.Root()), NSDSig, "Transforms")
			ts.RemoveChild(ts.ChildElements()[0])
		}, want: "want exactly the enveloped-signature and exc-c14n"},
		{name: "inclusive c14n", mutate: func(doc *etree.Document) {
			find(signedInfoOf(doc.Root()), NSDSig, "CanonicalizationMethod").CreateAttr("Algorithm", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315")
		}, want: "REC-xml-c14n-20010315"},
		{name: "exc-c14n with comments", mutate: func(doc *etree.Document) {
			find(signedInfoOf(doc.Root()), NSDSig, "CanonicalizationMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments")
		}, want: "WithComments"},
		{name: "HMAC method", mutate: func(doc *etree.Document) {
			find(signedInfoOf(doc.Root()), NSDSig, "SignatureMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")
		}, want: "xmldsig#hmac-sha1"},
		{name: "rsa-sha384", mutate: func(doc *etree.Document) {
			find(signedInfoOf(doc.Root()), NSDSig, "SignatureMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384")
		}, want: "rsa-sha384"},
		{name: "md5 digest", mutate: func(doc *etree.Document) {
			find(referenceOf(doc.Root()), NSDSig, "DigestMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#md5")
		}, want: "xmldsig-more#md5"},
		{name: "comment injected into NameID", target: assertionOf, mutate: func(doc *etree.Document) {
			n := find(doc.Root(), NSAssertion, "NameID")
			n.SetText("alice@example.com")
			n.CreateComment("")
			n.CreateText(".evil.com")
		}, want: "comment inside signed"},
		{name: "comment that keeps the digest", target: assertionOf, mutate: func(doc *etree.Document) {
			find(doc.Root(), NSAssertion, "NameID").CreateComment("x")
		}, want: "comment inside signed"},
		{name: "processing instruction", mutate: func(doc *etree.Document) {
			find(doc.Root(), NSAssertion, "NameID").CreateProcInst("evil", "x")
		}, want: "processing instruction"},
		{name: "duplicate ID", target: assertionOf, mutate: func(doc *etree.Document) {
			doc.Root().CreateElement("samlp:Extensions").CreateElement("saml:Assertion").CreateAttr("ID", "_assert1")
		}, want: `duplicate ID "_assert1"`},
		{name: "duplicate ID in an Id attribute", mutate: func(doc *etree.Document) {
			assertionOf(doc).CreateElement("x").CreateAttr("Id", "_resp1")
		}, want: `duplicate ID "_resp1"`},
		{name: "untrusted KeyInfo certificate valid for the signature", signer: rsaIdentity2().signer(RSASHA256),
			want: "certificate not trusted"},
		{name: "cloned certificate in KeyInfo", mutate: func(doc *etree.Document) {
			c := find(sigOf(doc.Root()), NSDSig, "X509Certificate")
			c.SetText(base64.StdEncoding.EncodeToString(expiredRSAIdentity().cert.Raw))
		}, want: "certificate not trusted"},
		{name: "bad base64 certificate", mutate: func(doc *etree.Document) {
			find(sigOf(doc.Root()), NSDSig, "X509Certificate").SetText("!!!")
		}, want: "bad base64"},
		{name: "unsigned", mutate: func(doc *etree.Document) {
			doc.Root().RemoveChild(sigOf(doc.Root()))
		}, want: "unsigned"},
		{name: "signature in the wrong namespace", mutate: func(doc *etree.Document) {
			sigOf(doc.Root()).CreateAttr("xmlns:ds", "urn:not-dsig")
		}, want: "unsigned"},
		{name: "two signatures", mutate: func(doc *etree.Document) {
			doc.Root().AddChild(sigOf(doc.Root()).Copy())
		}, want: "2 ds:Signature"},
		{name: "Object in the Signature", mutate: func(doc *etree.Document) {
			sigOf(doc.Root()).CreateElement("ds:Object")
		}, want: "child elements"},
		{name: "two SignedInfo", mutate: func(doc *etree.Document) {
			sig := sigOf(doc.Root())
			sig.InsertChildAt(0, signedInfoOf(doc.Root()).Copy())
		}, want: "child elements"},
		{name: "EC certificate for an RSA signature", verifier: ecIdentity().verifier(), signer: Signer{Key: rsaID.key},
			want: "does not match the signature method"},
		{name: "two ID attributes", mutate: func(doc *etree.Document) {
			doc.Root().Attr = append(doc.Root().Attr, etree.Attr{Key: "ID", Value: "_resp1"})
		}, want: "2 ID attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.signer
			if s.Key == nil {
				s = rsaID.signer(RSASHA256)
			}
			v := tt.verifier
			if v.Certs == nil && tt.name != "no configured certificates" {
				v = rsaID.verifier()
			}
			doc := signedDoc(t, s)
			if tt.mutate != nil {
				tt.mutate(doc)
			}
			target := respOf
			if tt.target != nil {
				target = tt.target
			}
			_, err := v.Verify(target(doc))
			wantErr(t, err, tt.want)
		})
	}
}

func TestVerifySHA1AllowedWhenEnabled(t *testing.T) {
	data := signTestResponse(t, rsaIdentity().signer(RSASHA1), rsaIdentity().signer(RSASHA1))
	v := rsaIdentity().verifier()
	if _, _, err := verifyNested(t, v, data); err == nil {
		t.Fatal("rsa-sha1 accepted without AllowSHA1")
	}
	v.Policy.AllowSHA1 = true
	if _, _, err := verifyNested(t, v, data); err != nil {
		t.Fatalf("rsa-sha1 with AllowSHA1: %v", err)
	}
}

func TestVerifiedElementHoldsOnlySignedContent(t *testing.T) {
	s := rsaIdentity().signer(RSASHA256)
	doc := mustParse(t, []byte(testResponse))
	if err := s.Sign(assertionOf(doc)); err != nil {
		t.Fatal(err)
	}
	// Unsigned additions: a sibling Assertion, an attribute on the Response,
	// and elements inside the Assertion's Signature (not covered by it).
	doc.Root().CreateElement("saml:Assertion").CreateAttr("ID", "_evil1")
	doc.Root().CreateAttr("EvilAttr", "evil")
	sig := sigOf(assertionOf(doc))
	find(sig, NSDSig, "KeyInfo").CreateElement("ds:KeyName").SetText("evil-keyname")
	got, err := rsaIdentity().verifier().Verify(assertionOf(doc))
	if err != nil {
		t.Fatal(err)
	}
	out := string(elementBytes(t, got.Element))
	if strings.Contains(out, "evil") || strings.Contains(out, "Signature") {
		t.Errorf("verified element holds unsigned content:\n%s", out)
	}
	if got.Element.Parent() == nil || got.Element.Parent().Parent() != nil {
		t.Error("the verified element is not the root of its own document")
	}
	if !Is(got.Element, NSAssertion, "Assertion") {
		t.Errorf("verified element is %s", got.Element.FullTag())
	}
}

func TestVerifyNilAndOddInput(t *testing.T) {
	v := rsaIdentity().verifier()
	if _, err := v.Verify(nil); err == nil {
		t.Error("Verify(nil) succeeded")
	}
	var m *RedirectMessage
	if _, err := m.Verify(v); err == nil {
		t.Error("nil RedirectMessage verified")
	}
}
