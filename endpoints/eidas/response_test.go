package eidas

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

// samlResponse reads the SAMLResponse field of an auto-POST page (or of an
// Outgoing), checks where it goes and verifies it with the bridge's
// certificate. It returns the verified Response and the signature method.
func (f *fixture) samlResponse(t *testing.T, b64value string) (*etree.Element, string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64value)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatalf("response signature: %v", err)
	}
	for _, sp := range []*bridge.ServiceProvider{f.kit, f.eidas} {
		if _, err := (samlxml.Verifier{Certs: sp.SigningCerts}).Verify(doc.Root()); err == nil {
			t.Fatalf("our response verified with %s's certificate", sp.ID)
		}
	}
	return v.Element, v.Method
}

// pageResponse checks that the page posts to acs and returns the verified
// Response with the RelayState field.
func (f *fixture) pageResponse(t *testing.T, rec *httptest.ResponseRecorder, acs string) (*etree.Element, string) {
	t.Helper()
	page := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %.400s", rec.Code, page)
	}
	if got := formAction(page); got != acs {
		t.Fatalf("form posted to %q, want the registered ACS %q", got, acs)
	}
	v, ok := formField(page, "SAMLResponse")
	if !ok {
		t.Fatalf("no SAMLResponse: %.400s", page)
	}
	resp, _ := f.samlResponse(t, v)
	relay, _ := formField(page, "RelayState")
	return resp, relay
}

// status returns "Top Sub" without the status prefix.
func status(t *testing.T, resp *etree.Element) (string, string) {
	t.Helper()
	st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status")
	if st == nil {
		t.Fatal("no Status")
	}
	sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
	if sc == nil {
		t.Fatal("no StatusCode")
	}
	got := strings.TrimPrefix(sc.SelectAttrValue("Value", ""), clave2msg.StatusPrefix)
	if sub, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode"); sub != nil {
		got += " " + strings.TrimPrefix(sub.SelectAttrValue("Value", ""), clave2msg.StatusPrefix)
	}
	msg, _ := samlxml.ChildText(st, samlxml.NSProtocol, "StatusMessage")
	return got, msg
}

func assertions(resp *etree.Element) int {
	return len(samlxml.Children(resp, samlxml.NSAssertion, "Assertion")) +
		len(samlxml.Children(resp, samlxml.NSAssertion, "EncryptedAssertion"))
}

