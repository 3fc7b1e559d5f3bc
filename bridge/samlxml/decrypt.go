package samlxml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// maxEncryptedKeys caps the EncryptedKey elements Decrypt tries.
const maxEncryptedKeys = 4

// Decrypt opens an xenc:EncryptedData element with key and returns the
// plaintext element parsed with the hardened parser. Every failure is ErrDecrypt.
//
// Only AES-GCM content encryption and RSA-OAEP key transport (rsa-oaep-mgf1p
// and xmlenc11#rsa-oaep, SHA-1/256/512 digests and MGF1) are accepted; the
// EncryptedKey must be inside the EncryptedData's ds:KeyInfo. The single
// error value gives an attacker no oracle.
func Decrypt(encryptedData *etree.Element, key crypto.Decrypter, maxBytes int) (*etree.Element, error) {
	el, err := decrypt(encryptedData, key, maxBytes)
	if err != nil {
		return nil, ErrDecrypt
	}
	return el, nil
}

// decrypt does the work of Decrypt with descriptive errors (for debugging).
func decrypt(ed *etree.Element, key crypto.Decrypter, maxBytes int) (*etree.Element, error) {
	if rk, ok := key.(*rsa.PrivateKey); ed == nil || key == nil || (ok && rk == nil) {
		return nil, errors.New("nothing to decrypt or no key")
	}
	if !Is(ed, NSXMLEnc, "EncryptedData") {
		return nil, fmt.Errorf("<%s> is not xenc:EncryptedData", ed.FullTag())
	}
	if t, ok := plainAttr(ed, "Type"); ok && t != typeElement {
		return nil, fmt.Errorf("EncryptedData Type %q is not supported", t)
	}
	keyLen, err := dataKeyLength(ed)
	if err != nil {
		return nil, err
	}
	body, err := cipherValue(ed)
	if err != nil {
		return nil, err
	}
	keys, err := encryptedKeys(ed)
	if err != nil {
		return nil, err
	}
	for _, ek := range keys {
		cek, err := unwrapKey(ek, key)
		if err != nil || len(cek) != keyLen {
			continue
		}
		if plaintext, err := openGCM(cek, body); err == nil {
			return parsePlaintext(plaintext, maxBytes)
		}
	}
	return nil, errors.New("no EncryptedKey opens the content")
}

// parsePlaintext parses the decrypted element with the hardened parser.
// Comments and processing instructions are refused in it as in signed
// content: the plaintext is covered by the outer signature, and a reader
// must not see text split where the signer did not.
func parsePlaintext(plaintext []byte, maxBytes int) (*etree.Element, error) {
	doc, err := Parse(plaintext, maxBytes)
	if err != nil {
		return nil, err
	}
	if err := checkNoMarkup(doc.Root()); err != nil {
		return nil, err
	}
	return doc.Root(), nil
}

// dataKeyLength checks the content algorithm and returns its key length.
func dataKeyLength(ed *etree.Element) (int, error) {
	m, err := Child(ed, NSXMLEnc, "EncryptionMethod")
	if err != nil || m == nil {
		return 0, fmt.Errorf("EncryptedData needs one EncryptionMethod: %v", err)
	}
	alg, _ := plainAttr(m, "Algorithm")
	n := gcmKeyLength(alg)
	if n == 0 {
		return 0, fmt.Errorf("data encryption %q is not allowed", alg)
	}
	return n, nil
}

// encryptedKeys returns the EncryptedKey elements in ds:KeyInfo.
func encryptedKeys(ed *etree.Element) ([]*etree.Element, error) {
	ki, err := Child(ed, NSDSig, "KeyInfo")
	if err != nil || ki == nil {
		return nil, fmt.Errorf("EncryptedData needs one ds:KeyInfo: %v", err)
	}
	keys := Children(ki, NSXMLEnc, "EncryptedKey")
	if len(keys) == 0 || len(keys) > maxEncryptedKeys {
		return nil, fmt.Errorf("%d EncryptedKey elements, want 1 to %d", len(keys), maxEncryptedKeys)
	}
	return keys, nil
}

