package samlxml

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

func benchSign(b *testing.B, id *testIdentity, method string) {
	s := id.signer(method)
	doc := mustParse(b, []byte(testResponse))
	for b.Loop() {
		el := doc.Root().Copy()
		if err := s.Sign(el); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRSA2048SHA256(b *testing.B)   { benchSign(b, rsaIdentity(), RSASHA256) }
func BenchmarkSignECDSAP256SHA256(b *testing.B) { benchSign(b, ecIdentity(), ECDSASHA256) }

func benchVerify(b *testing.B, id *testIdentity, method string) {
	s := id.signer(method)
	data := signTestResponse(b, s, s)
	v := id.verifier()
	for b.Loop() {
		doc, err := Parse(data, DefaultMaxMessageBytes)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(doc.Root()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRSA2048SHA256(b *testing.B)   { benchVerify(b, rsaIdentity(), RSASHA256) }
func BenchmarkVerifyECDSAP256SHA256(b *testing.B) { benchVerify(b, ecIdentity(), ECDSASHA256) }

// BenchmarkVerifyNestedRSA2048 parses and verifies a Response and its Assertion.
func BenchmarkVerifyNestedRSA2048(b *testing.B) {
	s := rsaIdentity().signer(RSASHA256)
	data := signTestResponse(b, s, s)
	v := rsaIdentity().verifier()
	for b.Loop() {
		if _, _, err := verifyNested(b, v, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptDecrypt(b *testing.B) {
	id := rsaIdentity()
	e := Encrypter{Cert: id.cert, KeyTransport: RSAOAEP, Data: AES256GCM}
	el := assertionOf(mustParse(b, []byte(testResponse)))
	key := id.key.(crypto.Decrypter)
	for b.Loop() {
		ed, err := e.Encrypt(el)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decrypt(ed, key, DefaultMaxMessageBytes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := signTestResponse(b, rsaIdentity().signer(RSASHA256), rsaIdentity().signer(RSASHA256))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, DefaultMaxMessageBytes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRSA2048PrivateKeyOp is the ceiling reference for signing: one raw
// PKCS#1 v1.5 signature, no XML.
func BenchmarkRSA2048PrivateKeyOp(b *testing.B) {
	key := rsaIdentity().key.(*rsa.PrivateKey)
	digest := sha256.Sum256([]byte("x"))
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}
