package bridge

import (
	"errors"
	"slices"
	"testing"

	"github.com/clavebridge/clavebridge/translate"
)

const (
	afirma = translate.IdPAfirma
	pin    = translate.IdPPin24H
	segsoc = translate.IdPSegSoc
	eidas  = translate.IdPEIDAS
	movil  = translate.IdPClaveMovil
)

// TestPolicyIdPIntersection: the IdPs left are those the request allows AND
// the policy allows; the rest go upstream as disable flags.
func TestPolicyIdPIntersection(t *testing.T) {
	tests := []struct {
		name         string
		allow, deny  []IdP
		requestOff   []IdP
		wantDisabled []IdP
		wantErr      bool
	}{
		{"no restrictions", nil, nil, nil, nil, false},
		{"request hides one", nil, nil, []IdP{pin}, []IdP{pin}, false},
		{"policy denies one", nil, []IdP{eidas}, nil, []IdP{eidas}, false},
		{"both, disjoint", nil, []IdP{eidas}, []IdP{pin}, []IdP{pin, eidas}, false},
		{"both, same", nil, []IdP{pin}, []IdP{pin}, []IdP{pin}, false},
		{"allow list", []IdP{afirma, segsoc}, nil, nil, []IdP{pin, eidas, movil}, false},
		{"allow list and request", []IdP{afirma, segsoc}, nil, []IdP{afirma}, []IdP{afirma, pin, eidas, movil}, false},
		{"allow and deny", []IdP{afirma, segsoc}, []IdP{segsoc}, nil, []IdP{pin, segsoc, eidas, movil}, false},
		{"nothing left", []IdP{afirma}, nil, []IdP{afirma}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{MinLoA: translate.LoALow, AllowIdPs: tt.allow, DenyIdPs: tt.deny}
			req := Request{DisabledIdPs: tt.requestOff}
			err := p.Apply(&req)
			if tt.wantErr {
				var denied *RequestDenied
				if !errors.As(err, &denied) || denied.Code != StatusRequestDenied {
					t.Fatalf("Apply = %v, want RequestDenied", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tt.wantDisabled)
			slices.Sort(want)
			got := slices.Clone(req.DisabledIdPs)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("disabled = %v, want %v", req.DisabledIdPs, tt.wantDisabled)
			}
		})
	}
}

func TestPolicyLoAFloor(t *testing.T) {
	tests := []struct{ floor, requested, want LoA }{
		{translate.LoALow, translate.LoANone, translate.LoALow},
		{translate.LoASubstantial, translate.LoALow, translate.LoASubstantial},
		{translate.LoASubstantial, translate.LoAHigh, translate.LoAHigh},
		{translate.LoAHigh, translate.LoASubstantial, translate.LoAHigh},
	}
	for _, tt := range tests {
		req := Request{MinLoA: tt.requested}
		if err := (Policy{MinLoA: tt.floor}).Apply(&req); err != nil {
			t.Fatal(err)
		}
		if req.MinLoA != tt.want {
			t.Errorf("floor %v, requested %v: got %v, want %v", tt.floor, tt.requested, req.MinLoA, tt.want)
		}
	}
}

func TestPolicyAttributesAndLegalPersons(t *testing.T) {
	p := Policy{MinLoA: translate.LoALow, Attributes: []Attr{translate.AttrPersonIdentifier, translate.AttrGivenName}}
	req := Request{Attributes: []RequestedAttr{
		{Name: translate.AttrPersonIdentifier, Required: true},
		{Name: translate.AttrDateOfBirth},
	}}
	if err := p.Apply(&req); err != nil {
		t.Fatal(err)
	}
	if len(req.Attributes) != 1 || req.Attributes[0].Name != translate.AttrPersonIdentifier {
		t.Fatalf("optional unreleasable attribute not dropped: %v", req.Attributes)
	}
	req = Request{Attributes: []RequestedAttr{{Name: translate.AttrDateOfBirth, Required: true}}}
	var denied *RequestDenied
	if err := p.Apply(&req); !errors.As(err, &denied) || denied.Code != StatusInvalidAttr {
		t.Fatalf("required unreleasable attribute: %v", err)
	}
	req = Request{LegalPerson: true}
	if err := p.Apply(&req); !errors.As(err, &denied) || denied.Code != StatusRequestDenied {
		t.Fatalf("legal person without permission: %v", err)
	}
	p.LegalPersons = true
	if err := p.Apply(&Request{LegalPerson: true}); err != nil {
		t.Fatalf("legal person with permission: %v", err)
	}
}

func TestPolicyRelease(t *testing.T) {
	res := Result{Status: Status{Code: StatusSuccess}, Attributes: []Attribute{
		{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/1"}},
		{Name: translate.AttrGivenName, Values: []string{"A"}},
		{Name: translate.AttrSelectedIdP, Values: []string{"AFIRMA"}},
	}}
	tests := []struct {
		name       string
		releasable []Attr
		requested  []RequestedAttr
		want       []Attr
	}{
		{"everything", nil, nil, []Attr{translate.AttrPersonIdentifier, translate.AttrGivenName, translate.AttrSelectedIdP}},
		{"policy limits", []Attr{translate.AttrPersonIdentifier}, nil, []Attr{translate.AttrPersonIdentifier}},
		{"request limits", nil, []RequestedAttr{{Name: translate.AttrGivenName}}, []Attr{translate.AttrGivenName}},
		{"both", []Attr{translate.AttrPersonIdentifier}, []RequestedAttr{{Name: translate.AttrGivenName}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Policy{Attributes: tt.releasable}.Release(&Request{Attributes: tt.requested}, res)
			var names []Attr
			for _, a := range got.Attributes {
				names = append(names, a.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Fatalf("released %v, want %v", names, tt.want)
			}
		})
	}
}
