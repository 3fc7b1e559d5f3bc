package simulator

import (
	"strings"

	"github.com/clavebridge/clavebridge/translate"
)

// method is one way of logging in at a Cl@ve identity provider and the level
// of assurance it reaches.
type method struct {
	idp   translate.IdP
	kind  CertKind      // AFIRMA certificate kind; empty for the other IdPs
	loa   translate.LoA // LoANone: the foreign citizen's own level (EIDAS)
	label string        // the tipoCertificado of PartialAfirma (afirma.go); the pages use the catalogs
}

// methods is the LoA table of the simulated gateway.
func methods() []method {
	return []method{
		{translate.IdPAfirma, CertDNIe, translate.LoAHigh, "DNIe / hardware certificate"},
		{translate.IdPAfirma, CertSoftware, translate.LoASubstantial, "Software certificate"},
		{translate.IdPAfirma, CertLegal, translate.LoASubstantial, "Legal person representative certificate"},
		{translate.IdPSegSoc, "", translate.LoASubstantial, "Cl@ve permanente (password and SMS code)"},
		{translate.IdPPin24H, "", translate.LoALow, "Cl@ve PIN"},
		{translate.IdPClaveMovil, "", translate.LoASubstantial, "Cl@ve Móvil"},
		{translate.IdPEIDAS, "", translate.LoANone, "Citizens of other EU countries (eIDAS)"},
	}
}

// idpKey is the catalog key prefix of an identity provider's tile on the
// selection page (+".name", +".desc").
func idpKey(p translate.IdP) string {
	return "sim.idp." + strings.ToLower(string(p))
}

// certLoA is the level an @firma certificate of this kind reaches.
func certLoA(kind CertKind) (translate.LoA, bool) {
	for _, m := range methods() {
		if m.idp == translate.IdPAfirma && m.kind == kind {
			return m.loa, true
		}
	}
	return translate.LoANone, false
}

// loaOf is the level c reaches at p with certificate kind (AFIRMA only).
func loaOf(c *Citizen, p translate.IdP, kind CertKind) translate.LoA {
	for _, m := range methods() {
		if m.idp != p || m.kind != kind {
			continue
		}
		if m.loa == translate.LoANone && c.EIDAS != nil {
			l, _ := translate.ParseLoA(c.EIDAS.LoA) // checked when loading
			return l
		}
		return m.loa
	}
	return translate.LoANone
}

// ceiling is the highest level anybody can reach at p: the table's for the
// Spanish IdPs, the best configured foreign citizen's for EIDAS.
func (s *Simulator) ceiling(p translate.IdP) translate.LoA {
	best := translate.LoANone
	for _, m := range methods() {
		if m.idp == p && m.loa > best {
			best = m.loa
		}
	}
	if p != translate.IdPEIDAS {
		return best
	}
	for i := range s.citizens {
		if c := &s.citizens[i]; c.allows(p) {
			best = max(best, loaOf(c, p, ""))
		}
	}
	return best
}

// available lists, in the gateway's fixed order, the identity providers the
// request did not disable and that can reach its level.
func (s *Simulator) available(disabled map[translate.IdP]bool, want translate.LoA) []translate.IdP {
	var out []translate.IdP
	for _, p := range translate.AllIdPs() {
		if !disabled[p] && s.ceiling(p) >= want {
			out = append(out, p)
		}
	}
	return out
}
