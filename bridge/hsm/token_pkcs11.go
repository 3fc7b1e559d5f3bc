//go:build pkcs11

package hsm

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	"github.com/ThalesGroup/crypto11"
)

// Supported reports whether this binary reaches PKCS#11 tokens.
const Supported = true

// maxSessions bounds the sessions one context opens on its token.
const maxSessions = 16

type p11Token struct{ ctx *crypto11.Context }

func openToken(u *URI, pin []byte) (token, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path: u.ModulePath, TokenLabel: u.Token, TokenSerial: u.Serial, Pin: string(pin), MaxSessions: maxSessions,
	})
	if err != nil {
		return nil, fmt.Errorf("open the token and log in with the PIN from the %s: %w", u.PINLocation(), err)
	}
	return &p11Token{ctx: ctx}, nil
}

func (t *p11Token) key(u *URI) (crypto.Signer, error) {
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	keys, err := t.ctx.FindKeyPairs(u.ID, label)
	if err != nil {
		return nil, fmt.Errorf("find the key: %w", err)
	}
	switch len(keys) {
	case 0:
		return nil, errors.New("no such key pair in the token (a private key, and its public key with the same CKA_ID)")
	case 1:
	default:
		return nil, fmt.Errorf("%d key pairs match: name one (id= and object=)", len(keys))
	}
	if _, ok := keys[0].Public().(*rsa.PublicKey); ok {
		return rsaKey{keys[0]}, nil
	}
	return keys[0], nil
}

func (t *p11Token) close() error { return t.ctx.Close() }

// rsaKey is a token's RSA key as a crypto.Decrypter that refuses what the
// token library cannot be asked for: OAEP whose MGF1 hash differs from its
// digest (crypto11 would silently use the digest for both).
type rsaKey struct{ crypto11.Signer }

func (k rsaKey) Decrypt(r io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	d, ok := k.Signer.(crypto.Decrypter)
	if !ok {
		return nil, errors.New("this token key cannot decrypt")
	}
	if o, ok := opts.(*rsa.OAEPOptions); ok && o.MGFHash != 0 && o.MGFHash != o.Hash {
		return nil, fmt.Errorf("RSA-OAEP with digest %v and MGF1 %v: a token key decrypts OAEP only with one hash for both", o.Hash, o.MGFHash)
	}
	return d.Decrypt(r, ciphertext, opts)
}
