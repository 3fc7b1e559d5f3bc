package translate

import (
	"slices"
	"testing"
)

func TestSCHACPersonalUniqueID(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"ES/ES/99999999R", "urn:schac:personalUniqueID:es:DNI:99999999R"},
		{"99999999R", "urn:schac:personalUniqueID:es:DNI:99999999R"}, // a bare value is ES/ES
		{"ES/ES/99999999r", "urn:schac:personalUniqueID:es:DNI:99999999R"},
		{"ES/ES/12345678Z", "urn:schac:personalUniqueID:es:DNI:12345678Z"},
		{"ES/ES/X0000000T", "urn:schac:personalUniqueID:es:NIE:X0000000T"},
		{"ES/ES/Y1234567X", "urn:schac:personalUniqueID:es:NIE:Y1234567X"},
		{"ES/ES/99999999A", ""}, // wrong check letter
		{"ES/ES/9999999R", ""},  // too short
		{"ES/ES/X000000AT", ""}, // not digits
		{"DE/ES/99999999R", ""}, // issued abroad
		{"ES/DE/99999999R", ""}, // for another country
		{"IT/ES/ABCDEF12G", ""}, // a foreign identifier
		{"ES/ES/", ""},          // malformed
		{"", ""},
		{"ES/ES/99999999R/x", ""}, // value with a slash
	}
	for _, tt := range tests {
		got, ok := SCHACPersonalUniqueID(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("SCHACPersonalUniqueID(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestSIRWire(t *testing.T) {
	tests := []struct {
		name       string
		attr       Attr
		values     []string
		wantName   string
		wantValues []string
	}{
		{"DNI", AttrPersonIdentifier, []string{"ES/ES/99999999R"}, SIRPersonalUniqueID, []string{"urn:schac:personalUniqueID:es:DNI:99999999R"}},
		{"foreign identifier keeps its eIDAS name", AttrPersonIdentifier, []string{"IT/ES/ABCDEF12G"}, "", nil},
		{"one value without SCHAC form", AttrPersonIdentifier, []string{"ES/ES/99999999R", "IT/ES/X"}, "", nil},
		{"given name", AttrGivenName, []string{"JUAN"}, SIRGivenName, []string{"JUAN"}},
		{"surname", AttrFamilyName, []string{"ESPAÑOL ESPAÑOL"}, SIRSurname, []string{"ESPAÑOL ESPAÑOL"}},
		{"mail", AttrEmailAddress, []string{"juan@example.es"}, SIRMail, []string{"juan@example.es"}},
		{"no values", AttrEmailAddress, nil, "", nil},
		{"no SIR name", AttrDateOfBirth, []string{"1970-01-01"}, "", nil},
		{"first surname has none", AttrFirstSurname, []string{"ESPAÑOL"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, values, ok := SIRWire(tt.attr, tt.values)
			if ok != (tt.wantName != "") || w.Name != tt.wantName || !slices.Equal(values, tt.wantValues) {
				t.Fatalf("SIRWire = %+v, %q, %v; want %s %q", w, values, ok, tt.wantName, tt.wantValues)
			}
		})
	}
}

// TestSIRNames: the names are those of the LDAP and SCHAC blocks of
// Shibboleth's stock attribute-map.xml (and of the SIR federation).
func TestSIRNames(t *testing.T) {
	want := map[string]string{
		"schacPersonalUniqueID": "urn:oid:1.3.6.1.4.1.25178.1.2.15",
		"givenName":             "urn:oid:2.5.4.42",
		"sn":                    "urn:oid:2.5.4.4",
		"mail":                  "urn:oid:0.9.2342.19200300.100.1.3",
	}
	got := map[string]string{}
	for _, w := range SIRAttrs() {
		got[w.FriendlyName] = w.Name
		if _, ok := Wire(w.Attr); !ok {
			t.Errorf("%s is not a known attribute", w.Attr)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("SIR names %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if !slices.Equal(AttributeProfiles(), []string{"eidas", "sir"}) {
		t.Errorf("profiles %v", AttributeProfiles())
	}
}
