package attacks

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// multipleAssertionVariants add a second assertion (CVE-2022-41912 shape).
func multipleAssertionVariants() []Variant {
	return []Variant{
		{MultipleAssertions, "second unsigned evil Assertion appended", mutate(func(m *message) error {
			a, err := m.assertion()
			if err != nil {
				return err
			}
			m.root.AddChild(evilAssertion(a, evilID))
			return nil
		})},
		{MultipleAssertions, "second EncryptedAssertion appended", mutate(func(m *message) error {
			ea := samlxml.Children(m.root, samlxml.NSAssertion, "EncryptedAssertion")
			if len(ea) == 0 {
				return notApplicable("no saml:EncryptedAssertion child of the root")
			}
			cp := detachedCopy(ea[0])
			cp.CreateAttr("xmlns:evil", "urn:evil:"+EvilMarker)
			m.root.InsertChildAt(ea[0].Index()+1, cp)
			return nil
		})},
	}
}

// commentVariants split NameID/AttributeValue text with a comment or a PI
// without changing the text, so exclusive c14n (without comments) still
// gives the signed digest while a naive reader sees only a prefix
// (CVE-2017-11427 family).
func commentVariants() []Variant {
	inject := func(tag string, tok func() etree.Token) func(*message) error {
		return func(m *message) error {
			var els []*etree.Element
			for _, a := range samlxml.Children(m.root, samlxml.NSAssertion, "Assertion") {
				els = append(els, descendants(a, samlxml.NSAssertion, tag)...)
			}
			if len(els) == 0 {
				return notApplicable("no saml:%s in an Assertion", tag)
			}
			el := els[0]
			text := el.Text()
			if len(text) < 2 {
				return notApplicable("saml:%s text too short to split", tag)
			}
			cut := len(text) / 2
			if i := strings.IndexByte(text, '@'); i > 0 {
				cut = i + 1
			}
			var kids []etree.Token
			for _, t := range el.Child {
				if _, ok := t.(*etree.CharData); !ok {
					kids = append(kids, t)
				}
			}
			for len(el.Child) > 0 {
				el.RemoveChildAt(0)
			}
			el.CreateText(text[:cut])
			el.AddChild(tok())
			el.CreateText(text[cut:])
			for _, k := range kids {
				el.AddChild(k)
			}
			return nil
		}
	}
	comment := func() etree.Token { return etree.NewComment(EvilMarker) }
	pi := func() etree.Token { return etree.NewProcInst("evil", EvilMarker) }
	return []Variant{
		{CommentInjection, "comment inside NameID text", mutate(inject("NameID", comment))},
		{CommentInjection, "comment inside AttributeValue text", mutate(inject("AttributeValue", comment))},
		{CommentInjection, "processing instruction inside NameID text", mutate(inject("NameID", pi))},
		{CommentInjection, "processing instruction inside AttributeValue text", mutate(inject("AttributeValue", pi))},
	}
}

