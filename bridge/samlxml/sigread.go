package samlxml

import (
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// signatureData is what a ds:Signature says, read from the canonical bytes
// of its SignedInfo (the bytes the signature covers), never from the tree.
type signatureData struct {
	signedInfo     []byte // canonical SignedInfo
	c14nPrefixes   string
	method         string
	alg            sigAlg
	refURI         string
	refPrefixes    string
	digestHash     crypto.Hash
	digestValue    []byte
	signatureValue []byte
	keyCert        []byte // DER of the first KeyInfo X509Certificate, if any
}

// readSignature checks the shape of sig and the algorithms it names.
func readSignature(sig *etree.Element, policy AlgorithmPolicy) (*signatureData, error) {
	kids, err := signatureChildren(sig)
	if err != nil {
		return nil, err
	}
	sd, err := readCanonicalSignedInfo(kids[0], policy)
	if err != nil {
		return nil, err
	}
	if sd.signatureValue, err = leafBase64(kids[1]); err != nil {
		return nil, err
	}
	if len(kids) == 3 {
		if sd.keyCert, err = readKeyInfoCert(kids[2]); err != nil {
			return nil, err
		}
	}
	return sd, nil
}

// signatureChildren returns SignedInfo, SignatureValue and KeyInfo if present.
func signatureChildren(sig *etree.Element) ([]*etree.Element, error) {
	if len(sig.ChildElements()) == 3 {
		return dsSequence(sig, "SignedInfo", "SignatureValue", "KeyInfo")
	}
	return dsSequence(sig, "SignedInfo", "SignatureValue")
}

// readCanonicalSignedInfo canonicalizes si and takes every value from the
// canonical tree (the one the signed bytes serialize), never from si.
func readCanonicalSignedInfo(si *etree.Element, policy AlgorithmPolicy) (*signatureData, error) {
	cms := si.ChildElements()
	if len(cms) == 0 {
		return nil, errors.New("empty ds:SignedInfo")
	}
	prefixes, err := readC14NMethod(cms[0])
	if err != nil {
		return nil, err
	}
	tree, canon, err := canonicalTree(si, prefixes, nil)
	if err != nil {
		return nil, err
	}
	sd, err := readSignedInfo(tree, policy)
	if err != nil {
		return nil, err
	}
	if sd.c14nPrefixes != prefixes {
		return nil, errors.New("the canonical SignedInfo differs from the original")
	}
	sd.signedInfo = canon
	return sd, nil
}

// readSignedInfo reads CanonicalizationMethod, SignatureMethod, Reference.
func readSignedInfo(si *etree.Element, policy AlgorithmPolicy) (*signatureData, error) {
	if !Is(si, NSDSig, "SignedInfo") {
		return nil, errors.New("the canonical SignedInfo is not a ds:SignedInfo")
	}
	kids, err := dsSequence(si, "CanonicalizationMethod", "SignatureMethod", "Reference")
	if err != nil {
		return nil, err
	}
	sd := &signatureData{}
	if sd.c14nPrefixes, err = readC14NMethod(kids[0]); err != nil {
		return nil, err
	}
	if sd.method, err = algorithmOf(kids[1]); err != nil {
		return nil, err
	}
	if sd.alg, err = policy.checkMethod(sd.method); err != nil {
		return nil, err
	}
	return sd, readReference(kids[2], policy, sd)
}

// readReference reads the only Reference into sd.
func readReference(ref *etree.Element, policy AlgorithmPolicy, sd *signatureData) error {
	uri, ok := plainAttr(ref, "URI")
	if !ok || len(uri) < 2 || uri[0] != '#' {
		return fmt.Errorf("Reference URI %q is not a same-document #ID reference", uri)
	}
	sd.refURI = uri
	kids, err := dsSequence(ref, "Transforms", "DigestMethod", "DigestValue")
	if err != nil {
		return err
	}
	if sd.refPrefixes, err = readTransforms(kids[0]); err != nil {
		return err
	}
	digest, err := algorithmOf(kids[1])
	if err != nil {
		return err
	}
	if sd.digestHash, err = policy.checkDigest(digest); err != nil {
		return err
	}
	if sd.digestValue, err = leafBase64(kids[2]); err != nil {
		return err
	}
	if len(sd.digestValue) != sd.digestHash.Size() {
		return fmt.Errorf("DigestValue is %d bytes, want %d", len(sd.digestValue), sd.digestHash.Size())
	}
	return nil
}

// readTransforms requires exactly enveloped-signature then exclusive c14n,
// and returns the latter's InclusiveNamespaces PrefixList.
func readTransforms(t *etree.Element) (string, error) {
	kids, err := dsSequence(t, "Transform", "Transform")
	if err != nil {
		return "", fmt.Errorf("want exactly the enveloped-signature and exc-c14n transforms: %w", err)
	}
	for i, want := range []string{algEnveloped, algExcC14N} {
		alg, ok := plainAttr(kids[i], "Algorithm")
		if !ok || alg != want {
			return "", fmt.Errorf("transform %q is not allowed (want %q)", alg, want)
		}
	}
	if len(kids[0].ChildElements()) > 0 {
		return "", errors.New("the enveloped-signature transform takes no parameters")
	}
	return inclusivePrefixes(kids[1])
}

// readC14NMethod requires exclusive c14n and returns its PrefixList.
func readC14NMethod(cm *etree.Element) (string, error) {
	if !Is(cm, NSDSig, "CanonicalizationMethod") {
		return "", fmt.Errorf("<%s> where ds:CanonicalizationMethod belongs", cm.FullTag())
	}
	alg, _ := plainAttr(cm, "Algorithm")
	if alg != algExcC14N {
		return "", fmt.Errorf("canonicalization method %q is not allowed (want %q)", alg, algExcC14N)
	}
	return inclusivePrefixes(cm)
}

// inclusivePrefixes reads an optional ec:InclusiveNamespaces child of el.
func inclusivePrefixes(el *etree.Element) (string, error) {
	kids := el.ChildElements()
	switch {
	case len(kids) == 0:
		return "", nil
	case len(kids) > 1 || !Is(kids[0], algExcC14N, "InclusiveNamespaces") || len(kids[0].ChildElements()) > 0:
		return "", fmt.Errorf("unexpected parameters in <%s>", el.FullTag())
	}
	list, _ := plainAttr(kids[0], "PrefixList")
	return strings.Join(strings.Fields(list), " "), nil
}

// readKeyInfoCert returns the DER of the first X509Certificate in KeyInfo.
func readKeyInfoCert(ki *etree.Element) ([]byte, error) {
	for _, xd := range Children(ki, NSDSig, "X509Data") {
		for _, c := range Children(xd, NSDSig, "X509Certificate") {
			der, err := leafBase64(c)
			if err == nil && len(der) == 0 {
				err = errors.New("empty ds:X509Certificate")
			}
			return der, err
		}
	}
	return nil, nil
}

// algorithmOf returns the Algorithm of a parameterless method element.
func algorithmOf(el *etree.Element) (string, error) {
	alg, ok := plainAttr(el, "Algorithm")
	if !ok {
		return "", fmt.Errorf("<%s> has no Algorithm", el.FullTag())
	}
	if len(el.ChildElements()) > 0 {
		return "", fmt.Errorf("parameters of %s %q are not supported", el.Tag, alg)
	}
	return alg, nil
}

// dsSequence returns el's child elements, which must be exactly the ds
// elements named, in order.
func dsSequence(el *etree.Element, names ...string) ([]*etree.Element, error) {
	kids := el.ChildElements()
	if len(kids) != len(names) {
		return nil, fmt.Errorf("<%s> has %d child elements, want %s", el.FullTag(), len(kids), strings.Join(names, ", "))
	}
	for i, k := range kids {
		if !Is(k, NSDSig, names[i]) {
			return nil, fmt.Errorf("<%s> where ds:%s belongs in <%s>", k.FullTag(), names[i], el.FullTag())
		}
	}
	return kids, nil
}

// leafBase64 decodes the text of an element that has no child elements.
func leafBase64(el *etree.Element) ([]byte, error) {
	if len(el.ChildElements()) > 0 {
		return nil, fmt.Errorf("<%s> must hold only text", el.FullTag())
	}
	b, err := decodeBase64Text(el.Text())
	if err != nil {
		return nil, fmt.Errorf("<%s>: %w", el.FullTag(), err)
	}
	return b, nil
}

// plainAttr returns the value of el's unprefixed attribute key.
func plainAttr(el *etree.Element, key string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}
