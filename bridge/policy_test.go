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

// TestPolicyApply: one table over every way Apply changes or refuses a
// request.
func TestPolicyApply(t *testing.T) {
	pid, dob, given := translate.AttrPersonIdentifier, translate.AttrDateOfBirth, translate.AttrGivenName
	lpid, lname := translate.AttrLegalPersonIdentifier, translate.AttrLegalName
	tests := []struct {
		name      string
		policy    Policy
		req       Request
		wantCode  StatusCode // "" = accepted
		wantLoA   LoA
		wantAttrs []RequestedAttr
	}{
		{"floor raises none", Policy{MinLoA: translate.LoALow}, Request{}, "", translate.LoALow, nil},
		{"floor raises an invalid level", Policy{MinLoA: translate.LoASubstantial}, Request{MinLoA: LoA(9)}, "", translate.LoASubstantial, nil},
		{"request above floor kept", Policy{MinLoA: translate.LoALow}, Request{MinLoA: translate.LoAHigh}, "", translate.LoAHigh, nil},
		{"request below floor raised", Policy{MinLoA: translate.LoAHigh}, Request{MinLoA: translate.LoALow}, "", translate.LoAHigh, nil},
		{
			"every attribute releasable", Policy{MinLoA: translate.LoALow},
			Request{Attributes: []RequestedAttr{{Name: pid, Required: true}, {Name: dob}}},
			"", translate.LoALow, []RequestedAttr{{Name: pid, Required: true}, {Name: dob}},
		},
		{
			"optional unreleasable dropped", Policy{MinLoA: translate.LoALow, Attributes: []Attr{pid}},
			Request{Attributes: []RequestedAttr{{Name: dob}, {Name: pid, Required: true}}},
			"", translate.LoALow, []RequestedAttr{{Name: pid, Required: true}},
		},
		{
			"required unreleasable refused", Policy{MinLoA: translate.LoALow, Attributes: []Attr{pid}},
			Request{Attributes: []RequestedAttr{{Name: pid}, {Name: dob, Required: true}}},
			StatusInvalidAttr, 0, nil,
		},
		{
			"nothing releasable refused", Policy{MinLoA: translate.LoALow, Attributes: []Attr{pid}},
			Request{Attributes: []RequestedAttr{{Name: dob}, {Name: given}}},
			StatusRequestDenied, 0, nil,
		},
		{"legal person not allowed", Policy{MinLoA: translate.LoALow}, Request{LegalPerson: true}, StatusRequestDenied, 0, nil},
		{
			"legal person gets the legal MDS", Policy{MinLoA: translate.LoALow, LegalPersons: true},
			Request{LegalPerson: true, Attributes: []RequestedAttr{{Name: pid, Required: true}}},
			"", translate.LoALow, []RequestedAttr{{Name: pid, Required: true}, {Name: lpid}, {Name: lname}},
		},
		{
			"legal MDS not added twice", Policy{MinLoA: translate.LoALow, LegalPersons: true},
			Request{LegalPerson: true, Attributes: []RequestedAttr{{Name: lname, Required: true}, {Name: pid}}},
			"", translate.LoALow, []RequestedAttr{{Name: lname, Required: true}, {Name: pid}, {Name: lpid}},
		},
		{
			"legal MDS subject to the attribute policy", Policy{MinLoA: translate.LoALow, LegalPersons: true, Attributes: []Attr{pid, lpid}},
			Request{LegalPerson: true, Attributes: []RequestedAttr{{Name: pid}}},
			"", translate.LoALow, []RequestedAttr{{Name: pid}, {Name: lpid}},
		},
		{"all IdPs denied", Policy{MinLoA: translate.LoALow, DenyIdPs: translate.AllIdPs()}, Request{}, StatusRequestDenied, 0, nil},
		{"all IdPs disabled by the request", Policy{MinLoA: translate.LoALow}, Request{DisabledIdPs: translate.AllIdPs()}, StatusRequestDenied, 0, nil},
		{"policy allows only what the request hides", Policy{MinLoA: translate.LoALow, AllowIdPs: []IdP{pin, movil}}, Request{DisabledIdPs: []IdP{movil, pin}}, StatusRequestDenied, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			err := tt.policy.Apply(&req)
			if tt.wantCode != "" {
				var denied *RequestDenied
				if !errors.As(err, &denied) || denied.Code != tt.wantCode || denied.Reason == "" {
					t.Fatalf("Apply = %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply = %v", err)
			}
			if req.MinLoA != tt.wantLoA {
				t.Errorf("MinLoA = %v, want %v", req.MinLoA, tt.wantLoA)
			}
			if !slices.Equal(req.Attributes, tt.wantAttrs) {
				t.Errorf("attributes = %v, want %v", req.Attributes, tt.wantAttrs)
			}
		})
	}
}

