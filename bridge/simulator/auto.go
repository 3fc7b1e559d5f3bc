package simulator

import (
	"errors"
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/translate"
)

// resolveAutoLogin turns the configured auto-login into the authentication
// it stands for, checking it against the citizens.
func resolveAutoLogin(cfg *AutoLogin, citizens []Citizen) (*authn, error) {
	if cfg == nil {
		return nil, nil
	}
	idp, err := translate.ParseIdP(string(cfg.IdP))
	if err != nil {
		return nil, err
	}
	var c *Citizen
	for i := range citizens {
		if citizens[i].ID == normalizeID(cfg.Citizen) {
			c = &citizens[i]
		}
	}
	if c == nil {
		return nil, fmt.Errorf("citizen %s is not in the citizens list", translate.Mask(cfg.Citizen))
	}
	if !c.allows(idp) {
		return nil, fmt.Errorf("citizen %s cannot log in at %s", translate.Mask(c.ID), idp)
	}
	a := &authn{citizen: c, idp: idp}
	switch {
	case idp == translate.IdPAfirma:
		if a.cert, err = pickCertificate(c, CertKind(cfg.Method)); err != nil {
			return nil, err
		}
		a.loa = loaOf(c, idp, a.cert.Kind)
	case cfg.Method != "":
		return nil, fmt.Errorf("method %q applies to AFIRMA only", cfg.Method)
	default:
		a.loa = loaOf(c, idp, "")
	}
	return a, nil
}

// pickCertificate returns c's certificate of this kind (the first one when
// kind is empty).
func pickCertificate(c *Citizen, kind CertKind) (*Certificate, error) {
	for i := range c.Certificates {
		if kind == "" || c.Certificates[i].Kind == kind {
			return &c.Certificates[i], nil
		}
	}
	if _, ok := certLoA(kind); !ok {
		return nil, fmt.Errorf("method %q is not dnie, software or legal", kind)
	}
	return nil, errors.New("the citizen has no certificate of method " + string(kind))
}

// autoAuthenticate answers p with the configured auto-login, or with
// RequestDenied when the request disables its IdP or wants more than it reaches.
func (s *Simulator) autoAuthenticate(c echo.Context, p *pending) error {
	a := s.auto
	if p.Disabled[a.idp] {
		return s.answerFailure(c, p, denied("The request disables the identity provider of the automatic login"))
	}
	if a.loa < p.LoA {
		return s.answerFailure(c, p, denied("The automatic login cannot reach the requested level of assurance"))
	}
	return s.answerSuccess(c, p, a)
}
