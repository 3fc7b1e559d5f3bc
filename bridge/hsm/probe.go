package hsm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// Capability is what the probe found of one algorithm on one key.
type Capability struct {
	// Algorithm is the signature method or key transport URI tried.
	Algorithm string
	// Sign tells a signature from a key transport (decryption).
	Sign bool
	// Err is why the key could not (nil: it can).
	Err error
}

// OK reports whether the key can.
func (c Capability) OK() bool { return c.Err == nil }

// Message says, for an operator, what the key cannot do and what to do
// about it ("" when it can).
func (c Capability) Message() string {
	if c.OK() {
		return ""
	}
	name := ShortName(c.Algorithm)
	if c.Sign {
		return fmt.Sprintf("the key cannot sign with %s (%s): %v; choose a signature algorithm it can do, or a key that can", name, c.Algorithm, c.Err)
	}
	switch c.Algorithm {
	case samlxml.RSAOAEP:
		return fmt.Sprintf("the key cannot decrypt %s (SHA-256, MGF1-SHA256): %v; senders (the gateway) must use rsa-oaep-mgf1p (%s), the only key transport our metadata then advertises", name, c.Err, samlxml.RSAOAEPMGF1P)
	case samlxml.RSAOAEPMGF1P:
		return fmt.Sprintf("the key cannot decrypt %s (SHA-1, MGF1-SHA1): %v; senders must use xmlenc11#rsa-oaep (%s), the only key transport our metadata then advertises", name, c.Err, samlxml.RSAOAEP)
	}
	return fmt.Sprintf("the key cannot decrypt %s: %v", c.Algorithm, c.Err)
}

// ShortName is the fragment of an algorithm URI (xmlenc11#rsa-oaep →
// "xmlenc11#rsa-oaep" for the two OAEP forms, rsa-sha256 for the rest).
func ShortName(uri string) string {
	switch uri {
	case samlxml.RSAOAEP:
		return "xmlenc11#rsa-oaep"
	case samlxml.RSAOAEPMGF1P:
		return "xmlenc#rsa-oaep-mgf1p"
	}
	if _, frag, ok := strings.Cut(uri, "#"); ok {
		return frag
	}
	return uri
}

// KeyTransports are the key transports the bridge decrypts, in the order
// the probe tries them.
var KeyTransports = []string{samlxml.RSAOAEPMGF1P, samlxml.RSAOAEP}

// SigningMethods are the signature methods of methods that fit key's type
// (RSA PKCS#1 v1.5 or ECDSA), with SHA-256 and SHA-512 of that type
// always among them.
func SigningMethods(pub crypto.PublicKey, methods ...string) []string {
	var fit []string
	switch pub.(type) {
	case *rsa.PublicKey:
		fit = []string{samlxml.RSASHA256, samlxml.RSASHA512}
	case *ecdsa.PublicKey:
		fit = []string{samlxml.ECDSASHA256, samlxml.ECDSASHA512}
	}
	out := slices.Clone(fit)
	for _, m := range methods {
		if _, ok := signatureHash(m, pub); ok && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Probe tries key with every signature method of sign and, when decrypt
// (an RSA key the bridge decrypts with), every key transport: it signs a
// test value and verifies the signature with the public key, and encrypts
// a test key to the public key and decrypts it through key. It changes
// nothing in the token.
func Probe(key crypto.Signer, sign []string, decrypt bool, rnd io.Reader) []Capability {
	var out []Capability
	for _, m := range sign {
		out = append(out, Capability{Algorithm: m, Sign: true, Err: probeSign(key, m, rnd)})
	}
	if !decrypt {
		return out
	}
	for _, t := range KeyTransports {
		out = append(out, Capability{Algorithm: t, Err: probeDecrypt(key, t, rnd)})
	}
	return out
}

// Transports are the key transports of caps the key can decrypt.
func Transports(caps []Capability) []string {
	var out []string
	for _, c := range caps {
		if !c.Sign && c.OK() {
			out = append(out, c.Algorithm)
		}
	}
	return out
}

// probeMessage is what the probe signs and encrypts.
var probeMessage = []byte("clavebridge key probe 0123456789")

func signatureHash(method string, pub crypto.PublicKey) (crypto.Hash, bool) {
	switch pub.(type) {
	case *rsa.PublicKey:
		switch method {
		case samlxml.RSASHA256:
			return crypto.SHA256, true
		case samlxml.RSASHA512:
			return crypto.SHA512, true
		}
	case *ecdsa.PublicKey:
		switch method {
		case samlxml.ECDSASHA256:
			return crypto.SHA256, true
		case samlxml.ECDSASHA512:
			return crypto.SHA512, true
		}
	}
	return 0, false
}

func probeSign(key crypto.Signer, method string, rnd io.Reader) error {
	pub := key.Public()
	h, ok := signatureHash(method, pub)
	if !ok {
		return fmt.Errorf("a %T key does not sign with %s", pub, ShortName(method))
	}
	var digest []byte
	if h == crypto.SHA256 {
		s := sha256.Sum256(probeMessage)
		digest = s[:]
	} else {
		s := sha512.Sum512(probeMessage)
		digest = s[:]
	}
	sig, err := key.Sign(rnd, digest, h)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(p, h, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(p, digest, sig) {
			err = errors.New("invalid signature")
		}
	}
	if err != nil {
		return fmt.Errorf("its signature does not verify with its public key: %w", err)
	}
	return nil
}

func probeDecrypt(key crypto.Signer, transport string, rnd io.Reader) error {
	pub, ok := key.Public().(*rsa.PublicKey)
	if !ok {
		return errors.New("not an RSA key")
	}
	dec, ok := key.(crypto.Decrypter)
	if !ok {
		return errors.New("the key does not decrypt")
	}
	opts := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	if transport == samlxml.RSAOAEP {
		opts = &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}
	}
	ct, err := rsa.EncryptOAEPWithOptions(rnd, pub, probeMessage, opts)
	if err != nil {
		return fmt.Errorf("encrypt to the public key: %w", err)
	}
	pt, err := dec.Decrypt(rnd, ct, opts)
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	if !bytes.Equal(pt, probeMessage) {
		return errors.New("decrypts to something else")
	}
	return nil
}
