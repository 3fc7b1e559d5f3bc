package samlxml

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// canonicalWriteSettings is how canonical forms are serialized (as goxmldsig
// does): c14n escaping and explicit end tags.
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
func canonicalize(el *etree.Element, prefixList string, omit *etree.Element) ([]byte, error) {
	cp := detach(el)
	if omit != nil {
		if err := removeCopyOf(cp, el, omit); err != nil {
			return nil, err
		}
	}
	if err := etreeutils.TransformExcC14n(cp, prefixList, false); err != nil {
		return nil, fmt.Errorf("canonicalizing <%s>: %w", el.FullTag(), err)
	}
	fixCanonical(cp)
	doc := etree.NewDocument()
	doc.SetRoot(cp)
	doc.WriteSettings = canonicalWriteSettings()
	return doc.WriteToBytes()
}

// detach returns a parentless deep copy of el that also declares every
// namespace prefix in scope at el, so it reads the same outside its document.
func detach(el *etree.Element) *etree.Element {
	cp := el.Copy()
	// The copy has no ancestors, so xmlns="" on it declares nothing; drop it
	// (goxmldsig's exclusive c14n would render it on the apex, the spec not).
	cp.Attr = slices.DeleteFunc(cp.Attr, func(a etree.Attr) bool {
		p, ok := nsDeclPrefix(a)
		return ok && p == "" && a.Value == ""
	})
	declared := make(map[string]bool)
	for _, a := range el.Attr {
		if p, ok := nsDeclPrefix(a); ok {
			declared[p] = true
		}
	}
	for anc := el.Parent(); anc != nil; anc = anc.Parent() {
		for _, a := range anc.Attr {
			prefix, ok := nsDeclPrefix(a)
			if !ok || declared[prefix] {
				continue
			}
			declared[prefix] = true
			if prefix == "" && a.Value == "" {
				continue // no default namespace: nothing to declare
			}
			cp.Attr = append(cp.Attr, etree.Attr{Space: a.Space, Key: a.Key, Value: a.Value})
		}
	}
	return cp
}

// removeCopyOf removes from cp (a copy of el) the copy of el's child omit.
func removeCopyOf(cp, el, omit *etree.Element) error {
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
func fixCanonical(el *etree.Element) {
	slices.SortStableFunc(el.Attr, func(a, b etree.Attr) int {
		return compareCanonicalAttrs(el, a, b)
	})
	for i := 0; i < len(el.Child); i++ {
		switch t := el.Child[i].(type) {
		case *etree.CharData:
			if t.IsCData() {
				el.RemoveChildAt(i)
				el.InsertChildAt(i, etree.NewText(t.Data))
			}
		case *etree.Element:
			fixCanonical(t)
		}
	}
}

// compareCanonicalAttrs orders attributes as C14N 1.0 section 2.2 requires.
func compareCanonicalAttrs(el *etree.Element, a, b etree.Attr) int {
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
		cmp.Compare(attrNamespace(el, a), attrNamespace(el, b)),
		cmp.Compare(a.Key, b.Key),
	)
}

// attrNamespace is the namespace URI of attribute a of el ("" if unprefixed).
func attrNamespace(el *etree.Element, a etree.Attr) string {
	if a.Space == "" {
		return ""
	}
	return lookupNS(el, a.Space)
}
