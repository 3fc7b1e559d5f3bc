package samlxml

import (
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