// dtdVariants prepend a DOCTYPE (and reference its entities in NameID).
func dtdVariants() []Variant {
	withDoctype := func(subset, nameIDPrefix string) func([]byte) ([]byte, error) {
		return func(msg []byte) ([]byte, error) {
			m, err := load(msg)
			if err != nil {
				return nil, err
			}
			placeholder := "ENTITYREF" + strings.ReplaceAll(EvilMarker, "/", "_")
			if nameIDPrefix != "" {
				ids := descendants(m.root, samlxml.NSAssertion, "NameID")
				if len(ids) == 0 {
					return nil, notApplicable("no saml:NameID")
				}
				setText(ids[0], placeholder+EvilMarker)
			}
			for _, t := range m.doc.Child {
				if pi, ok := t.(*etree.ProcInst); ok && pi.Target == "xml" {
					m.doc.RemoveChild(pi)
					break
				}
			}
			body, err := m.bytes()
			if err != nil {
				return nil, err
			}
			body = bytes.Replace(body, []byte(placeholder), []byte(nameIDPrefix), 1)
			decl, rest := splitDecl(body)
			if decl == nil {
				decl = []byte(`<?xml version="1.0" encoding="UTF-8"?>`)
			}
			doctype := fmt.Sprintf("<!DOCTYPE %s%s>", m.root.FullTag(), subset)
			return bytes.Join([][]byte{decl, []byte(doctype), rest}, []byte("\n")), nil
		}
	}
	var laughs strings.Builder
	laughs.WriteString(` [<!ENTITY lol0 "` + EvilMarker + `">`)
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&laughs, `<!ENTITY lol%d "%s">`, i, strings.Repeat(fmt.Sprintf("&lol%d;", i-1), 10))
	}
	laughs.WriteString("]")
	return []Variant{
		{DTD, "DOCTYPE with an external XXE entity referenced in NameID",
			withDoctype(` [<!ENTITY xxe SYSTEM "file:///etc/passwd?`+EvilMarker+`">]`, "&xxe;")},
		{DTD, "DOCTYPE with billion laughs referenced in NameID", withDoctype(laughs.String(), "&lol9;")},
		{DTD, "DOCTYPE without entities, content unchanged", withDoctype("", "")},
	}
}

// sizeVariants exceed the parser's depth and size caps.
func sizeVariants() []Variant {
	extensions := func(m *message) *etree.Element {
		ext := etree.NewElement("evilp:Extensions")
		ext.CreateAttr("xmlns:evilp", samlxml.NSProtocol)
		m.root.InsertChildAt(insertAfterIssuerAndSignature(m.root), ext)
		return ext
	}
	return []Variant{
		{Size, "200-deep nesting inside Extensions", mutate(func(m *message) error {
			el := extensions(m)
			for range 200 {
				el = el.CreateElement("evil:e")
				if el.Parent().Tag == "Extensions" {
					el.CreateAttr("xmlns:evil", "urn:evil")
				}
			}
			el.SetText(EvilMarker)
			return nil
		})},
		{Size, "2000 declarations and 2000 prefixed attributes inside Extensions (name resolution blow-up)", mutate(func(m *message) error {
			ext := extensions(m)
			el := ext.CreateElement("evil:e")
			for i := range 2000 {
				ext.CreateAttr(fmt.Sprintf("xmlns:e%d", i), "urn:evil")
				el.CreateAttr(fmt.Sprintf("e%d:a", 1999-i), EvilMarker)
			}
			el.CreateAttr("xmlns:evil", "urn:evil")
			return nil
		})},
		{Size, "300 KiB text node inside Extensions", mutate(func(m *message) error {
			el := extensions(m).CreateElement("evil:padding")
			el.CreateAttr("xmlns:evil", "urn:evil")
			n := 300 << 10
			el.SetText(strings.Repeat(EvilMarker, n/len(EvilMarker)+1))
			return nil
		})},
	}
}

