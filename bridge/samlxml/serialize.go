package samlxml

import (
	"errors"

	"github.com/beevik/etree"
)

// Serialize writes el, which must be a root element (alone, or the root of
// a document: a nested element would lose its namespace context), as a
// standalone document without an XML declaration, the form every binding
// carries. Attribute values and text are escaped canonically (CR, LF and
// TAB as character references), so a receiving parser reads exactly what
// was signed.
func Serialize(el *etree.Element) ([]byte, error) {
	if p := el.Parent(); p != nil && p.Tag != "" { // a document's root has the document as parent
		return nil, errors.New("samlxml: serialize a root element, not a nested one")
	}
	return serializeEscaped(el)
}

// serializeEscaped writes el as a standalone element, escaping as c14n
// does so that CR and attribute white space survive the round trip. It
// writes what etree's writer with CanonicalAttrVal and CanonicalText
// writes (attributes in their order, empty elements self-closed), without
// copying el into a document first.
func serializeEscaped(el *etree.Element) ([]byte, error) {
	out := make([]byte, 0, 8192)
	return appendElement(out, el), nil
}

func appendElement(out []byte, el *etree.Element) []byte {
	out = append(out, '<')
	out = appendName(out, el.Space, el.Tag)
	for _, a := range el.Attr {
		out = append(out, ' ')
		out = appendName(out, a.Space, a.Key)
		out = append(out, `="`...)
		out = appendEscaped(out, a.Value, true)
		out = append(out, '"')
	}
	if len(el.Child) == 0 {
		return append(out, "/>"...)
	}
	out = append(out, '>')
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			out = appendElement(out, t)
		case *etree.CharData:
			out = appendEscaped(out, t.Data, false)
		case *etree.Comment:
			out = append(out, "<!--"...)
			out = append(out, t.Data...)
			out = append(out, "-->"...)
		case *etree.ProcInst:
			out = append(out, "<?"...)
			out = append(out, t.Target...)
			if t.Inst != "" {
				out = append(out, ' ')
				out = append(out, t.Inst...)
			}
			out = append(out, "?>"...)
		case *etree.Directive:
			out = append(out, "<!"...)
			out = append(out, t.Data...)
			out = append(out, '>')
		}
	}
	out = append(out, "</"...)
	out = appendName(out, el.Space, el.Tag)
	return append(out, '>')
}
