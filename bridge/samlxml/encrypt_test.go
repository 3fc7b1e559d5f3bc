package samlxml

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// fixedReader hands out a known content key first, then crypto/rand.
func fixedReader(key []byte) io.Reader { return io.MultiReader(bytes.NewReader(key), rand.Reader) }

func encryptAssertion(t *testing.T, e Encrypter) (*etree.Element, []byte) {
	t.Helper()
	doc := mustParse(t, []byte(testResponse))
	a := assertionOf(doc)
	ed, err := e.Encrypt(a)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	// Round-trip the EncryptedData through bytes as a peer would.
	return mustParse(t, elementBytes(t, ed)).Root(), elementBytes(t, detach(a))
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	id := rsaIdentity()
	for _, transport := range []string{RSAOAEPMGF1P, RSAOAEP, ""} {
		for _, data := range []string{AES128GCM, AES256GCM, ""} {
			t.Run(transport+" "+data, func(t *testing.T) {
				ed, want := encryptAssertion(t, Encrypter{Cert: id.cert, KeyTransport: transport, Data: data})
				got, err := Decrypt(ed, id.key.(crypto.Decrypter), DefaultMaxMessageBytes)
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if !Is(got, NSAssertion, "Assertion") {
					t.Fatalf("decrypted %s", got.FullTag())
				}
				if gotBytes := elementBytes(t, got); !bytes.Equal(gotBytes, want) {
					t.Errorf("decrypted element differs:\n%s\n%s", gotBytes, want)
				}
			})
		}
	}
}

func TestDecryptOAEPVariants(t *testing.T) {
	id := rsaIdentity()
	priv := id.key.(*rsa.PrivateKey)
	cek := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name, transport, digest, mgf string
		hash, mgfHash                crypto.Hash
	}{
		{"mgf1p default digest", RSAOAEPMGF1P, "", "", crypto.SHA1, crypto.SHA1},
		{"mgf1p sha256 digest", RSAOAEPMGF1P, DigestSHA256, "", crypto.SHA256, crypto.SHA1},
		{"oaep defaults", RSAOAEP, "", "", crypto.SHA1, crypto.SHA1},
		{"oaep sha512 mgf1sha1", RSAOAEP, DigestSHA512, mgf1SHA1, crypto.SHA512, crypto.SHA1},
		{"oaep sha1 mgf1sha512", RSAOAEP, DigestSHA1, mgf1SHA512, crypto.SHA1, crypto.SHA512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ed, _ := encryptAssertion(t, Encrypter{Cert: id.cert, Data: AES256GCM, Rand: fixedReader(cek)})
			wrapped, err := rsa.EncryptOAEPWithOptions(rand.Reader, &priv.PublicKey, cek,
				&rsa.OAEPOptions{Hash: tt.hash, MGFHash: tt.mgfHash})
			if err != nil {
				t.Fatal(err)
			}
			setTransport(ed, tt.transport, tt.digest, tt.mgf, wrapped)
			if _, err := decrypt(ed, priv, DefaultMaxMessageBytes); err != nil {
				t.Fatalf("decrypt: %v", err)
			}
		})
	}
}

// setTransport rewrites the EncryptedKey's method and CipherValue.
func setTransport(ed *etree.Element, transport, digest, mgf string, wrapped []byte) {
	ek := find(ed, NSXMLEnc, "EncryptedKey")
	m := find(ek, NSXMLEnc, "EncryptionMethod")
	m.Child = nil
	m.CreateAttr("Algorithm", transport)
	if digest != "" {
		m.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digest)
	}
	if mgf != "" {
		x := m.CreateElement("xenc11:MGF")
		x.CreateAttr("xmlns:xenc11", NSXMLEnc11)
		x.CreateAttr("Algorithm", mgf)
	}
	find(ek, NSXMLEnc, "CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
}

