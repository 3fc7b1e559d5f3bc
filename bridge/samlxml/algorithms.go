package samlxml

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // links crypto.SHA1 for Hash.New
	_ "crypto/sha256"
	_ "crypto/sha512"
	"fmt"
	"slices"
)

// Transform and canonicalization URIs; exclusive c14n is also the namespace
// of InclusiveNamespaces.
const (
	algExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// MGF1 URIs of xenc11:MGF.
const (
	mgf1SHA1   = "http://www.w3.org/2009/xmlenc11#mgf1sha1"
	mgf1SHA256 = "http://www.w3.org/2009/xmlenc11#mgf1sha256"
	mgf1SHA512 = "http://www.w3.org/2009/xmlenc11#mgf1sha512"
)

// keyKind is the signature scheme a method URI names.
type keyKind int

const (
	kindRSAPKCS1 keyKind = iota + 1
	kindRSAPSS
	kindECDSA
)

// sigAlg is what a signature method URI stands for.
type sigAlg struct {
	hash crypto.Hash
	kind keyKind
}

// lookupMethod maps every signature method this package implements.
func lookupMethod(uri string) (sigAlg, bool) {
	switch uri {
	case RSASHA1:
		return sigAlg{crypto.SHA1, kindRSAPKCS1}, true
	case RSASHA256:
		return sigAlg{crypto.SHA256, kindRSAPKCS1}, true
	case RSASHA512:
		return sigAlg{crypto.SHA512, kindRSAPKCS1}, true
	case RSAPSSSHA256:
		return sigAlg{crypto.SHA256, kindRSAPSS}, true
	case RSAPSSSHA512:
		return sigAlg{crypto.SHA512, kindRSAPSS}, true
	case ECDSASHA256:
		return sigAlg{crypto.SHA256, kindECDSA}, true
	case ECDSASHA512:
		return sigAlg{crypto.SHA512, kindECDSA}, true
	}
	return sigAlg{}, false
}

// lookupDigest maps every digest method this package implements.
func lookupDigest(uri string) (crypto.Hash, bool) {
	switch uri {
	case DigestSHA1:
		return crypto.SHA1, true
	case DigestSHA256:
		return crypto.SHA256, true
	case DigestSHA512:
		return crypto.SHA512, true
	}
	return 0, false
}

// lookupMGF maps the MGF1 variants of xmlenc11#rsa-oaep.
func lookupMGF(uri string) (crypto.Hash, bool) {
	switch uri {
	case mgf1SHA1:
		return crypto.SHA1, true
	case mgf1SHA256:
		return crypto.SHA256, true
	case mgf1SHA512:
		return crypto.SHA512, true
	}
	return 0, false
}

// digestURI is the digest method that goes with hash h.
func digestURI(h crypto.Hash) string {
	switch h {
	case crypto.SHA1:
		return DigestSHA1
	case crypto.SHA512:
		return DigestSHA512
	}
	return DigestSHA256
}

// defaultMethod is the signature method for a key that has none configured.
func defaultMethod(pub crypto.PublicKey) (string, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		return RSASHA256, nil
	case *ecdsa.PublicKey:
		return ECDSASHA256, nil
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

// checkMethod admits a signature method if the policy allows it.
func (p AlgorithmPolicy) checkMethod(uri string) (sigAlg, error) {
	alg, ok := lookupMethod(uri)
	if !ok {
		return sigAlg{}, fmt.Errorf("signature method %q is not supported", uri)
	}
	if alg.hash == crypto.SHA1 && !p.AllowSHA1 {
		return sigAlg{}, fmt.Errorf("signature method %q is not allowed: SHA-1 is disabled for this peer", uri)
	}
	if len(p.Methods) > 0 && !slices.Contains(p.Methods, uri) {
		return sigAlg{}, fmt.Errorf("signature method %q is not in this peer's allowed methods", uri)
	}
	return alg, nil
}

// checkDigest admits a digest method if the policy allows it.
func (p AlgorithmPolicy) checkDigest(uri string) (crypto.Hash, error) {
	h, ok := lookupDigest(uri)
	if !ok {
		return 0, fmt.Errorf("digest method %q is not supported", uri)
	}
	if h == crypto.SHA1 && !p.AllowSHA1 {
		return 0, fmt.Errorf("digest method %q is not allowed: SHA-1 is disabled for this peer", uri)
	}
	return h, nil
}

// hashData hashes data with h, which must be one of the linked hashes.
func hashData(h crypto.Hash, data []byte) []byte {
	w := h.New()
	w.Write(data)
	return w.Sum(nil)
}
