package samlxml

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
)

// NewID returns a fresh xs:ID value ("_" and 40 hex digits) from r, or from
// crypto/rand if r is nil.
func NewID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [20]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("samlxml: reading random bytes for an ID: %w", err)
	}
	return "_" + hex.EncodeToString(b[:]), nil
}
