package samlxml

import (
	"bytes"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// Verify checks the ds:Signature that is a direct child of el: exactly one
// Reference to el's own ID, enveloped + exc-c14n transforms only, algorithms
// allowed by the policy, no comments or processing instructions in el, unique
// IDs in el's document, and a signature made by one of Certs (a certificate in
// KeyInfo only selects among them). Callers must consume only Verified.Element.
//
// Certificate validity dates are deliberately not checked: peers' certificates
// are pinned exactly (configured from metadata, often self-signed and past
// their dates), so the pin is the trust decision, not the X.509 fields.
func (v Verifier) Verify(el *etree.Element) (*Verified, error) {
	if el == nil {
		return nil, errors.New("samlxml: verify: no element")
	}
	out, err := v.verify(el)
	if err != nil {
		return nil, fmt.Errorf("samlxml: verify <%s>: %w", el.FullTag(), err)
	}
	return out, nil
}

func (v Verifier) verify(el *etree.Element) (*Verified, error) {
	if len(v.Certs) == 0 {
		return nil, errors.New("no trusted certificates configured for this peer")
	}
	sig, err := findSignature(el)
	if err != nil {
		return nil, err
	}
	id, err := elementID(el)
	if err != nil {
		return nil, err
	}
	if err := checkSignedContent(el); err != nil {
		return nil, err
	}
	sd, err := readSignature(sig, v.Policy)
	if err != nil {
		return nil, err
	}
	if sd.refURI != "#"+id {
		return nil, fmt.Errorf("the Reference URI %q is not this element's ID %q", sd.refURI, id)
	}
	certs, err := v.candidates(sd.keyCert)
	if err != nil {
		return nil, err
	}
	tree, canon, err := canonicalTree(el, sd.refPrefixes, sig)
	if err != nil {
		return nil, err
	}
	digestOK := subtle.ConstantTimeCompare(hashData(sd.digestHash, canon), sd.digestValue) == 1
	releaseCanonical(canon) // the tree does not share its bytes
	if !digestOK {
		return nil, errors.New("digest mismatch: the signed content was changed")
	}
	cert, err := verifyWithAny(certs, sd.alg, sd.signedInfo, sd.signatureValue)
	releaseCanonical(sd.signedInfo)
	sd.signedInfo = nil
	if err != nil {
		return nil, err
	}
	return &Verified{Element: tree, Cert: cert, Method: sd.method}, nil
}

// VerifyBytes checks a detached signature over data (Redirect binding).
func (v Verifier) VerifyBytes(data, sig []byte, method string) (*x509.Certificate, error) {
	alg, err := v.Policy.checkMethod(method)
	if err != nil {
		return nil, fmt.Errorf("samlxml: verify: %w", err)
	}
	if len(v.Certs) == 0 {
		return nil, errors.New("samlxml: verify: no trusted certificates configured for this peer")
	}
	cert, err := verifyWithAny(v.Certs, alg, data, sig)
	if err != nil {
		return nil, fmt.Errorf("samlxml: verify: %w", err)
	}
	return cert, nil
}

// findSignature returns the only ds:Signature child of el.
func findSignature(el *etree.Element) (*etree.Element, error) {
	sigs := Children(el, NSDSig, "Signature")
	switch len(sigs) {
	case 0:
		return nil, errors.New("unsigned: no ds:Signature child")
	case 1:
		return sigs[0], nil
	}
	return nil, fmt.Errorf("%d ds:Signature children, want one", len(sigs))
}

// candidates are the certificates to try: the configured one that equals the
// KeyInfo certificate if there is one, otherwise all configured ones.
func (v Verifier) candidates(keyCert []byte) ([]*x509.Certificate, error) {
	if keyCert == nil {
		return v.Certs, nil
	}
	for _, c := range v.Certs {
		if c != nil && bytes.Equal(c.Raw, keyCert) {
			return []*x509.Certificate{c}, nil
		}
	}
	return nil, errors.New("certificate not trusted: the KeyInfo certificate is not one of this peer's certificates")
}

// verifyWithAny returns the first certificate whose key verifies sig.
func verifyWithAny(certs []*x509.Certificate, alg sigAlg, data, sig []byte) (*x509.Certificate, error) {
	var errs []error
	for _, c := range certs {
		if c == nil {
			continue
		}
		err := verifyData(c.PublicKey, alg, data, sig)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("signature not made by any configured certificate: %w", errors.Join(errs...))
}

// checkSignedContent refuses comments, processing instructions and
// directives anywhere in el (canonicalization drops comments while readers
// may see them), and duplicate IDs anywhere in el's document.
func checkSignedContent(el *etree.Element) error {
	if err := checkNoMarkup(el); err != nil {
		return err
	}
	root := el
	for root.Parent() != nil {
		root = root.Parent()
	}
	seen := make(map[string]bool)
	return walkElements(root, func(e *etree.Element) error {
		for _, a := range e.Attr {
			if a.Space == "xmlns" || (a.Key != "ID" && a.Key != "Id" && a.Key != "AssertionID") {
				continue
			}
			if seen[a.Value] {
				return fmt.Errorf("duplicate ID %q in the document", a.Value)
			}
			seen[a.Value] = true
		}
		return nil
	})
}

// checkNoMarkup refuses comments, processing instructions and directives in el.
func checkNoMarkup(el *etree.Element) error {
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Comment:
			return fmt.Errorf("comment inside signed <%s>", el.FullTag())
		case *etree.ProcInst:
			return fmt.Errorf("processing instruction inside signed <%s>", el.FullTag())
		case *etree.Directive:
			return fmt.Errorf("directive inside signed <%s>", el.FullTag())
		case *etree.Element:
			if err := checkNoMarkup(t); err != nil {
				return err
			}
		}
	}
	return nil
}
