package samlxml

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// nsXMLNS is the namespace of namespace declarations, which no prefix may
// be bound to.
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// canonicalize returns the exclusive XML canonicalization (without
// comments) of el as it stands in its document: namespaces declared on
// ancestors are taken into account, so the result is what a verifier that
// sees the whole document computes. If omit is not nil it must be a direct
// child of el and is left out (the enveloped-signature transform).
// prefixList is the InclusiveNamespaces PrefixList.
//
// It writes straight from the document's tree in one walk: no copy of el,
// no namespace maps copied per element (the goxmldsig transform it
// replaced spent most of its time there).
func canonicalize(el *etree.Element, prefixList string, omit *etree.Element) ([]byte, error) {
	c, err := newCanonicalizer(el, prefixList, omit, false)
	if err != nil {
		return nil, err
	}
	return c.out, nil
}

// canonicalTree is canonicalize that also builds the canonical tree: the
// tree of which the bytes are the serialization (namespace declarations
// where the canonical form puts them, attributes in canonical order,
// comments and the omitted child gone). A verifier reads that tree, exactly
// what it digested, without parsing the bytes again. The tree is the root
// of its own document.
func canonicalTree(el *etree.Element, prefixList string, omit *etree.Element) (*etree.Element, []byte, error) {
	c, err := newCanonicalizer(el, prefixList, omit, true)
	if err != nil {
		return nil, nil, err
	}
	return c.root, c.out, nil
}

// canonicalBuffers recycles the buffers canonical forms are written into:
// nearly every one is hashed or signed, then dropped. A caller done with
// the bytes of canonicalize or canonicalTree may hand them back with
// releaseCanonical; one that keeps them simply does not.
var canonicalBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledCanonical keeps an unusually large canonical form's buffer out
// of the pool.
const maxPooledCanonical = 256 << 10

func canonicalBuffer() []byte { return (*canonicalBuffers.Get().(*[]byte))[:0] }

// releaseCanonical hands a canonical form's buffer back; the caller must
// not use b afterwards.
func releaseCanonical(b []byte) {
	if cap(b) > 0 && cap(b) <= maxPooledCanonical {
		b = b[:0]
		canonicalBuffers.Put(&b)
	}
}

// nsBinding is a namespace prefix ("" for the default namespace) bound to
// a URI ("" for no default namespace).
type nsBinding struct{ prefix, uri string }

// canonicalizer is one exclusive c14n walk (Exclusive XML Canonicalization
// 1.0, without comments).
type canonicalizer struct {
	inclusive []string
	omit      *etree.Element
	build     bool
	out       []byte
	root      *etree.Element // the canonical tree, when build
	// scope holds the declarations in scope in the document, innermost
	// last; rendered the ones the output has made, innermost last. Both
	// start with the implicit bindings.
	scope, rendered []nsBinding
}

var implicitBindings = []nsBinding{{"", ""}, {"xml", nsXML}, {"xmlns", nsXMLNS}}

func newCanonicalizer(el *etree.Element, prefixList string, omit *etree.Element, build bool) (*canonicalizer, error) {
	if omit != nil && omit.Parent() != el {
		return nil, fmt.Errorf("<%s> is not a child of <%s>", omit.FullTag(), el.FullTag())
	}
	c := &canonicalizer{
		inclusive: strings.Fields(prefixList),
		omit:      omit,
		build:     build,
		out:       canonicalBuffer(),
		scope:     append(make([]nsBinding, 0, 32), implicitBindings...),
		rendered:  append(make([]nsBinding, 0, 16), implicitBindings...),
	}
	var ancestors []*etree.Element
	for a := el.Parent(); a != nil; a = a.Parent() {
		ancestors = append(ancestors, a)
	}
	for i := len(ancestors) - 1; i >= 0; i-- {
		if err := c.declare(ancestors[i]); err != nil {
			return nil, fmt.Errorf("canonicalizing <%s>: %w", el.FullTag(), err)
		}
	}
	var parent *etree.Element
	if build {
		doc := etree.NewDocument()
		parent = &doc.Element
	}
	if err := c.element(el, parent, true); err != nil {
		return nil, fmt.Errorf("canonicalizing <%s>: %w", el.FullTag(), err)
	}
	if build {
		c.root = parent.ChildElements()[0]
	}
	return c, nil
}

// declare pushes el's namespace declarations onto the scope, refusing the
// bindings Namespaces in XML forbids.
func (c *canonicalizer) declare(el *etree.Element) error {
	for _, a := range el.Attr {
		p, ok := nsDeclPrefix(a)
		if !ok {
			continue
		}
		if err := checkBinding(p, a.Value); err != nil {
			return err
		}
		c.scope = append(c.scope, nsBinding{p, a.Value})
	}
	return nil
}

