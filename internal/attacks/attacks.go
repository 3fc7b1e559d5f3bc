// Package attacks generates XML-signature and SAML attack variants of a
// validly signed SAML message, for negative tests of bridge/samlxml and of
// anything that consumes its Verified output. The catalogue follows
// docs/reference/saml-security.md §4.
//
// Every variant parses the message with etree, mutates it (matching
// namespace URIs, never prefixes) and serializes it again. Every value a
// variant injects contains EvilMarker, so a test can assert that the marker
// never appears in a verified element.
package attacks

import (
	"crypto"
	"crypto/x509"
)

// Class groups variants by the attack catalogue entry they exercise.
type Class string

// Attack classes.
const (
	XSW                Class = "XSW (signature wrapping)"
	MultipleAssertions Class = "multiple assertions"
	CommentInjection   Class = "comment/PI injection"
	SignatureExclusion Class = "signature exclusion"
	CertificateFaking  Class = "certificate faking"
	DTD                Class = "DOCTYPE/XXE/entities"
	Size               Class = "depth and size"
	AlgorithmDowngrade Class = "algorithm downgrade"
	ParserDifferential Class = "parser differential"
	TransformAbuse     Class = "transform/reference abuse"
	KeyConfusion       Class = "key confusion"
)

// EvilMarker is in every value a variant injects (NameID, AttributeValue,
// comments, entities, padding). It must never appear in a verified element.
const EvilMarker = "ES/ES/00000000EVIL"

// Keys are the attacker's key and the certificate of the party being
// impersonated.
//
// Trusted and TrustedCert are optional: the real key of the impersonated
// party (and its certificate, normally the same as Victim). They are only
// for the algorithm-downgrade variants, which are only meaningful when the
// message is signed by a key the verifier trusts, with an algorithm it
// should refuse. Tests supply them; when Trusted is nil those variants are
// not returned by Variants.
type Keys struct {
	Attacker     crypto.Signer
	AttackerCert *x509.Certificate
	Victim       *x509.Certificate

	Trusted     crypto.Signer     // optional: the victim's real signing key
	TrustedCert *x509.Certificate // optional: Trusted's certificate (put in KeyInfo)
}

// Variant is one attack on a serialized, validly signed SAML message.
type Variant struct {
	Class Class
	Name  string
	Apply func(msg []byte) ([]byte, error)
}

// Variants returns every variant that applies to a message whose root element
// is signed (and whose direct child saml:Assertion, if any, may be signed
// too). Apply returns an error only when the variant does not apply to that
// message (e.g. no Assertion): callers skip it then.
func Variants(k Keys) []Variant {
	var out []Variant
	out = append(out, xswVariants()...)
	out = append(out, multipleAssertionVariants()...)
	out = append(out, commentVariants()...)
	out = append(out, exclusionVariants()...)
	out = append(out, certificateVariants(k)...)
	out = append(out, dtdVariants()...)
	out = append(out, sizeVariants()...)
	out = append(out, downgradeVariants(k)...)
	out = append(out, differentialVariants()...)
	out = append(out, transformVariants()...)
	out = append(out, keyConfusionVariants(k)...)
	return out
}
