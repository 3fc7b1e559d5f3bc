package stork

import (
	"strings"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/translate"
)

// answer is what a successful login gives a Cl@ve 1 SP.
type answer struct {
	issuer      string            // AFIRMA, PIN24H, SEGSOC, STORK-<CC>
	values      map[string]string // STORK attribute name → value (Available)
	legalPerson bool
	oid         string // certificate policy OID of a legal-person certificate
}

// storkIssuer names the IdP as Cl@ve 1 did in the response Issuer. Cl@ve
// Móvil did not exist in Cl@ve 1; it keeps its Cl@ve 2.0 name. A foreign
// (eIDAS) citizen's country comes from the identifier, so an SP whose
// policy withholds the PersonIdentifier (the Subject is then empty) reads
// only "STORK".
func storkIssuer(res *bridge.Result) string {
	if res.IdP == translate.IdPEIDAS {
		if id, err := translate.ParsePersonID(res.Subject); err == nil {
			return "STORK-" + id.Issuer
		}
		return "STORK"
	}
	return string(res.IdP)
}

// afirmaNeeds are the answer's values derived from PartialAfirma that the
// SP asked for: the @firma answer itself, isdnie, the legal person's
// certificate policy OID. PartialAfirma is decoded only if one is.
type afirmaNeeds struct{ response, dnie, oid bool }

// allAfirma derives every value (tests).
var allAfirma = afirmaNeeds{response: true, dnie: true, oid: true}

// afirmaNeedsOf reads the needs from the SP's request.
func afirmaNeedsOf(st requestState) afirmaNeeds {
	n := afirmaNeeds{oid: st.AllowLegalPerson}
	for _, a := range st.Attributes {
		switch a.Name {
		case "afirmaResponse":
			n.response = true
		case "isdnie":
			n.dnie = true
		}
	}
	return n
}

// newAnswer translates a canonical result into STORK attribute values.
func newAnswer(res *bridge.Result, need afirmaNeeds) *answer {
	a := &answer{issuer: storkIssuer(res), values: map[string]string{}, legalPerson: res.LegalPerson}
	set := func(name, value string) {
		if value != "" {
			a.values[name] = value
		}
	}
	var afirma *clave2msg.AfirmaInfo
	if pa := res.Value(translate.AttrPartialAfirma); pa != "" && need != (afirmaNeeds{}) {
		decoded, err := clave2msg.DecodePartialAfirma(pa)
		if err == nil && (need.dnie || need.oid) {
			afirma, _ = decoded.Info()
		}
		if need.response {
			if err == nil {
				if vr, err := decoded.VerifyResponse(); err == nil {
					pa = vr
				}
			}
			set("afirmaResponse", pa)
		}
	}
	if res.LegalPerson {
		// A legal-person certificate fills eIdentifier and givenName with the
		// legal person's identifier and name, and nothing else of a person.
		set("eIdentifier", eIdentifier(res.Value(translate.AttrLegalPersonIdentifier)))
		set("givenName", res.Value(translate.AttrLegalName))
		if afirma != nil {
			a.oid = afirma.PolicyOID()
		}
	} else {
		a.naturalPerson(res, set)
	}
	set("citizenQAALevel", itoa(res.LoA.QAA()))
	if need.dnie {
		set("isdnie", boolString(res.IdP == translate.IdPAfirma && afirma != nil && afirma.IsDNIe()))
	}
	set("usedIdP", a.issuer)
	set("eMail", res.Value(translate.AttrEmailAddress))
	return a
}

func (a *answer) naturalPerson(res *bridge.Result, set func(name, value string)) {
	// The Subject is empty when the SP's policy withholds the
	// PersonIdentifier (bridge.Policy.Release): eIdentifier is then
	// NotAvailable, never the identifier.
	set("eIdentifier", eIdentifier(res.Subject))
	set("givenName", res.Value(translate.AttrGivenName))
	surname := res.Value(translate.AttrFamilyName)
	set("surname", surname)
	// inheritedFamilyName is the first surname; for one-surname citizens it
	// equals surname, so the SP's split yields an empty second surname.
	first := res.Value(translate.AttrFirstSurname)
	if first == "" {
		first = surname
	}
	set("inheritedFamilyName", first)
	set("dateOfBirth", strings.ReplaceAll(res.Value(translate.AttrDateOfBirth), "-", ""))
}

// eIdentifier restores the ES/ES/ prefix when upstream sends a bare DNI/NIE
// and keeps foreign identifiers as they are.
func eIdentifier(v string) string {
	if v == "" {
		return ""
	}
	id, err := translate.ParsePersonID(v)
	if err != nil {
		return v
	}
	return id.String()
}

func itoa(n int) string {
	if n <= 0 {
		return ""
	}
	return string(rune('0' + n))
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
