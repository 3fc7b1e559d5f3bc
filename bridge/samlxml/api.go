// Package samlxml is the only place in clavebridge that touches XML security:
// hardened parsing, enveloped signatures (sign and verify under a per-peer
// algorithm allow-list), XML encryption and decryption, and the HTTP-POST and
// HTTP-Redirect binding codecs.
//
// API CONTRACT (filled in by the samlxml implementation; signatures are fixed,
// other packages code against them).
package samlxml

import (
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"time"

	"github.com/beevik/etree"
)

// Namespace URIs used across dialects.
const (
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
	NSXMLEnc    = "http://www.w3.org/2001/04/xmlenc#"
	NSXMLEnc11  = "http://www.w3.org/2009/xmlenc11#"
	NSXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	NSXS        = "http://www.w3.org/2001/XMLSchema"
)

// Signature method URIs.
const (
	RSASHA1      = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	RSASHA256    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	RSASHA512    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	RSAPSSSHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
	RSAPSSSHA512 = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1"
	ECDSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	ECDSASHA512  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
)

// Digest method URIs.
const (
	DigestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	DigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	DigestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)

// Encryption algorithm URIs.
const (
	AES128GCM    = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	AES256GCM    = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	RSAOAEPMGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	RSAOAEP      = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
)

// DefaultMaxMessageBytes caps a decoded SAML message.
const DefaultMaxMessageBytes = 256 << 10

// ErrDecrypt is the one error every decryption failure returns.
var ErrDecrypt = errors.New("samlxml: cannot decrypt")

// AlgorithmPolicy is a peer's allow-list. The zero value allows
// rsa-sha256/512, the PSS and ECDSA methods with SHA-256/512 digests.
type AlgorithmPolicy struct {
	// AllowSHA1 admits rsa-sha1 and the sha1 digest (legacy peers only).
	AllowSHA1 bool
	// Methods, if not empty, restricts signature methods to these URIs.
	Methods []string
}

// Signer signs elements enveloped, exclusive c14n, one Reference to #ID.
type Signer struct {
	Key         crypto.Signer
	Cert        *x509.Certificate
	Method      string // signature method URI; default RSASHA256 for RSA keys
	Digest      string // digest URI; default follows the method's hash
	IncludeCert bool   // put the certificate in KeyInfo/X509Data
	// InclusivePrefixes go into the exclusive c14n InclusiveNamespaces PrefixList.
	InclusivePrefixes []string
}

// Verified is what a successful verification gives the caller.
type Verified struct {
	Element *etree.Element    // the signed element: the canonical tree whose bytes were digested
	Cert    *x509.Certificate // the configured certificate that verified it
	Method  string            // the signature method used
}

// Verifier checks an enveloped signature against configured certificates only.
type Verifier struct {
	Certs  []*x509.Certificate
	Policy AlgorithmPolicy
}

// Encrypter encrypts elements to a peer's certificate.
type Encrypter struct {
	Cert         *x509.Certificate
	KeyTransport string // RSAOAEPMGF1P or RSAOAEP (SHA-256 digest, MGF1-SHA256)
	Data         string // AES128GCM or AES256GCM
	Rand         io.Reader
}

// Field is one hidden input of a POST form.
type Field struct{ Name, Value string }

// RedirectMessage is a decoded HTTP-Redirect binding message.
type RedirectMessage struct {
	Param      string // SAMLRequest or SAMLResponse
	XML        []byte
	RelayState string
	SigAlg     string
	Signature  []byte
	SignedData []byte // the exact query bytes the signature covers
}

// FormatTime writes t as SAML xs:dateTime in UTC with milliseconds.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ParseTime reads an xs:dateTime.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
