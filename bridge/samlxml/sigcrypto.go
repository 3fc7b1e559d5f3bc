package samlxml

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// checkKey refuses a public key that does not fit the method's scheme.
func (a sigAlg) checkKey(pub crypto.PublicKey) error {
	switch pub.(type) {
	case *rsa.PublicKey:
		if a.kind == kindRSAPKCS1 || a.kind == kindRSAPSS {
			return nil
		}
	case *ecdsa.PublicKey:
		if a.kind == kindECDSA {
			return nil
		}
	}
	return fmt.Errorf("key type %T does not match the signature method", pub)
}

// pssOptions are the RSA-PSS parameters of the xmldsig-more#*-rsa-MGF1
// methods (RFC 6931): MGF1 with the message hash, salt as long as the hash.
func pssOptions(h crypto.Hash) *rsa.PSSOptions {
	return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
}

// signData signs data with key. ECDSA signatures come out as the raw r||s
// that XML-DSig 1.1 requires, not ASN.1 DER.
func signData(key crypto.Signer, alg sigAlg, data []byte) ([]byte, error) {
	if err := alg.checkKey(key.Public()); err != nil {
		return nil, err
	}
	digest := hashData(alg.hash, data)
	switch alg.kind {
	case kindRSAPSS:
		return key.Sign(rand.Reader, digest, pssOptions(alg.hash))
	case kindECDSA:
		der, err := key.Sign(rand.Reader, digest, alg.hash)
		if err != nil {
			return nil, err
		}
		pub, _ := key.Public().(*ecdsa.PublicKey)
		return ecdsaDERToRaw(der, curveBytes(pub))
	}
	return key.Sign(rand.Reader, digest, alg.hash)
}

// verifyData checks sig over data with pub.
func verifyData(pub crypto.PublicKey, alg sigAlg, data, sig []byte) error {
	if err := alg.checkKey(pub); err != nil {
		return err
	}
	digest := hashData(alg.hash, data)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg.kind == kindRSAPSS {
			return rsa.VerifyPSS(k, alg.hash, digest, sig, pssOptions(alg.hash))
		}
		return rsa.VerifyPKCS1v15(k, alg.hash, digest, sig)
	case *ecdsa.PublicKey:
		return verifyECDSARaw(k, digest, sig)
	}
	return errors.New("unreachable key type")
}

// curveBytes is the width of r and s for pub's curve.
func curveBytes(pub *ecdsa.PublicKey) int {
	if pub == nil || pub.Curve == nil {
		return 0
	}
	return (pub.Curve.Params().BitSize + 7) / 8
}

// ecdsaDERToRaw converts an ASN.1 ECDSA signature to fixed-width r||s.
func ecdsaDERToRaw(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("malformed ECDSA signature from the signer: %v", err)
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, errors.New("ECDSA signature from the signer is out of range for its curve")
	}
	raw := make([]byte, 2*size)
	sig.R.FillBytes(raw[:size])
	sig.S.FillBytes(raw[size:])
	return raw, nil
}

// verifyECDSARaw checks a raw r||s ECDSA signature.
func verifyECDSARaw(pub *ecdsa.PublicKey, digest, sig []byte) error {
	size := curveBytes(pub)
	if size == 0 || len(sig) != 2*size {
		return fmt.Errorf("ECDSA signature is %d bytes, want %d (raw r||s)", len(sig), 2*size)
	}
	r := new(big.Int).SetBytes(sig[:size])
	s := new(big.Int).SetBytes(sig[size:])
	if !ecdsa.Verify(pub, digest, r, s) {
		return errors.New("ECDSA verification failure")
	}
	return nil
}
