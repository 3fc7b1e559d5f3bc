package samlxml

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// Is reports whether el is the element {ns}tag, matching the namespace URI
// (never the prefix).
func Is(el *etree.Element, ns, tag string) bool {
	return el != nil && el.Tag == tag && el.NamespaceURI() == ns
}

// Children returns el's direct children that are {ns}tag.
func Children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if Is(c, ns, tag) {
			out = append(out, c)
		}
	}
	return out
}

// Child returns el's only direct child {ns}tag, or nil if there is none.
// More than one is an error: SAML never repeats the elements we read this way.
func Child(el *etree.Element, ns, tag string) (*etree.Element, error) {
	cs := Children(el, ns, tag)
	switch len(cs) {
	case 0:
		return nil, nil
	case 1:
		return cs[0], nil
	default:
		return nil, fmt.Errorf("%d %s elements where one is allowed", len(cs), tag)
	}
}

// ChildText returns the trimmed text of el's only child {ns}tag ("" if absent).
func ChildText(el *etree.Element, ns, tag string) (string, error) {
	c, err := Child(el, ns, tag)
	if err != nil || c == nil {
		return "", err
	}
	return strings.TrimSpace(c.Text()), nil
}
