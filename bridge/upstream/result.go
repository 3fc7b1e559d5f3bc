package upstream

import (
	"fmt"
	"strings"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/translate"
)

// failure maps an error status from the gateway.
func failure(s clave2msg.Status) bridge.Result {
	return bridge.Result{Status: bridge.Status{Code: clave2msg.CanonicalStatus(s), Message: s.Message}}
}

// result reads the canonical result out of a checked assertion.
func result(p *flow.Pending, a *clave2msg.Assertion) (bridge.Result, error) {
	loa, err := translate.LoAFromEIDAS(a.LoA)
	if err != nil {
		return bridge.Result{}, fmt.Errorf("assertion: %w", err)
	}
	res := bridge.Result{Status: bridge.Status{Code: bridge.StatusSuccess}, LoA: loa, AuthnInstant: a.AuthnInstant}
	relayEchoed := false
	for _, at := range a.Attributes {
		if at.Name == translate.ClaveRelayStateAttr {
			if len(at.Values) != 1 || at.Values[0] != p.RelayState {
				return bridge.Result{}, fmt.Errorf("RelayState attribute does not echo the request")
			}
			relayEchoed = true
			continue
		}
		name, ok := translate.AttrFromName(at.Name)
		if !ok || len(at.Values) == 0 {
			continue // unknown or empty attributes are not ours to pass on
		}
		res.Attributes = append(res.Attributes, bridge.Attribute{Name: name, Values: at.Values})
	}
	if !relayEchoed {
		return bridge.Result{}, fmt.Errorf("response does not echo the RelayState attribute")
	}
	return finishResult(res)
}

// finishResult derives the subject, the IdP and the legal-person flag.
func finishResult(res bridge.Result) (bridge.Result, error) {
	pid := res.Value(translate.AttrPersonIdentifier)
	if pid == "" {
		return bridge.Result{}, fmt.Errorf("assertion has no PersonIdentifier")
	}
	id, err := translate.ParsePersonID(pid)
	if err != nil {
		return bridge.Result{}, fmt.Errorf("PersonIdentifier: %w", err)
	}
	res.Subject = id.String()
	setValue(&res, translate.AttrPersonIdentifier, res.Subject)
	if name := strings.TrimSpace(res.Value(translate.AttrSelectedIdP)); name != "" {
		if res.IdP, err = translate.ParseIdP(name); err != nil {
			return bridge.Result{}, fmt.Errorf("SelectedIdP: %w", err)
		}
	}
	res.LegalPerson = res.Value(translate.AttrLegalPersonIdentifier) != ""
	return res, nil
}

func setValue(res *bridge.Result, a translate.Attr, v string) {
	for i := range res.Attributes {
		if res.Attributes[i].Name == a {
			res.Attributes[i].Values = []string{v}
		}
	}
}
