package softhsmtest

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"io"
)

// OAEPOnly is an RSA key that, like a token, decrypts RSA-OAEP with one
// digest only (SoftHSM2 2.6: SHA-1) and refuses the others as a token
// does (CKR_ARGUMENTS_BAD).
type OAEPOnly struct {
	*rsa.PrivateKey
	Hash crypto.Hash
}

// Decrypt implements crypto.Decrypter.
func (k OAEPOnly) Decrypt(r io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if o, ok := opts.(*rsa.OAEPOptions); ok && o.Hash != k.Hash {
		return nil, errors.New("CKR_ARGUMENTS_BAD")
	}
	return k.PrivateKey.Decrypt(r, ct, opts)
}

// SignOnly is an RSA key that signs with one digest only; with Hash 0 it
// signs nothing (CKR_MECHANISM_INVALID, as a token without the mechanism).
type SignOnly struct {
	*rsa.PrivateKey
	Hash crypto.Hash
}

// Sign implements crypto.Signer.
func (k SignOnly) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if k.Hash == 0 || opts.HashFunc() != k.Hash {
		return nil, errors.New("CKR_MECHANISM_INVALID")
	}
	return k.PrivateKey.Sign(r, digest, opts)
}
