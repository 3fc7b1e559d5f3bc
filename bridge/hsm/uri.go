// Package hsm holds the bridge's private keys in a hardware module: the
// pkcs11: URIs (RFC 7512) that name a key in a PKCS#11 token, the token
// contexts a process opens (one per token, closed when no configuration
// uses it any more), and the probe that tries, through the token, every
// signature and key transport the bridge will ask of a key.
//
// The URI is parsed in every build, so that a configuration naming a token
// key is validated (and refused with a clear error) by a binary built
// without PKCS#11 support; the token itself is reached only in a binary
// built with `-tags pkcs11` (cgo), so the default binary stays static.
package hsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Scheme is how a key field names a key in a token.
const Scheme = "pkcs11:"

// maxURIBytes bounds a configured URI.
const maxURIBytes = 2048

// maxPINBytes bounds what is read of a PIN file.
const maxPINBytes = 256

// ErrNotBuilt is the error of every token operation in a binary built
// without PKCS#11 support.
var ErrNotBuilt = errors.New("this binary was built without PKCS#11 support; build it with `go build -tags pkcs11` (cgo) to use keys in a token")

// IsURI reports whether a configured key names a key in a token.
func IsURI(s string) bool { return strings.HasPrefix(s, Scheme) }

// URI is a parsed pkcs11: URI naming one private key in one token.
type URI struct {
	// Token and Serial select the token (its label, its serial number): at
	// least one is set.
	Token, Serial string
	// Object (CKA_LABEL) and ID (CKA_ID) select the key: at least one.
	Object string
	ID     []byte
	// ModulePath is the PKCS#11 library (module-path=).
	ModulePath string
	// PINFile (pin-source=file:...) or PINEnv (pin-env=NAME, our own query
	// attribute) is where the user PIN is: exactly one is set. The PIN is
	// never in the URI (pin-value= is refused).
	PINFile, PINEnv string
}

// path attributes we use, and those RFC 7512 defines that we accept but
// which select nothing more (type must be private when given).
var pathAttrs = map[string]bool{"token": true, "serial": true, "object": true, "id": true, "type": true,
	"manufacturer": true, "model": true}

// ParseURI parses and checks a pkcs11: URI: the token, the key, the module
// and where the PIN is must all be given, and nothing unknown.
func ParseURI(raw string) (*URI, error) {
	if !IsURI(raw) {
		return nil, fmt.Errorf("not a %s URI", Scheme)
	}
	if len(raw) > maxURIBytes {
		return nil, fmt.Errorf("the %s URI is longer than %d bytes", Scheme, maxURIBytes)
	}
	rest := strings.TrimPrefix(raw, Scheme)
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	seen := map[string]bool{}
	for _, part := range split(path, ";") {
		name, value, err := attribute(part, seen)
		if err != nil {
			return nil, err
		}
		if !pathAttrs[name] {
			return nil, fmt.Errorf("unknown path attribute %q (this bridge knows token, serial, object, id, type)", name)
		}
		switch name {
		case "token":
			u.Token = value
		case "serial":
			u.Serial = value
		case "object":
			u.Object = value
		case "id":
			u.ID = []byte(value)
		case "type":
			if value != "private" {
				return nil, fmt.Errorf("type=%s: the bridge's key is a private key (type=private, or leave type out)", value)
			}
		}
	}
	for _, part := range split(query, "&") {
		name, value, err := attribute(part, seen)
		if err != nil {
			return nil, err
		}
		switch name {
		case "module-path":
			u.ModulePath = value
		case "pin-source":
			file, ok := strings.CutPrefix(value, "file:")
			if !ok || file == "" {
				return nil, fmt.Errorf("pin-source=%s: only file:<path> is supported (or pin-env=NAME)", value)
			}
			u.PINFile = strings.TrimPrefix(file, "//") // file:///etc/x and file:/etc/x alike
		case "pin-env":
			u.PINEnv = value
		case "pin-value":
			return nil, errors.New("pin-value: the PIN is never written in the configuration; use pin-source=file:<path> or pin-env=NAME")
		default:
			return nil, fmt.Errorf("unknown query attribute %q (this bridge knows module-path, pin-source, pin-env)", name)
		}
	}
	switch {
	case u.Token == "" && u.Serial == "":
		return nil, errors.New("name the token: token=<label> (or serial=<serial number>)")
	case u.Object == "" && len(u.ID) == 0:
		return nil, errors.New("name the key: object=<label> and/or id=<CKA_ID, percent-encoded>")
	case u.ModulePath == "":
		return nil, errors.New("name the PKCS#11 library: module-path=<absolute path of the .so>")
	case !filepath.IsAbs(u.ModulePath):
		return nil, fmt.Errorf("module-path=%s is not an absolute path", u.ModulePath)
	case (u.PINFile == "") == (u.PINEnv == ""):
		return nil, errors.New("say where the PIN is: exactly one of pin-source=file:<path> and pin-env=NAME")
	}
	return u, nil
}

// split splits s at sep, with no empty parts (an empty s has none).
func split(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}

// attribute decodes one name=value (the value percent-decoded), refusing
// an attribute given twice.
func attribute(part string, seen map[string]bool) (string, string, error) {
	name, value, ok := strings.Cut(part, "=")
	if !ok || name == "" {
		return "", "", fmt.Errorf("%q is not an attribute=value", part)
	}
	if seen[name] {
		return "", "", fmt.Errorf("attribute %q given twice", name)
	}
	seen[name] = true
	v, err := url.PathUnescape(value)
	if err != nil {
		return "", "", fmt.Errorf("attribute %q: %w", name, err)
	}
	return name, v, nil
}

// PINLocation names where the PIN is read from, for messages ("file
// /etc/x", "environment variable X"); never the PIN.
func (u *URI) PINLocation() string {
	if u.PINEnv != "" {
		return "environment variable " + u.PINEnv
	}
	return "file " + u.PINFile
}

// ReadPIN reads the user PIN: the file's content or the environment
// variable's value, without surrounding white space. Relative file names
// are resolved by resolve (the configuration's folder).
func (u *URI) ReadPIN(resolve func(string) string) ([]byte, error) {
	var pin []byte
	if u.PINEnv != "" {
		v, ok := os.LookupEnv(u.PINEnv)
		if !ok {
			return nil, fmt.Errorf("the PIN's environment variable %s is not set", u.PINEnv)
		}
		pin = []byte(v)
	} else {
		name := u.PINFile
		if resolve != nil {
			name = resolve(name)
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read the PIN: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxPINBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read the PIN file %s: %w", name, err)
		}
		if len(data) > maxPINBytes {
			return nil, fmt.Errorf("the PIN file %s is longer than %d bytes", name, maxPINBytes)
		}
		pin = data
	}
	pin = bytes.TrimSpace(pin)
	if len(pin) == 0 {
		return nil, fmt.Errorf("the PIN (%s) is empty", u.PINLocation())
	}
	return pin, nil
}

// String is the URI as a log line may show it: token and key, no PIN
// (there is none in it anyway).
func (u *URI) String() string {
	var b strings.Builder
	b.WriteString(Scheme)
	if u.Token != "" {
		b.WriteString("token=" + url.PathEscape(u.Token))
	} else {
		b.WriteString("serial=" + url.PathEscape(u.Serial))
	}
	if u.Object != "" {
		b.WriteString(";object=" + url.PathEscape(u.Object))
	}
	if len(u.ID) > 0 {
		b.WriteString(";id=")
		for _, c := range u.ID {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
