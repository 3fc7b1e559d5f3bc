package saml2

import (
	"errors"
	"fmt"
	"slices"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/translate"
)

// Authentication context classes other than the eIDAS levels that plain
// SAML2 SPs send.
const (
	// classUnspecified: the SP accepts any authentication. As a requested
	// class it counts below every eIDAS level.
	classUnspecified = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
	// classPasswordProtectedTransport is the default of several SAML
	// stacks. Every Cl@ve method is at least as strong (a password or
	// one-time PIN over TLS, or a certificate), so it is met by any level
	// as a minimum; the bridge never states it (a certificate login is not
	// a password login), so exact, better and maximum cannot be met.
	classPasswordProtectedTransport = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
)

// The RequestedAuthnContext Comparison values (SAML core 3.3.2.2.1;
// "exact" when absent).
const (
	comparisonExact   = "exact"
	comparisonMinimum = "minimum"
	comparisonBetter  = "better"
	comparisonMaximum = "maximum"
)

// authnContext is what the endpoint keeps of a RequestedAuthnContext to
// state, in the answer, a class the SP accepts (requestState).
type authnContext struct {
	Comparison string `json:"comparison"`
	// Levels are the eIDAS levels listed, as "low", "substantial", "high".
	Levels []string `json:"levels,omitempty"`
	// Unspecified: the SP listed the unspecified class.
	Unspecified bool `json:"unspecified,omitempty"`
}

// errNoAuthnContext: no requested authentication context can be met.
var errNoAuthnContext = errors.New("no requested authentication context can be met")

// readAuthnContext reads RequestedAuthnContext: the minimum level to ask
// the gateway for, and what the answer must state (nil: any level, stated
// as the eIDAS URI reached). Classes the bridge does not know are ignored
// where another listed one suffices (minimum, exact, maximum: "one of
// them"); with none left, or for better (stronger than each of them, which
// an unknown class cannot be compared with), the request cannot be met.
func readAuthnContext(ar *clave2msg.AuthnRequest) (translate.LoA, *authnContext, error) {
	if len(ar.LoAs) == 0 {
		return translate.LoANone, nil, nil
	}
	ac := &authnContext{Comparison: ar.Comparison}
	var levels []translate.LoA
	known, ppt := 0, false
	for _, ref := range ar.LoAs {
		switch ref {
		case classUnspecified:
			ac.Unspecified = true
			known++
			continue
		case classPasswordProtectedTransport:
			ppt = true
			continue
		}
		l, err := translate.LoAFromEIDAS(ref)
		if err != nil {
			if ac.Comparison == comparisonBetter {
				return translate.LoANone, nil, fmt.Errorf("%w: comparison better with class %q, which the bridge cannot rank", errNoAuthnContext, ref)
			}
			continue
		}
		levels = append(levels, l)
		known++
	}
	slices.Sort(levels)
	levels = slices.Compact(levels)
	for _, l := range levels {
		ac.Levels = append(ac.Levels, l.String())
	}
	switch ac.Comparison {
	case comparisonMinimum:
		if known == 0 && !ppt {
			return translate.LoANone, nil, fmt.Errorf("%w: no listed class is an eIDAS level of assurance", errNoAuthnContext)
		}
		if ac.Unspecified || ppt || len(levels) == 0 {
			return translate.LoANone, nil, nil // one of them is met by any level
		}
		return levels[0], nil, nil // at least as strong as one of them: the lowest
	case comparisonExact, comparisonMaximum:
		if known == 0 {
			return translate.LoANone, nil, fmt.Errorf("%w: comparison %s names no class the bridge can state", errNoAuthnContext, ac.Comparison)
		}
		if ac.Comparison == comparisonMaximum || ac.Unspecified {
			return translate.LoANone, ac, nil
		}
		return levels[0], ac, nil
	case comparisonBetter:
		if ppt {
			return translate.LoANone, nil, fmt.Errorf("%w: comparison better with class %q, which the bridge cannot rank", errNoAuthnContext, classPasswordProtectedTransport)
		}
		// Stronger than each listed class: above the highest.
		top := translate.LoANone
		if len(levels) > 0 {
			top = levels[len(levels)-1]
		}
		if top >= translate.LoAHigh {
			return translate.LoANone, nil, fmt.Errorf("%w: nothing is better than %s", errNoAuthnContext, top)
		}
		return top + 1, nil, nil
	}
	return translate.LoANone, nil, fmt.Errorf("%w: comparison %q is not a SAML comparison", errNoAuthnContext, ar.Comparison)
}

// statedClass is the AuthnContextClassRef the assertion states for a
// login reached at level reached: the eIDAS URI of that level, unless the
// SP asked for exact or maximum classes. Exact: the strongest listed level
// the login meets (eIDAS levels are hierarchical: a login at high meets
// substantial), else the unspecified class when listed. Maximum: the level
// reached, capped at the strongest listed level. An error means none can
// be stated.
func statedClass(ac *authnContext, reached translate.LoA) (string, error) {
	if ac == nil {
		return reached.EIDAS(), nil
	}
	if ac.Comparison == comparisonMaximum && len(ac.Levels) > 0 {
		top, err := translate.ParseLoA(ac.Levels[len(ac.Levels)-1])
		if err != nil {
			return "", err
		}
		return min(reached, top).EIDAS(), nil
	}
	for i := len(ac.Levels) - 1; i >= 0; i-- {
		l, err := translate.ParseLoA(ac.Levels[i])
		if err != nil {
			return "", err
		}
		if l <= reached {
			return l.EIDAS(), nil
		}
	}
	if ac.Unspecified {
		return classUnspecified, nil
	}
	return "", fmt.Errorf("%w: the level reached, %s, is not one the SP listed (%s)", errNoAuthnContext, reached, ac.Comparison)
}
