package attacks

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// errNotApplicable wraps the reasons a variant does not apply to a message.
var errNotApplicable = errors.New("attacks: variant does not apply")

func notApplicable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errNotApplicable, fmt.Sprintf(format, args...))
}

// evilID is the ID of injected elements that do not reuse a signed ID.
const evilID = "_evil00000000"

// message is a parsed message being mutated.
type message struct {
	doc  *etree.Document
	root *etree.Element
}

// load parses msg with etree (not samlxml.Parse: the attacker's own tree).
func load(msg []byte) (*message, error) {
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{PreserveDuplicateAttrs: true}
	if err := doc.ReadFromBytes(msg); err != nil {
		return nil, notApplicable("message does not parse: %v", err)
	}
	if doc.Root() == nil {
		return nil, notApplicable("message has no root element")
	}
	return &message{doc: doc, root: doc.Root()}, nil
}

// bytes serializes the document with c14n escaping (so a receiving parser
// reads exactly the values written).
func (m *message) bytes() ([]byte, error) {
	m.doc.WriteSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalText: true}
	return m.doc.WriteToBytes()
}

// signature returns el's direct ds:Signature child.
func signature(el *etree.Element) *etree.Element {
	if el == nil {
		return nil
	}
	if s := samlxml.Children(el, samlxml.NSDSig, "Signature"); len(s) > 0 {
		return s[0]
	}
	return nil
}

// rootSignature returns the root's ds:Signature or a not-applicable error.
func (m *message) rootSignature() (*etree.Element, error) {
	if s := signature(m.root); s != nil {
		return s, nil
	}
	return nil, notApplicable("the root element is not signed")
}

// assertion returns the root's first direct saml:Assertion child.
func (m *message) assertion() (*etree.Element, error) {
	if a := samlxml.Children(m.root, samlxml.NSAssertion, "Assertion"); len(a) > 0 {
		return a[0], nil
	}
	return nil, notApplicable("no saml:Assertion child of the root")
}

// signedAssertion returns the root's Assertion if it carries a Signature.
func (m *message) signedAssertion() (*etree.Element, error) {
	a, err := m.assertion()
	if err != nil {
		return nil, err
	}
	if signature(a) == nil {
		return nil, notApplicable("the Assertion is not signed")
	}
	return a, nil
}

// descendants returns every element {ns}tag in el's subtree (el included).
func descendants(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	var walk func(*etree.Element)
	walk = func(e *etree.Element) {
		if samlxml.Is(e, ns, tag) {
			out = append(out, e)
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(el)
	return out
}

// lookupNS resolves prefix at el through its ancestors.
func lookupNS(el *etree.Element, prefix string) (string, bool) {
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if (a.Space == "xmlns" && a.Key == prefix) || (prefix == "" && a.Space == "" && a.Key == "xmlns") {
				return a.Value, true
			}
		}
	}
	return "", false
}

// detachedCopy copies el and declares on the copy every namespace in scope
// at el, so the copy means the same wherever it is inserted.
func detachedCopy(el *etree.Element) *etree.Element {
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range cp.Attr {
		switch {
		case a.Space == "xmlns":
			declared[a.Key] = true
		case a.Space == "" && a.Key == "xmlns":
			declared[""] = true
		}
	}
	for e := el.Parent(); e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			prefix, ok := "", false
			switch {
			case a.Space == "xmlns":
				prefix, ok = a.Key, true
			case a.Space == "" && a.Key == "xmlns":
				ok = true
			}
			if ok && !declared[prefix] {
				declared[prefix] = true
				if prefix == "" {
					cp.CreateAttr("xmlns", a.Value)
				} else {
					cp.CreateAttr("xmlns:"+prefix, a.Value)
				}
			}
		}
	}
	return cp
}

// setID replaces el's ID attribute.
func setID(el *etree.Element, id string) {
	for i, a := range el.Attr {
		if a.Space == "" && a.Key == "ID" {
			el.Attr[i].Value = id
			return
		}
	}
	el.CreateAttr("ID", id)
}

// getID returns el's ID attribute.
func getID(el *etree.Element) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == "ID" {
			return a.Value
		}
	}
	return ""
}

// removeSignatures removes el's direct ds:Signature children.
func removeSignatures(el *etree.Element) {
	for _, s := range samlxml.Children(el, samlxml.NSDSig, "Signature") {
		el.RemoveChild(s)
	}
}

// removeAllSignatures removes every ds:Signature in el's subtree.
func removeAllSignatures(el *etree.Element) {
	for _, s := range descendants(el, samlxml.NSDSig, "Signature") {
		if p := s.Parent(); p != nil {
			p.RemoveChild(s)
		}
	}
}

// evilize puts EvilMarker into every NameID and AttributeValue of el (which
// must be in the tree or a detachedCopy, so namespaces resolve). If there is
// neither, it sets an evil Consent attribute on el instead.
func evilize(el *etree.Element) {
	n := 0
	for _, tag := range []string{"NameID", "AttributeValue"} {
		for _, e := range descendants(el, samlxml.NSAssertion, tag) {
			setText(e, EvilMarker)
			n++
		}
	}
	if n == 0 {
		el.CreateAttr("Consent", EvilMarker)
	}
}

// setText replaces all of el's character data and markup with one text node,
// keeping child elements.
func setText(el *etree.Element, text string) {
	var keep []etree.Token
	for _, t := range el.Child {
		if e, ok := t.(*etree.Element); ok {
			keep = append(keep, e)
		}
	}
	for len(el.Child) > 0 {
		el.RemoveChildAt(0)
	}
	el.SetText(text)
	for _, e := range keep {
		el.AddChild(e)
	}
}

// evilAssertion returns an unsigned evil copy of a (namespaces declared).
func evilAssertion(a *etree.Element, id string) *etree.Element {
	cp := detachedCopy(a)
	removeAllSignatures(cp)
	setID(cp, id)
	evilize(cp)
	return cp
}

// insertAfterIssuerAndSignature returns the index after el's Issuer and
// Signature children (where Extensions go in a samlp message).
func insertAfterIssuerAndSignature(el *etree.Element) int {
	idx := 0
	for _, c := range el.ChildElements() {
		if samlxml.Is(c, samlxml.NSAssertion, "Issuer") || samlxml.Is(c, samlxml.NSDSig, "Signature") {
			idx = c.Index() + 1
		}
	}
	return idx
}

// mutate wraps a tree mutation into an Apply function.
func mutate(fn func(m *message) error) func([]byte) ([]byte, error) {
	return func(msg []byte) ([]byte, error) {
		m, err := load(msg)
		if err != nil {
			return nil, err
		}
		if err := fn(m); err != nil {
			return nil, err
		}
		return m.bytes()
	}
}

// splitDecl separates a leading XML declaration from the rest of msg.
func splitDecl(msg []byte) (decl, rest []byte) {
	t := bytes.TrimLeft(msg, " \t\r\n\ufeff")
	if bytes.HasPrefix(t, []byte("<?xml ")) || bytes.HasPrefix(t, []byte("<?xml\t")) {
		if i := bytes.Index(t, []byte("?>")); i >= 0 {
			return t[:i+2], t[i+2:]
		}
	}
	return nil, t
}
