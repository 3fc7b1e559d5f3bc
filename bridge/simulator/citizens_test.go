package simulator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/translate"
)

func TestLoadCitizensFile(t *testing.T) {
	cs, err := LoadCitizens(testCitizensFile)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Citizen{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	tests := []struct {
		id     string
		idp    translate.IdP
		family string
		person string
	}{
		{"99999999R", translate.IdPAfirma, "ESPAÑOL PRUEBAS", "ES/ES/99999999R"},
		{"00000000T", translate.IdPSegSoc, "PERMANENTE GARCÍA", "ES/ES/00000000T"},
		{"12345678Z", translate.IdPPin24H, "PIN SÁNCHEZ", "ES/ES/12345678Z"},
		{"X1234567L", translate.IdPPin24H, "SMITH", "ES/ES/X1234567L"},
		{"11111111H", translate.IdPAfirma, "REPRESENTANTE LÓPEZ", "ES/ES/11111111H"},
		{"T22000129", translate.IdPEIDAS, "MUSTERMANN", "DE/ES/T22000129"},
	}
	for _, tt := range tests {
		c, ok := byID[tt.id]
		if !ok {
			t.Errorf("citizen %s missing", tt.id)
			continue
		}
		if !c.allows(tt.idp) || c.familyName() != tt.family || c.personIdentifier(tt.idp) != tt.person {
			t.Errorf("%s: allows %s %v, family %q, identifier %q", tt.id, tt.idp, c.allows(tt.idp), c.familyName(), c.personIdentifier(tt.idp))
		}
	}
}

func TestLoadCitizensErrors(t *testing.T) {
	const ok = `
  - id: 12345678Z
    given_name: A
    first_surname: B
    date_of_birth: "1990-01-01"
`
	tests := []struct{ name, yaml, want string }{
		{"empty file", ``, "empty"},
		{"no citizens", `citizens: []`, "no citizens"},
		{"unknown key", "citizens:" + ok + "    idps: [PIN24H]\n    credentials: {pin: '1'}\n    nickname: x\n", "nickname"},
		{"unknown top-level key", "people: []\n", "people"},
		{"no idps", "citizens:" + ok, "idps is empty"},
		{"unknown IdP", "citizens:" + ok + "    idps: [FNMT]\n", "unknown identity provider"},
		{"repeated IdP", "citizens:" + ok + "    idps: [PIN24H, pin24h]\n    credentials: {pin: '1'}\n", "repeated"},
		{"PIN24H without pin", "citizens:" + ok + "    idps: [PIN24H]\n", "credentials.pin"},
		{"SEGSOC without mobile", "citizens:" + ok + "    idps: [SEGSOC]\n    credentials: {password: p}\n", "credentials.mobile"},
		{"AFIRMA without certificates", "citizens:" + ok + "    idps: [AFIRMA]\n", "at least one certificate"},
		{"bad certificate kind", "citizens:" + ok + "    idps: [AFIRMA]\n    certificates: [{kind: usb}]\n", "kind"},
		{"legal without company", "citizens:" + ok + "    idps: [AFIRMA]\n    certificates: [{kind: legal}]\n", "company"},
		{"company on software", "citizens:" + ok + "    idps: [AFIRMA]\n    certificates: [{kind: software, company: {cif: B00000000, name: X}}]\n", "company"},
		{"EIDAS without block", "citizens:" + ok + "    idps: [EIDAS]\n", "eidas block"},
		{"EIDAS from ES", "citizens:" + ok + "    idps: [EIDAS]\n    eidas: {country: ES, loa: low}\n", "foreign"},
		{"EIDAS bad loa", "citizens:" + ok + "    idps: [EIDAS]\n    eidas: {country: DE, loa: medium}\n", "level of assurance"},
		{"bad date", strings.Replace("citizens:"+ok, "1990-01-01", "01/01/1990", 1) + "    idps: [CLVMOVIL]\n", "date_of_birth"},
		{"wrong check letter", strings.Replace("citizens:"+ok, "12345678Z", "12345678A", 1) + "    idps: [CLVMOVIL]\n", "check letter"},
		{"not a DNI", strings.Replace("citizens:"+ok, "12345678Z", "ABC", 1) + "    idps: [CLVMOVIL]\n", "DNI or NIE"},
		{"foreign id with a slash", strings.Replace("citizens:"+ok, "12345678Z", "DE/1", 1) + "    idps: [EIDAS]\n    eidas: {country: DE, loa: low}\n", "foreign id"},
		{"no given name", strings.Replace("citizens:"+ok, "given_name: A", "given_name: ''", 1) + "    idps: [CLVMOVIL]\n", "given_name"},
		{"repeated id", "citizens:" + ok + "    idps: [CLVMOVIL]\n" + ok + "    idps: [CLVMOVIL]\n", "repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "citizens.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadCitizens(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadCitizens: %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "12345678") {
				t.Errorf("error shows the identifier in clear: %v", err)
			}
		})
	}
}

func TestLoadCitizensMissingFile(t *testing.T) {
	if _, err := LoadCitizens(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestCheckNIF(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"99999999R", true}, {"00000000T", true}, {"X1234567L", true}, {"Y0000000Z", true}, {"Z0000000M", true},
		{"99999999A", false}, {"X1234567A", false}, {"1234567Z", false}, {"W1234567L", false}, {"+1234567Z", false},
	}
	for _, tt := range tests {
		if err := checkNIF(tt.id); (err == nil) != tt.ok {
			t.Errorf("checkNIF(%s) = %v, want ok %v", tt.id, err, tt.ok)
		}
	}
}
