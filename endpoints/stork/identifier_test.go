package stork

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/translate"
)

// eIdentifierRequired sets isRequired of the request's eIdentifier.
func eIdentifierRequired(required string) func(*etree.Element) {
	return func(el *etree.Element) {
		for _, ra := range el.FindElements("//RequestedAttribute") {
			if strings.HasSuffix(ra.SelectAttrValue("Name", ""), "/eIdentifier") {
				ra.CreateAttr("isRequired", required)
			}
		}
	}
}

// TestStorkIdentifierFollowsPolicy: a Cl@ve 1 SP gets eIdentifier (and
// afirmaResponse, which carries the certificate) only when its policy
// releases the PersonIdentifier; otherwise they are NotAvailable and the
// identifier appears nowhere in what is posted to it (Response, Issuer,
// NameID, form fields). The NameID is always the format URI (Cl@ve 1's
// quirk), never an identifier. A required eIdentifier the policy withholds
// gets InvalidAttrNameOrValue, without it.
func TestStorkIdentifierFollowsPolicy(t *testing.T) {
	released := bridge.Policy{MinLoA: translate.LoALow}
	withheld := bridge.Policy{MinLoA: translate.LoALow, Attributes: []bridge.Attr{
		translate.AttrGivenName, translate.AttrFamilyName, translate.AttrFirstSurname, translate.AttrDateOfBirth,
		translate.AttrSelectedIdP, translate.AttrPartialAfirma, // listed, but it carries the identifier
	}}
	spanish := func(t *testing.T) bridge.Result {
		return success(translate.IdPAfirma, translate.LoAHigh, "ES/ES/99999999R", attrs(
			string(translate.AttrPersonIdentifier), "ES/ES/99999999R", string(translate.AttrGivenName), "JUAN",
			string(translate.AttrFamilyName), "ESPAÑOL PRUEBAS", string(translate.AttrFirstSurname), "ESPAÑOL",
			string(translate.AttrDateOfBirth), "1980-01-01", string(translate.AttrSelectedIdP), "AFIRMA",
			string(translate.AttrPartialAfirma), stPartialAfirma(t, "idPolitica", oidDNIe, "NIFResponsable", "99999999R"))...)
	}
	foreign := func(*testing.T) bridge.Result {
		return success(translate.IdPEIDAS, translate.LoAHigh, "DE/ES/T22000129", attrs(
			string(translate.AttrPersonIdentifier), "DE/ES/T22000129", string(translate.AttrGivenName), "ERIKA",
			string(translate.AttrFamilyName), "MUSTERMANN", string(translate.AttrSelectedIdP), "EIDAS")...)
	}
	tests := []struct {
		name     string
		policy   bridge.Policy
		result   func(*testing.T) bridge.Result
		required string // eIdentifier's isRequired
		secret   string // the identifier's distinctive part
		refused  string // second-level status of a refusal
		eID      string // eIdentifier ("" NotAvailable)
		issuer   string
		afirma   bool // afirmaResponse Available
	}{
		{"Spanish, released", released, spanish, "true", "99999999R", "", "ES/ES/99999999R", "AFIRMA", true},
		{"Spanish, withheld", withheld, spanish, "false", "99999999R", "", "", "AFIRMA", false},
		{"Spanish, withheld, eIdentifier required", withheld, spanish, "true", "99999999R", "InvalidAttrNameOrValue", "", "", false},
		{"foreign, released", released, foreign, "false", "T22000129", "", "DE/ES/T22000129", "STORK-DE", false},
		{"foreign, withheld", withheld, foreign, "false", "T22000129", "", "", "STORK", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newStFixture(t, func(sp *bridge.ServiceProvider) { sp.Policy = tt.policy })
			f.up.Result = tt.result(t)
			rec := f.postForm(samlForm(f.stSigned(t, "java", layoutPlain, eIdentifierRequired(tt.required))))
			if len(f.up.Begun) != 1 {
				t.Fatalf("nothing went upstream: %.500s", rec.Body)
			}
			reply, err := f.ep.cfg.Flow.Complete(context.Background(), flow.Browser{Logins: bridgetest.Logins(rec)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp := f.verifyAnswer(t, field(reply.Out, "SAMLResponse"))
			f.noIdentifier(t, tt.policy, reply.Out, tt.secret)
			code, sub, msg := statusOf(resp)
			if tt.refused != "" {
				// eIdentifier may carry a legal person's identifier, so its
				// requiredness is judged on the answer, as Cl@ve 1 did.
				if !strings.HasSuffix(sub, ":"+tt.refused) {
					t.Fatalf("status %q, want %s", sub, tt.refused)
				}
				return
			}
			if !strings.HasSuffix(code, ":Success") {
				t.Fatalf("status %s: %s", code, msg)
			}
			got := answerAttributes(t, resp)
			if eid := got["eIdentifier"]; tt.eID == "" && (eid.Status != "NotAvailable" || len(eid.Values) != 0) ||
				tt.eID != "" && (eid.Status != "Available" || len(eid.Values) != 1 || eid.Values[0] != tt.eID) {
				t.Errorf("eIdentifier %+v, want %q", eid, tt.eID)
			}
			if got["givenName"].Status != "Available" {
				t.Errorf("givenName %+v", got["givenName"])
			}
			if a := got["afirmaResponse"]; (a.Status == "Available") != tt.afirma {
				t.Errorf("afirmaResponse %+v, want available %v", a, tt.afirma)
			}
			if iss, _ := samlxml.ChildText(resp, samlxml.NSAssertion, "Issuer"); iss != tt.issuer {
				t.Errorf("Issuer %q, want %q", iss, tt.issuer)
			}
			if nid := resp.FindElement("./Assertion/Subject/NameID"); nid == nil || nid.Text() != nameIDUnspec {
				t.Errorf("NameID %v, want the format URI", nid)
			}
		})
	}
}

// noIdentifier: when policy withholds the PersonIdentifier, no field posted
// to the SP (the Response decoded) carries secret.
func (f *stFixture) noIdentifier(t *testing.T, policy bridge.Policy, out bridge.Outgoing, secret string) {
	t.Helper()
	if policy.ReleasesIdentifier() {
		return
	}
	for _, fl := range out.Fields {
		v := fl.Value
		if fl.Name == "SAMLResponse" {
			raw, _ := base64.StdEncoding.DecodeString(v)
			v = string(raw)
		}
		if strings.Contains(v, secret) {
			t.Errorf("%s carries the identifier:\n%s", fl.Name, v)
		}
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