// TestRefusalsPostStatusToSP: well-formed, signed requests that cannot be
// served get a signed SAML error status at the registered ACS, and nothing
// goes upstream.
func TestRefusalsPostStatusToSP(t *testing.T) {
	legal := func(a *clave2msg.AuthnRequest) {
		a.Attributes = append(a.Attributes, wire(translate.AttrLegalPersonIdentifier, false), wire(translate.AttrLegalName, false))
	}
	tests := []struct {
		name   string
		eidas  bool // the eIDAS SP sends it; otherwise the Cl@ve kit
		setup  func(f *fixture)
		change func(*clave2msg.AuthnRequest)
		want   string
	}{
		{name: "IsPassive", change: func(a *clave2msg.AuthnRequest) { a.IsPassive = true }, want: "Responder NoPassive"},
		{name: "eIDAS IsPassive", eidas: true, change: func(a *clave2msg.AuthnRequest) { a.IsPassive = true }, want: "Responder NoPassive"},
		{name: "no NameIDPolicy", change: func(a *clave2msg.AuthnRequest) { a.HasNameIDPolicy, a.NameIDFormat = false, "" },
			want: "Requester InvalidNameIDPolicy"},
		{name: "email NameID", change: func(a *clave2msg.AuthnRequest) {
			a.NameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
		}, want: "Requester InvalidNameIDPolicy"},
		{name: "eIDAS email NameID", eidas: true, change: func(a *clave2msg.AuthnRequest) {
			a.NameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
		}, want: "Requester InvalidNameIDPolicy"},
		{name: "no RequestedAttributes", change: func(a *clave2msg.AuthnRequest) { a.Attributes = nil }, want: "Requester RequestDenied"},
		{name: "eIDAS no RequestedAttributes", eidas: true, change: func(a *clave2msg.AuthnRequest) { a.Attributes = nil }, want: "Requester RequestDenied"},
		{name: "two LoAs", change: func(a *clave2msg.AuthnRequest) {
			a.LoAs = []string{translate.LoALow.EIDAS(), translate.LoAHigh.EIDAS()}
		}, want: "Requester NoAuthnContext"},
		{name: "Comparison exact", change: func(a *clave2msg.AuthnRequest) { a.Comparison = "exact" }, want: "Requester NoAuthnContext"},
		{name: "Comparison absent (exact)", change: func(a *clave2msg.AuthnRequest) { a.Comparison = "" }, want: "Requester NoAuthnContext"},
		{name: "eIDAS Comparison better", eidas: true, change: func(a *clave2msg.AuthnRequest) { a.Comparison = "better" }, want: "Requester NoAuthnContext"},
		{name: "non-notified LoA", change: func(a *clave2msg.AuthnRequest) {
			a.LoAs = []string{"http://eidas.europa.eu/NotNotified/LoA/low"}
		}, want: "Requester NoAuthnContext"},
		{name: "no RequestedAuthnContext", change: func(a *clave2msg.AuthnRequest) { a.LoAs = nil }, want: "Requester NoAuthnContext"},
		{name: "eIDAS ForceAuthn false", eidas: true, change: func(a *clave2msg.AuthnRequest) { a.ForceAuthn = false }, want: "Requester RequestDenied"},
		{name: "eIDAS SPType in both", eidas: true, setup: func(f *fixture) { f.eidas.SPType = "public" },
			change: func(*clave2msg.AuthnRequest) {}, want: "Requester RequestDenied"},
		{name: "eIDAS SPType in neither", eidas: true, change: func(a *clave2msg.AuthnRequest) { a.SPType = "" }, want: "Requester RequestDenied"},
		{name: "eIDAS SPType not public or private", eidas: true, change: func(a *clave2msg.AuthnRequest) { a.SPType = "commercial" },
			want: "Requester RequestDenied"},
		{name: "two RelayState attributes", change: func(a *clave2msg.AuthnRequest) {
			a.Attributes = append(a.Attributes, relayAttr("second"))
		}, want: "Requester InvalidAttrNameOrValue"},
		{name: "RelayState attribute without value", change: func(a *clave2msg.AuthnRequest) {
			a.Attributes = append(a.Attributes[:5], clave2msg.RequestedAttribute{Name: translate.ClaveRelayStateAttr})
		}, want: "Requester InvalidAttrNameOrValue"},
		{name: "legal person, policy forbids", change: legal, want: "Requester RequestDenied"},
		{name: "eIDAS legal person, policy forbids", eidas: true, change: legal, want: "Requester RequestDenied"},
		{name: "required attribute not releasable", setup: func(f *fixture) {
			f.kit.Policy.Attributes = []translate.Attr{translate.AttrPersonIdentifier, translate.AttrFamilyName}
		}, change: func(*clave2msg.AuthnRequest) {}, want: "Requester InvalidAttrNameOrValue"},
		{name: "every IdP hidden", change: func(a *clave2msg.AuthnRequest) {
			for _, idp := range translate.AllIdPs() {
				if idp != translate.IdPAfirma && idp != translate.IdPSegSoc {
					a.Attributes = append(a.Attributes, idpFlag(idp))
				}
			}
		}, want: "Requester RequestDenied"},
		// The eIDAS node drops unknown requested attributes and fails the
		// request when none is left (reference §1, "ten things" 9).
		{name: "eIDAS only unknown attributes", eidas: true, change: func(a *clave2msg.AuthnRequest) {
			a.Attributes = []clave2msg.RequestedAttribute{
				{Name: translate.NSNaturalPerson + "/ShoeSize", FriendlyName: "ShoeSize", Required: true},
				{Name: "urn:example:shoeSize"},
			}
		}, want: "Requester RequestDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			ar, sign, acs, wantMethod := kitRequest(), f.signedKit, kitACS2, samlxml.RSASHA512
			if tt.eidas {
				ar, sign, acs, wantMethod = eidasRequest(), f.signedEIDAS, eidasACS, samlxml.RSAPSSSHA512
			}
			tt.change(ar)
			rec := f.postXML(sign(t, ar), "state-9")
			if len(f.up.Begun) != 0 {
				t.Fatalf("refused request went upstream: %+v", f.up.Begun[0].Request)
			}
			resp, relay := f.pageResponse(t, rec, acs)
			if got, msg := status(t, resp); got != tt.want || msg == "" {
				t.Fatalf("status %q (%q), want %q", got, msg, tt.want)
			}
			if n := assertions(resp); n != 0 {
				t.Fatalf("error response carries %d assertions", n)
			}
			if relay != "state-9" {
				t.Errorf("RelayState %q not echoed", relay)
			}
			if resp.SelectAttrValue("InResponseTo", "") != ar.ID || resp.SelectAttrValue("Destination", "") != acs {
				t.Errorf("InResponseTo %q, Destination %q", resp.SelectAttrValue("InResponseTo", ""), resp.SelectAttrValue("Destination", ""))
			}
			if iss, _ := samlxml.ChildText(resp, samlxml.NSAssertion, "Issuer"); iss != entityID {
				t.Errorf("Issuer %q", iss)
			}
			if m := signatureMethod(t, rec.Body.String()); m != wantMethod {
				t.Errorf("signature method %s, want %s", m, wantMethod)
			}
		})
	}
}

