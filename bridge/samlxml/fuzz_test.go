package samlxml

import (
	"crypto"
	"crypto/x509"
	"net/url"
	"testing"
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
