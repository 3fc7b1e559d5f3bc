package translate

import (
	"testing"
)

func TestLoAFromEIDASRoundTrip(t *testing.T) {
	for _, l := range []LoA{LoALow, LoASubstantial, LoAHigh} {
		got, err := LoAFromEIDAS(l.EIDAS())
		if err != nil || got != l {
			t.Errorf("LoAFromEIDAS(%q) = %v, %v; want %v", l.EIDAS(), got, err, l)
		}
		parsed, err := ParseLoA(l.String())
		if err != nil || parsed != l {
			t.Errorf("ParseLoA(%q) = %v, %v", l.String(), parsed, err)
		}
	}
}

func TestLoAFromEIDASRejectsUnknown(t *testing.T) {
	for _, uri := range []string{
		"", "http://eidas.europa.eu/LoA/", "http://eidas.europa.eu/LoA/NotNotified/low",
		"http://eidas.europa.eu/LoA/Low", "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
		"http://eidas.europa.eu/LoA/high ", "https://eidas.europa.eu/LoA/high",
	} {
		if l, err := LoAFromEIDAS(uri); err == nil {
			t.Errorf("LoAFromEIDAS(%q) = %v, want an error", uri, l)
		}
	}
}

// TestQAATable checks the STORK QAA table exhaustively, both ways.
func TestQAATable(t *testing.T) {
	tests := []struct {
		qaa     string
		want    LoA
		wantErr bool
	}{
		{"0", LoANone, true}, {"1", LoALow, false}, {"2", LoALow, false}, {"3", LoASubstantial, false},
		{"4", LoAHigh, false}, {"5", LoANone, true}, {"", LoANone, true}, {"x", LoANone, true}, {"-1", LoANone, true},
	}
	for _, tt := range tests {
		got, err := LoAFromQAA(tt.qaa)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("LoAFromQAA(%q) = %v, %v; want %v, error %t", tt.qaa, got, err, tt.want, tt.wantErr)
		}
	}
	back := map[LoA]int{LoALow: 2, LoASubstantial: 3, LoAHigh: 4, LoANone: 0}
	for l, q := range back {
		if l.QAA() != q {
			t.Errorf("%v.QAA() = %d, want %d", l, l.QAA(), q)
		}
	}
}

func TestLoAOrderAndValidity(t *testing.T) {
	if !(LoALow < LoASubstantial && LoASubstantial < LoAHigh) {
		t.Fatal("levels are not ordered")
	}
	if LoANone.Valid() || LoA(4).Valid() || LoANone.EIDAS() != "" || LoA(9).String() != "none" {
		t.Fatal("invalid levels must not look valid")
	}
	if _, err := ParseLoA("medium"); err == nil {
		t.Fatal("ParseLoA accepted an unknown name")
	}
}

func TestIdPNames(t *testing.T) {
	tests := []struct {
		idp      IdP
		clave1   []string
		disable  string
		friendly string
	}{
		{IdPAfirma, []string{"aFirma", "AFIRMA", "afirma"}, "http://es.minhafp.clave/AFirmaIdP", "AFirmaIdP"},
		{IdPPin24H, []string{"AEAT", "PIN24H"}, "http://es.minhafp.clave/AEATIdP", "AEATIdP"},
		{IdPSegSoc, []string{"SS", "SEGSOC"}, "http://es.minhafp.clave/GISSIdP", "GISSIdP"},
		{IdPEIDAS, []string{"Stork", "STORK", "EIDAS"}, "http://es.minhafp.clave/EIDASIdP", "EIDASIdP"},
		{IdPClaveMovil, []string{"CLVMOVIL"}, "http://es.minhafp.clave/CLVMOVILIdP", "CLVMOVILIdP"},
	}
	for _, tt := range tests {
		t.Run(string(tt.idp), func(t *testing.T) {
			for _, name := range tt.clave1 {
				if got, err := IdPFromClave1(name); err != nil || got != tt.idp {
					t.Errorf("IdPFromClave1(%q) = %v, %v", name, got, err)
				}
			}
			if got, err := IdPFromClave1(tt.idp.Clave1Name()); err != nil || got != tt.idp {
				t.Errorf("Clave1Name round trip: %v, %v", got, err)
			}
			if tt.idp.DisableAttribute() != tt.disable || tt.idp.DisableFriendlyName() != tt.friendly {
				t.Errorf("disable attribute = %q / %q", tt.idp.DisableAttribute(), tt.idp.DisableFriendlyName())
			}
			if got, ok := IdPFromDisableAttribute(tt.disable); !ok || got != tt.idp {
				t.Errorf("IdPFromDisableAttribute(%q) = %v, %v", tt.disable, got, ok)
			}
			if got, err := ParseIdP(string(tt.idp)); err != nil || got != tt.idp {
				t.Errorf("ParseIdP = %v, %v", got, err)
			}
		})
	}
	if len(AllIdPs()) != len(tests) {
		t.Fatalf("AllIdPs has %d entries, the table %d", len(AllIdPs()), len(tests))
	}
	for _, bad := range []string{"", "Google", "aFirma;SS"} {
		if _, err := IdPFromClave1(bad); err == nil {
			t.Errorf("IdPFromClave1(%q) accepted", bad)
		}
		if _, err := ParseIdP(bad); err == nil {
			t.Errorf("ParseIdP(%q) accepted", bad)
		}
	}
}