// TestPolicyApplyKeepsCallersAttributes: dropping attributes does not write
// into the caller's slice.
func TestPolicyApplyKeepsCallersAttributes(t *testing.T) {
	asked := []RequestedAttr{{Name: translate.AttrDateOfBirth}, {Name: translate.AttrPersonIdentifier}}
	req := Request{Attributes: asked}
	if err := (Policy{Attributes: []Attr{translate.AttrPersonIdentifier}}).Apply(&req); err != nil {
		t.Fatal(err)
	}
	if asked[0].Name != translate.AttrDateOfBirth || len(req.Attributes) != 1 {
		t.Fatalf("caller's attributes %v, request's %v", asked, req.Attributes)
	}
}

func TestPolicyReleasable(t *testing.T) {
	if !(Policy{}).Releasable(translate.AttrDateOfBirth) {
		t.Error("an empty attribute policy releases nothing")
	}
	p := Policy{Attributes: []Attr{translate.AttrPersonIdentifier}}
	if !p.Releasable(translate.AttrPersonIdentifier) || p.Releasable(translate.AttrDateOfBirth) {
		t.Error("Releasable ignores the attribute policy")
	}
}

// TestPolicyReleaseFailure: a failed result passes through untouched.
func TestPolicyReleaseFailure(t *testing.T) {
	res := Failure(StatusAuthnFailed, "cancelled")
	res.Attributes = []Attribute{{Name: translate.AttrDateOfBirth, Values: []string{"1970-01-01"}}}
	got := Policy{Attributes: []Attr{translate.AttrPersonIdentifier}}.Release(&Request{}, res)
	if got.Status != res.Status || len(got.Attributes) != 1 {
		t.Fatalf("Release of a failure = %+v", got)
	}
	ok := Result{Status: Status{Code: StatusSuccess}, Subject: "ES/ES/1", LoA: translate.LoAHigh, IdP: pin,
		Attributes: []Attribute{{Name: translate.AttrDateOfBirth, Values: []string{"1970-01-01"}}}}
	got = Policy{Attributes: []Attr{translate.AttrPersonIdentifier}}.Release(&Request{}, ok)
	if got.Subject != "ES/ES/1" || got.LoA != translate.LoAHigh || got.IdP != pin || len(got.Attributes) != 0 {
		t.Fatalf("Release of a success = %+v", got)
	}
	if len(ok.Attributes) != 1 {
		t.Fatal("Release changed the caller's result")
	}
}