// cipherValue decodes parent's CipherData/CipherValue.
func cipherValue(parent *etree.Element) ([]byte, error) {
	cd, err := Child(parent, NSXMLEnc, "CipherData")
	if err != nil || cd == nil {
		return nil, fmt.Errorf("<%s> needs one CipherData: %v", parent.FullTag(), err)
	}
	cv, err := Child(cd, NSXMLEnc, "CipherValue")
	if err != nil || cv == nil {
		return nil, fmt.Errorf("CipherData needs one CipherValue: %v", err)
	}
	return leafBase64(cv)
}

// unwrapKey decrypts the content key held by an EncryptedKey.
func unwrapKey(ek *etree.Element, key crypto.Decrypter) ([]byte, error) {
	m, err := Child(ek, NSXMLEnc, "EncryptionMethod")
	if err != nil || m == nil {
		return nil, fmt.Errorf("EncryptedKey needs one EncryptionMethod: %v", err)
	}
	opts, err := oaepOptions(m)
	if err != nil {
		return nil, err
	}
	wrapped, err := cipherValue(ek)
	if err != nil {
		return nil, err
	}
	return key.Decrypt(rand.Reader, wrapped, opts)
}

// oaepOptions reads a key transport EncryptionMethod. Defaults follow XML
// Encryption: SHA-1 digest, MGF1 with SHA-1 (always so for rsa-oaep-mgf1p).
func oaepOptions(m *etree.Element) (*rsa.OAEPOptions, error) {
	alg, _ := plainAttr(m, "Algorithm")
	if alg != RSAOAEPMGF1P && alg != RSAOAEP {
		return nil, fmt.Errorf("key transport %q is not allowed", alg)
	}
	if err := checkTransportParams(m, alg); err != nil {
		return nil, err
	}
	hash, err := optionalHash(m, NSDSig, "DigestMethod", lookupDigest)
	if err != nil {
		return nil, err
	}
	mgf, err := optionalHash(m, NSXMLEnc11, "MGF", lookupMGF)
	if err != nil {
		return nil, err
	}
	opts := &rsa.OAEPOptions{Hash: hash, MGFHash: mgf}
	if p, err := Child(m, NSXMLEnc, "OAEPparams"); err != nil || p == nil {
		return opts, err
	} else if opts.Label, err = leafBase64(p); err != nil {
		return nil, err
	}
	return opts, nil
}

// checkTransportParams refuses anything but DigestMethod, OAEPparams and,
// for xmlenc11#rsa-oaep, MGF inside the key transport method.
func checkTransportParams(m *etree.Element, alg string) error {
	for _, c := range m.ChildElements() {
		ok := Is(c, NSDSig, "DigestMethod") || Is(c, NSXMLEnc, "OAEPparams") ||
			(alg == RSAOAEP && Is(c, NSXMLEnc11, "MGF"))
		if !ok {
			return fmt.Errorf("unexpected <%s> in the %s method", c.FullTag(), alg)
		}
	}
	return nil
}

// optionalHash maps the Algorithm of m's optional child {ns}tag with lookup;
// SHA-1 when the child is absent.
func optionalHash(m *etree.Element, ns, tag string, lookup func(string) (crypto.Hash, bool)) (crypto.Hash, error) {
	c, err := Child(m, ns, tag)
	if err != nil || c == nil {
		return crypto.SHA1, err
	}
	alg, _ := plainAttr(c, "Algorithm")
	h, ok := lookup(alg)
	if !ok {
		return 0, fmt.Errorf("%s %q is not supported", tag, alg)
	}
	return h, nil
}

// openGCM opens IV || ciphertext || tag.
func openGCM(key, data []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(data) < gcmNonceSize+gcm.Overhead() {
		return nil, errors.New("ciphertext too short")
	}
	return gcm.Open(nil, data[:gcmNonceSize], data[gcmNonceSize:], nil)
}
