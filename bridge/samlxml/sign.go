package samlxml

import (
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// signParams is a Signer's configuration, resolved and checked.
type signParams struct {
	method     string
	alg        sigAlg
	digest     string
	digestHash crypto.Hash
	prefixes   string
}

// Sign inserts an enveloped ds:Signature into el (which must carry an ID
// attribute): right after the saml Issuer child if there is one, otherwise as
// the first child.
//
// The Signature has exclusive c14n for SignedInfo, one Reference to "#"+ID
// with the enveloped-signature and exclusive c14n transforms, and, with
// IncludeCert, the certificate in KeyInfo. The digest covers el in its
// namespace context, as a verifier that sees the whole document computes it.
func (s Signer) Sign(el *etree.Element) error {
	if el == nil {
		return errors.New("samlxml: sign: no element")
	}
	id, err := elementID(el)
	if err != nil {
		return fmt.Errorf("samlxml: sign: %w", err)
	}
	if len(Children(el, NSDSig, "Signature")) > 0 {
		return fmt.Errorf("samlxml: sign: <%s> already has a ds:Signature", el.FullTag())
	}
	if err := checkNoMarkup(el); err != nil {
		return fmt.Errorf("samlxml: sign: verifiers refuse it: %w", err)
	}
	p, err := s.params()
	if err != nil {
		return fmt.Errorf("samlxml: sign: %w", err)
	}
	canon, err := canonicalize(el, p.prefixes, nil)
	if err != nil {
		return fmt.Errorf("samlxml: sign: %w", err)
	}
	digest := hashData(p.digestHash, canon)
	releaseCanonical(canon)
	sig := s.signatureTemplate(p, id, digest)
	insertSignature(el, sig)
	if err := s.fillSignatureValue(sig, p); err != nil {
		el.RemoveChild(sig)
		return fmt.Errorf("samlxml: sign: %w", err)
	}
	return nil
}

// SignBytes signs raw bytes with Method (for the Redirect binding query).
func (s Signer) SignBytes(data []byte) ([]byte, error) {
	p, err := s.params()
	if err != nil {
		return nil, fmt.Errorf("samlxml: sign: %w", err)
	}
	sig, err := signData(s.Key, p.alg, data)
	if err != nil {
		return nil, fmt.Errorf("samlxml: sign: %w", err)
	}
	return sig, nil
}

// method is the configured signature method or the key type's default.
func (s Signer) method() (string, error) {
	if s.Key == nil {
		return "", errors.New("no signing key")
	}
	if s.Method != "" {
		return s.Method, nil
	}
	return defaultMethod(s.Key.Public())
}

// params resolves and checks the Signer's configuration.
func (s Signer) params() (signParams, error) {
	method, err := s.method()
	if err != nil {
		return signParams{}, err
	}
	alg, ok := lookupMethod(method)
	if !ok {
		return signParams{}, fmt.Errorf("signature method %q is not supported", method)
	}
	if err := alg.checkKey(s.Key.Public()); err != nil {
		return signParams{}, fmt.Errorf("%s: %w", method, err)
	}
	p := signParams{method: method, alg: alg, digest: s.Digest}
	if p.digest == "" {
		p.digest = digestURI(alg.hash)
	}
	if p.digestHash, ok = lookupDigest(p.digest); !ok {
		return signParams{}, fmt.Errorf("digest method %q is not supported", p.digest)
	}
	if p.prefixes, err = prefixList(s.InclusivePrefixes); err != nil {
		return signParams{}, err
	}
	return p, s.checkCert()
}

// checkCert makes sure an included certificate belongs to the signing key.
func (s Signer) checkCert() error {
	if !s.IncludeCert {
		return nil
	}
	if s.Cert == nil {
		return errors.New("IncludeCert is set but there is no certificate")
	}
	pub, ok := s.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(s.Cert.PublicKey) {
		return errors.New("the certificate does not belong to the signing key")
	}
	return nil
}

// prefixList joins InclusivePrefixes into an NMTOKENS PrefixList.
func prefixList(prefixes []string) (string, error) {
	for _, p := range prefixes {
		if p == "" || p == "#default" || strings.ContainsAny(p, " \t\r\n:") {
			return "", fmt.Errorf("inclusive namespace prefix %q is not supported", p)
		}
	}
	return strings.Join(prefixes, " "), nil
}

// signatureTemplate builds the ds:Signature with an empty SignatureValue.
func (s Signer) signatureTemplate(p signParams, id string, digest []byte) *etree.Element {
	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", algExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", p.method)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "#"+id)
	transforms := ref.CreateElement("ds:Transforms")
	transforms.CreateElement("ds:Transform").CreateAttr("Algorithm", algEnveloped)
	exc := transforms.CreateElement("ds:Transform")
	exc.CreateAttr("Algorithm", algExcC14N)
	if p.prefixes != "" {
		incl := exc.CreateElement("ec:InclusiveNamespaces")
		incl.CreateAttr("xmlns:ec", algExcC14N)
		incl.CreateAttr("PrefixList", p.prefixes)
	}
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", p.digest)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
	sig.CreateElement("ds:SignatureValue")
	if s.IncludeCert {
		x509Data := sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data")
		x509Data.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(s.Cert.Raw))
	}
	return sig
}

// insertSignature places sig right after el's saml:Issuer, or first.
func insertSignature(el, sig *etree.Element) {
	for _, c := range el.ChildElements() {
		if Is(c, NSAssertion, "Issuer") {
			el.InsertChildAt(c.Index()+1, sig)
			return
		}
	}
	el.InsertChildAt(0, sig)
}

// fillSignatureValue signs the SignedInfo of sig, canonicalized in place.
func (s Signer) fillSignatureValue(sig *etree.Element, p signParams) error {
	si := sig.SelectElement("SignedInfo")
	canon, err := canonicalize(si, "", nil)
	if err != nil {
		return err
	}
	value, err := signData(s.Key, p.alg, canon)
	releaseCanonical(canon)
	if err != nil {
		return err
	}
	sig.SelectElement("SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	return nil
}

// elementID returns el's only ID attribute, which must not be empty.
func elementID(el *etree.Element) (string, error) {
	var ids []string
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == "ID" {
			ids = append(ids, a.Value)
		}
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("<%s> has %d ID attributes, want exactly one", el.FullTag(), len(ids))
	}
	if ids[0] == "" {
		return "", fmt.Errorf("<%s> has an empty ID attribute", el.FullTag())
	}
	return ids[0], nil
}
