// Package pairwise derives persistent pairwise identifiers: for one SP a
// citizen's identifier is always the same value, and two SPs get values
// that cannot be linked without the bridge's secret.
package pairwise

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Keyer derives pairwise identifiers under one secret, which must never
// change once SPs rely on the identifiers.
type Keyer struct{ secret []byte }

// New returns a Keyer; the secret has at least 32 bytes.
func New(secret []byte) (*Keyer, error) {
	if len(secret) < 32 {
		return nil, errors.New("pairwise: the secret needs at least 32 bytes")
	}
	return &Keyer{secret: append([]byte(nil), secret...)}, nil
}

// ID is the pairwise identifier of subject towards the SP spID: an HMAC
// of both under the secret, base64url without padding (43 characters).
func (k *Keyer) ID(spID, subject string) string {
	mac := hmac.New(sha256.New, k.secret)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(spID))) // the SP's length first: no two pairs run together
	mac.Write(n[:])
	mac.Write([]byte(spID))
	mac.Write([]byte(subject))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
