package samlxml

import (
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// Structural limits on every document Parse accepts.
const (
	maxDepth    = 64
	maxElements = 10000
	// maxAttrs bounds one element's attributes, and maxScopeDecls the
	// namespace declarations in force at once (SAML uses about ten of
	// each): name resolution then stays linear in the document's size.
	maxAttrs      = 256
	maxScopeDecls = 256
)

const nsXML = "http://www.w3.org/XML/1998/namespace"

// Parse reads one XML document from data with the hardened settings, in a
// single pass: our tokenizer (encoding/xml's strict grammar, see scanner:
// no DTD, no entities beyond the five predefined, UTF-8 only, ASCII names)
// feeds the etree tree, and every check runs on each token as it arrives,
// so a refused document is never built whole and never tokenized twice.
//
// It refuses documents over maxBytes, DOCTYPE and every other directive,
// declared encodings other than UTF-8, nesting deeper than 64 elements, more
// than 10000 elements, invalid qualified names (empty parts, a second colon,
// non-ASCII), duplicate attributes (as written and after namespace
// resolution), undeclared namespace prefixes, the bindings Namespaces in
// XML forbids, mismatched end tags, text outside the root element and
// documents without exactly one root element, more than 256 attributes on
// an element or 256 namespace declarations in force. Comments and processing
// instructions are kept (Verifier.Verify refuses them inside signed
// content).
func Parse(data []byte, maxBytes int) (*etree.Document, error) {
	if len(data) > maxBytes {
		return nil, fmt.Errorf("samlxml: document of %d bytes exceeds the %d byte limit", len(data), maxBytes)
	}
	doc, err := buildTree(data)
	if err != nil {
		return nil, fmt.Errorf("samlxml: rejected XML: %w", err)
	}
	return doc, nil
}

// buildTree is Parse's single pass.
func buildTree(data []byte) (*etree.Document, error) {
	s := scanner{src: string(data)}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: maxDepth, PreserveDuplicateAttrs: true}
	b := openElements{
		top:   &doc.Element,
		scope: append(make([]nsBinding, 0, 32), nsBinding{"xml", nsXML}),
		marks: make([]int, 0, maxDepth),
	}
	elements, roots := 0, 0
	var t token
	for {
		if err := s.next(&t); err != nil {
			return nil, err
		}
		switch t.kind {
		case tokenEOF:
			if len(b.marks) != 0 {
				return nil, fmt.Errorf("the document ends inside <%s>", b.top.FullTag())
			}
			if roots != 1 {
				return nil, fmt.Errorf("%d root elements, want exactly one", roots)
			}
			return doc, nil
		case tokenStart:
			elements++
			switch depth := len(b.marks) + 1; {
			case depth > maxDepth:
				return nil, fmt.Errorf("elements nested deeper than %d", maxDepth)
			case elements > maxElements:
				return nil, fmt.Errorf("more than %d elements", maxElements)
			case depth == 1:
				if roots++; roots > 1 {
					return nil, fmt.Errorf("%d root elements, want exactly one", roots)
				}
			}
			if err := b.open(&t); err != nil {
				return nil, err
			}
			if t.selfClosing {
				b.close()
			}
		case tokenEnd:
			if len(b.marks) == 0 || b.top.Space != t.space || b.top.Tag != t.local {
				return nil, fmt.Errorf("end tag </%s> does not close the open element", fullName(t.space, t.local))
			}
			b.close()
		case tokenText:
			if len(b.marks) == 0 && !isXMLSpace(t.text) {
				return nil, errors.New("text outside the root element")
			}
			b.top.CreateText(t.text).SetData(t.text) // SetData records white space, as etree's reader does
		case tokenComment:
			b.top.CreateComment(t.text)
		case tokenProcInst:
			b.top.CreateProcInst(t.local, t.text)
		}
	}
}

// openElements is where the parse stands: the innermost open element (the
// document before the root), the namespace declarations in force
// (innermost last), and for each open element where its own begin.
type openElements struct {
	top   *etree.Element
	scope []nsBinding
	marks []int
}

// open adds the element t starts under top and makes it top.
func (b *openElements) open(t *token) error {
	b.marks = append(b.marks, len(b.scope))
	el, err := addElement(b.top, t, &b.scope)
	if err != nil {
		return err
	}
	b.top = el
	return nil
}

// close ends top: its parent is top again, its declarations go.
func (b *openElements) close() {
	last := len(b.marks) - 1
	b.top, b.scope, b.marks = b.top.Parent(), b.scope[:b.marks[last]], b.marks[:last]
}