// checkBinding refuses what Namespaces in XML 1.0 forbids: rebinding xml,
// declaring xmlns, binding anything else to their namespaces, and
// undeclaring a prefix.
func checkBinding(prefix, uri string) error {
	switch {
	case prefix == "xml" && uri != nsXML:
		return errors.New("the xml prefix bound to another namespace")
	case prefix == "xmlns":
		return errors.New("the xmlns prefix declared")
	case prefix != "xml" && uri == nsXML:
		return errors.New("the XML namespace bound to another prefix")
	case uri == nsXMLNS:
		return errors.New("a prefix bound to the xmlns namespace")
	case prefix != "" && uri == "":
		return fmt.Errorf("prefix %q undeclared (not allowed in XML 1.0)", prefix)
	}
	return nil
}

func lookup(bindings []nsBinding, prefix string) (string, bool) {
	for i := len(bindings) - 1; i >= 0; i-- {
		if bindings[i].prefix == prefix {
			return bindings[i].uri, true
		}
	}
	return "", false
}

// canonicalAttr is an attribute with the namespace URI it sorts by.
type canonicalAttr struct {
	uri string
	a   etree.Attr
}

// element writes el (and builds its copy under parent when building).
func (c *canonicalizer) element(el, parent *etree.Element, apex bool) error {
	scopeMark, renderedMark := len(c.scope), len(c.rendered)
	defer func() { c.scope, c.rendered = c.scope[:scopeMark], c.rendered[:renderedMark] }()
	if err := c.declare(el); err != nil {
		return err
	}

	// The prefixes el visibly uses (its own, even the default, and its
	// attributes'), and the InclusiveNamespaces prefixes declared on it
	// (on the apex: in scope there).
	var usedBuf [8]string
	used := append(usedBuf[:0], el.Space)
	var attrBuf [8]canonicalAttr
	attrs := attrBuf[:0]
	for _, a := range el.Attr {
		if _, isDecl := nsDeclPrefix(a); isDecl {
			continue
		}
		uri := ""
		if a.Space != "" {
			var ok bool
			if uri, ok = lookup(c.scope, a.Space); !ok {
				return fmt.Errorf("undeclared namespace prefix %q", a.Space)
			}
			if !slices.Contains(used, a.Space) {
				used = append(used, a.Space)
			}
		}
		attrs = append(attrs, canonicalAttr{uri: uri, a: a})
	}
	for _, p := range c.inclusive {
		if slices.Contains(used, p) {
			continue
		}
		if _, ok := lookup(c.scope[scopeMark:], p); ok || apex && c.declaredAbove(p) {
			used = append(used, p)
		}
	}

	// Render each used binding the output has not rendered with that URI.
	var declBuf [8]nsBinding
	decls := declBuf[:0]
	for _, p := range used {
		uri, ok := lookup(c.scope, p)
		if !ok {
			return fmt.Errorf("undeclared namespace prefix %q", p)
		}
		if r, ok := lookup(c.rendered, p); ok && r == uri {
			continue
		}
		decls = append(decls, nsBinding{p, uri})
	}
	c.rendered = append(c.rendered, decls...)
	slices.SortFunc(decls, func(a, b nsBinding) int { return cmp.Compare(a.prefix, b.prefix) })
	slices.SortFunc(attrs, func(a, b canonicalAttr) int {
		return cmp.Or(cmp.Compare(a.uri, b.uri), cmp.Compare(a.a.Key, b.a.Key))
	})

	var copied *etree.Element
	if c.build {
		copied = parent.CreateElement("x")
		copied.Space, copied.Tag = el.Space, el.Tag
	}
	c.out = append(c.out, '<')
	c.out = appendName(c.out, el.Space, el.Tag)
	for _, d := range decls {
		if d.prefix == "" {
			c.out = append(c.out, ` xmlns="`...)
		} else {
			c.out = append(c.out, ` xmlns:`...)
			c.out = append(c.out, d.prefix...)
			c.out = append(c.out, `="`...)
		}
		c.out = appendEscaped(c.out, d.uri, true)
		c.out = append(c.out, '"')
		if copied != nil {
			key := "xmlns"
			if d.prefix != "" {
				key = "xmlns:" + d.prefix
			}
			copied.CreateAttr(key, d.uri)
		}
	}
	for _, ca := range attrs {
		c.out = append(c.out, ' ')
		c.out = appendName(c.out, ca.a.Space, ca.a.Key)
		c.out = append(c.out, `="`...)
		c.out = appendEscaped(c.out, ca.a.Value, true)
		c.out = append(c.out, '"')
		if copied != nil {
			copied.CreateAttr(ca.a.FullKey(), ca.a.Value)
		}
	}
	c.out = append(c.out, '>')

	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if t == c.omit {
				continue
			}
			if err := c.element(t, copied, false); err != nil {
				return err
			}
		case *etree.CharData:
			c.out = appendEscaped(c.out, t.Data, false)
			if copied != nil {
				appendText(copied, t.Data)
			}
		case *etree.ProcInst:
			c.out = append(c.out, "<?"...)
			c.out = append(c.out, t.Target...)
			if t.Inst != "" {
				c.out = append(c.out, ' ')
				c.out = append(c.out, t.Inst...)
			}
			c.out = append(c.out, "?>"...)
			if copied != nil {
				copied.CreateProcInst(t.Target, t.Inst)
			}
		case *etree.Comment:
			// exclusive c14n without comments
		default:
			return fmt.Errorf("%T inside <%s> has no canonical form", tok, el.FullTag())
		}
	}
	c.out = append(c.out, "</"...)
	c.out = appendName(c.out, el.Space, el.Tag)
	c.out = append(c.out, '>')
	return nil
}

