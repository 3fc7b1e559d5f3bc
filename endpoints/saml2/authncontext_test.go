package saml2

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

var (
	loaLow  = translate.LoALow.EIDAS()
	loaSubs = translate.LoASubstantial.EIDAS()
	loaHigh = translate.LoAHigh.EIDAS()
)

const (
	refedsMFA = "https://refeds.org/profile/mfa"
)

// TestReadAuthnContext: the level asked of the gateway, what the answer
// must state, and the requests no answer can satisfy (NoAuthnContext).
func TestReadAuthnContext(t *testing.T) {
	tests := []struct {
		name       string
		comparison string
		refs       []string
		wantMin    translate.LoA
		wantState  *authnContext // nil: the level reached is stated
		wantErr    bool
	}{
		{name: "none", wantMin: translate.LoANone},
		{name: "minimum substantial", comparison: "minimum", refs: []string{loaSubs}, wantMin: translate.LoASubstantial},
		{name: "minimum of several is the lowest", comparison: "minimum", refs: []string{loaHigh, loaSubs}, wantMin: translate.LoASubstantial},
		{name: "minimum with an unknown class beside", comparison: "minimum", refs: []string{refedsMFA, loaHigh}, wantMin: translate.LoAHigh},
		{name: "minimum unspecified", comparison: "minimum", refs: []string{classUnspecified, loaHigh}, wantMin: translate.LoANone},
		{name: "minimum password over TLS", comparison: "minimum", refs: []string{classPasswordProtectedTransport}, wantMin: translate.LoANone},
		{name: "minimum unknown class only", comparison: "minimum", refs: []string{refedsMFA}, wantErr: true},
		{name: "minimum non-notified eIDAS level", comparison: "minimum", refs: []string{"http://eidas.europa.eu/LoA/NotNotified/low"}, wantErr: true},
		{name: "exact high", comparison: "exact", refs: []string{loaHigh}, wantMin: translate.LoAHigh,
			wantState: &authnContext{Comparison: "exact", Levels: []string{"high"}}},
		{name: "exact low or high", comparison: "exact", refs: []string{loaHigh, loaLow, loaHigh}, wantMin: translate.LoALow,
			wantState: &authnContext{Comparison: "exact", Levels: []string{"low", "high"}}},
		{name: "exact with unspecified", comparison: "exact", refs: []string{loaHigh, classUnspecified}, wantMin: translate.LoANone,
			wantState: &authnContext{Comparison: "exact", Levels: []string{"high"}, Unspecified: true}},
		{name: "exact password over TLS", comparison: "exact", refs: []string{classPasswordProtectedTransport}, wantErr: true},
		{name: "exact unknown class", comparison: "exact", refs: []string{refedsMFA}, wantErr: true},
		{name: "better low", comparison: "better", refs: []string{loaLow}, wantMin: translate.LoASubstantial},
		{name: "better than each", comparison: "better", refs: []string{loaLow, loaSubs}, wantMin: translate.LoAHigh},
		{name: "better unspecified", comparison: "better", refs: []string{classUnspecified}, wantMin: translate.LoALow},
		{name: "better high", comparison: "better", refs: []string{loaHigh}, wantErr: true},
		{name: "better unknown class", comparison: "better", refs: []string{loaLow, refedsMFA}, wantErr: true},
		{name: "better password over TLS", comparison: "better", refs: []string{classPasswordProtectedTransport}, wantErr: true},
		{name: "maximum substantial", comparison: "maximum", refs: []string{loaSubs}, wantMin: translate.LoANone,
			wantState: &authnContext{Comparison: "maximum", Levels: []string{"substantial"}}},
		{name: "maximum unknown", comparison: "maximum", refs: []string{refedsMFA}, wantErr: true},
		{name: "not a comparison", comparison: "most", refs: []string{loaLow}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ar := &clave2msg.AuthnRequest{Comparison: tt.comparison, LoAs: tt.refs}
			min, ac, err := readAuthnContext(ar)
			if tt.wantErr {
				if !errors.Is(err, errNoAuthnContext) {
					t.Fatalf("err = %v, want errNoAuthnContext", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotJSON, _ := json.Marshal(ac)
			wantJSON, _ := json.Marshal(tt.wantState)
			if min != tt.wantMin || string(gotJSON) != string(wantJSON) {
				t.Fatalf("min %s, state %s; want %s, %s", min, gotJSON, tt.wantMin, wantJSON)
			}
		})
	}
}

// TestStatedClass: the class the assertion states for the level reached.
func TestStatedClass(t *testing.T) {
	exact := func(unspecified bool, levels ...string) *authnContext {
		return &authnContext{Comparison: "exact", Levels: levels, Unspecified: unspecified}
	}
	maximum := &authnContext{Comparison: "maximum", Levels: []string{"substantial"}}
	tests := []struct {
		name    string
		ac      *authnContext
		reached translate.LoA
		want    string // "" : NoAuthnContext
	}{
		{"minimum: the level reached", nil, translate.LoAHigh, loaHigh},
		{"exact met", exact(false, "substantial"), translate.LoASubstantial, loaSubs},
		{"exact met by a higher login", exact(false, "substantial"), translate.LoAHigh, loaSubs},
		{"exact: the strongest listed that is met", exact(false, "low", "substantial"), translate.LoAHigh, loaSubs},
		{"exact not met", exact(false, "high"), translate.LoASubstantial, ""},
		{"exact falls back to unspecified", exact(true, "high"), translate.LoASubstantial, classUnspecified},
		{"exact unspecified only", exact(true), translate.LoALow, classUnspecified},
		{"maximum below the cap", maximum, translate.LoALow, loaLow},
		{"maximum at the cap", maximum, translate.LoASubstantial, loaSubs},
		{"maximum above the cap", maximum, translate.LoAHigh, loaSubs},
		{"maximum unspecified only", &authnContext{Comparison: "maximum", Unspecified: true}, translate.LoAHigh, classUnspecified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statedClass(tt.ac, tt.reached)
			if tt.want == "" {
				if !errors.Is(err, errNoAuthnContext) {
					t.Fatalf("= %q, %v; want errNoAuthnContext", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestRenderAuthnContext: the request's context travels in the state to
// the answer: its assertion states a class the SP listed, or the answer
// is NoAuthnContext with no assertion.
func TestRenderAuthnContext(t *testing.T) {
	tests := []struct {
		name       string
		comparison string
		refs       []string
		reached    translate.LoA
		wantClass  string // "": NoAuthnContext
	}{
		{"minimum substantial, high reached", "minimum", []string{loaSubs}, translate.LoAHigh, loaHigh},
		{"exact substantial, high reached", "exact", []string{loaSubs}, translate.LoAHigh, loaSubs},
		{"exact high, substantial reached", "exact", []string{loaHigh}, translate.LoASubstantial, ""},
		{"exact unspecified", "exact", []string{classUnspecified}, translate.LoALow, classUnspecified},
		{"maximum substantial, high reached", "maximum", []string{loaSubs}, translate.LoAHigh, loaSubs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ar := goodRequest()
			ar.NameIDFormat, ar.Comparison, ar.LoAs = "", tt.comparison, tt.refs
			req, err := f.ep.normalize(t.Context(), &inbound{sp: f.spReg, req: ar, acs: f.spReg.ACS[0], signed: true})
			if err != nil {
				t.Fatal(err)
			}
			res := success()
			res.LoA = tt.reached
			resp, _ := f.render(t, req, res)
			st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status")
			sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
			if tt.wantClass == "" {
				sub, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode")
				if sub == nil || !strings.HasSuffix(sub.SelectAttrValue("Value", ""), "NoAuthnContext") {
					t.Fatalf("status %s, want NoAuthnContext", sc.SelectAttrValue("Value", ""))
				}
				if len(samlxml.Children(resp, samlxml.NSAssertion, "Assertion")) != 0 {
					t.Fatal("an assertion beside NoAuthnContext")
				}
				return
			}
			if a := f.verifiedAssertion(t, resp); a.LoA != tt.wantClass {
				t.Fatalf("AuthnContextClassRef %q, want %q", a.LoA, tt.wantClass)
			}
		})
	}
}

// TestNormalizeAuthnContext: the minimum asked of the gateway, and the
// refusals the SP is told as NoAuthnContext.
func TestNormalizeAuthnContext(t *testing.T) {
	tests := []struct {
		name       string
		comparison string
		refs       []string
		wantMin    translate.LoA
		wantDenied bool
	}{
		{"better substantial", "better", []string{loaSubs}, translate.LoAHigh, false},
		{"exact low", "exact", []string{loaLow}, translate.LoALow, false},
		{"better high", "better", []string{loaHigh}, 0, true},
		{"unknown class", "minimum", []string{refedsMFA}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ar := goodRequest()
			ar.Comparison, ar.LoAs = tt.comparison, tt.refs
			req, err := f.ep.normalize(t.Context(), &inbound{sp: f.spReg, req: ar, acs: f.spReg.ACS[0], signed: true})
			var denied *bridge.RequestDenied
			if tt.wantDenied {
				if !errors.As(err, &denied) || denied.Code != bridge.StatusNoAuthnContext {
					t.Fatalf("err = %v, want NoAuthnContext", err)
				}
				return
			}
			if err != nil || req.MinLoA != tt.wantMin {
				t.Fatalf("min %s, err %v; want %s", req.MinLoA, err, tt.wantMin)
			}
		})
	}
}
