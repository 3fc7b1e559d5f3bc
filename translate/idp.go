package translate

import (
	"fmt"
	"strings"
)

// IdP is a Cl@ve identity provider, named as Cl@ve 2.0's SelectedIdP names it.
type IdP string

// The Cl@ve 2.0 identity providers.
const (
	IdPAfirma     IdP = "AFIRMA"   // certificate or DNIe through @firma
	IdPPin24H     IdP = "PIN24H"   // AEAT Cl@ve PIN
	IdPSegSoc     IdP = "SEGSOC"   // Seguridad Social, Cl@ve permanente
	IdPEIDAS      IdP = "EIDAS"    // a foreign eIDAS node
	IdPClaveMovil IdP = "CLVMOVIL" // Cl@ve Móvil
)

// idpRow ties one IdP to its names in each dialect.
type idpRow struct {
	idp         IdP
	clave1      string   // Cl@ve 1 excludedIdPList/forcedIdP name
	clave1Alias []string // legacy values seen in the wild
	disableAttr string   // Cl@ve 2.0 attribute that hides the IdP
}

var idpTable = []idpRow{
	{IdPAfirma, "aFirma", []string{"AFIRMA"}, "http://es.minhafp.clave/AFirmaIdP"},
	{IdPPin24H, "AEAT", []string{"PIN24H"}, "http://es.minhafp.clave/AEATIdP"},
	{IdPSegSoc, "SS", []string{"SEGSOC"}, "http://es.minhafp.clave/GISSIdP"},
	{IdPEIDAS, "Stork", []string{"STORK", "EIDAS"}, "http://es.minhafp.clave/EIDASIdP"},
	{IdPClaveMovil, "CLVMOVIL", nil, "http://es.minhafp.clave/CLVMOVILIdP"},
}

// AllIdPs lists every identity provider in a fixed order.
func AllIdPs() []IdP {
	out := make([]IdP, len(idpTable))
	for i, r := range idpTable {
		out[i] = r.idp
	}
	return out
}

// Known reports whether p is one of the identity providers Cl@ve names.
func (p IdP) Known() bool {
	_, ok := idpRowOf(p)
	return ok
}

func idpRowOf(p IdP) (idpRow, bool) {
	for _, r := range idpTable {
		if r.idp == p {
			return r, true
		}
	}
	return idpRow{}, false
}

// ParseIdP reads a Cl@ve 2.0 SelectedIdP value (case-insensitive).
func ParseIdP(name string) (IdP, error) {
	for _, r := range idpTable {
		if strings.EqualFold(string(r.idp), name) {
			return r.idp, nil
		}
	}
	return "", fmt.Errorf("unknown identity provider %q", name)
}

// IdPFromClave1 reads a Cl@ve 1 IdP name (aFirma, AEAT, SS, Stork) or one of
// the legacy values (AFIRMA, PIN24H, SEGSOC).
func IdPFromClave1(name string) (IdP, error) {
	for _, r := range idpTable {
		if strings.EqualFold(r.clave1, name) {
			return r.idp, nil
		}
		for _, a := range r.clave1Alias {
			if strings.EqualFold(a, name) {
				return r.idp, nil
			}
		}
	}
	return "", fmt.Errorf("unknown Cl@ve 1 identity provider %q", name)
}

// Clave1Name returns the Cl@ve 1 name of p (aFirma, AEAT, SS, Stork).
func (p IdP) Clave1Name() string {
	r, _ := idpRowOf(p)
	return r.clave1
}

// DisableAttribute returns the Cl@ve 2.0 attribute whose presence hides p.
func (p IdP) DisableAttribute() string {
	r, _ := idpRowOf(p)
	return r.disableAttr
}

// DisableFriendlyName is the FriendlyName of p's disable attribute, e.g. AFirmaIdP.
func (p IdP) DisableFriendlyName() string {
	return strings.TrimPrefix(p.DisableAttribute(), claveBase)
}

// IdPFromDisableAttribute reads a Cl@ve 2.0 IdP-disable attribute name.
func IdPFromDisableAttribute(uri string) (IdP, bool) {
	for _, r := range idpTable {
		if r.disableAttr == uri {
			return r.idp, true
		}
	}
	return "", false
}