// TestAttributeNamesBothWays checks every pairing named in the mission:
// eIdentifier↔PersonIdentifier, usedIdP↔SelectedIdP, givenName↔CurrentGivenName,
// surname↔CurrentFamilyName, inheritedFamilyName↔FirstSurname,
// afirmaResponse↔PartialAfirma.
func TestAttributeNamesBothWays(t *testing.T) {
	tests := []struct {
		stork    string
		attr     Attr
		uri      string
		friendly string
		xsiType  string
	}{
		{"eIdentifier", AttrPersonIdentifier, NSNaturalPerson + "/PersonIdentifier", "PersonIdentifier", "eidas-natural:PersonIdentifierType"},
		{"givenName", AttrGivenName, NSNaturalPerson + "/CurrentGivenName", "FirstName", "eidas-natural:CurrentGivenNameType"},
		{"surname", AttrFamilyName, NSNaturalPerson + "/CurrentFamilyName", "FamilyName", "eidas-natural:CurrentFamilyNameType"},
		{"inheritedFamilyName", AttrFirstSurname, "http://es.minhafp.clave/FirstSurname", "FirstSurname", "xs:string"},
		{"usedIdP", AttrSelectedIdP, "http://es.minhafp.clave/SelectedIdP", "SelectedIdP", "xs:string"},
		{"afirmaResponse", AttrPartialAfirma, "http://es.minhafp.clave/PartialAfirma", "PartialAfirma", "xs:string"},
		{"dateOfBirth", AttrDateOfBirth, NSNaturalPerson + "/DateOfBirth", "DateOfBirth", "eidas-natural:DateOfBirthType"},
		{"eMail", AttrEmailAddress, NSNaturalPerson + "/EmailAddress", "EmailAddress", "eidas-natural:EmailAddressType"},
	}
	for _, tt := range tests {
		t.Run(tt.stork, func(t *testing.T) {
			if got, ok := AttrFromStork(tt.stork); !ok || got != tt.attr {
				t.Errorf("AttrFromStork(%q) = %q, %v", tt.stork, got, ok)
			}
			w, ok := Wire(tt.attr)
			if !ok || w.Stork != tt.stork || w.Name != tt.uri || w.FriendlyName != tt.friendly || w.XSIType() != tt.xsiType {
				t.Errorf("Wire(%q) = %+v", tt.attr, w)
			}
			if got, ok := AttrFromName(tt.uri); !ok || got != tt.attr {
				t.Errorf("AttrFromName(%q) = %q, %v", tt.uri, got, ok)
			}
			if got, ok := AttrFromFriendlyName(tt.friendly); !ok || got != tt.attr {
				t.Errorf("AttrFromFriendlyName(%q) = %q, %v", tt.friendly, got, ok)
			}
		})
	}
	// Legal-person attributes use the eIDAS URIs (the RedIRIS table has
	// LegalAddress and VATRegistration as names: those are FriendlyNames).
	for _, tt := range []struct {
		a             Attr
		uri, friendly string
	}{
		{AttrLegalPersonAddress, NSLegalPerson + "/LegalPersonAddress", "LegalAddress"},
		{AttrVATRegistration, NSLegalPerson + "/VATRegistrationNumber", "VATRegistration"},
		{AttrLegalName, NSLegalPerson + "/LegalName", "LegalName"},
	} {
		if w, ok := Wire(tt.a); !ok || w.Name != tt.uri || w.FriendlyName != tt.friendly || !tt.a.IsLegalPerson() {
			t.Errorf("legal attribute %s = %+v", tt.a, w)
		}
	}
	if AttrPersonIdentifier.IsLegalPerson() || Attr("nope").IsLegalPerson() {
		t.Error("IsLegalPerson true for a non-legal attribute")
	}
	// The RedIRIS table's wrong legal-person URIs must not be recognised.
	for _, wrong := range []string{NSLegalPerson + "/LegalAddress", NSLegalPerson + "/VATRegistration", "eIdentifier", ""} {
		if a, ok := AttrFromName(wrong); ok {
			t.Errorf("AttrFromName(%q) = %q, want unknown", wrong, a)
		}
	}
}

func TestParsePersonID(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"ES/ES/99999999R", "ES/ES/99999999R", false},
		{"99999999R", "ES/ES/99999999R", false},
		{"X1234567L", "ES/ES/X1234567L", false},
		{"DE/ES/a/b", "DE/ES/a/b", false},
		{"es/ES/1", "", true},
		{"ES/ES/", "", true},
		{"EUR/ES/1", "", true},
		{"  ", "", true},
	}
	for _, tt := range tests {
		got, err := ParsePersonID(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got.String() != tt.want) {
			t.Errorf("ParsePersonID(%q) = %q, %v; want %q, error %t", tt.in, got.String(), err, tt.want, tt.wantErr)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"ES/ES/99999999R": "************99R", "ab": "**", "": "", "ñandú": "**ndú"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIdPKnown(t *testing.T) {
	for _, p := range AllIdPs() {
		if !p.Known() {
			t.Errorf("%s is not known", p)
		}
	}
	for _, p := range []IdP{"", "MYSTERY", "afirma"} {
		if p.Known() {
			t.Errorf("%q is known", p)
		}
	}
}
