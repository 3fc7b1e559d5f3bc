package clave2msg

import (
	"errors"
	"fmt"
	"strings"

	"github.com/clavebridge/clavebridge/translate"
)

// SplitProviderName splits a Cl@ve 2.0 ProviderName "<provider>;<application>".
func SplitProviderName(name string) (provider, application string, err error) {
	provider, application, ok := strings.Cut(name, ";")
	provider, application = strings.TrimSpace(provider), strings.TrimSpace(application)
	if !ok || provider == "" || application == "" {
		return "", "", errors.New(`ProviderName must be "<provider>;<application>"`)
	}
	return provider, application, nil
}

// MinimumLoA reads RequestedAuthnContext as the gateway and the eIDAS
// profile require it: Comparison="minimum" with exactly one notified level.
func (r *AuthnRequest) MinimumLoA() (translate.LoA, error) {
	if len(r.LoAs) == 0 {
		return translate.LoANone, errors.New("RequestedAuthnContext is missing")
	}
	if r.Comparison != "minimum" {
		return translate.LoANone, fmt.Errorf("RequestedAuthnContext Comparison %q is not minimum", r.Comparison)
	}
	if len(r.LoAs) != 1 {
		return translate.LoANone, fmt.Errorf("RequestedAuthnContext has %d levels, want exactly one", len(r.LoAs))
	}
	loa, err := translate.LoAFromEIDAS(r.LoAs[0])
	if err != nil {
		return translate.LoANone, fmt.Errorf("RequestedAuthnContext: %w", err)
	}
	return loa, nil
}

// Requested is the request's attribute list sorted by what it means.
type Requested struct {
	Attributes []RequestedAttr // eIDAS and Cl@ve attributes we know
	Disabled   []translate.IdP // IdPs hidden by the *IdP flags
	RelayState string          // value of the RelayState attribute
	HasRelay   bool            // the RelayState attribute was present
	Unknown    []string        // names we do not know (dropped)
}

// RequestedAttr is a known requested attribute.
type RequestedAttr struct {
	Attr     translate.Attr
	Required bool
}

// Sort classifies the requested attributes: known attributes, IdP-disable
// flags, the RelayState attribute (exactly one non-empty value) and unknown
// names.
func (r *AuthnRequest) Sort() (*Requested, error) {
	out := &Requested{}
	for _, a := range r.Attributes {
		if idp, ok := translate.IdPFromDisableAttribute(a.Name); ok {
			out.Disabled = append(out.Disabled, idp)
			continue
		}
		if at, ok := translate.AttrFromName(a.Name); ok {
			out.Attributes = append(out.Attributes, RequestedAttr{Attr: at, Required: a.Required})
			continue
		}
		if a.Name != translate.ClaveRelayStateAttr {
			out.Unknown = append(out.Unknown, a.Name)
			continue
		}
		if out.HasRelay || len(a.Values) != 1 || a.Values[0] == "" {
			return nil, errors.New("the RelayState attribute needs exactly one value")
		}
		out.HasRelay, out.RelayState = true, a.Values[0]
	}
	return out, nil
}
