package samlxml

import (
	"testing"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, doc, prefixes, want string
		path                      []int // child element indexes from the root
	}{
		{
			name: "attributes by namespace URI, not prefix",
			doc:  `<r xmlns:aa="urn:z" xmlns:zz="urn:a" aa:one="1" zz:two="2" b="3" a="4"/>`,
			want: `<r xmlns:aa="urn:z" xmlns:zz="urn:a" a="4" b="3" zz:two="2" aa:one="1"></r>`,
		},
		{
			name: "namespace context of a nested element",
			doc:  `<p:r xmlns:p="urn:p" xmlns:q="urn:q" xmlns="urn:d"><p:c><x q:a="1"/></p:c></p:r>`,
			path: []int{0},
			want: `<p:c xmlns:p="urn:p"><x xmlns="urn:d" xmlns:q="urn:q" q:a="1"></x></p:c>`,
		},
		{
			name:     "inclusive prefixes",
			doc:      `<p:r xmlns:p="urn:p" xmlns:xs="urn:xs"><p:c>xs:string</p:c></p:r>`,
			path:     []int{0},
			prefixes: "xs",
			want:     `<p:c xmlns:p="urn:p" xmlns:xs="urn:xs">xs:string</p:c>`,
		},
		{
			name: "comments dropped, CDATA and escaping",
			doc:  "<r a=\"&#9;&#10;&#13;&quot;&lt;&gt;\"><!--x--><![CDATA[<&>]]>&#13;\"</r>",
			want: "<r a=\"&#x9;&#xA;&#xD;&quot;&lt;>\">&lt;&amp;&gt;&#xD;\"</r>",
		},
		{
			name: "no default namespace undeclared on the apex",
			doc:  `<r xmlns="urn:d"><c xmlns=""><d/></c></r>`,
			path: []int{0, 0},
			want: `<d></d>`,
		},
		{
			name: "apex undeclaring the default namespace",
			doc:  `<r xmlns="urn:d"><c xmlns=""><d xmlns="urn:x"><e xmlns=""/></d></c></r>`,
			path: []int{0},
			want: `<c><d xmlns="urn:x"><e xmlns=""></e></d></c>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := mustParse(t, []byte(tt.doc)).Root()
			for _, i := range tt.path {
				el = el.ChildElements()[i]
			}
			got, err := canonicalize(el, tt.prefixes, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