func TestMissingRequired(t *testing.T) {
	res := &Result{Attributes: []Attribute{
		{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/1"}},
		{Name: translate.AttrGivenName, Values: []string{""}},
		{Name: translate.AttrFamilyName},
	}}
	tests := []struct {
		name    string
		asked   []RequestedAttr
		want    Attr
		missing bool
	}{
		{"nothing asked", nil, "", false},
		{"required present", []RequestedAttr{{Name: translate.AttrPersonIdentifier, Required: true}}, "", false},
		{"optional absent", []RequestedAttr{{Name: translate.AttrDateOfBirth}}, "", false},
		{"required absent", []RequestedAttr{{Name: translate.AttrPersonIdentifier, Required: true}, {Name: translate.AttrDateOfBirth, Required: true}}, translate.AttrDateOfBirth, true},
		{"required empty value", []RequestedAttr{{Name: translate.AttrGivenName, Required: true}}, translate.AttrGivenName, true},
		{"required without values", []RequestedAttr{{Name: translate.AttrFamilyName, Required: true}}, translate.AttrFamilyName, true},
		{"first of two missing", []RequestedAttr{{Name: translate.AttrGender, Required: true}, {Name: translate.AttrDateOfBirth, Required: true}}, translate.AttrGender, true},
	}
	for _, tt := range tests {
		got, missing := MissingRequired(&Request{Attributes: tt.asked}, res)
		if got != tt.want || missing != tt.missing {
			t.Errorf("%s: MissingRequired = %q, %v; want %q, %v", tt.name, got, missing, tt.want, tt.missing)
		}
	}
}

// TestLegalPersonRequestWithoutAttributes: a request that admits legal
// persons and names no attributes still gets everything releasable.
func TestLegalPersonRequestWithoutAttributes(t *testing.T) {
	p := Policy{MinLoA: translate.LoALow, LegalPersons: true}
	req := Request{LegalPerson: true} // asks for nothing specific: everything
	if err := p.Apply(&req); err != nil {
		t.Fatal(err)
	}
	res := Result{Status: Status{Code: StatusSuccess}, Attributes: []Attribute{
		{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/1"}},
		{Name: translate.AttrGivenName, Values: []string{"Ana"}},
	}}
	if got := p.Release(&req, res); len(got.Attributes) != 2 {
		t.Fatalf("released %v of a natural person's result; the request asked for everything", got.Attributes)
	}
}

// TestPolicyGovernsTheIdentifier: the Subject (the PersonIdentifier, which
// dialects put in NameIDs and the STORK eIdentifier) and PartialAfirma
// (which carries the certificate, and the identifier in it) reach an SP
// only when its policy releases the PersonIdentifier; the persistent NameID
// the flow chose for the SP always stays.
func TestPolicyGovernsTheIdentifier(t *testing.T) {
	res := Result{Status: Status{Code: StatusSuccess}, Subject: "ES/ES/1", PersistentNameID: "pairwise-1", Attributes: []Attribute{
		{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/1"}},
		{Name: translate.AttrGivenName, Values: []string{"A"}},
		{Name: translate.AttrPartialAfirma, Values: []string{"cert"}},
	}}
	pid, given, afirma := translate.AttrPersonIdentifier, translate.AttrGivenName, translate.AttrPartialAfirma
	tests := []struct {
		name       string
		releasable []Attr
		requested  []RequestedAttr
		subject    string
		want       []Attr
	}{
		{"everything", nil, nil, "ES/ES/1", []Attr{pid, given, afirma}},
		{"identifier listed", []Attr{pid, given, afirma}, nil, "ES/ES/1", []Attr{pid, given, afirma}},
		{"identifier listed, not requested", []Attr{pid, given}, []RequestedAttr{{Name: given}}, "ES/ES/1", []Attr{given}},
		{"identifier withheld", []Attr{given}, nil, "", []Attr{given}},
		{"identifier withheld, PartialAfirma listed", []Attr{given, afirma}, nil, "", []Attr{given}},
		{"identifier withheld, both requested", []Attr{given, afirma}, []RequestedAttr{{Name: pid}, {Name: afirma}, {Name: given}}, "", []Attr{given}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{Attributes: tt.releasable}
			got := p.Release(&Request{Attributes: tt.requested}, res)
			var names []Attr
			for _, a := range got.Attributes {
				names = append(names, a.Name)
			}
			if !slices.Equal(names, tt.want) || got.Subject != tt.subject || got.PersistentNameID != "pairwise-1" {
				t.Fatalf("released %v, Subject %q, PersistentNameID %q; want %v, %q", names, got.Subject, got.PersistentNameID, tt.want, tt.subject)
			}
			if p.ReleasesIdentifier() != (tt.subject != "") || (p.Releasable(afirma) && !p.ReleasesIdentifier()) {
				t.Fatalf("ReleasesIdentifier %v, Releasable(PartialAfirma) %v", p.ReleasesIdentifier(), p.Releasable(afirma))
			}
		})
	}
	// A required PartialAfirma without the identifier is refused up front.
	req := Request{Attributes: []RequestedAttr{{Name: given}, {Name: afirma, Required: true}}}
	var denied *RequestDenied
	if err := (Policy{Attributes: []Attr{given, afirma}}).Apply(&req); !errors.As(err, &denied) || denied.Code != StatusInvalidAttr {
		t.Fatalf("required PartialAfirma without the identifier: %v", err)
	}
}
