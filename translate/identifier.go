package translate

import (
	"fmt"
	"strings"
)

// PersonID is an eIDAS person identifier, "<issuer>/<destination>/<value>".
type PersonID struct {
	Issuer      string // country that issued the identifier, e.g. ES
	Destination string // country of the service, e.g. ES
	Value       string // the national identifier (DNI, NIE, foreign id)
}

// String returns the eIDAS form, e.g. ES/ES/12345678Z.
func (p PersonID) String() string { return p.Issuer + "/" + p.Destination + "/" + p.Value }

// ParsePersonID reads an eIDAS identifier. A bare value, as some Cl@ve
// responses carry for Spanish citizens, is read as issued in Spain for Spain.
func ParsePersonID(s string) (PersonID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return PersonID{}, fmt.Errorf("empty person identifier")
	}
	parts := strings.SplitN(s, "/", 3)
	if len(parts) != 3 {
		return PersonID{Issuer: "ES", Destination: "ES", Value: s}, nil
	}
	if !isCountry(parts[0]) || !isCountry(parts[1]) || parts[2] == "" {
		return PersonID{}, fmt.Errorf("person identifier is not CC/CC/value")
	}
	return PersonID{Issuer: parts[0], Destination: parts[1], Value: parts[2]}, nil
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// Mask hides all but the last three characters of an identifier, for logs.
func Mask(id string) string {
	r := []rune(id)
	if len(r) <= 3 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-3) + string(r[len(r)-3:])
}
