package stork

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/clavebridge/clavebridge/translate"
)

// FuzzStorkRequest: any POSTed SAMLRequest gets a 200 (login started or a
// STORK status for the SP) or a 400 page, never a panic or a 500.
// Committed seeds: testdata/fuzz/FuzzStorkRequest.
func FuzzStorkRequest(f *testing.F) {
	fx := newStFixture(f, allowSHA1)
	f.Add(fx.stSigned(f, "java", layoutJava))
	f.Add(fx.stSigned(f, "rediris", layoutRedIRIS))
	f.Add(fx.stSigned(f, "prefixes", layoutPlain, setText(NSStork, "QualityAuthenticationAssuranceLevel", "7")))
	f.Add(stSerialize(f, stTemplate(f, "defaultns"), layoutPlain))
	f.Fuzz(func(t *testing.T, xml []byte) {
		rec := fx.postForm(samlForm(xml, "excludedIdPList", "none", "forcedIdP", "none"))
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %.300s", rec.Code, rec.Body)
		}
	})
}

// FuzzParams: any form body parses into Params without panicking, and a
// successful parse gives a consistent Params whose Disabled() never lists
// an IdP twice. Committed seeds: testdata/fuzz/FuzzParams.
func FuzzParams(f *testing.F) {
	for _, seed := range []string{
		"excludedIdPList=aFirma%3BSS%3B&forcedIdP=none&allowLegalPerson=false",
		"excludedIdPList+=SS&idpList+=aFirma%3BAEAT&allowLegalPerson=true&RelayState=abc",
		"forcedIdP=Stork&excludedIdPList=Stork%3B",
		"idpList=&forcedIdP=none",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, _ := url.ParseQuery(raw) // a partial parse is what a server would see too
		p, err := ParseParams(form)
		if err != nil {
			return
		}
		if len(p.RelayState) > maxRelayState {
			t.Fatalf("RelayState of %d bytes accepted", len(p.RelayState))
		}
		disabled := p.Disabled()
		seen := map[translate.IdP]bool{}
		for _, idp := range disabled {
			if seen[idp] {
				t.Fatalf("Disabled() lists %s twice: %v", idp, disabled)
			}
			seen[idp] = true
			if !slices.Contains(translate.AllIdPs(), idp) {
				t.Fatalf("Disabled() lists unknown IdP %q", idp)
			}
		}
		if p.Forced != "" && (len(disabled) != len(translate.AllIdPs())-1 || seen[p.Forced]) {
			t.Fatalf("forced %s: disabled %v", p.Forced, disabled)
		}
		if p.Forced == "" {
			for _, idp := range p.Excluded {
				if !seen[idp] {
					t.Fatalf("excluded %s is not disabled: %v", idp, disabled)
				}
			}
		}
	})
}
