package samlxml

import (
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// parseDifferentialSeeds are documents at the edges both parsers must agree
// on: SAML messages, and each way XML can be refused or surprise a reader.
var parseDifferentialSeeds = []string{
	testResponse,
	`<a/>`,
	`<?xml version="1.0" encoding="utf-8"?><!-- c --><a><?pi x?><!-- c --><b xml:lang="en">t</b></a>`,
	`<?xml version="1.0" encoding="ISO-8859-1"?><a/>`,
	`<?xml version="1.1"?><a/>`,
	`<a xmlns:p="urn:p" p:x="1" x="2"/>`,
	"<a><![CDATA[<x>]]>\r\n &#xD;&#x9;&amp;&lt;</a>\n",
	"<a x=\"&#xD;&#xA;\r\n\t y\" y='\"'/>",
	`<a xmlns="urn:d"><b xmlns=""><c/></b></a>`,
	`<a xmlns:p="urn:p"><p:b xmlns:p="urn:q"/></a>`,
	`<!DOCTYPE a><a/>`,
	`<a><!DOCTYPE a></a>`,
	`<Root><! <<!-- -->!-- x --> y></Root>`,
	`<x::Root/>`,
	`<Root :="value"/>`,
	`<Root x:="value"/>`,
	`<Root xmlns="x" xmlns:="y"></Root>`,
	`<a:b:c xmlns:a="urn:a"/>`,
	`<é/>`,
	`<a é="1"/>`,
	`<?é x?><a/>`,
	`<a>&é;</a>`,
	`<a><?pi?><?pi  d ?></a>`,
	`<a>]]&gt;]&#93;></a>`,
	`<a><![CDATA[]]></a>`,
	"<a><![CDATA[\r\n]]]]></a>",
	`<a>&#x10FFFF;&#xD800;&#65;&#x41;</a>`,
	`<a>&#X41;</a>`,
	`<a>&#x;</a>`,
	`<a>&amp x;</a>`,
	`<a x="1"y="2"/>`,
	`<a x = '1' />`,
	`<a x="<"/>`,
	`<a x="]]>"/>`,
	`< a/>`,
	`<a></ a>`,
	`<a></a >`,
	`<!----><a/><!---x-->`,
	`<a><!-- a --->`,
	"\ufeff<a/>",
	`<a`,
	`<a x="1`,
	`<a><![CDATA[x`,
	`<a><b></a>`,
	`<a></a:a>`,
	`<a/><b/>`,
	`<a/>text`,
	" \n<a/>\n ",
	`<a x="1" x="2"/>`,
	`<a xmlns:p="urn:x" xmlns:q="urn:x" p:x="1" q:x="2"/>`,
	`<a xmlns:p="urn:x" xmlns:p="urn:y"/>`,
	`<p:a/>`,
	`<a p:x="1"/>`,
	`<a>&xxe;</a>`,
	`<a>&#0;</a>`,
	"<a>\x00</a>",
	"<a>\xff</a>",
	`<a><?xml version="1.0"?></a>`,
	`<a><!-- a -- b --></a>`,
	`<a>]]></a>`,
	`<a b=c/>`,
	`<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:space="preserve"/>`,
	`<a xmlns:xmlns="urn:x"/>`,
	strings.Repeat("<b>", 64) + strings.Repeat("</b>", 64),
	strings.Repeat("<b>", 65) + strings.Repeat("</b>", 65),
}

// bulkyDifferentialSeeds are compared by the unit test only: seeds this
// large stall the fuzzer's mutator.
var bulkyDifferentialSeeds = []string{
	`<a>` + strings.Repeat("<b/>", maxElements) + `</a>`,
	`<a>` + strings.Repeat("<b/>", maxElements-1) + `</a>`,
}

// TestParseMatchesLegacy runs the differential comparison on every seed
// (the fuzz target explores beyond them).
func TestParseMatchesLegacy(t *testing.T) {
	for _, seed := range append(parseDifferentialSeeds, bulkyDifferentialSeeds...) {
		got, err := Parse([]byte(seed), 1<<16)
		want, legacyErr := legacyParse([]byte(seed), 1<<16)
		if (err == nil) != (legacyErr == nil) && !(err != nil && refusedByDesign(err)) {
			t.Errorf("%.60q: Parse error %v, legacy error %v", seed, err, legacyErr)
			continue
		}
		if err == nil {
			if diff := treeDiff(&want.Element, &got.Element); diff != "" {
				t.Errorf("%.60q: %s", seed, diff)
			}
		}
	}
}

// treeDiff describes the first difference between two token trees ("" if
// none): kinds, names, attributes, text and its flags, and the parent and
// index links every token must carry.
func treeDiff(want, got *etree.Element) string {
	if want.Space != got.Space || want.Tag != got.Tag {
		return fmt.Sprintf("element <%s>, want <%s>", got.FullTag(), want.FullTag())
	}
	if len(want.Attr) != len(got.Attr) {
		return fmt.Sprintf("<%s> has %d attributes, want %d", got.FullTag(), len(got.Attr), len(want.Attr))
	}
	for i := range want.Attr {
		w, g := &want.Attr[i], &got.Attr[i]
		if w.Space != g.Space || w.Key != g.Key || w.Value != g.Value || g.Element() != got {
			return fmt.Sprintf("<%s> attribute %d is %s=%q, want %s=%q", got.FullTag(), i, g.FullKey(), g.Value, w.FullKey(), w.Value)
		}
	}
	if len(want.Child) != len(got.Child) {
		return fmt.Sprintf("<%s> has %d children, want %d", got.FullTag(), len(got.Child), len(want.Child))
	}
	for i := range want.Child {
		w, g := want.Child[i], got.Child[i]
		if g.Parent() != got || g.Index() != i {
			return fmt.Sprintf("<%s> child %d has the wrong parent or index", got.FullTag(), i)
		}
		if d := tokenDiff(w, g); d != "" {
			return d
		}
	}
	return ""
}

func tokenDiff(w, g etree.Token) string {
	switch w := w.(type) {
	case *etree.Element:
		if g, ok := g.(*etree.Element); ok {
			return treeDiff(w, g)
		}
	case *etree.CharData:
		if g, ok := g.(*etree.CharData); ok {
			if w.Data != g.Data || w.IsWhitespace() != g.IsWhitespace() || w.IsCData() != g.IsCData() {
				return fmt.Sprintf("text %q (space %v), want %q (space %v)", g.Data, g.IsWhitespace(), w.Data, w.IsWhitespace())
			}
			return ""
		}
	case *etree.Comment:
		if g, ok := g.(*etree.Comment); ok && w.Data == g.Data {
			return ""
		}
	case *etree.ProcInst:
		if g, ok := g.(*etree.ProcInst); ok && w.Target == g.Target && w.Inst == g.Inst {
			return ""
		}
	case *etree.Directive:
		if g, ok := g.(*etree.Directive); ok && w.Data == g.Data {
			return ""
		}
	}
	return fmt.Sprintf("token %#v, want %#v", g, w)
}

// verifiedTreeDiff compares a verified element with the parse of its
// canonical serialization: what Verify returned before it stopped parsing
// the digested bytes a second time.
func verifiedTreeDiff(verified *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(verified.Copy())
	doc.WriteSettings = canonicalWriteSettings()
	canon, err := doc.WriteToBytes()
	if err != nil {
		return err.Error()
	}
	reparsed, err := Parse(canon, len(canon))
	if err != nil {
		return "the canonical bytes do not parse: " + err.Error()
	}
	return treeDiff(reparsed.Root(), verified)
}
