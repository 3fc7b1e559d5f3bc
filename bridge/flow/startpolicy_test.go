package flow_test

import (
	"context"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/translate"
)

// TestLoginFinishesUnderItsStartPolicy: the registry's policy for an SP
// changes (a reload) while a login is at the gateway; the answer releases
// what the SP was allowed when the login started, wider or narrower than
// the new policy. The policy travels sealed in the pending login, so any
// bridge (any assembly, any instance) finishes it the same way.
func TestLoginFinishesUnderItsStartPolicy(t *testing.T) {
	tests := []struct {
		name        string
		atStart     bridge.Policy
		now         bridge.Policy
		legal       bool // a legal person asks and authenticates
		status      string
		subject     string
		persistent  string // "pairwise" for any pairwise value
		attributes  string
		startPolicy *flow.ReleasePolicy // what the pending login keeps
	}{
		{"identifier withheld since", bridge.Policy{}, bridge.Policy{Attributes: []bridge.Attr{translate.AttrGivenName}},
			false, "Success", "ES/ES/12345678Z", "ES/ES/12345678Z", "PersonIdentifier,CurrentGivenName,SelectedIdP",
			&flow.ReleasePolicy{}},
		{"identifier released since", bridge.Policy{Attributes: []bridge.Attr{translate.AttrGivenName}}, bridge.Policy{},
			false, "Success", "", "pairwise", "CurrentGivenName",
			&flow.ReleasePolicy{Attributes: []bridge.Attr{translate.AttrGivenName}}},
		{"legal persons refused since", bridge.Policy{LegalPersons: true}, bridge.Policy{},
			true, "Success", "ES/ES/12345678Z", "ES/ES/12345678Z", "PersonIdentifier,LegalPersonIdentifier",
			&flow.ReleasePolicy{LegalPersons: true}},
		{"legal persons allowed since", bridge.Policy{}, bridge.Policy{LegalPersons: true},
			false, "Success", "ES/ES/12345678Z", "ES/ES/12345678Z", "PersonIdentifier,CurrentGivenName,SelectedIdP",
			&flow.ReleasePolicy{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.flow.Pairwise = testKeyer(t)
			f.sp("sp1").Policy = tt.atStart
			req := request("sp1")
			if tt.legal {
				req.LegalPerson = true
				req.Attributes = []bridge.RequestedAttr{{Name: translate.AttrPersonIdentifier}}
				f.up.result.LegalPerson = true
				f.up.result.Attributes = append(f.up.result.Attributes, bridge.Attribute{Name: translate.AttrLegalPersonIdentifier, Values: []string{"ES/ES/B1"}})
			}
			reply, err := f.flow.Start(context.Background(), flow.Browser{}, f.sp("sp1"), req, nil)
			if err != nil || reply.Out.URL != "gateway" {
				t.Fatalf("Start = %v, %+v", err, reply.Out)
			}
			if got := f.up.begun[len(f.up.begun)-1].Policy; !samePolicy(got, tt.startPolicy) {
				t.Errorf("the pending login keeps %+v, want %+v", got, tt.startPolicy)
			}
			f.sp("sp1").Policy = tt.now // the reload
			reply, err = f.flow.Complete(context.Background(), apply(flow.Browser{}, reply), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, k := range []string{"status", "subject", "persistent", "attributes"} {
				got[k] = field(reply.Out, k)
			}
			if got["status"] != tt.status || got["subject"] != tt.subject || got["attributes"] != tt.attributes {
				t.Errorf("answer %v, want status %s, subject %q, attributes %s", got, tt.status, tt.subject, tt.attributes)
			}
			switch p := got["persistent"]; {
			case tt.persistent == "pairwise" && (p == "" || p == "ES/ES/12345678Z"):
				t.Errorf("persistent NameID %q, want a pairwise one", p)
			case tt.persistent != "pairwise" && p != tt.persistent:
				t.Errorf("persistent NameID %q, want %q", p, tt.persistent)
			}
			// A login started now gets the new policy.
			f.up.result = success()
			_, out := f.login(flow.Browser{}, "sp1")
			if want := releasedUnder(tt.now); field(out, "attributes") != want {
				t.Errorf("a login started after the reload released %q, want %q", field(out, "attributes"), want)
			}
		})
	}
}

func samePolicy(a, b *flow.ReleasePolicy) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.LegalPersons != b.LegalPersons || len(a.Attributes) != len(b.Attributes) {
		return false
	}
	for i := range a.Attributes {
		if a.Attributes[i] != b.Attributes[i] {
			return false
		}
	}
	return true
}

// releasedUnder is what success() releases to an SP under p.
func releasedUnder(p bridge.Policy) string {
	if len(p.Attributes) == 1 {
		return string(p.Attributes[0])
	}
	return "PersonIdentifier,CurrentGivenName,SelectedIdP"
}