// appendText adds text to el as a parser reading the canonical bytes
// would: merged with the text before it (a dropped comment or a CDATA
// section no longer separates them), white space recorded.
func appendText(el *etree.Element, data string) {
	if n := len(el.Child); n > 0 {
		if prev, ok := el.Child[n-1].(*etree.CharData); ok {
			prev.SetData(prev.Data + data)
			return
		}
	}
	el.CreateText(data).SetData(data)
}

// declaredAbove reports whether an ancestor of the apex declares prefix
// (an explicit declaration, not an implicit binding).
func (c *canonicalizer) declaredAbove(prefix string) bool {
	_, ok := lookup(c.scope[len(implicitBindings):], prefix)
	return ok
}

func appendName(out []byte, space, local string) []byte {
	if space != "" {
		out = append(out, space...)
		out = append(out, ':')
	}
	return append(out, local...)
}

// appendEscaped appends s escaped as C14N requires in attribute values
// (attr) or text; characters XML does not allow become U+FFFD, as etree's
// canonical writer did. Runs of bytes that need nothing (a base64 value is
// one run) are copied whole.
func appendEscaped(out []byte, s string, attr bool) []byte {
	special := &textSpecial
	if attr {
		special = &attrSpecial
	}
	last := 0
	for i := 0; i < len(s); {
		b := s[i]
		if !special[b] {
			i++
			continue
		}
		var esc string
		width := 1
		switch {
		case b == '&':
			esc = "&amp;"
		case b == '<':
			esc = "&lt;"
		case b == '>':
			esc = "&gt;"
		case b == '"':
			esc = "&quot;"
		case b == '\t':
			esc = "&#x9;"
		case b == '\n':
			esc = "&#xA;"
		case b == '\r':
			esc = "&#xD;"
		case b < 0x20:
			esc = "\uFFFD"
		default: // b >= utf8.RuneSelf
			var r rune
			r, width = utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && width == 1) || !isXMLChar(r) {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			out = append(out, s[last:i]...)
			out = append(out, esc...)
			last = i + width
		}
		i += width
	}
	return append(out, s[last:]...)
}

// textSpecial and attrSpecial mark the bytes appendEscaped must look at in
// text and in attribute values: the ones C14N escapes there, the control
// characters XML forbids, and the first bytes of multi-byte characters.
var textSpecial, attrSpecial = escapeTable(false), escapeTable(true)

func escapeTable(attr bool) (t [256]bool) {
	for b := range 256 {
		switch {
		case b == '&', b == '<', b == '\r', b >= utf8.RuneSelf:
			t[b] = true
		case b == '\t', b == '\n', b == '"':
			t[b] = attr
		case b == '>':
			t[b] = !attr
		case b < 0x20:
			t[b] = true
		}
	}
	return t
}

// isXMLChar reports whether XML 1.0 allows r (the Char production).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// detach returns a parentless deep copy of el that also declares every
// namespace prefix in scope at el, so it reads the same outside its document.
func detach(el *etree.Element) *etree.Element {
	cp := el.Copy()
	// The copy has no ancestors, so xmlns="" on it declares nothing; drop it.
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
