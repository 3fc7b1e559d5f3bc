package translate

// Attr is a canonical attribute name. Canonical names are the eIDAS/Cl@ve 2.0
// local names, so the most common dialect needs no renaming.
type Attr string

// The canonical attributes clavebridge knows.
const (
	AttrPersonIdentifier      Attr = "PersonIdentifier"
	AttrGivenName             Attr = "CurrentGivenName"
	AttrFamilyName            Attr = "CurrentFamilyName"
	AttrFirstSurname          Attr = "FirstSurname"
	AttrDateOfBirth           Attr = "DateOfBirth"
	AttrBirthName             Attr = "BirthName"
	AttrPlaceOfBirth          Attr = "PlaceOfBirth"
	AttrCurrentAddress        Attr = "CurrentAddress"
	AttrGender                Attr = "Gender"
	AttrPhoneNumber           Attr = "PhoneNumber"
	AttrNationality           Attr = "Nationality"
	AttrCountryOfBirth        Attr = "CountryOfBirth"
	AttrTownOfBirth           Attr = "TownOfBirth"
	AttrCountryOfResidence    Attr = "CountryOfResidence"
	AttrEmailAddress          Attr = "EmailAddress"
	AttrLegalPersonIdentifier Attr = "LegalPersonIdentifier"
	AttrLegalName             Attr = "LegalName"
	AttrLegalPersonAddress    Attr = "LegalPersonAddress"
	AttrVATRegistration       Attr = "VATRegistrationNumber"
	AttrTaxReference          Attr = "TaxReference"
	AttrEUIdentifier          Attr = "D-2012-17-EUIdentifier"
	AttrLEI                   Attr = "LEI"
	AttrEORI                  Attr = "EORI"
	AttrSEED                  Attr = "SEED"
	AttrSIC                   Attr = "SIC"
	AttrLegalPhoneNumber      Attr = "LegalPhoneNumber"
	AttrLegalEmailAddress     Attr = "LegalEmailAddress"
	AttrSelectedIdP           Attr = "SelectedIdP"
	AttrPartialAfirma         Attr = "PartialAfirma"
)

// Namespaces of eIDAS attribute value types.
const (
	NSNaturalPerson = "http://eidas.europa.eu/attributes/naturalperson"
	NSLegalPerson   = "http://eidas.europa.eu/attributes/legalperson"
	claveBase       = "http://es.minhafp.clave/"
	// ClaveRelayStateAttr is the Cl@ve 2.0 attribute that carries the RelayState.
	ClaveRelayStateAttr = claveBase + "RelayState"
)

// WireAttr is how one attribute travels in the eIDAS / Cl@ve 2.0 dialect.
type WireAttr struct {
	Attr         Attr
	Name         string // the URI, NameFormat uri
	FriendlyName string
	TypePrefix   string // "eidas-natural", "eidas-legal" or "xs"
	TypeNS       string // namespace of TypePrefix
	TypeLocal    string // e.g. PersonIdentifierType, string
	Stork        string // Cl@ve 1 (STORK) name, if it has one
}

// XSIType returns the attribute value's xsi:type, e.g. eidas-natural:PersonIdentifierType.
func (w WireAttr) XSIType() string { return w.TypePrefix + ":" + w.TypeLocal }

const xsNS = "http://www.w3.org/2001/XMLSchema"

func natural(a Attr, friendly, stork string) WireAttr {
	return WireAttr{a, NSNaturalPerson + "/" + string(a), friendly, "eidas-natural", NSNaturalPerson, string(a) + "Type", stork}
}

func legal(a Attr, friendly string) WireAttr {
	return WireAttr{a, NSLegalPerson + "/" + string(a), friendly, "eidas-legal", NSLegalPerson, string(a) + "Type", ""}
}

func clave(a Attr, stork string) WireAttr {
	return WireAttr{a, claveBase + string(a), string(a), "xs", xsNS, "string", stork}
}

var wireTable = []WireAttr{
	natural(AttrPersonIdentifier, "PersonIdentifier", "eIdentifier"),
	natural(AttrGivenName, "FirstName", "givenName"),
	natural(AttrFamilyName, "FamilyName", "surname"),
	natural(AttrDateOfBirth, "DateOfBirth", "dateOfBirth"),
	natural(AttrBirthName, "BirthName", ""),
	natural(AttrPlaceOfBirth, "PlaceOfBirth", ""),
	natural(AttrCurrentAddress, "CurrentAddress", ""),
	natural(AttrGender, "Gender", ""),
	natural(AttrPhoneNumber, "PhoneNumber", ""),
	natural(AttrNationality, "Nationality", ""),
	natural(AttrCountryOfBirth, "CountryOfBirth", ""),
	natural(AttrTownOfBirth, "TownOfBirth", ""),
	natural(AttrCountryOfResidence, "CountryOfResidence", ""),
	natural(AttrEmailAddress, "EmailAddress", "eMail"),
	legal(AttrLegalPersonIdentifier, "LegalPersonIdentifier"),
	legal(AttrLegalName, "LegalName"),
	legal(AttrLegalPersonAddress, "LegalAddress"),
	legal(AttrVATRegistration, "VATRegistration"),
	legal(AttrTaxReference, "TaxReference"),
	legal(AttrEUIdentifier, "D-2012-17-EUIdentifier"),
	legal(AttrLEI, "LEI"),
	legal(AttrEORI, "EORI"),
	legal(AttrSEED, "SEED"),
	legal(AttrSIC, "SIC"),
	legal(AttrLegalPhoneNumber, "LegalPhoneNumber"),
	legal(AttrLegalEmailAddress, "LegalEmailAddress"),
	clave(AttrFirstSurname, "inheritedFamilyName"),
	clave(AttrSelectedIdP, "usedIdP"),
	clave(AttrPartialAfirma, "afirmaResponse"),
}

// Attrs lists every known attribute in a fixed order.
func Attrs() []WireAttr { return append([]WireAttr(nil), wireTable...) }

// IsLegalPerson reports whether a is a legal-person attribute.
func (a Attr) IsLegalPerson() bool {
	w, ok := Wire(a)
	return ok && w.TypeNS == NSLegalPerson
}

// Wire returns how a travels in the eIDAS dialect.
func Wire(a Attr) (WireAttr, bool) {
	for _, w := range wireTable {
		if w.Attr == a {
			return w, true
		}
	}
	return WireAttr{}, false
}

// AttrFromName reads an eIDAS/Cl@ve 2.0 attribute URI.
func AttrFromName(uri string) (Attr, bool) {
	for _, w := range wireTable {
		if w.Name == uri {
			return w.Attr, true
		}
	}
	return "", false
}

// AttrFromFriendlyName reads an eIDAS FriendlyName (FirstName, FamilyName…).
func AttrFromFriendlyName(name string) (Attr, bool) {
	for _, w := range wireTable {
		if w.FriendlyName == name {
			return w.Attr, true
		}
	}
	return "", false
}

// AttrFromStork reads a Cl@ve 1 (STORK) attribute name such as eIdentifier.
func AttrFromStork(name string) (Attr, bool) {
	for _, w := range wireTable {
		if w.Stork != "" && w.Stork == name {
			return w.Attr, true
		}
	}
	return "", false
}