// addElement appends the element t starts to parent, pushes its namespace
// declarations onto scope (those of its ancestors are there) and checks it.
func addElement(parent *etree.Element, t *token, scope *[]nsBinding) (*etree.Element, error) {
	el := parent.CreateElement("x")
	el.Space, el.Tag = t.space, t.local
	if !validLocalName(el.Tag) {
		return nil, fmt.Errorf("element name %q is not a valid qualified name", fullName(t.space, t.local))
	}
	if len(t.attrs) > maxAttrs {
		return nil, fmt.Errorf("more than %d attributes on <%s>", maxAttrs, el.FullTag())
	}
	if len(t.attrs) > 0 {
		el.Attr = make([]etree.Attr, 0, len(t.attrs))
	}
	for _, a := range t.attrs {
		if !validLocalName(a.local) {
			return nil, fmt.Errorf("attribute name %q on <%s> is not a valid qualified name", fullName(a.space, a.local), el.FullTag())
		}
		if attrWritten(el, a.space, a.local) {
			return nil, fmt.Errorf("duplicate attribute %s on <%s>", fullName(a.space, a.local), el.FullTag())
		}
		if a.space != "" && attrWritten(el, "", a.local) {
			// CreateAttr would take the prefixed name for the unprefixed one
			el.CreateAttr(a.space+":"+a.local, a.value)
			continue
		}
		el.CreateAttr(a.local, a.value).Space = a.space
	}
	for _, a := range el.Attr {
		if p, ok := nsDeclPrefix(a); ok {
			*scope = append(*scope, nsBinding{p, a.Value})
		}
	}
	if len(*scope) > maxScopeDecls+1 {
		return nil, fmt.Errorf("more than %d namespace declarations in force at <%s>", maxScopeDecls, el.FullTag())
	}
	if err := checkElement(el, *scope); err != nil {
		return nil, err
	}
	return el, nil
}

// attrWritten reports whether el already has the attribute space:local.
func attrWritten(el *etree.Element, space, local string) bool {
	for _, a := range el.Attr {
		if a.Space == space && a.Key == local {
			return true
		}
	}
	return false
}

// fullName is a name as written: prefix:local or local.
func fullName(space, local string) string {
	if space == "" {
		return local
	}
	return space + ":" + local
}

// isXMLSpace reports whether s is only XML white space.
func isXMLSpace(s string) bool {
	for _, c := range []byte(s) {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
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

// checkElement refuses undeclared prefixes, forbidden namespace bindings
// and duplicate attributes, both as written and after namespace resolution
// (a:x and b:x with a and b bound to the same URI are the same attribute).
// scope is the declarations in force at el, its own included, innermost
// last.
func checkElement(el *etree.Element, scope []nsBinding) error {
	if !validLocalName(el.Tag) {
		return fmt.Errorf("element name %q is not a valid qualified name", el.FullTag())
	}
	if el.Space != "" && scopeURI(scope, el.Space) == "" {
		return fmt.Errorf("element <%s> uses an undeclared namespace prefix", el.FullTag())
	}
	var uriBuf [smallAttrs]string
	uris := uriBuf[:0] // each attribute's namespace URI ("" if unprefixed or a declaration)
	for _, a := range el.Attr {
		if !validLocalName(a.Key) {
			return fmt.Errorf("attribute name %q on <%s> is not a valid qualified name", a.FullKey(), el.FullTag())
		}
		uri := ""
		if p, isDecl := nsDeclPrefix(a); isDecl {
			if err := checkBinding(p, a.Value); err != nil {
				return fmt.Errorf("<%s>: %w", el.FullTag(), err)
			}
		} else if a.Space != "" {
			if uri = scopeURI(scope, a.Space); uri == "" {
				return fmt.Errorf("attribute %s on <%s> uses an undeclared namespace prefix", a.FullKey(), el.FullTag())
			}
		}
		uris = append(uris, uri)
	}
	if dup := duplicateAttr(el, uris); dup >= 0 {
		return fmt.Errorf("duplicate attribute %s on <%s>", el.Attr[dup].FullKey(), el.FullTag())
	}
	return nil
}

// scopeURI is the URI prefix is bound to in scope ("" if none).
func scopeURI(scope []nsBinding, prefix string) string {
	uri, _ := lookup(scope, prefix)
	return uri
}

// smallAttrs is how many attributes duplicateAttr compares pairwise; above
// it, a map (a hostile element may carry thousands).
const smallAttrs = 16

// duplicateAttr returns the index of an attribute of el that repeats an
// earlier one, as written or after namespace resolution (a:x and b:x with
// a and b bound to the same URI are the same attribute), or -1. uris are
// the attributes' namespace URIs; declarations have no resolved name.
func duplicateAttr(el *etree.Element, uris []string) int {
	attrs := el.Attr
	if len(attrs) <= smallAttrs {
		for j := 1; j < len(attrs); j++ {
			_, jDecl := nsDeclPrefix(attrs[j])
			for i := range j {
				if attrs[i].Space == attrs[j].Space && attrs[i].Key == attrs[j].Key {
					return j
				}
				if _, iDecl := nsDeclPrefix(attrs[i]); !iDecl && !jDecl && uris[i] == uris[j] && attrs[i].Key == attrs[j].Key {
					return j
				}
			}
		}
		return -1
	}
	seen := make(map[attrName]bool, 2*len(attrs))
	for j, a := range attrs {
		names := [2]attrName{{space: a.Space, key: a.Key}}
		n := 1
		if _, isDecl := nsDeclPrefix(a); !isDecl {
			names[1], n = attrName{resolved: true, space: uris[j], key: a.Key}, 2
		}
		for _, name := range names[:n] {
			if seen[name] {
				return j
			}
			seen[name] = true
		}
	}
	return -1
}

// validLocalName refuses the empty and colon-bearing local names that
// encoding/xml lets through (Namespaces in XML allows one colon per name).
func validLocalName(s string) bool {
	return s != "" && !strings.Contains(s, ":")
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
