package stork

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/clavebridge/clavebridge/translate"
)

// maxRelayState is the Cl@ve 1 gateway's (PEPS) RelayState limit.
const maxRelayState = 80

// Params are the Cl@ve 1 POST parameters sent next to SAMLRequest.
type Params struct {
	Excluded         []translate.IdP // excludedIdPList
	Forced           translate.IdP   // forcedIdP; "" for none
	Allowed          []translate.IdP // idpList; nil when not sent
	AllowLegalPerson bool
	RelayState       string
}

// ParseParams reads excludedIdPList ("aFirma;SS;", "none", or the legacy
// AFIRMA/PIN24H/SEGSOC names), forcedIdP, idpList, allowLegalPerson and
// RelayState. Keys are matched with surrounding spaces trimmed (an old
// RedIRIS release sent "idpList " and "excludedIdPList "); each may appear
// once.
func ParseParams(form url.Values) (Params, error) {
	values := map[string]string{}
	for key, vs := range form {
		k := strings.TrimSpace(key)
		if _, dup := values[k]; dup || len(vs) != 1 {
			return Params{}, fmt.Errorf("parameter %s given more than once", k)
		}
		values[k] = vs[0]
	}
	var p Params
	var err error
	if p.Excluded, err = idpList(values["excludedIdPList"]); err != nil {
		return p, fmt.Errorf("excludedIdPList: %w", err)
	}
	if forced, err := idpList(values["forcedIdP"]); err != nil || len(forced) > 1 {
		return p, fmt.Errorf("forcedIdP %q: want one identity provider or none", values["forcedIdP"])
	} else if len(forced) == 1 {
		p.Forced = forced[0]
	}
	if raw, sent := values["idpList"]; sent {
		if p.Allowed, err = idpList(raw); err != nil {
			return p, fmt.Errorf("idpList: %w", err)
		}
		if p.Allowed == nil {
			p.Allowed = []translate.IdP{}
		}
	}
	p.AllowLegalPerson = strings.EqualFold(strings.TrimSpace(values["allowLegalPerson"]), "true")
	p.RelayState = values["RelayState"]
	if len(p.RelayState) > maxRelayState {
		return p, fmt.Errorf("RelayState is %d characters, more than %d", len(p.RelayState), maxRelayState)
	}
	return p, nil
}

// idpList reads a ';'-separated list of Cl@ve 1 IdP names; "none" and the
// empty string are the empty list.
func idpList(raw string) ([]translate.IdP, error) {
	var out []translate.IdP
	for _, tok := range strings.Split(raw, ";") {
		tok = strings.TrimSpace(tok)
		if tok == "" || strings.EqualFold(tok, "none") {
			continue
		}
		idp, err := translate.IdPFromClave1(tok)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, idp) {
			out = append(out, idp)
		}
	}
	return out, nil
}

// Disabled is the set of IdPs to hide upstream: with a forced IdP every
// other one (forcedIdP wins over the exclusions); otherwise the excluded
// ones and, when idpList was sent, those not in it. Cl@ve Móvil did not
// exist in Cl@ve 1: it stays available unless excluded this way.
func (p Params) Disabled() []translate.IdP {
	var out []translate.IdP
	for _, idp := range translate.AllIdPs() {
		hide := slices.Contains(p.Excluded, idp) || (p.Allowed != nil && !slices.Contains(p.Allowed, idp))
		if p.Forced != "" {
			hide = idp != p.Forced
		}
		if hide {
			out = append(out, idp)
		}
	}
	return out
}
