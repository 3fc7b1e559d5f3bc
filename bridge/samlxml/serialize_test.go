package samlxml

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
)

func TestSerializeEscapesWhitespaceCanonically(t *testing.T) {
	el := etree.NewElement("r")
	el.CreateAttr("a", "x\ny\tz\r")
	el.SetText("line\r\n")
	out, err := Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); !strings.Contains(got, `a="x&#xA;y&#x9;z&#xD;"`) || !strings.Contains(got, "line&#xD;\n") {
		t.Fatalf("serialized %q", got)
	}
	doc, err := Parse(out, DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Root().SelectAttrValue("a", "") != "x\ny\tz\r" {
		t.Fatalf("attribute did not survive: %q", doc.Root().SelectAttrValue("a", ""))
	}
	if _, err := Serialize(doc.Root()); err != nil {
		t.Fatalf("a parsed document's root: %v", err)
	}
	child := el.CreateElement("c")
	if _, err := Serialize(child); err == nil {
		t.Fatal("nested element serialized without its namespace context")
	}
}
