package clave2msg

import (
	"reflect"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

func fullLogoutRequest() *LogoutRequest {
	return &LogoutRequest{
		ID: "_lo1", IssueInstant: fuzzT0, Destination: "https://gw/Proxy2/ServiceProvider",
		Issuer: "https://b/upstream/slo", NameID: "Q2891006E_EA0009994", NameIDFormat: NameIDUnspec,
		SPNameQualifier: "https://b/upstream/slo", NotOnOrAfter: fuzzT0.Add(5 * time.Minute),
		Reason: LogoutReasonUser, SessionIndexes: []string{"s1", "s2"},
	}
}

func seedLogoutRequest() []byte {
	b, _ := samlxml.Serialize(fullLogoutRequest().Element())
	return b
}

func seedLogoutResponse() []byte {
	r := &LogoutResponse{ID: "_lr1", InResponseTo: "_lo1", IssueInstant: fuzzT0, Destination: "https://b/upstream/slo",
		Issuer: "gw", Status: Status{Code: StatusSuccess}}
	b, _ := samlxml.Serialize(r.Element())
	return b
}

// roundTrip serializes el and parses it back with the hardened parser.
func roundTrip(t *testing.T, el *etree.Element) *etree.Element {
	t.Helper()
	data, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func TestLogoutRequestRoundTrip(t *testing.T) {
	tests := map[string]*LogoutRequest{
		"full":    fullLogoutRequest(),
		"minimal": {ID: "_lo2", IssueInstant: fuzzT0, NameID: "clavebridge"},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseLogoutRequest(roundTrip(t, want.Element()))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestLogoutRequestShape: the element matches the Cl@ve 2.0 example
// (Issuer before NameID, NameID with Format and SPNameQualifier).
func TestLogoutRequestShape(t *testing.T) {
	el := fullLogoutRequest().Element()
	var children []string
	for _, c := range el.ChildElements() {
		children = append(children, c.Tag)
	}
	if want := []string{"Issuer", "NameID", "SessionIndex", "SessionIndex"}; !reflect.DeepEqual(children, want) {
		t.Errorf("children = %v, want %v", children, want)
	}
	nid := el.FindElement("NameID")
	if nid.SelectAttrValue("Format", "") != NameIDUnspec || nid.SelectAttrValue("SPNameQualifier", "") != "https://b/upstream/slo" {
		t.Errorf("NameID attributes = %v", nid.Attr)
	}
	if el.SelectAttrValue("Reason", "") != LogoutReasonUser || el.SelectAttrValue("NotOnOrAfter", "") != "2026-11-29T10:05:00.000Z" {
		t.Errorf("root attributes = %v", el.Attr)
	}
}

func TestLogoutResponseRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		status      Status
		wantMessage string
	}{
		{"success", Status{Code: StatusSuccess}, StatusSuccess},
		{"success with a message", Status{Code: StatusSuccess, Message: "done"}, StatusSuccess},
		{"partial", Status{Code: StatusResponder, SubCode: StatusPartialLogout, Message: "partial"}, "partial"},
		{"failure without a message", Status{Code: StatusRequester}, StatusRequester},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &LogoutResponse{ID: "_lr", InResponseTo: "_lo", IssueInstant: fuzzT0, Destination: "https://b/slo",
				Issuer: "gw", Status: tt.status}
			got, err := ParseLogoutResponse(roundTrip(t, in.Element()))
			if err != nil {
				t.Fatal(err)
			}
			want := *in
			want.Status.Message = tt.wantMessage
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
	// Cl@ve's LogoutResponse Issuer is unreliable: none at all is accepted.
	got, err := ParseLogoutResponse(roundTrip(t, (&LogoutResponse{ID: "_x", IssueInstant: fuzzT0, Status: Status{Code: StatusSuccess}}).Element()))
	if err != nil || got.Issuer != "" || got.InResponseTo != "" {
		t.Errorf("without Issuer: %+v, %v", got, err)
	}
}

const (
	nsDecl   = `xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"`
	instant  = `IssueInstant="2026-11-29T10:00:00.000Z"`
	nameID   = `<saml2:NameID>p</saml2:NameID>`
	statusOK = `<saml2p:Status><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></saml2p:Status>`
)

func parseRoot(t *testing.T, xml string) *etree.Element {
	t.Helper()
	doc, err := samlxml.Parse([]byte(xml), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatalf("%s: %v", xml, err)
	}
	return doc.Root()
}

func TestParseLogoutRequestRefusals(t *testing.T) {
	tests := map[string]string{
		"wrong root":                   `<saml2p:LogoutResponse ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `>` + statusOK + `</saml2p:LogoutResponse>`,
		"AuthnRequest":                 `<saml2p:AuthnRequest ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `/>`,
		"wrong namespace":              `<x:LogoutRequest xmlns:x="urn:other" xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" ` + instant + `>` + nameID + `</x:LogoutRequest>`,
		"Version 1.0":                  `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="1.0" ` + instant + `>` + nameID + `</saml2p:LogoutRequest>`,
		"missing ID":                   `<saml2p:LogoutRequest ` + nsDecl + ` Version="2.0" ` + instant + `>` + nameID + `</saml2p:LogoutRequest>`,
		"missing IssueInstant":         `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0">` + nameID + `</saml2p:LogoutRequest>`,
		"bad IssueInstant":             `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0" IssueInstant="yesterday">` + nameID + `</saml2p:LogoutRequest>`,
		"bad NotOnOrAfter":             `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + ` NotOnOrAfter="">` + nameID + `</saml2p:LogoutRequest>`,
		"no NameID":                    `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `/>`,
		"two NameIDs":                  `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `>` + nameID + nameID + `</saml2p:LogoutRequest>`,
		"NameID in protocol namespace": `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `><saml2p:NameID>p</saml2p:NameID></saml2p:LogoutRequest>`,
		"two Issuers": `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0" ` + instant +
			`><saml2:Issuer>a</saml2:Issuer><saml2:Issuer>b</saml2:Issuer>` + nameID + `</saml2p:LogoutRequest>`,
	}
	for name, xml := range tests {
		t.Run(name, func(t *testing.T) {
			if r, err := ParseLogoutRequest(parseRoot(t, xml)); err == nil {
				t.Errorf("accepted: %+v", r)
			}
		})
	}
	if _, err := ParseLogoutRequest(nil); err == nil {
		t.Error("nil element accepted")
	}
}

func TestParseLogoutResponseRefusals(t *testing.T) {
	tests := map[string]string{
		"wrong root":           `<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `>` + nameID + `</saml2p:LogoutRequest>`,
		"Response":             `<saml2p:Response ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `>` + statusOK + `</saml2p:Response>`,
		"Version 1.0":          `<saml2p:LogoutResponse ` + nsDecl + ` ID="_a" Version="1.0" ` + instant + `>` + statusOK + `</saml2p:LogoutResponse>`,
		"missing ID":           `<saml2p:LogoutResponse ` + nsDecl + ` Version="2.0" ` + instant + `>` + statusOK + `</saml2p:LogoutResponse>`,
		"missing IssueInstant": `<saml2p:LogoutResponse ` + nsDecl + ` ID="_a" Version="2.0">` + statusOK + `</saml2p:LogoutResponse>`,
		"no Status":            `<saml2p:LogoutResponse ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `/>`,
		"two Status":           `<saml2p:LogoutResponse ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `>` + statusOK + statusOK + `</saml2p:LogoutResponse>`,
		"no StatusCode":        `<saml2p:LogoutResponse ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `><saml2p:Status/></saml2p:LogoutResponse>`,
		"two Issuers": `<saml2p:LogoutResponse ` + nsDecl + ` ID="_a" Version="2.0" ` + instant +
			`><saml2:Issuer>a</saml2:Issuer><saml2:Issuer>b</saml2:Issuer>` + statusOK + `</saml2p:LogoutResponse>`,
	}
	for name, xml := range tests {
		t.Run(name, func(t *testing.T) {
			if r, err := ParseLogoutResponse(parseRoot(t, xml)); err == nil {
				t.Errorf("accepted: %+v", r)
			}
		})
	}
	if _, err := ParseLogoutResponse(nil); err == nil {
		t.Error("nil element accepted")
	}
}

// TestParseLogoutResponseTolerates what Cl@ve is known to send: no Issuer,
// no StatusMessage.
func TestParseLogoutResponseTolerates(t *testing.T) {
	r, err := ParseLogoutResponse(parseRoot(t, `<saml2p:LogoutResponse `+nsDecl+` ID="_a" InResponseTo="_b" Version="2.0" `+instant+`>`+statusOK+`</saml2p:LogoutResponse>`))
	if err != nil || r.Status.Code != StatusSuccess || r.Status.Message != "" || r.InResponseTo != "_b" {
		t.Fatalf("%+v, %v", r, err)
	}
}

// fuzzLogout runs parse on anything the hardened parser accepts: it may
// refuse, never panic, and never accept a message without an ID or an
// IssueInstant attribute.
func fuzzLogout(f *testing.F, seeds [][]byte, parse func(*etree.Element) (id string, err error)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
		if err != nil {
			return
		}
		id, err := parse(doc.Root())
		if err == nil && (id == "" || doc.Root().SelectAttrValue("IssueInstant", "") == "") {
			t.Fatalf("accepted without ID or IssueInstant: %s", data)
		}
	})
}

func FuzzParseLogoutRequest(f *testing.F) {
	seeds := [][]byte{seedLogoutRequest(), seedLogoutResponse(),
		[]byte(`<saml2p:LogoutRequest ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `>` + nameID + nameID + `</saml2p:LogoutRequest>`)}
	fuzzLogout(f, seeds, func(el *etree.Element) (string, error) {
		r, err := ParseLogoutRequest(el)
		if err != nil {
			return "", err
		}
		return r.ID, nil
	})
}

func FuzzParseLogoutResponse(f *testing.F) {
	seeds := [][]byte{seedLogoutResponse(), seedLogoutRequest(),
		[]byte(`<saml2p:LogoutResponse ` + nsDecl + ` ID="_a" Version="2.0" ` + instant + `><saml2p:Status/></saml2p:LogoutResponse>`)}
	fuzzLogout(f, seeds, func(el *etree.Element) (string, error) {
		r, err := ParseLogoutResponse(el)
		if err != nil {
			return "", err
		}
		return r.ID, nil
	})
}
