package samlxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// Structural limits on every document Parse accepts.
const (
	maxDepth    = 64
	maxElements = 10000
)

const nsXML = "http://www.w3.org/XML/1998/namespace"

// Parse reads one XML document from data with the hardened settings: at most
// maxBytes, no DOCTYPE, the round-trip validator, and one etree document.
//
// It also refuses any other directive, declared encodings other than UTF-8,
// nesting deeper than 64 elements, more than 10000 elements, duplicate
// attributes, undeclared namespace prefixes, text outside the root element and
// documents without exactly one root element. Comments and processing
// instructions are kept (Verifier.Verify refuses them inside signed content).
func Parse(data []byte, maxBytes int) (*etree.Document, error) {
	if len(data) > maxBytes {
		return nil, fmt.Errorf("samlxml: document of %d bytes exceeds the %d byte limit", len(data), maxBytes)
	}
	if err := scanTokens(data); err != nil {
		return nil, fmt.Errorf("samlxml: rejected XML: %w", err)
	}
	if err := xrv.Validate(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("samlxml: XML does not survive an encoding/xml round trip: %w", err)
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: maxDepth, PreserveDuplicateAttrs: true}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("samlxml: parsing XML: %w", err)
	}
	if err := checkDocument(doc); err != nil {
		return nil, fmt.Errorf("samlxml: rejected XML: %w", err)
	}
	return doc, nil
}

// scanTokens runs a strict decoder over data before any tree is built. It
// refuses directives (so no DOCTYPE and no entity declarations reach a
// parser), encodings other than UTF-8 (the decoder has no CharsetReader), and
// documents that are too deep or have too many elements.
func scanTokens(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	depth, elements := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			elements++
			if depth > maxDepth {
				return fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
			if elements > maxElements {
				return fmt.Errorf("more than %d elements", maxElements)
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return fmt.Errorf("DOCTYPE and other directives are not allowed (found <!%.20s)", t)
		}
	}
}

// checkDocument enforces one root element and checks every element.
func checkDocument(doc *etree.Document) error {
	roots := 0
	for _, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.Element:
			roots++
		case *etree.CharData:
			if !t.IsWhitespace() {
				return errors.New("text outside the root element")
			}
		case *etree.Directive:
			return errors.New("directives are not allowed")
		}
	}
	if roots != 1 {
		return fmt.Errorf("%d root elements, want exactly one", roots)
	}
	return walkElements(doc.Root(), checkElement)
}

// walkElements calls fn for el and each of its descendant elements.
func walkElements(el *etree.Element, fn func(*etree.Element) error) error {
	if err := fn(el); err != nil {
		return err
	}
	for _, c := range el.ChildElements() {
		if err := walkElements(c, fn); err != nil {
			return err
		}
	}
	return nil
}

// attrName identifies an attribute either as written (space is the prefix)
// or as resolved (space is the namespace URI).
type attrName struct {
	resolved   bool
	space, key string
}

// checkElement refuses undeclared prefixes and duplicate attributes, both as
// written and after namespace resolution (a:x and b:x with a and b bound to
// the same URI are the same attribute).
func checkElement(el *etree.Element) error {
	if !validLocalName(el.Tag) {
		return fmt.Errorf("element name %q is not a valid qualified name", el.FullTag())
	}
	if el.Space != "" && lookupNS(el, el.Space) == "" {
		return fmt.Errorf("element <%s> uses an undeclared namespace prefix", el.FullTag())
	}
	seen := make(map[attrName]bool, 2*len(el.Attr))
	for _, a := range el.Attr {
		if !validLocalName(a.Key) {
			return fmt.Errorf("attribute name %q on <%s> is not a valid qualified name", a.FullKey(), el.FullTag())
		}
		names := []attrName{{space: a.Space, key: a.Key}}
		if _, isDecl := nsDeclPrefix(a); !isDecl {
			uri := ""
			if a.Space != "" {
				if uri = lookupNS(el, a.Space); uri == "" {
					return fmt.Errorf("attribute %s on <%s> uses an undeclared namespace prefix", a.FullKey(), el.FullTag())
				}
			}
			names = append(names, attrName{resolved: true, space: uri, key: a.Key})
		}
		for _, n := range names {
			if seen[n] {
				return fmt.Errorf("duplicate attribute %s on <%s>", a.FullKey(), el.FullTag())
			}
			seen[n] = true
		}
	}
	return nil
}

// validLocalName refuses the empty and colon-bearing local names that
// encoding/xml lets through (Namespaces in XML allows one colon per name).
func validLocalName(s string) bool {
	return s != "" && !strings.Contains(s, ":")
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

// nsDeclPrefix reports whether a declares a namespace, and for which prefix
// ("" for the default namespace).
func nsDeclPrefix(a etree.Attr) (string, bool) {
	switch {
	case a.Space == "xmlns":
		return a.Key, true
	case a.Space == "" && a.Key == "xmlns":
		return "", true
	}
	return "", false
}