// differentialVariants target parser and reader disagreements.
func differentialVariants() []Variant {
	return []Variant{
		{ParserDifferential, "evil sibling Assertion with a duplicate ID", mutate(func(m *message) error {
			a, err := m.assertion()
			if err != nil {
				return err
			}
			m.root.InsertChildAt(a.Index(), evilAssertion(a, getID(a)))
			return nil
		})},
		{ParserDifferential, "evil sibling element carrying the root's ID", mutate(func(m *message) error {
			if _, err := m.rootSignature(); err != nil {
				return err
			}
			a, err := m.assertion()
			if err != nil {
				return err
			}
			m.root.InsertChildAt(a.Index(), evilAssertion(a, getID(m.root)))
			return nil
		})},
		{ParserDifferential, "second ID attribute on the signed root", mutate(func(m *message) error {
			if _, err := m.rootSignature(); err != nil {
				return err
			}
			m.root.Attr = append(m.root.Attr, etree.Attr{Key: "ID", Value: evilID})
			evilizeFirstAssertion(m)
			return nil
		})},
		{ParserDifferential, "SignedInfo duplicated (evil copy first)", mutate(func(m *message) error {
			sig, err := m.rootSignature()
			if err != nil {
				return err
			}
			si := samlxml.Children(sig, samlxml.NSDSig, "SignedInfo")
			if len(si) == 0 {
				return notApplicable("no ds:SignedInfo")
			}
			cp := si[0].Copy()
			for _, ref := range descendants(cp, samlxml.NSDSig, "Reference") {
				ref.CreateAttr("URI", "#"+evilID)
			}
			sig.InsertChildAt(si[0].Index(), cp)
			evilizeFirstAssertion(m)
			return nil
		})},
		{ParserDifferential, "second ds:Signature child of the root", mutate(func(m *message) error {
			sig, err := m.rootSignature()
			if err != nil {
				return err
			}
			cp := sig.Copy()
			for _, ref := range descendants(cp, samlxml.NSDSig, "Reference") {
				ref.CreateAttr("URI", "#"+evilID)
			}
			m.root.InsertChildAt(sig.Index(), cp)
			evilizeFirstAssertion(m)
			return nil
		})},
		{ParserDifferential, "saml prefix redeclared to another URI inside the signed element", mutate(func(m *message) error {
			if _, err := m.rootSignature(); err != nil {
				return err
			}
			ids := descendants(m.root, samlxml.NSAssertion, "NameID")
			if len(ids) == 0 {
				return notApplicable("no saml:NameID")
			}
			nameID := ids[0]
			parent := nameID.Parent()
			evil := etree.NewElement(nameID.FullTag())
			if nameID.Space == "" {
				evil.CreateAttr("xmlns", "urn:evil:"+EvilMarker)
			} else {
				evil.CreateAttr("xmlns:"+nameID.Space, "urn:evil:"+EvilMarker)
			}
			evil.SetText(EvilMarker)
			parent.InsertChildAt(nameID.Index(), evil)
			return nil
		})},
		{ParserDifferential, "xml prefix rebound inside the signed element", mutate(func(m *message) error {
			return forbiddenBinding(m, "xmlns:xml", "urn:evil:"+EvilMarker)
		})},
		{ParserDifferential, "prefix undeclared with xmlns:p=\"\" inside the signed element", mutate(func(m *message) error {
			return forbiddenBinding(m, "xmlns:saml", "")
		})},
		{ParserDifferential, "attribute duplicated via two prefixes bound to the same URI", mutate(func(m *message) error {
			if _, err := m.rootSignature(); err != nil {
				return err
			}
			vals := descendants(m.root, samlxml.NSAssertion, "AttributeValue")
			target := m.root
			if len(vals) > 0 {
				target = vals[0]
			}
			target.CreateAttr("xmlns:evila", samlxml.NSXSI)
			target.CreateAttr("xmlns:evilb", samlxml.NSXSI)
			target.Attr = append(target.Attr,
				etree.Attr{Space: "evila", Key: "type", Value: "xs:string"},
				etree.Attr{Space: "evilb", Key: "type", Value: EvilMarker})
			return nil
		})},
	}
}

// forbiddenBinding declares a binding Namespaces in XML forbids where no
// digest covers it (the root signature's SignatureValue, or an unsigned
// root), so only the parser can refuse it: readers resolve such bindings
// differently, and one that let it through would hand the canonicalizer
// and the reader two views of one name.
func forbiddenBinding(m *message, attr, uri string) error {
	target := m.root
	if sig, err := m.rootSignature(); err == nil {
		if sv := samlxml.Children(sig, samlxml.NSDSig, "SignatureValue"); len(sv) > 0 {
			target = sv[0]
		}
	}
	target.CreateAttr(attr, uri)
	return nil
}

// evilizeFirstAssertion puts the marker into the first Assertion, or onto
// the root if there is none.
func evilizeFirstAssertion(m *message) {
	if a, err := m.assertion(); err == nil {
		evilize(a)
		return
	}
	evilize(m.root)
}
