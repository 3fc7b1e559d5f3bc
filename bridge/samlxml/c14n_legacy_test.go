package samlxml

// legacyCanonicalize is the canonicalization the streaming canonicalizer
// replaced (issue 17): goxmldsig's exclusive c14n transform over a detached
// copy, the attribute order corrected, then etree's canonical writer. It
// stays here, test only, as the reference FuzzCanonicalizeDifferential
// holds canonicalize to.

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// canonicalWriteSettings is how the legacy canonical forms were serialized
// (as goxmldsig does): c14n escaping and explicit end tags.
func canonicalWriteSettings() etree.WriteSettings {
	return etree.WriteSettings{CanonicalAttrVal: true, CanonicalEndTags: true, CanonicalText: true}
}

// canonicalize returns the exclusive XML canonicalization (without comments)
// of el as it stands in its document: namespaces declared on ancestors are
// taken into account, so the result is what a verifier that sees the whole
// document computes. If omit is not nil it must be a direct child of el and is
// left out (the enveloped-signature transform). prefixList is the
// InclusiveNamespaces PrefixList.
//
// The transform is goxmldsig's (etreeutils.TransformExcC14n, the core of
// dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList); the attribute order
// is then corrected, since goxmldsig v1 sorts prefixed attributes by local
// name instead of by namespace URI (fixed only on its unreleased v2).
func legacyCanonicalize(el *etree.Element, prefixList string, omit *etree.Element) ([]byte, error) {
	cp := detach(el)
	if omit != nil {
		if err := legacyRemoveCopyOf(cp, el, omit); err != nil {
			return nil, err
		}
	}
	if err := etreeutils.TransformExcC14n(cp, prefixList, false); err != nil {
		return nil, fmt.Errorf("canonicalizing <%s>: %w", el.FullTag(), err)
	}
	legacyFixCanonical(cp)
	doc := etree.NewDocument()
	doc.SetRoot(cp)
	doc.WriteSettings = canonicalWriteSettings()
	return doc.WriteToBytes()
}

// removeCopyOf removes from cp (a copy of el) the copy of el's child omit.
func legacyRemoveCopyOf(cp, el, omit *etree.Element) error {
	i := omit.Index()
	if omit.Parent() != el || i < 0 || i >= len(cp.Child) {
		return fmt.Errorf("<%s> is not a child of <%s>", omit.FullTag(), el.FullTag())
	}
	if c, ok := cp.Child[i].(*etree.Element); !ok || c.FullTag() != omit.FullTag() {
		return fmt.Errorf("copy of <%s> is out of step with the original", el.FullTag())
	}
	cp.RemoveChildAt(i)
	return nil
}

// fixCanonical puts the attributes of el and its descendants in canonical
// order (namespace declarations by prefix, then attributes by namespace URI
// and local name) and turns CDATA sections into plain text.
func legacyFixCanonical(el *etree.Element) {
	slices.SortStableFunc(el.Attr, func(a, b etree.Attr) int {
		return legacyCompareAttrs(el, a, b)
	})
	for i := 0; i < len(el.Child); i++ {
		switch t := el.Child[i].(type) {
		case *etree.CharData:
			if t.IsCData() {
				el.RemoveChildAt(i)
				el.InsertChildAt(i, etree.NewText(t.Data))
			}
		case *etree.Element:
			legacyFixCanonical(t)
		}
	}
}

// compareCanonicalAttrs orders attributes as C14N 1.0 section 2.2 requires.
func legacyCompareAttrs(el *etree.Element, a, b etree.Attr) int {
	pa, aDecl := nsDeclPrefix(a)
	pb, bDecl := nsDeclPrefix(b)
	switch {
	case aDecl && bDecl:
		return cmp.Compare(pa, pb)
	case aDecl:
		return -1
	case bDecl:
		return 1
	}
	return cmp.Or(
		cmp.Compare(legacyAttrNamespace(el, a), legacyAttrNamespace(el, b)),
		cmp.Compare(a.Key, b.Key),
	)
}

// attrNamespace is the namespace URI of attribute a of el ("" if unprefixed).
func legacyAttrNamespace(el *etree.Element, a etree.Attr) string {
	if a.Space == "" {
		return ""
	}
	return lookupNS(el, a.Space)
}

// lookupNS resolves prefix ("" for the default namespace) at el by walking
// up its ancestors. Unlike etree's Attr.NamespaceURI it also works on copies.
func lookupNS(el *etree.Element, prefix string) string {
	if prefix == "xml" {
		return nsXML
	}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if p, ok := nsDeclPrefix(a); ok && p == prefix {
				return a.Value
			}
		}
	}
	return ""
}
