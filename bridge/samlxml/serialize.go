package samlxml

import (
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// Serialize writes el, which must be a root element (alone, or the root of
// a document: a nested element would lose its namespace context), as a
// standalone document without an XML declaration, the form every binding
// carries. Attribute values and text
// are escaped canonically (CR, LF and TAB as character references), so a
// receiving parser reads exactly what was signed.
func Serialize(el *etree.Element) ([]byte, error) {
	if p := el.Parent(); p != nil && p.Tag != "" { // a document's root has the document as parent
		return nil, errors.New("samlxml: serialize a root element, not a nested one")
	}
	doc := etree.NewDocument()
	doc.WriteSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalText: true}
	doc.SetRoot(el.Copy())
	data, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialize %s: %w", el.Tag, err)
	}
	return data, nil
}
