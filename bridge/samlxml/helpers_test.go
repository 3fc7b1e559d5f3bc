package samlxml

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// testIdentity is a key with its self-signed certificate.
type testIdentity struct {
	key     crypto.Signer
	cert    *x509.Certificate
	keyPEM  []byte // PKCS#8
	certPEM []byte
}

// Test keys are generated once per test binary (RSA 2048 for speed).
var (
	rsaIdentity  = sync.OnceValue(func() *testIdentity { return newIdentity(mustRSA(), "rsa-1", false) })
	rsaIdentity2 = sync.OnceValue(func() *testIdentity { return newIdentity(mustRSA(), "rsa-2", false) })
	ecIdentity   = sync.OnceValue(func() *testIdentity { return newIdentity(mustEC(), "ec-1", false) })
	// expiredRSAIdentity reuses rsaIdentity's key with a long-expired certificate.
	expiredRSAIdentity = sync.OnceValue(func() *testIdentity { return newIdentity(rsaIdentity().key, "rsa-expired", true) })
)

func mustRSA() crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC() crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// newIdentity self-signs a certificate for key.
func newIdentity(key crypto.Signer, cn string, expired bool) *testIdentity {
	notBefore := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	if expired {
		notBefore, notAfter = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return &testIdentity{
		key:     key,
		cert:    cert,
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

func (id *testIdentity) signer(method string) Signer {
	return Signer{Key: id.key, Cert: id.cert, Method: method, IncludeCert: true}
}

func (id *testIdentity) verifier() Verifier {
	return Verifier{Certs: []*x509.Certificate{id.cert}}
}

// testResponse is a SAML-like Response with a nested Assertion. The
// Assertion's prefixed attributes sort differently by prefix than by
// namespace URI (a canonicalization trap), and the saml prefix is declared
// only on the Response.
const testResponse = `<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" IssueInstant="2026-01-01T00:00:00.000Z" Destination="https://sp.example/acs">
  <saml:Issuer>https://idp.example</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion xmlns:aa="urn:z:attrs" xmlns:zz="urn:a:attrs" aa:one="1" zz:two="2" ID="_assert1" Version="2.0" IssueInstant="2026-01-01T00:00:00.000Z">
    <saml:Issuer>https://idp.example</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID>
    </saml:Subject>
    <saml:AttributeStatement>
      <saml:Attribute Name="mail">
        <saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">alice@example.com &amp; &lt;co&gt; "q"</saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
`

func mustParse(t testing.TB, data []byte) *etree.Document {
	t.Helper()
	doc, err := Parse(data, DefaultMaxMessageBytes)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return doc
}

// find returns the first element {ns}tag in el's subtree (el included).
func find(el *etree.Element, ns, tag string) *etree.Element {
	if Is(el, ns, tag) {
		return el
	}
	for _, c := range el.ChildElements() {
		if f := find(c, ns, tag); f != nil {
			return f
		}
	}
	return nil
}

// toBytes serializes doc with c14n-style escaping: etree's default writer
// emits CR, TAB and LF in attribute values (and CR in text) literally, which
// a parser then normalizes, changing signed content.
func toBytes(t testing.TB, doc *etree.Document) []byte {
	t.Helper()
	doc.WriteSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalText: true}
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func elementBytes(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	return toBytes(t, etree.NewDocumentWithRoot(el.Copy()))
}

// signTestResponse signs the Assertion with a, then the Response with r.
func signTestResponse(t testing.TB, a, r Signer) []byte {
	t.Helper()
	doc := mustParse(t, []byte(testResponse))
	if err := a.Sign(find(doc.Root(), NSAssertion, "Assertion")); err != nil {
		t.Fatalf("sign assertion: %v", err)
	}
	if err := r.Sign(doc.Root()); err != nil {
		t.Fatalf("sign response: %v", err)
	}
	return toBytes(t, doc)
}

// verifyNested verifies the Response, then the Assertion inside the verified
// Response.
func verifyNested(t testing.TB, v Verifier, data []byte) (resp, assertion *Verified, err error) {
	t.Helper()
	doc := mustParse(t, data)
	if resp, err = v.Verify(doc.Root()); err != nil {
		return nil, nil, err
	}
	a := find(resp.Element, NSAssertion, "Assertion")
	if a == nil {
		t.Fatal("no Assertion in the verified Response")
	}
	assertion, err = v.Verify(a)
	return resp, assertion, err
}

// wantErr fails unless err is non-nil and mentions want.
func wantErr(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}

func containsBytes(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }
