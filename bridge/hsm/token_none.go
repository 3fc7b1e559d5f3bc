//go:build !pkcs11

package hsm

// Supported reports whether this binary reaches PKCS#11 tokens.
const Supported = false

func openToken(*URI, []byte) (token, error) { return nil, ErrNotBuilt }
