package samlxml

// legacyParse is the parser Parse replaced (issue 17): a strict token scan,
// then mattermost's round-trip validator, then etree's own reader, then a
// walk of the tree, each tokenizing the document again. It stays here, test
// only, as the reference FuzzParseDifferential holds Parse to.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

func legacyParse(data []byte, maxBytes int) (*etree.Document, error) {
	if len(data) > maxBytes {
		return nil, fmt.Errorf("document of %d bytes exceeds the %d byte limit", len(data), maxBytes)
	}
	if err := legacyScanTokens(data); err != nil {
		return nil, err
	}
	if err := xrv.Validate(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: maxDepth, PreserveDuplicateAttrs: true}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, err
	}
	roots := 0
	for _, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.Element:
			roots++
		case *etree.CharData:
			if !t.IsWhitespace() {
				return nil, errors.New("text outside the root element")
			}
		case *etree.Directive:
			return nil, errors.New("directives are not allowed")
		}
	}
	if roots != 1 {
		return nil, fmt.Errorf("%d root elements", roots)
	}
	return doc, walkElements(doc.Root(), legacyCheckElement)
}

func legacyScanTokens(data []byte) error {
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
		switch tok.(type) {
		case xml.StartElement:
			depth++
			elements++
			if depth > maxDepth || elements > maxElements {
				return errors.New("too deep or too many elements")
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return errors.New("directive")
		}
	}
}

// legacyCheckElement is checkElement with the declarations in scope read
// from el's ancestors, as the legacy parser resolved prefixes.
func legacyCheckElement(el *etree.Element) error {
	var chain []*etree.Element
	for e := el; e != nil; e = e.Parent() {
		chain = append(chain, e)
	}
	scope := []nsBinding{{"xml", nsXML}}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, a := range chain[i].Attr {
			if p, ok := nsDeclPrefix(a); ok {
				scope = append(scope, nsBinding{p, a.Value})
			}
		}
	}
	return checkElement(el, scope)
}
