package simulator

import (
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/translate"
)

func TestSelectionPage(t *testing.T) {
	all := []string{"AFIRMA", "PIN24H", "SEGSOC", "EIDAS", "CLVMOVIL"}
	tests := []struct {
		name    string
		loa     translate.LoA
		disable []translate.IdP
		want    []string // nil: RequestDenied instead of a page
	}{
		{"all at low", translate.LoALow, nil, all},
		{"substantial hides PIN24H", translate.LoASubstantial, nil, []string{"AFIRMA", "SEGSOC", "EIDAS", "CLVMOVIL"}},
		{"high hides PIN24H SEGSOC CLVMOVIL", translate.LoAHigh, nil, []string{"AFIRMA", "EIDAS"}},
		{"disabled AFIRMA and GISS", translate.LoALow, []translate.IdP{translate.IdPAfirma, translate.IdPSegSoc}, []string{"PIN24H", "EIDAS", "CLVMOVIL"}},
		{"disabled AEAT EIDAS CLVMOVIL", translate.LoALow, []translate.IdP{translate.IdPPin24H, translate.IdPEIDAS, translate.IdPClaveMovil}, []string{"AFIRMA", "SEGSOC"}},
		{"high with AFIRMA and EIDAS disabled", translate.LoAHigh, []translate.IdP{translate.IdPAfirma, translate.IdPEIDAS}, nil},
		{"everything disabled", translate.LoALow, []translate.IdP{"AFIRMA", "PIN24H", "SEGSOC", "EIDAS", "CLVMOVIL"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			req := f.request(tt.loa)
			req.Attributes = append(req.Attributes, disable(tt.disable...)...)
			rec := f.sso(b64(f.signed(req, f.bridge)), testRelay)
			if tt.want == nil {
				checkFailure(t, f, f.answerOf(rec), clave2msg.StatusRequester, "RequestDenied")
				return
			}
			if got := idpsOffered(rec.Body.String()); !slices.Equal(got, tt.want) {
				t.Errorf("offered %v, want %v", got, tt.want)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); csp != pageCSP {
				t.Errorf("CSP %q", csp)
			}
			if strings.Contains(rec.Body.String(), "<script") || strings.Contains(rec.Body.String(), "style=") {
				t.Error("page has scripts or inline styles")
			}
		})
	}
}

func checkFailure(t *testing.T, f *fixture, a answer, code, sub string) {
	t.Helper()
	r := a.response
	if r.Status.Code != code || r.Status.SubCode != clave2msg.StatusPrefix+sub || a.assertion != nil {
		t.Errorf("status %+v (assertion %v), want %s/%s", r.Status, a.assertion != nil, code, sub)
	}
	if a.relay != testRelay || r.Destination != testACS || a.action != testACS {
		t.Errorf("relay %q destination %q action %q", a.relay, r.Destination, a.action)
	}
	if f.sim.Logins() != 0 {
		t.Errorf("Logins() = %d, want 0", f.sim.Logins())
	}
}

func TestHighLevelOffersOnlyDNIe(t *testing.T) {
	f := newFixture(t, nil)
	id, _ := f.start(f.request(translate.LoAHigh))
	page := f.submit(id, "idp", "AFIRMA").Body.String()
	if _, ok := certOffered(page, "Software"); ok {
		t.Error("software certificate offered at LoA high")
	}
	if _, ok := certOffered(page, "Legal"); ok {
		t.Error("legal person certificate offered at LoA high")
	}
	if _, ok := certOffered(page, "DNIe", "99999999R"); !ok {
		t.Errorf("DNIe not offered:\n%s", page)
	}
}
