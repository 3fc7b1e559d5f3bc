package eidas

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/pairwise"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	dniDigits = "99999999R" // the citizen of success()
	dni       = "ES/ES/" + dniDigits
)

func testKeyer(t testing.TB) *pairwise.Keyer {
	t.Helper()
	k, err := pairwise.New(bytes.Repeat([]byte("pairwise-test-"), 3))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestNameIDFollowsPolicy: the NameID, its format and the attributes a
// Cl@ve 2.0 kit and an eIDAS-profile SP receive, for each NameIDPolicy
// Format, with the PersonIdentifier released or withheld, with and without
// a pairwise secret. Without release the identifier appears nowhere in the
// answer, decrypted.
func TestNameIDFollowsPolicy(t *testing.T) {
	keyer := testKeyer(t)
	released := bridge.Policy{MinLoA: translate.LoALow}
	withheld := bridge.Policy{MinLoA: translate.LoALow, Attributes: []bridge.Attr{
		translate.AttrGivenName, translate.AttrFamilyName, translate.AttrFirstSurname, translate.AttrSelectedIdP, translate.AttrDateOfBirth,
	}}
	const (
		pw        = "pairwise"  // the SP's pairwise identifier
		transient = "transient" // a fresh random value
	)
	tests := []struct {
		name    string
		eidas   bool   // eIDAS-profile SP (else a Cl@ve 2.0 kit)
		format  string // "" no NameIDPolicy Format
		policy  bridge.Policy
		keyer   *pairwise.Keyer
		status  string // "" Success
		nameID  string // dni, pw or transient
		nameFmt string
	}{
		{"kit, unspecified, released", false, clave2msg.NameIDUnspec, released, keyer, "", dni, clave2msg.NameIDUnspec},
		{"kit, unspecified, withheld: pairwise", false, clave2msg.NameIDUnspec, withheld, keyer, "", pw, clave2msg.NameIDPersist},
		{"kit, unspecified, withheld, no pairwise secret: transient", false, clave2msg.NameIDUnspec, withheld, nil, "", transient, nameIDTransient},
		{"kit, persistent, released", false, clave2msg.NameIDPersist, released, keyer, "", dni, clave2msg.NameIDPersist},
		{"kit, persistent, withheld: pairwise", false, clave2msg.NameIDPersist, withheld, keyer, "", pw, clave2msg.NameIDPersist},
		{"kit, persistent, withheld, no pairwise secret: refused", false, clave2msg.NameIDPersist, withheld, nil, "Requester InvalidNameIDPolicy", "", ""},
		{"kit, transient, released", false, nameIDTransient, released, keyer, "", transient, nameIDTransient},
		{"kit, transient, withheld", false, nameIDTransient, withheld, keyer, "", transient, nameIDTransient},
		{"eIDAS, persistent, released", true, clave2msg.NameIDPersist, released, keyer, "", dni, clave2msg.NameIDPersist},
		{"eIDAS, persistent, withheld: pairwise", true, clave2msg.NameIDPersist, withheld, keyer, "", pw, clave2msg.NameIDPersist},
		{"eIDAS, persistent, withheld, no pairwise secret: refused", true, clave2msg.NameIDPersist, withheld, nil, "Requester InvalidNameIDPolicy", "", ""},
		{"eIDAS, transient, withheld", true, nameIDTransient, withheld, nil, "", transient, nameIDTransient},
		{"eIDAS, none, released", true, "", released, keyer, "", dni, clave2msg.NameIDUnspec},
		{"eIDAS, none, withheld: pairwise", true, "", withheld, keyer, "", pw, clave2msg.NameIDPersist},
		{"eIDAS, none, withheld, no pairwise secret: transient", true, "", withheld, nil, "", transient, nameIDTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.flow.Pairwise = tt.keyer
			f.up.Result = success()
			sp, key, ar := f.kit, f.kitKey, kitRequest()
			ar.Attributes[0].Required = false // PersonIdentifier: asked, not required
			sign := f.signedKit
			if tt.eidas {
				sp, key, ar, sign = f.eidas, f.spKey, eidasRequest(), f.signedEIDAS
				ar.Attributes[0].Required = false
			}
			ar.NameIDFormat, ar.HasNameIDPolicy = tt.format, tt.format != ""
			sp.Policy = tt.policy
			rec := f.postXML(sign(t, ar), "rs")
			if rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
				t.Fatalf("status %d, upstream %d: %.300s", rec.Code, len(f.up.Begun), rec.Body)
			}
			reply, err := f.flow.Complete(context.Background(), flow.Browser{Logins: bridgetest.Logins(rec)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rawResp, _ := base64.StdEncoding.DecodeString(field(reply.Out, "SAMLResponse"))
			resp, _ := f.samlResponse(t, field(reply.Out, "SAMLResponse"))
			if bytes.Contains(rawResp, []byte(dniDigits)) {
				t.Fatalf("the Response carries the identifier outside the encrypted assertion")
			}
			got, _ := status(t, resp)
			if tt.status != "" {
				if got != tt.status || assertions(resp) != 0 {
					t.Fatalf("status %q with %d assertions, want %q and none", got, assertions(resp), tt.status)
				}
				return
			}
			if got != "Success" {
				t.Fatalf("status %q", got)
			}
			a, plain := decryptAssertion(t, resp, key)
			if a.NameIDFormat != tt.nameFmt {
				t.Errorf("NameID format %q, want %q", a.NameIDFormat, tt.nameFmt)
			}
			switch want := map[string]string{dni: dni, pw: keyer.ID(sp.ID, dni)}[tt.nameID]; tt.nameID {
			case transient:
				if a.NameID == "" || a.NameID == dni || a.NameID == keyer.ID(sp.ID, dni) {
					t.Errorf("NameID %q, want a fresh transient one", a.NameID)
				}
			default:
				if a.NameID != want {
					t.Errorf("NameID %q, want %q", a.NameID, want)
				}
			}
			var names []translate.Attr
			for _, at := range a.Attributes {
				if name, ok := translate.AttrFromName(at.Name); ok {
					names = append(names, name)
				}
			}
			if slices.Contains(names, translate.AttrPersonIdentifier) != tt.policy.ReleasesIdentifier() || !slices.Contains(names, translate.AttrGivenName) {
				t.Errorf("attributes %v", names)
			}
			xml, err := samlxml.Serialize(plain)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.policy.ReleasesIdentifier() && bytes.Contains(xml, []byte(dniDigits)) {
				t.Errorf("the assertion carries the identifier:\n%s", xml)
			}
		})
	}
}

// TestPairwiseDiffersAcrossSPs: the kit and the eIDAS SP, neither allowed
// the identifier, get different persistent NameIDs, each stable across
// logins.
func TestPairwiseDiffersAcrossSPs(t *testing.T) {
	f := newFixture(t)
	f.flow.Pairwise = testKeyer(t)
	withheld := bridge.Policy{MinLoA: translate.LoALow, Attributes: []bridge.Attr{translate.AttrGivenName, translate.AttrFamilyName, translate.AttrDateOfBirth}}
	f.kit.Policy, f.eidas.Policy = withheld, withheld
	f.up.Result = success()
	login := func(eidas bool, id string) string {
		t.Helper()
		ar, sign, key := kitRequest(), f.signedKit, f.kitKey
		if eidas {
			ar, sign, key = eidasRequest(), f.signedEIDAS, f.spKey
		}
		ar.ID, ar.NameIDFormat, ar.Attributes[0].Required = id, clave2msg.NameIDPersist, false
		rec := f.postXML(sign(t, ar), "")
		reply, err := f.flow.Complete(context.Background(), flow.Browser{Logins: bridgetest.Logins(rec)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := f.samlResponse(t, field(reply.Out, "SAMLResponse"))
		a, _ := decryptAssertion(t, resp, key)
		return a.NameID
	}
	kit1, eidas1, kit2 := login(false, "_k1"), login(true, "_e1"), login(false, "_k2")
	if kit1 == "" || kit1 == eidas1 || kit1 != kit2 || kit1 == dni || eidas1 == dni {
		t.Fatalf("kit %q then %q, eIDAS SP %q", kit1, kit2, eidas1)
	}
}
