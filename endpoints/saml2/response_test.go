package saml2

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

func success() bridge.Result {
	return bridge.Result{
		Status: bridge.Status{Code: bridge.StatusSuccess}, LoA: translate.LoAHigh, IdP: translate.IdPAfirma,
		// The flow's result for an SP whose policy releases the
		// PersonIdentifier: its persistent NameID is the identifier.
		Subject: "ES/ES/99999999R", PersistentNameID: "ES/ES/99999999R",
		AuthnInstant: t0,
		Attributes: []bridge.Attribute{
			{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/99999999R"}},
			{Name: translate.AttrGivenName, Values: []string{"JUAN"}},
		},
	}
}

func (f *fixture) render(t *testing.T, req *bridge.Request, res bridge.Result) (*etree.Element, bridge.Outgoing) {
	t.Helper()
	out, err := f.ep.Render(context.Background(), f.spReg, req, res)
	if err != nil {
		t.Fatal(err)
	}
	if out.URL != spACS || out.Fields[0].Name != "SAMLResponse" {
		t.Fatalf("outgoing = %+v", out)
	}
	raw, _ := base64.StdEncoding.DecodeString(out.Fields[0].Value)
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (samlxml.Verifier{Certs: f.spReg.SigningCerts}).Verify(doc.Root()); err == nil {
		t.Fatal("our response verified with the SP's certificate")
	}
	return doc.Root(), out
}

func (f *fixture) idpCerts() []*x509.Certificate { return []*x509.Certificate{f.idp.Cert} }

func (f *fixture) verifiedAssertion(t *testing.T, resp *etree.Element) *clave2msg.Assertion {
	t.Helper()
	v, err := samlxml.Verifier{Certs: f.idpCerts()}.Verify(resp)
	if err != nil {
		t.Fatalf("response signature: %v", err)
	}
	as := samlxml.Children(v.Element, samlxml.NSAssertion, "Assertion")
	var el *etree.Element
	switch {
	case len(as) == 1:
		el = as[0]
	case f.spReg.EncryptAssertions:
		encs := samlxml.Children(v.Element, samlxml.NSAssertion, "EncryptedAssertion")
		if len(encs) != 1 {
			t.Fatal("no encrypted assertion")
		}
		ed, _ := samlxml.Child(encs[0], samlxml.NSXMLEnc, "EncryptedData")
		plain, err := samlxml.Decrypt(ed, f.sp.Decrypter(), samlxml.DefaultMaxMessageBytes)
		if err != nil {
			t.Fatal(err)
		}
		el = plain
	default:
		t.Fatalf("%d assertions", len(as))
	}
	av, err := samlxml.Verifier{Certs: f.idpCerts()}.Verify(el)
	if err != nil {
		t.Fatalf("assertion signature: %v", err)
	}
	a, err := clave2msg.ParseAssertion(av.Element)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRenderSuccess(t *testing.T) {
	tests := []struct {
		name        string
		format      string
		names       string
		encrypt     bool
		wantAttr    string
		wantNameFmt string
	}{
		{"friendly names, transient", "", "friendly", false, "FirstName", nameIDTransient},
		{"uri names, persistent", nameIDPersistent, "uri", false, translate.NSNaturalPerson + "/CurrentGivenName", nameIDPersistent},
		{"encrypted", nameIDPersistent, "friendly", true, "FirstName", nameIDPersistent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.spReg.AttributeNames, f.spReg.EncryptAssertions = tt.names, tt.encrypt
			req := &bridge.Request{SP: spID, ID: "_r1", ReturnURL: spACS, RelayState: "rs",
				State: state(t, tt.format)}
			resp, out := f.render(t, req, success())
			if out.Fields[1].Value != "rs" {
				t.Fatal("RelayState not echoed")
			}
			if resp.SelectAttrValue("InResponseTo", "") != "_r1" || resp.SelectAttrValue("Destination", "") != spACS {
				t.Fatal("response InResponseTo/Destination wrong")
			}
			a := f.verifiedAssertion(t, resp)
			if a.Audience != spID || a.Recipient != spACS || a.InResponseTo != "_r1" || a.LoA != translate.LoAHigh.EIDAS() ||
				a.Issuer != entityID || a.SessionIndex == "" || a.NameIDFormat != tt.wantNameFmt {
				t.Fatalf("assertion = %+v", a)
			}
			if (tt.wantNameFmt == nameIDPersistent) != (a.NameID == "ES/ES/99999999R") {
				t.Fatalf("NameID %q with format %s", a.NameID, a.NameIDFormat)
			}
			found := false
			for _, at := range a.Attributes {
				found = found || (at.Name == tt.wantAttr && at.Values[0] == "JUAN")
			}
			if !found {
				t.Fatalf("attribute %s missing: %+v", tt.wantAttr, a.Attributes)
			}
		})
	}
}

func TestRenderFailureStatuses(t *testing.T) {
	for code, want := range map[bridge.StatusCode]string{
		bridge.StatusAuthnFailed:    "Responder AuthnFailed",
		bridge.StatusRequestDenied:  "Requester RequestDenied",
		bridge.StatusNoAuthnContext: "Requester NoAuthnContext",
		bridge.StatusInvalidAttr:    "Requester InvalidAttrNameOrValue",
		bridge.StatusResponder:      "Responder",
		"SomethingNew":              "Responder",
	} {
		f := newFixture(t)
		resp, _ := f.render(t, &bridge.Request{SP: spID, ID: "_r1", ReturnURL: spACS}, bridge.Failure(code, "because"))
		st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status")
		sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
		got := strings.TrimPrefix(sc.SelectAttrValue("Value", ""), clave2msg.StatusPrefix)
		if sub, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode"); sub != nil {
			got += " " + strings.TrimPrefix(sub.SelectAttrValue("Value", ""), clave2msg.StatusPrefix)
		}
		if got != want {
			t.Errorf("%s: status %q, want %q", code, got, want)
		}
		if msg, _ := samlxml.ChildText(st, samlxml.NSProtocol, "StatusMessage"); msg != "because" {
			t.Errorf("%s: message %q", code, msg)
		}
	}
}