func TestDecryptFailuresAreErrDecrypt(t *testing.T) {
	id := rsaIdentity()
	priv := id.key.(*rsa.PrivateKey)
	cek := bytes.Repeat([]byte{9}, 16)
	tests := []struct {
		name   string
		key    crypto.Decrypter
		mutate func(ed *etree.Element)
	}{
		{name: "wrong key", key: rsaIdentity2().key.(crypto.Decrypter)},
		{name: "tampered ciphertext", mutate: func(ed *etree.Element) {
			cv := ed.ChildElements()[2].ChildElements()[0]
			raw, _ := base64.StdEncoding.DecodeString(cv.Text())
			raw[len(raw)/2] ^= 1
			cv.SetText(base64.StdEncoding.EncodeToString(raw))
		}},
		{name: "tampered wrapped key", mutate: func(ed *etree.Element) {
			cv := find(find(ed, NSXMLEnc, "EncryptedKey"), NSXMLEnc, "CipherValue")
			first := "A" // change the first base64 digit, whatever it was
			if strings.HasPrefix(cv.Text(), "A") {
				first = "B"
			}
			cv.SetText(first + cv.Text()[1:])
		}},
		{name: "aes-cbc", mutate: func(ed *etree.Element) {
			ed.ChildElements()[0].CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmlenc#aes128-cbc")
		}},
		{name: "3des", mutate: func(ed *etree.Element) {
			ed.ChildElements()[0].CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmlenc#tripledes-cbc")
		}},
		{name: "aes256 label on a 16 byte key", mutate: func(ed *etree.Element) {
			ed.ChildElements()[0].CreateAttr("Algorithm", AES256GCM)
		}},
		{name: "rsa-1_5", mutate: func(ed *etree.Element) {
			wrapped, _ := rsa.EncryptPKCS1v15(rand.Reader, &priv.PublicKey, cek)
			setTransport(ed, "http://www.w3.org/2001/04/xmlenc#rsa-1_5", "", "", wrapped)
		}},
		{name: "MGF on mgf1p", mutate: func(ed *etree.Element) {
			wrapped, _ := rsa.EncryptOAEP(sha512.New(), rand.Reader, &priv.PublicKey, cek, nil)
			setTransport(ed, RSAOAEPMGF1P, DigestSHA512, mgf1SHA512, wrapped)
		}},
		{name: "bad base64", mutate: func(ed *etree.Element) {
			ed.ChildElements()[2].ChildElements()[0].SetText("***")
		}},
		{name: "no KeyInfo", mutate: func(ed *etree.Element) { ed.RemoveChildAt(ed.ChildElements()[1].Index()) }},
		{name: "Type Content", mutate: func(ed *etree.Element) { ed.CreateAttr("Type", NSXMLEnc+"Content") }},
		{name: "not XML inside", mutate: func(ed *etree.Element) { replaceBody(ed, cek, []byte("not <xml")) }},
		{name: "DOCTYPE inside", mutate: func(ed *etree.Element) {
			replaceBody(ed, cek, []byte(`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
		}},
		{name: "too big inside", mutate: func(ed *etree.Element) {
			replaceBody(ed, cek, []byte("<a>"+strings.Repeat("x", DefaultMaxMessageBytes)+"</a>"))
		}},
		{name: "comment inside", mutate: func(ed *etree.Element) {
			replaceBody(ed, cek, []byte(`<a><n>ES/ES/1<!---->EVIL</n></a>`))
		}},
		{name: "processing instruction inside", mutate: func(ed *etree.Element) {
			replaceBody(ed, cek, []byte(`<a><n>ES/ES/1<?x y?>EVIL</n></a>`))
		}},
		{name: "nil key", key: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ed, _ := encryptAssertion(t, Encrypter{Cert: id.cert, KeyTransport: RSAOAEPMGF1P, Data: AES128GCM, Rand: fixedReader(cek)})
			if tt.mutate != nil {
				tt.mutate(ed)
			}
			key := tt.key
			if key == nil && tt.name != "nil key" {
				key = priv
			}
			if el, err := Decrypt(ed, key, DefaultMaxMessageBytes); err != ErrDecrypt || el != nil {
				t.Fatalf("Decrypt = %v, %v; want nil, ErrDecrypt", el, err)
			}
		})
	}
	if _, err := Decrypt(nil, priv, 100); err != ErrDecrypt {
		t.Errorf("Decrypt(nil) = %v", err)
	}
}

// replaceBody re-encrypts the EncryptedData body with cek.
func replaceBody(ed *etree.Element, cek, plaintext []byte) {
	body, err := sealGCM(rand.Reader, cek, plaintext)
	if err != nil {
		panic(err)
	}
	ed.ChildElements()[2].ChildElements()[0].SetText(base64.StdEncoding.EncodeToString(body))
}

func TestEncryptErrors(t *testing.T) {
	el := mustParse(t, []byte(`<a/>`)).Root()
	for _, e := range []Encrypter{
		{},
		{Cert: ecIdentity().cert},
		{Cert: rsaIdentity().cert, KeyTransport: "http://www.w3.org/2001/04/xmlenc#rsa-1_5"},
		{Cert: rsaIdentity().cert, Data: "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
		{Cert: rsaIdentity().cert, Rand: strings.NewReader("short")},
	} {
		if _, err := e.Encrypt(el); err == nil {
			t.Errorf("Encrypt with %+v succeeded", e)
		}
	}
	if _, err := (Encrypter{Cert: rsaIdentity().cert}).Encrypt(nil); err == nil {
		t.Error("Encrypt(nil) succeeded")
	}
}

func TestEncryptOutputShape(t *testing.T) {
	ed, _ := encryptAssertion(t, Encrypter{Cert: rsaIdentity().cert, KeyTransport: RSAOAEP, Data: AES256GCM})
	out := string(elementBytes(t, ed))
	for _, want := range []string{
		`<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">`,
		`<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>`,
		`<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>`,
		`<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod>`,
		`<ds:X509Data><ds:X509Certificate>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("EncryptedData lacks %s\n%s", want, out)
		}
	}
}
