package stork

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/translate"
)

// The Cl@ve 2.0 attributes that hide each IdP upstream.
const (
	disAfirma = "http://es.minhafp.clave/AFirmaIdP"
	disPin    = "http://es.minhafp.clave/AEATIdP"
	disSS     = "http://es.minhafp.clave/GISSIdP"
	disEIDAS  = "http://es.minhafp.clave/EIDASIdP"
	disMovil  = "http://es.minhafp.clave/CLVMOVILIdP"
)

// TestStorkParamsTable: every class of Cl@ve 1 POST parameter combination,
// down to which IdP-disable attributes would go upstream.
func TestStorkParamsTable(t *testing.T) {
	all := []string{disAfirma, disPin, disSS, disEIDAS, disMovil}
	tests := []struct {
		name    string
		raw     string   // form body ("';'" as a browser encodes it), parsed with url.ParseQuery
		wantErr string   // substring of the error, "" for success
		hidden  []string // IdP-disable attributes sent upstream
		check   func(t *testing.T, p Params)
	}{
		// excludedIdPList
		{name: "excluded with trailing separator (Java/PHP kits)", raw: "excludedIdPList=aFirma;SS;", hidden: []string{disAfirma, disSS}},
		{name: "excluded without trailing separator (RedIRIS)", raw: "excludedIdPList=aFirma;SS", hidden: []string{disAfirma, disSS}},
		{name: "excluded none", raw: "excludedIdPList=none", hidden: nil},
		{name: "excluded NONE any case", raw: "excludedIdPList=NONE;", hidden: nil},
		{name: "excluded empty", raw: "excludedIdPList=", hidden: nil},
		{name: "nothing sent", raw: "", hidden: nil},
		{name: "excluded legacy names", raw: "excludedIdPList=AFIRMA;PIN24H;SEGSOC", hidden: []string{disAfirma, disPin, disSS}},
		{name: "excluded Stork", raw: "excludedIdPList=Stork;", hidden: []string{disEIDAS}},
		{name: "excluded AEAT", raw: "excludedIdPList=AEAT;", hidden: []string{disPin}},
		{name: "excluded repeated token", raw: "excludedIdPList=SS;SS;SEGSOC;", hidden: []string{disSS}},
		{name: "excluded with spaces", raw: "excludedIdPList=+aFirma+;+SS+;+", hidden: []string{disAfirma, disSS}},
		{name: "excluded unknown token", raw: "excludedIdPList=aFirma;FNMT;", wantErr: "excludedIdPList"},
		{name: "excluded everything", raw: "excludedIdPList=aFirma;AEAT;SS;Stork;CLVMOVIL", hidden: all},
		// forcedIdP
		{name: "forced none", raw: "forcedIdP=none&excludedIdPList=none", hidden: nil},
		{name: "forced aFirma", raw: "forcedIdP=aFirma", hidden: []string{disPin, disSS, disEIDAS, disMovil}},
		{name: "forced AEAT", raw: "forcedIdP=AEAT", hidden: []string{disAfirma, disSS, disEIDAS, disMovil}},
		{name: "forced SS", raw: "forcedIdP=SS", hidden: []string{disAfirma, disPin, disEIDAS, disMovil}},
		{name: "forced Stork", raw: "forcedIdP=Stork", hidden: []string{disAfirma, disPin, disSS, disMovil}},
		{name: "forced legacy SEGSOC", raw: "forcedIdP=SEGSOC", hidden: []string{disAfirma, disPin, disEIDAS, disMovil}},
		{name: "forced with separator", raw: "forcedIdP=SS;", hidden: []string{disAfirma, disPin, disEIDAS, disMovil}},
		{name: "forced unknown", raw: "forcedIdP=FNMT", wantErr: "forcedIdP"},
		{name: "forced two values", raw: "forcedIdP=aFirma;SS", wantErr: "forcedIdP"},
		{name: "forced IdP also excluded: forced wins", raw: "forcedIdP=SS&excludedIdPList=aFirma;SS;",
			hidden: []string{disAfirma, disPin, disEIDAS, disMovil}},
		{name: "forced IdP outside idpList: forced wins", raw: "forcedIdP=SS&idpList=aFirma",
			hidden: []string{disAfirma, disPin, disEIDAS, disMovil}},
		// idpList (RedIRIS)
		{name: "idpList whitelist", raw: "idpList=aFirma;AEAT", hidden: []string{disSS, disEIDAS, disMovil}},
		{name: "idpList and excluded", raw: "idpList=aFirma;AEAT;SS&excludedIdPList=SS", hidden: []string{disSS, disEIDAS, disMovil}},
		{name: "idpList empty hides everything", raw: "idpList=", hidden: all,
			check: func(t *testing.T, p Params) {
				if p.Allowed == nil || len(p.Allowed) != 0 {
					t.Errorf("Allowed = %#v, want an empty, non-nil list", p.Allowed)
				}
			}},
		{name: "idpList unknown token", raw: "idpList=aFirma;X", wantErr: "idpList"},
		{name: "RedIRIS trailing-space keys", raw: "idpList+=aFirma;SS&excludedIdPList+=SS", hidden: []string{disPin, disSS, disEIDAS, disMovil},
			check: func(t *testing.T, p Params) {
				if !reflect.DeepEqual(p.Allowed, []translate.IdP{translate.IdPAfirma, translate.IdPSegSoc}) ||
					!reflect.DeepEqual(p.Excluded, []translate.IdP{translate.IdPSegSoc}) {
					t.Errorf("params = %+v", p)
				}
			}},
		// allowLegalPerson
		{name: "allowLegalPerson true", raw: "allowLegalPerson=true", check: legal(true)},
		{name: "allowLegalPerson TRUE", raw: "allowLegalPerson=TRUE", check: legal(true)},
		{name: "allowLegalPerson false", raw: "allowLegalPerson=false", check: legal(false)},
		{name: "allowLegalPerson none (PHP kit default)", raw: "allowLegalPerson=none", check: legal(false)},
		{name: "allowLegalPerson absent", raw: "forcedIdP=none", check: legal(false)},
		// RelayState
		{name: "RelayState of 80", raw: "RelayState=" + strings.Repeat("r", 80), check: func(t *testing.T, p Params) {
			if len(p.RelayState) != 80 {
				t.Errorf("RelayState %q", p.RelayState)
			}
		}},
		{name: "RelayState of 81", raw: "RelayState=" + strings.Repeat("r", 81), wantErr: "RelayState"},
		// duplicates
		{name: "forcedIdP twice", raw: "forcedIdP=none&forcedIdP=SS", wantErr: "more than once"},
		{name: "excludedIdPList with and without trailing space", raw: "excludedIdPList=SS&excludedIdPList+=aFirma", wantErr: "more than once"},
		{name: "RelayState twice", raw: "RelayState=a&RelayState=b", wantErr: "more than once"},
		// what Cl@ve 1 kits send that is not a selector parameter
		{name: "country is ignored", raw: "country=ES&forcedIdP=none", hidden: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(strings.ReplaceAll(tt.raw, ";", "%3B"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseParams(form)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q (params %+v)", err, tt.wantErr, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var hidden []string
			for _, idp := range p.Disabled() {
				hidden = append(hidden, idp.DisableAttribute())
			}
			if !reflect.DeepEqual(hidden, tt.hidden) && !(len(hidden) == 0 && len(tt.hidden) == 0) {
				t.Errorf("upstream disable attributes = %v, want %v", hidden, tt.hidden)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func legal(want bool) func(*testing.T, Params) {
	return func(t *testing.T, p Params) {
		if p.AllowLegalPerson != want {
			t.Errorf("AllowLegalPerson = %v, want %v", p.AllowLegalPerson, want)
		}
	}
}

// TestStorkParamsReachUpstream: the disabled IdPs of the POST parameters are
// what the flow hands the upstream connector (after the SP's policy).
func TestStorkParamsReachUpstream(t *testing.T) {
	f := newStFixture(t)
	rec := f.postForm(samlForm(f.stSigned(t, "prefixes", layoutPlain), "excludedIdPList", "aFirma;Stork;", "forcedIdP", "none"))
	if rec.Code != 200 || len(f.up.Begun) != 1 {
		t.Fatalf("status %d, %d logins: %.400s", rec.Code, len(f.up.Begun), rec.Body)
	}
	got := f.up.Begun[0].Request.DisabledIdPs
	want := []translate.IdP{translate.IdPAfirma, translate.IdPEIDAS}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("disabled upstream = %v, want %v", got, want)
	}
}
