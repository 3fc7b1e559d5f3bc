// Package seal seals small values with authenticated encryption
// (AES-256-GCM) under keys named by ids: the first key seals, every key
// opens, so a key rotates by putting a new one first and dropping the old
// one once nothing it sealed can still be alive. Each value is sealed for
// a purpose (bound as additional data), so a value sealed for one place
// cannot be passed off in another.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Key is one sealing key: the id that names it in what it seals, and a
// secret of at least 32 bytes.
type Key struct {
	ID     string
	Secret []byte
}

// Keys seal and open values.
type Keys struct {
	keys []named
	rand io.Reader
}

type named struct {
	id   string
	aead cipher.AEAD
}

// ErrOpen is every failure to open a sealed value (unknown key, tampered,
// sealed for another purpose): one error, no oracle.
var ErrOpen = errors.New("seal: cannot open the value")

// New returns Keys sealing with the first key and opening with any;
// nonces come from rand.
func New(rand io.Reader, keys ...Key) (*Keys, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	k := &Keys{rand: rand}
	seen := map[string]bool{}
	for _, key := range keys {
		switch {
		case key.ID == "" || strings.Contains(key.ID, "."):
			return nil, fmt.Errorf("seal: key id %q is empty or has a '.'", key.ID)
		case seen[key.ID]:
			return nil, fmt.Errorf("seal: key id %q is used twice", key.ID)
		case len(key.Secret) < 32:
			return nil, fmt.Errorf("seal: key %s has %d bytes, fewer than 32", key.ID, len(key.Secret))
		}
		seen[key.ID] = true
		derived, err := hkdf.Key(sha256.New, key.Secret, nil, "clavebridge seal v1", 32)
		if err != nil {
			return nil, fmt.Errorf("seal: derive key %s: %w", key.ID, err)
		}
		block, err := aes.NewCipher(derived)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.keys = append(k.keys, named{id: key.ID, aead: aead})
	}
	return k, nil
}

// Seal encrypts plaintext for purpose under the first key and returns
// "<key id>.<base64url(nonce ‖ ciphertext)>".
func (k *Keys) Seal(purpose string, plaintext []byte) (string, error) {
	key := k.keys[0]
	nonce := make([]byte, key.aead.NonceSize(), key.aead.NonceSize()+len(plaintext)+key.aead.Overhead())
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	sealed := key.aead.Seal(nonce, nonce, plaintext, []byte(purpose))
	return key.id + "." + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open decrypts a value sealed for purpose by any of the keys.
func (k *Keys) Open(purpose, sealed string) ([]byte, error) {
	id, body, ok := strings.Cut(sealed, ".")
	if !ok {
		return nil, ErrOpen
	}
	for _, key := range k.keys {
		if key.id != id {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(body)
		if err != nil || len(raw) < key.aead.NonceSize()+key.aead.Overhead() {
			return nil, ErrOpen
		}
		n := key.aead.NonceSize()
		plain, err := key.aead.Open(nil, raw[:n], raw[n:], []byte(purpose))
		if err != nil {
			return nil, ErrOpen
		}
		return plain, nil
	}
	return nil, ErrOpen
}

// SealedLen is the length of what Seal returns for n bytes of plaintext
// with the current key.
func (k *Keys) SealedLen(n int) int {
	key := k.keys[0]
	return len(key.id) + 1 + base64.RawURLEncoding.EncodedLen(key.aead.NonceSize()+n+key.aead.Overhead())
}
