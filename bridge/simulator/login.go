package simulator

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"

	"github.com/clavebridge/clavebridge/translate"
)

// step is where a login stands: which page the citizen sees next.
type step int

const (
	stepSelect step = iota
	stepAfirma
	stepSegSocPassword
	stepSegSocSMS
	stepPin24H
	stepEIDAS
	stepClaveMovil
	stepClaveMovilConfirm
)

// login is the state of one citizen's way through the pages.
type login struct {
	req     pending
	step    step
	idp     translate.IdP
	citizen string // chosen at a first step, confirmed at the second
	sms     string // the simulated SMS code (SEGSOC)
	browser string // the sim_browser token of the browser it started in (csrf.go)
}

// authn is a successful authentication.
type authn struct {
	citizen *Citizen
	idp     translate.IdP
	cert    *Certificate // AFIRMA only
	loa     translate.LoA
}

// outcome is the result of one submitted page: either the next page (with
// the catalog key of an error when the input was wrong) or a finished
// authentication.
type outcome struct {
	next  login
	error string
	done  *authn
}

// Errors shown when the citizen's input is refused: catalog keys, each
// naming the field to correct.
const (
	msgChooseIdP  = "sim.error.choose_idp"
	msgChooseCert = "sim.error.choose_cert"
	msgPassword   = "sim.error.password"
	msgPIN        = "sim.error.pin"
	msgForeign    = "sim.error.foreign"
	msgMobileUser = "sim.error.mobile"
	msgSMS        = "sim.error.sms"
	msgEIDASLevel = "sim.error.eidas_level"
	msgConfirm    = "sim.error.confirm"
)

// firstStep is the first page of each identity provider.
func firstStep(p translate.IdP) step {
	switch p {
	case translate.IdPAfirma:
		return stepAfirma
	case translate.IdPSegSoc:
		return stepSegSocPassword
	case translate.IdPPin24H:
		return stepPin24H
	case translate.IdPEIDAS:
		return stepEIDAS
	default:
		return stepClaveMovil
	}
}

// advance applies one submitted page to l.
func (s *Simulator) advance(l login, f url.Values) (outcome, error) {
	switch l.step {
	case stepSelect:
		return s.selectIdP(l, f), nil
	case stepAfirma:
		return s.chooseCertificate(l, f), nil
	case stepSegSocPassword:
		return s.checkPassword(l, f)
	case stepSegSocSMS:
		return s.checkSMS(l, f), nil
	case stepPin24H:
		return s.checkPIN(l, f), nil
	case stepEIDAS:
		return s.checkForeign(l, f), nil
	case stepClaveMovil:
		return s.checkMobileUser(l, f), nil
	case stepClaveMovilConfirm:
		return s.confirmMobile(l, f), nil
	}
	return outcome{}, fmt.Errorf("login in unknown step %d", l.step)
}

func (s *Simulator) selectIdP(l login, f url.Values) outcome {
	idp, err := translate.ParseIdP(f.Get("idp"))
	if err != nil || !contains(s.available(l.req.Disabled, l.req.LoA), idp) {
		return outcome{next: l, error: msgChooseIdP}
	}
	l.idp, l.step = idp, firstStep(idp)
	return outcome{next: l}
}

// certOption is one certificate offered on the AFIRMA page.
type certOption struct {
	citizen *Citizen
	cert    *Certificate
}

// certOptions lists every citizen certificate that reaches level want.
func (s *Simulator) certOptions(want translate.LoA) []certOption {
	var out []certOption
	for i := range s.citizens {
		c := &s.citizens[i]
		if !c.allows(translate.IdPAfirma) {
			continue
		}
		for j := range c.Certificates {
			if loaOf(c, translate.IdPAfirma, c.Certificates[j].Kind) >= want {
				out = append(out, certOption{citizen: c, cert: &c.Certificates[j]})
			}
		}
	}
	return out
}

func (s *Simulator) chooseCertificate(l login, f url.Values) outcome {
	opts := s.certOptions(l.req.LoA)
	i, err := strconv.Atoi(f.Get("certificate"))
	if err != nil || i < 0 || i >= len(opts) {
		return outcome{next: l, error: msgChooseCert}
	}
	o := opts[i]
	return s.finish(l, o.citizen, o.cert)
}

func (s *Simulator) checkPassword(l login, f url.Values) (outcome, error) {
	c, ok := s.findCitizen(f.Get("user"))
	if !ok || !c.allows(translate.IdPSegSoc) || !same(c.Credentials.Password, f.Get("password")) {
		return outcome{next: l, error: msgPassword}, nil
	}
	code, err := s.smsCode()
	if err != nil {
		return outcome{}, err
	}
	l.citizen, l.sms, l.step = c.ID, code, stepSegSocSMS
	return outcome{next: l}, nil
}

// smsCode draws a six-digit code from the injected randomness.
func (s *Simulator) smsCode() (string, error) {
	n, err := rand.Int(s.rand, big.NewInt(1000000))
	if err != nil {
		return "", fmt.Errorf("draw SMS code: %w", err)
	}
	return fmt.Sprintf("%06d", n), nil
}

func (s *Simulator) checkSMS(l login, f url.Values) outcome {
	c, ok := s.findCitizen(l.citizen)
	if !ok || !same(l.sms, f.Get("code")) {
		return outcome{next: l, error: msgSMS}
	}
	return s.finish(l, c, nil)
}

func (s *Simulator) checkPIN(l login, f url.Values) outcome {
	c, ok := s.findCitizen(f.Get("user"))
	if !ok || !c.allows(translate.IdPPin24H) || !same(c.Credentials.PIN, f.Get("pin")) {
		return outcome{next: l, error: msgPIN}
	}
	return s.finish(l, c, nil)
}

func (s *Simulator) checkForeign(l login, f url.Values) outcome {
	c, ok := s.findCitizen(f.Get("identifier"))
	if !ok || !c.allows(translate.IdPEIDAS) || c.EIDAS.Country != strings.ToUpper(strings.TrimSpace(f.Get("country"))) {
		return outcome{next: l, error: msgForeign}
	}
	if loaOf(c, translate.IdPEIDAS, "") < l.req.LoA {
		return outcome{next: l, error: msgEIDASLevel}
	}
	return s.finish(l, c, nil)
}

func (s *Simulator) checkMobileUser(l login, f url.Values) outcome {
	c, ok := s.findCitizen(f.Get("user"))
	if !ok || !c.allows(translate.IdPClaveMovil) {
		return outcome{next: l, error: msgMobileUser}
	}
	l.citizen, l.step = c.ID, stepClaveMovilConfirm
	return outcome{next: l}
}

func (s *Simulator) confirmMobile(l login, f url.Values) outcome {
	c, ok := s.findCitizen(l.citizen)
	if !ok || f.Get("confirm") == "" {
		return outcome{next: l, error: msgConfirm}
	}
	return s.finish(l, c, nil)
}

// finish ends a login with the level c reaches at l.idp.
func (s *Simulator) finish(l login, c *Citizen, cert *Certificate) outcome {
	var kind CertKind
	if cert != nil {
		kind = cert.Kind
	}
	a := &authn{citizen: c, idp: l.idp, cert: cert, loa: loaOf(c, l.idp, kind)}
	return outcome{next: l, done: a}
}

func same(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

func contains(ps []translate.IdP, p translate.IdP) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
