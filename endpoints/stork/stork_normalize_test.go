package stork

import (
	"context"
	"errors"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/translate"
)

// TestStorkQAATable: STORK QAA levels through normalize. 1 and 2 are low
// (1 with a log line), 3 substantial, 4 high; anything else is refused with
// NoAuthnContext, which the SP gets as Responder + QAANotSupported.
func TestStorkQAATable(t *testing.T) {
	tests := []struct {
		qaa  string
		want translate.LoA
		log  bool
	}{
		{"1", translate.LoALow, true},
		{"2", translate.LoALow, false},
		{"3", translate.LoASubstantial, false},
		{"4", translate.LoAHigh, false},
		{"0", translate.LoANone, false},
		{"5", translate.LoANone, false},
		{"x", translate.LoANone, false},
		{"-1", translate.LoANone, false},
	}
	for _, tt := range tests {
		t.Run("QAA "+tt.qaa, func(t *testing.T) {
			f := newStFixture(t)
			xml := f.stSigned(t, "prefixes", layoutPlain, setText(NSStork, "QualityAuthenticationAssuranceLevel", tt.qaa))
			in, err := f.readRaw(samlForm(xml).Encode())
			if err != nil {
				t.Fatalf("readRequest: %v", err)
			}
			req, err := f.ep.normalize(context.Background(), in)
			logged := len(f.logs.FilterMessage("QAA 1 served as eIDAS low").All()) > 0
			if logged != tt.log {
				t.Errorf("QAA 1 log line present = %v, want %v", logged, tt.log)
			}
			if tt.want != translate.LoANone {
				if err != nil || req.MinLoA != tt.want {
					t.Fatalf("MinLoA = %v, err %v; want %v", req.MinLoA, err, tt.want)
				}
				return
			}
			var denied *bridge.RequestDenied
			if !errors.As(err, &denied) || denied.Code != bridge.StatusNoAuthnContext {
				t.Fatalf("err = %v, want a NoAuthnContext refusal", err)
			}
			// The refusal is posted back to the SP as the STORK status.
			out, err := f.ep.Render(context.Background(), f.reg, req, bridge.Failure(denied.Code, denied.Reason))
			if err != nil {
				t.Fatal(err)
			}
			resp := f.verifyAnswer(t, out.Fields[0].Value)
			code, sub, msg := statusOf(resp)
			if code != statusPrefix+"Responder" || sub != QAANotSupported || msg == "" {
				t.Fatalf("status = %q / %q / %q", code, sub, msg)
			}
		})
	}
}

// TestStorkRefusalsPostedToSP: well-formed requests the bridge will not
// serve get a signed STORK status at the ACS and nothing goes upstream.
func TestStorkRefusalsPostedToSP(t *testing.T) {
	tests := []struct {
		name      string
		change    func(*etree.Element)
		params    []string
		code, sub string
	}{
		{"QAA 5", setText(NSStork, "QualityAuthenticationAssuranceLevel", "5"), nil, "Responder", QAANotSupported},
		{"QAA not a number", setText(NSStork, "QualityAuthenticationAssuranceLevel", "high"), nil, "Responder", QAANotSupported},
		{"IsPassive", setAttr("IsPassive", "true"), nil, "Requester", statusPrefix + "RequestDenied"},
		{"every IdP excluded", nil, []string{"excludedIdPList", "aFirma;AEAT;SS;Stork;CLVMOVIL;"}, "Requester", statusPrefix + "RequestDenied"},
		{"empty idpList", nil, []string{"idpList", ""}, "Requester", statusPrefix + "RequestDenied"},
		{"forced IdP denied by policy", nil, []string{"forcedIdP", "AEAT"}, "Requester", statusPrefix + "RequestDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newStFixture(t, func(sp *bridge.ServiceProvider) { sp.Policy.DenyIdPs = []translate.IdP{translate.IdPPin24H} })
			var changes []func(*etree.Element)
			if tt.change != nil {
				changes = append(changes, tt.change)
			}
			rec := f.postForm(samlForm(f.stSigned(t, "prefixes", layoutPlain, changes...), append(tt.params, "RelayState", "rs-1")...))
			resp, fields := f.stAnswer(t, rec)
			if len(f.up.Begun) != 0 {
				t.Fatal("a refused request went upstream")
			}
			code, sub, msg := statusOf(resp)
			if code != statusPrefix+tt.code || sub != tt.sub || msg == "" {
				t.Fatalf("status = %q / %q / %q", code, sub, msg)
			}
			if resp.SelectAttrValue("InResponseTo", "") != "_11112222333344445555666677778888" || fields.Get("RelayState") != "rs-1" {
				t.Fatalf("InResponseTo %q, RelayState %q", resp.SelectAttrValue("InResponseTo", ""), fields.Get("RelayState"))
			}
			if fields.Has("isLegalPerson") || fields.Has("oid") {
				t.Fatalf("legal-person fields on a refusal: %v", fields)
			}
		})
	}
}
