package samlxml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/beevik/etree"
)

// gcmNonceSize is the IV length XML Encryption 1.1 fixes for AES-GCM.
const gcmNonceSize = 12

// typeElement is the EncryptedData Type for an encrypted element.
const typeElement = NSXMLEnc + "Element"

// Encrypt returns an xenc:EncryptedData element (Type Element) holding el,
// with the EncryptedKey inside its ds:KeyInfo.
//
// el is serialized with every namespace declaration in scope, so it parses
// on its own. An empty KeyTransport means RSAOAEP, an empty Data AES256GCM.
func (e Encrypter) Encrypt(el *etree.Element) (*etree.Element, error) {
	if el == nil {
		return nil, errors.New("samlxml: encrypt: no element")
	}
	transport, data, keyLen, err := e.algorithms()
	if err != nil {
		return nil, fmt.Errorf("samlxml: encrypt: %w", err)
	}
	pub, ok := e.certKey()
	if !ok {
		return nil, errors.New("samlxml: encrypt: the recipient certificate has no RSA key")
	}
	plaintext, err := serializeEscaped(detach(el))
	if err != nil {
		return nil, fmt.Errorf("samlxml: encrypt: serializing <%s>: %w", el.FullTag(), err)
	}
	r := e.Rand
	if r == nil {
		r = rand.Reader
	}
	key := make([]byte, keyLen)
	if _, err := io.ReadFull(r, key); err != nil {
		return nil, fmt.Errorf("samlxml: encrypt: reading a key: %w", err)
	}
	body, err := sealGCM(r, key, plaintext)
	if err != nil {
		return nil, fmt.Errorf("samlxml: encrypt: %w", err)
	}
	wrapped, err := wrapKey(r, pub, transport, key)
	if err != nil {
		return nil, fmt.Errorf("samlxml: encrypt: wrapping the key with %s: %w", transport, err)
	}
	return e.encryptedData(transport, data, wrapped, body), nil
}

// algorithms resolves the configured algorithms and the AES key length.
func (e Encrypter) algorithms() (transport, data string, keyLen int, err error) {
	transport, data = e.KeyTransport, e.Data
	if transport == "" {
		transport = RSAOAEP
	}
	if data == "" {
		data = AES256GCM
	}
	if transport != RSAOAEP && transport != RSAOAEPMGF1P {
		return "", "", 0, fmt.Errorf("key transport %q is not supported", transport)
	}
	if keyLen = gcmKeyLength(data); keyLen == 0 {
		return "", "", 0, fmt.Errorf("data encryption %q is not supported", data)
	}
	return transport, data, keyLen, nil
}

// certKey returns the recipient certificate's RSA key.
func (e Encrypter) certKey() (*rsa.PublicKey, bool) {
	if e.Cert == nil {
		return nil, false
	}
	pub, ok := e.Cert.PublicKey.(*rsa.PublicKey)
	return pub, ok
}

// gcmKeyLength is the AES key length of a GCM algorithm URI (0 if unknown).
func gcmKeyLength(uri string) int {
	switch uri {
	case AES128GCM:
		return 16
	case AES256GCM:
		return 32
	}
	return 0
}

// sealGCM returns IV || ciphertext || tag.
func sealGCM(r io.Reader, key, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcmNonceSize, gcmNonceSize+len(plaintext)+gcm.Overhead())
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, fmt.Errorf("reading an IV: %w", err)
	}
	return gcm.Seal(nonce, nonce, plaintext, nil), nil
}

// wrapKey encrypts the content key: rsa-oaep-mgf1p with SHA-1, or
// xmlenc11#rsa-oaep with SHA-256 and MGF1-SHA256.
func wrapKey(r io.Reader, pub *rsa.PublicKey, transport string, key []byte) ([]byte, error) {
	if transport == RSAOAEPMGF1P {
		return rsa.EncryptOAEP(sha1.New(), r, pub, key, nil)
	}
	return rsa.EncryptOAEPWithOptions(r, pub, key, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
}

// encryptedData builds the xenc:EncryptedData element.
func (e Encrypter) encryptedData(transport, data string, wrapped, body []byte) *etree.Element {
	ed := etree.NewElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", NSXMLEnc)
	ed.CreateAttr("Type", typeElement)
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", data)
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", NSDSig)
	ek := ki.CreateElement("xenc:EncryptedKey")
	keyTransportMethod(ek.CreateElement("xenc:EncryptionMethod"), transport)
	x509Data := ek.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data")
	x509Data.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(e.Cert.Raw))
	addCipherValue(ek, wrapped)
	addCipherValue(ed, body)
	return ed
}

// keyTransportMethod fills in the EncryptedKey's EncryptionMethod.
func keyTransportMethod(m *etree.Element, transport string) {
	m.CreateAttr("Algorithm", transport)
	digest := m.CreateElement("ds:DigestMethod")
	if transport == RSAOAEPMGF1P {
		digest.CreateAttr("Algorithm", DigestSHA1)
		return
	}
	digest.CreateAttr("Algorithm", DigestSHA256)
	mgf := m.CreateElement("xenc11:MGF")
	mgf.CreateAttr("xmlns:xenc11", NSXMLEnc11)
	mgf.CreateAttr("Algorithm", mgf1SHA256)
}

// addCipherValue appends xenc:CipherData/xenc:CipherValue to parent.
func addCipherValue(parent *etree.Element, value []byte) {
	cv := parent.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue")
	cv.SetText(base64.StdEncoding.EncodeToString(value))
}
