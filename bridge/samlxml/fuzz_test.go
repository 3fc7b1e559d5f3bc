package samlxml

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(testResponse))
	f.Add([]byte(`<a xmlns:p="urn:p" p:x="1"><!-- c --><?pi x?><![CDATA[x]]></a>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data, 1<<16)
		if err != nil {
			return
		}
		root := doc.Root()
		if root == nil {
			t.Fatal("Parse succeeded without a root element")
		}
		if _, err := canonicalize(root, "xs", nil); err != nil {
			return
		}
		if out, err := serializeEscaped(detach(root)); err == nil {
			if _, err := Parse(out, 1<<17); err != nil {
				t.Fatalf("serialized parsed document does not parse again: %v\n%s", err, out)
			}
			if want := etreeSerialize(t, detach(root)); !bytes.Equal(out, want) {
				t.Fatalf("serialized differently from etree's writer:\n got  %s\n want %s", out, want)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	rsaSigner, ecSigner := rsaIdentity().signer(RSASHA256), ecIdentity().signer(ECDSASHA256)
	f.Add(signTestResponse(f, rsaSigner, rsaSigner))
	f.Add(signTestResponse(f, ecSigner, rsaIdentity().signer(RSAPSSSHA256)))
	f.Add(signTestResponse(f, Signer{Key: rsaIdentity().key, InclusivePrefixes: []string{"xs"}}, ecSigner))
	v := Verifier{Certs: []*x509.Certificate{rsaIdentity().cert, ecIdentity().cert}}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data, 1<<16)
		if err != nil {
			return
		}
		got, err := v.Verify(doc.Root())
		if err != nil {
			return
		}
		if got.Element == nil || got.Cert == nil {
			t.Fatal("Verify succeeded without an element or certificate")
		}
		if diff := verifiedTreeDiff(got.Element); diff != "" {
			t.Fatalf("the verified tree is not what its canonical bytes parse to: %s", diff)
		}
		if a := find(got.Element, NSAssertion, "Assertion"); a != nil {
			_, _ = v.Verify(a)
		}
	})
}

func FuzzDecodeRedirect(f *testing.F) {
	s := rsaIdentity().signer(RSASHA256)
	for _, signer := range []*Signer{nil, &s} {
		loc, err := EncodeRedirect("https://idp.example/sso", "SAMLRequest", []byte(testAuthnRequest), "rs", signer)
		if err != nil {
			f.Fatal(err)
		}
		u, _ := url.Parse(loc)
		f.Add(u.RawQuery)
	}
	f.Add("SAMLResponse=%zz&RelayState=&SigAlg=x&Signature=")
	v := rsaIdentity().verifier()
	f.Fuzz(func(t *testing.T, q string) {
		m, err := DecodeRedirect(q, 1<<14)
		if err != nil {
			return
		}
		if len(m.XML) == 0 || len(m.XML) > 1<<14 || len(m.RelayState) > maxRelayState {
			t.Fatalf("DecodeRedirect broke its limits: %d bytes, RelayState %d", len(m.XML), len(m.RelayState))
		}
		_, _ = m.Verify(v)
	})
}

func FuzzDecrypt(f *testing.F) {
	id := rsaIdentity()
	for _, e := range []Encrypter{
		{Cert: id.cert, KeyTransport: RSAOAEPMGF1P, Data: AES128GCM},
		{Cert: id.cert, KeyTransport: RSAOAEP, Data: AES256GCM},
	} {
		ed, err := e.Encrypt(mustParse(f, []byte(testAuthnRequest)).Root())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(elementBytes(f, ed))
	}
	key := id.key.(crypto.Decrypter)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data, 1<<16)
		if err != nil {
			return
		}
		el, err := Decrypt(doc.Root(), key, 1<<16)
		if err != nil && err != ErrDecrypt {
			t.Fatalf("Decrypt returned %v, not ErrDecrypt", err)
		}
		if err == nil && el == nil {
			t.Fatal("Decrypt succeeded without an element")
		}
	})
}

// refusedByDesign reports whether Parse refused a document for a reason
// the legacy parser did not have: a non-ASCII name, or more attributes on
// an element or namespace declarations in force than Parse allows.
func refusedByDesign(err error) bool {
	for _, why := range []string{"non-ASCII names", "attributes on <", "namespace declarations in force"} {
		if strings.Contains(err.Error(), why) {
			return true
		}
	}
	return false
}

// FuzzParseDifferential holds Parse to the parser it replaced: the same
// documents accepted and refused, and the same tree for those accepted.
// The intended differences: Parse refuses non-ASCII names (no SAML name
// has one) and more than maxAttrs attributes on an element or
// maxScopeDecls declarations in force, which the legacy parser read.
func FuzzParseDifferential(f *testing.F) {
	for _, seed := range parseDifferentialSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data, 1<<16)
		want, legacyErr := legacyParse(data, 1<<16)
		switch {
		case err != nil && legacyErr == nil && !refusedByDesign(err):
			t.Fatalf("Parse refuses what the legacy parser accepted: %v\n%q", err, data)
		case err == nil && legacyErr != nil:
			t.Fatalf("Parse accepts what the legacy parser refused (%v)\n%q", legacyErr, data)
		case err == nil:
			if diff := treeDiff(&want.Element, &got.Element); diff != "" {
				t.Fatalf("trees differ: %s\n%q", diff, data)
			}
		}
	})
}

// FuzzCanonicalizeDifferential holds canonicalize to goxmldsig's transform,
// which it replaced, on every element of every document Parse accepts, with
// and without an enveloped child left out and with inclusive prefixes: the
// same bytes, or both refusing. The one intended difference, an xmlns=""
// the old transform wrote where no default namespace was rendered above
// (TestXmlsec1CanonicalizationEdgeCases shows xmlsec1 agrees with the new
// form), is allowed. The canonical tree must parse back from its bytes.
func FuzzCanonicalizeDifferential(f *testing.F) {
	for _, seed := range parseDifferentialSeeds {
		f.Add([]byte(seed), "xs")
	}
	f.Add([]byte(`<r><c ID="_c"><d xmlns=""><e xmlns="urn:e"><f xmlns=""/></e></d></c></r>`), "")
	f.Add([]byte(`<p:r xmlns:p="urn:p" xmlns:xs="urn:xs" xmlns="urn:d"><p:c xmlns:q="urn:q" q:a="1" b="2"><x xmlns:xs="urn:xs2">xs:string</x><!--c--><?pi d?></p:c></p:r>`), "xs q")
	f.Fuzz(func(t *testing.T, data []byte, prefixes string) {
		doc, err := Parse(data, 1<<14)
		if err != nil || len(prefixes) > 64 {
			return
		}
		checked := 0
		_ = walkElements(doc.Root(), func(el *etree.Element) error {
			if checked++; checked > 64 {
				return errors.New("enough")
			}
			var omit *etree.Element
			if kids := el.ChildElements(); len(kids) > 0 {
				omit = kids[len(kids)-1]
			}
			for _, o := range []*etree.Element{nil, omit} {
				got, err := canonicalize(el, prefixes, o)
				want, legacyErr := legacyCanonicalize(el, prefixes, o)
				if (err == nil) != (legacyErr == nil) {
					t.Fatalf("<%s>: error %v, legacy error %v", el.FullTag(), err, legacyErr)
				}
				if err != nil {
					continue
				}
				if !bytes.Equal(got, want) && !onlySuperfluousEmptyDefaults(got, want) {
					t.Fatalf("<%s> prefixes %q:\n got  %s\n want %s", el.FullTag(), prefixes, got, want)
				}
				tree, canon, err := canonicalTree(el, prefixes, o)
				if err != nil || !bytes.Equal(canon, got) {
					t.Fatalf("canonicalTree: %v, bytes differ: %v", err, !bytes.Equal(canon, got))
				}
				if diff := verifiedTreeDiff(tree); diff != "" {
					t.Fatalf("<%s>: the canonical tree is not what its bytes parse to: %s", el.FullTag(), diff)
				}
			}
			return nil
		})
	})
}

// onlySuperfluousEmptyDefaults reports whether want is got with extra
// xmlns="" declarations (the old transform's known divergence).
func onlySuperfluousEmptyDefaults(got, want []byte) bool {
	return len(want) > len(got) && bytes.Equal(bytes.ReplaceAll(want, []byte(` xmlns=""`), nil), bytes.ReplaceAll(got, []byte(` xmlns=""`), nil))
}

// etreeSerialize is what Serialize wrote before it wrote trees itself:
// etree's writer with canonical escaping.
func etreeSerialize(t *testing.T, el *etree.Element) []byte {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	doc.WriteSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalText: true}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
