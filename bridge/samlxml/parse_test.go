package samlxml

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	for _, doc := range []string{
		testResponse,
		`<a/>`,
		`<?xml version="1.0" encoding="utf-8"?><!-- c --><a><?pi x?><!-- c --><b xml:lang="en">t</b></a>`,
		`<a xmlns:p="urn:p" p:x="1" x="2"/>`,
		"<a><![CDATA[<x>]]></a>\n",
		`<a>` + strings.Repeat("<b>", 63) + strings.Repeat("</b>", 63) + `</a>`,
	} {
		if _, err := Parse([]byte(doc), DefaultMaxMessageBytes); err != nil {
			t.Errorf("Parse(%.60q): %v", doc, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	billionLaughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
		`<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>`
	tests := []struct {
		name, doc, want string
		max             int
	}{
		{name: "doctype", doc: `<!DOCTYPE a><a/>`, want: "DOCTYPE"},
		{name: "xxe", doc: `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`, want: "DOCTYPE"},
		{name: "billion laughs", doc: billionLaughs, want: "DOCTYPE"},
		{name: "doctype after root", doc: `<a/><!DOCTYPE a>`, want: "DOCTYPE"},
		{name: "doctype inside", doc: `<a><!DOCTYPE a></a>`, want: "DOCTYPE"},
		{name: "oversized", doc: `<a>` + strings.Repeat("x", 100) + `</a>`, max: 50, want: "exceeds"},
		{name: "too deep", doc: strings.Repeat("<b>", 65) + strings.Repeat("</b>", 65), want: "deeper"},
		{name: "too many elements", doc: `<a>` + strings.Repeat("<b/>", maxElements) + `</a>`, want: "more than 10000"},
		{name: "colon in local name", doc: `<x::Root/>`, want: "rejected XML"},
		{name: "colons in attribute name", doc: `<Root><Element ::attr="foo"></Element></Root>`, want: "XML"},
		{name: "xrv directive case", doc: `<Root><! <<!-- -->!-- x --> y></Root>`, want: "XML"},
		{name: "empty attribute local name", doc: `<Root x:="value"/>`, want: "not a valid qualified name"},
		{name: "empty attribute name", doc: `<Root :="value"/>`, want: "not a valid qualified name"},
		{name: "empty xmlns prefix", doc: `<Root xmlns="x" xmlns:="y"></Root>`, want: "not a valid qualified name"},
		{name: "unclosed", doc: `<a><b></a>`, want: "rejected XML"},
		{name: "two roots", doc: `<a/><b/>`, want: "2 root elements"},
		{name: "no root", doc: `<?xml version="1.0"?>`, want: "0 root elements"},
		{name: "empty", doc: ``, want: "0 root elements"},
		{name: "text outside root", doc: `<a/>text`, want: "XML"},
		{name: "latin-1", doc: `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, want: "encoding"},
		{name: "duplicate attribute", doc: `<a x="1" x="2"/>`, want: "duplicate attribute"},
		{name: "duplicate namespaced attribute", doc: `<a xmlns:p="urn:x" xmlns:q="urn:x" p:x="1" q:x="2"/>`, want: "duplicate attribute"},
		{name: "duplicate namespace declaration", doc: `<a xmlns:p="urn:x" xmlns:p="urn:y"/>`, want: "duplicate attribute"},
		{name: "undeclared element prefix", doc: `<p:a/>`, want: "undeclared"},
		{name: "undeclared attribute prefix", doc: `<a p:x="1"/>`, want: "undeclared"},
		{name: "unknown entity", doc: `<a>&xxe;</a>`, want: "rejected XML"},
		{name: "too many attributes", doc: `<a` + strings.Repeat(` x="1"`, 1) + manyAttrs(maxAttrs) + `/>`, want: "more than 256 attributes"},
		{name: "too many declarations in force", doc: `<a` + manyDecls(0, 200) + `><b` + manyDecls(200, 100) + `/></a>`, want: "more than 256 namespace declarations"},
		{name: "xml prefix rebound", doc: `<a xmlns:xml="urn:x"/>`, want: "xml prefix bound to another namespace"},
		{name: "xmlns prefix declared", doc: `<a xmlns:xmlns="urn:x"/>`, want: "xmlns prefix declared"},
		{name: "XML namespace bound to another prefix", doc: `<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>`, want: "XML namespace bound to another prefix"},
		{name: "prefix undeclared", doc: `<a xmlns:p=""/>`, want: "undeclared (not allowed in XML 1.0)"},
		{name: "non-ASCII element name", doc: `<é/>`, want: "non-ASCII names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = DefaultMaxMessageBytes
			}
			_, err := Parse([]byte(tt.doc), max)
			wantErr(t, err, tt.want)
		})
	}
}

// manyAttrs is n distinct attributes a0="1" … .
func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` a%d="1"`, i)
	}
	return b.String()
}

// manyDecls declares prefixes p<from> … p<from+n-1>.
func manyDecls(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, ` xmlns:p%d="urn:%d"`, i, i)
	}
	return b.String()
}

// TestParseRefusesResolutionBlowUp: the document that made prefix
// resolution quadratic (9000 declarations on the root, 9000 prefixed
// attributes on its child, 250 KB: seconds of CPU before these bounds) is
// refused at its first element.
func TestParseRefusesResolutionBlowUp(t *testing.T) {
	var b strings.Builder
	b.WriteString("<r")
	for i := range 9000 {
		fmt.Fprintf(&b, ` xmlns:p%d="u"`, i)
	}
	b.WriteString("><c")
	for i := range 9000 {
		fmt.Fprintf(&b, ` p%d:a="1"`, i)
	}
	b.WriteString("/></r>")
	_, err := Parse([]byte(b.String()), DefaultMaxMessageBytes)
	wantErr(t, err, "more than 256 attributes on <r>")
}