// TestEIDASSPTypeFromMetadata: SPType in the metadata only is fine.
func TestEIDASSPTypeFromMetadata(t *testing.T) {
	f := newFixture(t)
	f.eidas.SPType = "private"
	ar := eidasRequest()
	ar.SPType = ""
	if rec := f.postXML(f.signedEIDAS(t, ar), ""); rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
		t.Fatalf("status %d, upstream %d: %.300s", rec.Code, len(f.up.Begun), rec.Body)
	}
}

// signatureMethod reads the SignatureMethod of the page's SAMLResponse.
func signatureMethod(t *testing.T, page string) string {
	t.Helper()
	v, _ := formField(page, "SAMLResponse")
	raw, _ := base64.StdEncoding.DecodeString(v)
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	sm := doc.FindElement("//SignatureMethod")
	if sm == nil {
		t.Fatal("no SignatureMethod")
	}
	return sm.SelectAttrValue("Algorithm", "")
}

// TestLoginRoundTrip runs a login through the flow: the request goes
// upstream, the (fake) gateway answers, and the SP gets the encrypted
// assertion it can decrypt with its own key, with the Audience its profile
// expects.
func TestLoginRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		eidas     bool
		decrypt   func(f *fixture) samlxmltest.Pair
		acs       string
		audience  string
		nameIDFmt string
		relayAttr bool
		released  []translate.Attr
	}{
		{"Cl@ve kit", false, func(f *fixture) samlxmltest.Pair { return f.kitKey }, kitACS2, kitACS2, clave2msg.NameIDUnspec, true,
			[]translate.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName, translate.AttrFamilyName, translate.AttrFirstSurname, translate.AttrSelectedIdP}},
		{"eIDAS SP", true, func(f *fixture) samlxmltest.Pair { return f.spKey }, eidasACS, eidasID, clave2msg.NameIDPersist, false,
			[]translate.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName, translate.AttrFamilyName, translate.AttrDateOfBirth}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.up.Result = success()
			ar, xml := kitRequest(), f.signedKit
			if tt.eidas {
				ar, xml = eidasRequest(), f.signedEIDAS
			}
			rec := f.postXML(xml(t, ar), "rt-state")
			if rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
				t.Fatalf("status %d, upstream %d", rec.Code, len(f.up.Begun))
			}
			reply, err := f.flow.Complete(context.Background(), flow.Browser{Logins: bridgetest.Logins(rec)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := reply.Out
			if out.URL != tt.acs {
				t.Fatalf("answer goes to %q, want %q", out.URL, tt.acs)
			}
			resp, _ := f.samlResponse(t, field(out, "SAMLResponse"))
			if got, _ := status(t, resp); got != "Success" {
				t.Fatalf("status %q", got)
			}
			if field(out, "RelayState") != "rt-state" {
				t.Errorf("RelayState field %q", field(out, "RelayState"))
			}
			a, _ := decryptAssertion(t, resp, tt.decrypt(f))
			if a.Audience != tt.audience || a.Recipient != tt.acs || a.InResponseTo != ar.ID || a.NameIDFormat != tt.nameIDFmt ||
				a.NameID != "ES/ES/99999999R" || a.LoA != translate.LoAHigh.EIDAS() {
				t.Fatalf("assertion = %+v", a)
			}
			var got []translate.Attr
			relay := ""
			for _, at := range a.Attributes {
				if at.Name == translate.ClaveRelayStateAttr {
					relay = at.Values[0]
					continue
				}
				name, ok := translate.AttrFromName(at.Name)
				if !ok {
					t.Errorf("unknown attribute %s released", at.Name)
				}
				got = append(got, name)
			}
			slices.Sort(got)
			want := slices.Clone(tt.released)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("released %v, want %v", got, want)
			}
			if tt.relayAttr != (relay == kitRelayAttr) {
				t.Errorf("RelayState attribute %q", relay)
			}
		})
	}
}

