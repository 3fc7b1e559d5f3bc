package translate

import (
	"strconv"
	"strings"
)

// Attribute profiles: the names under which an SP of the saml2 dialect
// receives its attributes (service_providers[].attribute_profile).
const (
	// ProfileEIDAS names every attribute by its eIDAS name (the default).
	ProfileEIDAS = "eidas"
	// ProfileSIR names the attributes the Spanish research and education
	// federation (SIR, RedIRIS) uses by their LDAP/SCHAC OIDs, as the
	// attribute maps of university SPs (Shibboleth's stock attribute-map.xml
	// with its LDAP and SCHAC blocks) expect; the others keep their eIDAS
	// names.
	ProfileSIR = "sir"
)

// AttributeProfiles lists the valid attribute_profile values.
func AttributeProfiles() []string { return []string{ProfileEIDAS, ProfileSIR} }

// The SIR (eduPerson/SCHAC/LDAP) attribute names, NameFormat uri.
const (
	SIRPersonalUniqueID = "urn:oid:1.3.6.1.4.1.25178.1.2.15"  // schacPersonalUniqueID
	SIRGivenName        = "urn:oid:2.5.4.42"                  // givenName
	SIRSurname          = "urn:oid:2.5.4.4"                   // sn
	SIRMail             = "urn:oid:0.9.2342.19200300.100.1.3" // mail
)

// schacSpainPrefix starts a Spanish schacPersonalUniqueID; the document
// type (DNI, NIE) and number follow.
const schacSpainPrefix = "urn:schac:personalUniqueID:es:"

// SIRAttr is how one canonical attribute travels under the SIR profile.
type SIRAttr struct {
	Attr         Attr
	Name         string // urn:oid:…
	FriendlyName string // the LDAP/SCHAC attribute name
}

var sirTable = []SIRAttr{
	{AttrPersonIdentifier, SIRPersonalUniqueID, "schacPersonalUniqueID"},
	{AttrGivenName, SIRGivenName, "givenName"},
	{AttrFamilyName, SIRSurname, "sn"},
	{AttrEmailAddress, SIRMail, "mail"},
}

// SIRAttrs lists the attributes the SIR profile renames.
func SIRAttrs() []SIRAttr { return append([]SIRAttr(nil), sirTable...) }

// SIRWire returns the SIR name of attribute a and its values in SIR form.
// ok is false when a has no SIR name, or (PersonIdentifier) when no value
// is a Spanish DNI or NIE issued for Spain: a foreign identifier has no
// SCHAC form, and the caller names it as eIDAS does instead. A
// PersonIdentifier becomes urn:schac:personalUniqueID:es:DNI:<DNI> (or
// …:es:NIE:<NIE>).
func SIRWire(a Attr, values []string) (SIRAttr, []string, bool) {
	var w SIRAttr
	found := false
	for _, s := range sirTable {
		if s.Attr == a {
			w, found = s, true
			break
		}
	}
	if !found {
		return SIRAttr{}, nil, false
	}
	if len(values) == 0 {
		return SIRAttr{}, nil, false
	}
	if a != AttrPersonIdentifier {
		return w, values, true
	}
	var out []string
	for _, v := range values {
		if u, ok := SCHACPersonalUniqueID(v); ok {
			out = append(out, u)
		}
	}
	// Every value must have a SCHAC form: a partial rename would split one
	// attribute over two names.
	if len(out) == 0 || len(out) != len(values) {
		return SIRAttr{}, nil, false
	}
	return w, out, true
}

// SCHACPersonalUniqueID turns an eIDAS PersonIdentifier issued in Spain
// for Spain (ES/ES/12345678Z, or a bare 12345678Z) into its SCHAC form,
// urn:schac:personalUniqueID:es:DNI:12345678Z (NIE: …:es:NIE:X1234567L).
// Anything else — a foreign identifier, a malformed number, a wrong check
// letter — has none.
func SCHACPersonalUniqueID(personIdentifier string) (string, bool) {
	id, err := ParsePersonID(personIdentifier)
	if err != nil || id.Issuer != "ES" || id.Destination != "ES" {
		return "", false
	}
	kind, ok := nifKind(strings.ToUpper(id.Value))
	if !ok {
		return "", false
	}
	return schacSpainPrefix + kind + ":" + strings.ToUpper(id.Value), true
}

// nifLetters is the DNI/NIE check letter table: the number modulo 23.
const nifLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

// nifKind tells a DNI (8 digits and its check letter) from a NIE (X, Y or
// Z, 7 digits and its check letter).
func nifKind(v string) (string, bool) {
	if len(v) != 9 {
		return "", false
	}
	kind, digits := "DNI", v[:8]
	switch v[0] {
	case 'X', 'Y', 'Z':
		kind, digits = "NIE", string(rune('0'+v[0]-'X'))+v[1:8]
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || v[8] != nifLetters[n%23] {
		return "", false
	}
	return kind, true
}
