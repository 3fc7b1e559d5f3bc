package clave2msg

import (
	"slices"
	"testing"

	"github.com/clavebridge/clavebridge/translate"
)

func TestSplitProviderName(t *testing.T) {
	tests := []struct{ in, provider, app string }{
		{"21114293V_E04975701;Demo-App", "21114293V_E04975701", "Demo-App"},
		{" Q2891006E_EA0009994 ; app;with;semicolons", "Q2891006E_EA0009994", "app;with;semicolons"},
		{"noapplication", "", ""}, {";app", "", ""}, {"p;", "", ""}, {"", "", ""},
	}
	for _, tt := range tests {
		p, a, err := SplitProviderName(tt.in)
		if (err != nil) != (tt.provider == "") || p != tt.provider || a != tt.app {
			t.Errorf("SplitProviderName(%q) = %q, %q, %v", tt.in, p, a, err)
		}
	}
}

func TestMinimumLoA(t *testing.T) {
	low, high := translate.LoALow.EIDAS(), translate.LoAHigh.EIDAS()
	tests := []struct {
		cmp  string
		loas []string
		want translate.LoA
	}{
		{"minimum", []string{high}, translate.LoAHigh},
		{"minimum", []string{low}, translate.LoALow},
		{"minimum", nil, translate.LoANone},
		{"minimum", []string{low, high}, translate.LoANone},
		{"exact", []string{low}, translate.LoANone},
		{"better", []string{low}, translate.LoANone},
		{"minimum", []string{"http://eidas.europa.eu/NotNotified/LoA/low"}, translate.LoANone},
	}
	for _, tt := range tests {
		got, err := (&AuthnRequest{Comparison: tt.cmp, LoAs: tt.loas}).MinimumLoA()
		if got != tt.want || (err == nil) != (tt.want != translate.LoANone) {
			t.Errorf("%s %v: %v, %v", tt.cmp, tt.loas, got, err)
		}
	}
}

func TestSortRequestedAttributes(t *testing.T) {
	r := &AuthnRequest{Attributes: []RequestedAttribute{
		{Name: translate.NSNaturalPerson + "/PersonIdentifier", Required: true},
		{Name: "http://es.minhafp.clave/AFirmaIdP"},
		{Name: "http://es.minhafp.clave/GISSIdP"},
		{Name: "http://es.minhafp.clave/PartialAfirma"},
		{Name: translate.ClaveRelayStateAttr, Values: []string{"Xy7pQ2aZ"}},
		{Name: "urn:example:shoeSize", Required: true},
	}}
	s, err := r.Sort()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Attributes) != 2 || s.Attributes[0] != (RequestedAttr{translate.AttrPersonIdentifier, true}) ||
		s.Attributes[1].Attr != translate.AttrPartialAfirma {
		t.Errorf("attributes = %+v", s.Attributes)
	}
	if !slices.Equal(s.Disabled, []translate.IdP{translate.IdPAfirma, translate.IdPSegSoc}) {
		t.Errorf("disabled = %v", s.Disabled)
	}
	if !s.HasRelay || s.RelayState != "Xy7pQ2aZ" || !slices.Equal(s.Unknown, []string{"urn:example:shoeSize"}) {
		t.Errorf("relay %v %q, unknown %v", s.HasRelay, s.RelayState, s.Unknown)
	}
	for name, attrs := range map[string][]RequestedAttribute{
		"two relay attributes": {{Name: translate.ClaveRelayStateAttr, Values: []string{"a"}}, {Name: translate.ClaveRelayStateAttr, Values: []string{"a"}}},
		"empty relay value":    {{Name: translate.ClaveRelayStateAttr, Values: []string{""}}},
		"two relay values":     {{Name: translate.ClaveRelayStateAttr, Values: []string{"a", "b"}}},
	} {
		if _, err := (&AuthnRequest{Attributes: attrs}).Sort(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