// TestOnlyRequestedAttributesReleased: an SP never receives attributes it
// did not ask for, even when every attribute it asked for is dropped (by
// the policy, or because the names are unknown): the login is either
// refused or answered without them.
func TestOnlyRequestedAttributesReleased(t *testing.T) {
	tests := []struct {
		name    string
		policy  []translate.Attr
		attrs   []clave2msg.RequestedAttribute
		allowed map[string]bool // attribute names the SP may receive
	}{
		{"policy drops every requested attribute",
			[]translate.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName, translate.AttrFamilyName},
			[]clave2msg.RequestedAttribute{wire(translate.AttrDateOfBirth, false)},
			map[string]bool{translate.NSNaturalPerson + "/DateOfBirth": true}},
		{"only unknown attributes requested", nil,
			[]clave2msg.RequestedAttribute{{Name: "urn:example:shoeSize", Required: true}},
			map[string]bool{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.up.Result = success()
			f.eidas.Policy.Attributes = tt.policy
			ar := eidasRequest()
			ar.Attributes = tt.attrs
			rec := f.postXML(f.signedEIDAS(t, ar), "")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			if len(f.up.Begun) == 0 {
				return // refused: acceptable
			}
			reply, err := f.flow.Complete(context.Background(), flow.Browser{Logins: bridgetest.Logins(rec)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := reply.Out
			resp, _ := f.samlResponse(t, field(out, "SAMLResponse"))
			if got, _ := status(t, resp); got != "Success" {
				return // refused: acceptable
			}
			a, _ := decryptAssertion(t, resp, f.spKey)
			for _, at := range a.Attributes {
				if !tt.allowed[at.Name] {
					t.Errorf("attribute %s released although the SP did not ask for it", at.Name)
				}
			}
		})
	}
}

func field(out bridge.Outgoing, name string) string {
	for _, fl := range out.Fields {
		if fl.Name == name {
			return fl.Value
		}
	}
	return ""
}

// TestAnswerBoundToTheBrowser: the gateway's answer completes the login
// only in the browser that started it; elsewhere it is refused and the
// login stays pending for its own browser.
func TestAnswerBoundToTheBrowser(t *testing.T) {
	f := newFixture(t)
	f.up.Result = success()
	rec := f.postXML(f.signedKit(t, kitRequest()), "state")
	logins := bridgetest.Logins(rec)
	if rec.Code != http.StatusOK || len(logins) != 1 {
		t.Fatalf("status %d, login cookies %v", rec.Code, logins)
	}
	for _, other := range []map[string]string{nil, {"0123456789abcdef": "another-browser"}} {
		if _, err := f.flow.Complete(context.Background(), flow.Browser{Logins: other}, nil); err == nil || !strings.Contains(err.Error(), "another browser") {
			t.Fatalf("browser %v: %v, want a refusal", other, err)
		}
	}
	if _, err := f.flow.Complete(context.Background(), flow.Browser{Logins: logins}, nil); err != nil {
		t.Fatalf("the browser that started the login: %v", err)
	}
}
