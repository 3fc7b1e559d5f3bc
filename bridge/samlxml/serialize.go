package samlxml

import (
	"fmt"

	"github.com/beevik/etree"
)

// Serialize writes el as a standalone document (no XML declaration), the
// form every binding carries.
func Serialize(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	data, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialize %s: %w", el.Tag, err)
	}
	return data, nil
}
