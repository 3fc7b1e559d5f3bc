package saml2

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/translate"
)

// fullResult is a login with every attribute the SIR profile renames, and
// one it does not.
func fullResult(personID string) bridge.Result {
	res := success()
	res.Subject, res.PersistentNameID = personID, personID
	res.Attributes = []bridge.Attribute{
		{Name: translate.AttrPersonIdentifier, Values: []string{personID}},
		{Name: translate.AttrGivenName, Values: []string{"JUAN"}},
		{Name: translate.AttrFamilyName, Values: []string{"ESPAÑOL ESPAÑOL"}},
		{Name: translate.AttrEmailAddress, Values: []string{"juan@example.es"}},
		{Name: translate.AttrDateOfBirth, Values: []string{"1970-01-01"}},
	}
	return res
}

// TestRenderAttributeProfile: under the sir profile the attributes SIR
// names travel as Shibboleth's stock attribute map (LDAP and SCHAC blocks)
// reads them — urn:oid names, NameFormat uri — and the others keep their
// eIDAS names; what the SP's policy withholds is never released, under any
// name, and the DNI only in the SCHAC form.
func TestRenderAttributeProfile(t *testing.T) {
	const uri = clave2msg.AttrNameFormat
	schac := "urn:schac:personalUniqueID:es:DNI:99999999R"
	tests := []struct {
		name     string
		profile  string
		names    string // attribute_names
		personID string
		policy   []translate.Attr // releasable; nil: all
		want     []string         // "Name|NameFormat|FriendlyName|value", in order
	}{
		{name: "sir, everything released", profile: "sir", names: "friendly", personID: "ES/ES/99999999R", want: []string{
			"urn:oid:1.3.6.1.4.1.25178.1.2.15|" + uri + "|schacPersonalUniqueID|" + schac,
			"urn:oid:2.5.4.42|" + uri + "|givenName|JUAN",
			"urn:oid:2.5.4.4|" + uri + "|sn|ESPAÑOL ESPAÑOL",
			"urn:oid:0.9.2342.19200300.100.1.3|" + uri + "|mail|juan@example.es",
			"DateOfBirth|" + attrNameFormatBasic + "||1970-01-01",
		}},
		{name: "sir with uri names for the rest", profile: "sir", names: "uri", personID: "ES/ES/99999999R",
			policy: []translate.Attr{translate.AttrPersonIdentifier, translate.AttrDateOfBirth}, want: []string{
				"urn:oid:1.3.6.1.4.1.25178.1.2.15|" + uri + "|schacPersonalUniqueID|" + schac,
				translate.NSNaturalPerson + "/DateOfBirth|" + uri + "|DateOfBirth|1970-01-01",
			}},
		{name: "sir, NIE", profile: "sir", names: "friendly", personID: "ES/ES/X0000000T",
			policy: []translate.Attr{translate.AttrPersonIdentifier}, want: []string{
				"urn:oid:1.3.6.1.4.1.25178.1.2.15|" + uri + "|schacPersonalUniqueID|urn:schac:personalUniqueID:es:NIE:X0000000T",
			}},
		{name: "sir, foreign identifier keeps its eIDAS name", profile: "sir", names: "friendly", personID: "IT/ES/ABCDEF12G",
			policy: []translate.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName}, want: []string{
				"PersonIdentifier|" + attrNameFormatBasic + "||IT/ES/ABCDEF12G",
				"urn:oid:2.5.4.42|" + uri + "|givenName|JUAN",
			}},
		{name: "sir, policy withholds the PersonIdentifier", profile: "sir", names: "friendly", personID: "ES/ES/99999999R",
			policy: []translate.Attr{translate.AttrGivenName, translate.AttrFamilyName}, want: []string{
				"urn:oid:2.5.4.42|" + uri + "|givenName|JUAN",
				"urn:oid:2.5.4.4|" + uri + "|sn|ESPAÑOL ESPAÑOL",
			}},
		{name: "sir, policy withholds the mail", profile: "sir", names: "friendly", personID: "ES/ES/99999999R",
			policy: []translate.Attr{translate.AttrGivenName}, want: []string{
				"urn:oid:2.5.4.42|" + uri + "|givenName|JUAN",
			}},
		{name: "eidas profile", profile: "eidas", names: "friendly", personID: "ES/ES/99999999R",
			policy: []translate.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName}, want: []string{
				"PersonIdentifier|" + attrNameFormatBasic + "||ES/ES/99999999R",
				"FirstName|" + attrNameFormatBasic + "||JUAN",
			}},
		{name: "no profile is eidas", profile: "", names: "uri", personID: "ES/ES/99999999R",
			policy: []translate.Attr{translate.AttrGivenName}, want: []string{
				translate.NSNaturalPerson + "/CurrentGivenName|" + uri + "|FirstName|JUAN",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.spReg.AttributeProfile, f.spReg.AttributeNames = tt.profile, tt.names
			f.spReg.Policy.Attributes = tt.policy
			req := &bridge.Request{SP: spID, ID: "_r1", ReturnURL: spACS, State: state(t, "")}
			// What the flow hands the dialect: the result after the SP's
			// release policy.
			res := f.spReg.Policy.Release(req, fullResult(tt.personID))
			resp, _ := f.render(t, req, res)
			a := f.verifiedAssertion(t, resp)
			var got []string
			for _, at := range a.Attributes {
				got = append(got, fmt.Sprintf("%s|%s|%s|%s", at.Name, at.NameFormat, at.FriendlyName, strings.Join(at.Values, ",")))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("attributes\n got %q\nwant %q", got, tt.want)
			}
			if !slices.Contains(tt.policy, translate.AttrPersonIdentifier) && tt.policy != nil {
				for _, at := range a.Attributes {
					for _, v := range at.Values {
						if strings.Contains(v, "99999999") {
							t.Fatalf("a DNI-derived value in %s without the PersonIdentifier released", at.Name)
						}
					}
				}
			}
		})
	}
}

// TestSIRAttributeWithheldOutsideTheFlow: even a result that was not
// filtered by the policy (no such path exists) gives no DNI-derived value
// to an SP whose policy withholds the PersonIdentifier.
func TestSIRAttributeWithheldOutsideTheFlow(t *testing.T) {
	for _, profile := range []string{"sir", "eidas"} {
		f := newFixture(t)
		f.spReg.AttributeProfile = profile
		f.spReg.Policy.Attributes = []translate.Attr{translate.AttrGivenName}
		req := &bridge.Request{SP: spID, ID: "_r1", ReturnURL: spACS, State: state(t, "")}
		resp, _ := f.render(t, req, fullResult("ES/ES/99999999R"))
		for _, at := range f.verifiedAssertion(t, resp).Attributes {
			if at.Name == translate.SIRPersonalUniqueID || at.FriendlyName == "PersonIdentifier" || at.Name == "PersonIdentifier" {
				t.Fatalf("%s: %s released", profile, at.Name)
			}
		}
	}
}
