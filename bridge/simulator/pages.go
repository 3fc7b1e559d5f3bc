package simulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/translate"
)

// pageCSP is the Content-Security-Policy of the gateway's own pages: the
// shared page policy (the stylesheet, forms posting back here only).
const pageCSP = web.PageCSP

// pageData is the Data of every step page.
type pageData struct {
	App       string
	Error     string // the localized error message (role=alert)
	Action    string
	Login     string
	IdPs      []option
	Certs     []option
	Countries []country
	User      string
	Mobile    string
	Code      string
}

// option is one choice on a page: an IdP tile (Label and Desc are catalog
// keys) or a certificate (Label is its text, Kind its CertKind).
type option struct{ Value, Label, Desc, Kind string }

// translator is a page's language: web.Page(c).L.T.
type translator func(key string, args ...string) string

// securityHeaders sets the headers every answer of the gateway carries
// (the page functions of bridge/web set the Content-Security-Policy).
func securityHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// render answers with page in the shared layout and the gateway's look.
func (s *Simulator) render(c echo.Context, status int, page *web.PageTemplate, titleKey string, data pageData) error {
	securityHeaders(c.Response().Header(), pageCSP)
	return web.RenderPageCSP(c, status, page, web.PageData{TitleKey: titleKey, BodyClass: "cb-gateway", Data: data}, pageCSP)
}

// refuse answers a request the gateway cannot send back to the service
// provider: the shared error page of reason (its words from the
// catalogs) and a log line with the detail, which stays off the page.
func (s *Simulator) refuse(c echo.Context, status int, reason bridge.Reason, detail error) error {
	securityHeaders(c.Response().Header(), pageCSP)
	return web.ShowProblem(c, s.log, web.Problem{Status: status, Reason: reason, Err: detail, BodyClass: "cb-gateway"})
}

// renderStep shows the page of the step l stands at; errKey is the
// catalog key of the error to show ("" for none), typed the identifier to
// show again in the form.
func (s *Simulator) renderStep(c echo.Context, id string, l login, errKey, typed string) error {
	tr := translator(web.Page(c).L.T)
	data := pageData{App: l.req.App, Action: s.loginURL(), Login: id, User: typed}
	if errKey != "" {
		data.Error = tr(errKey)
	}
	page, title := s.fillStep(tr, web.Page(c).Lang(), &data, l)
	securityHeaders(c.Response().Header(), pageCSP)
	// The switch posts the login id back: the same step, in the language
	// chosen (handleLogin).
	return web.RenderPageCSP(c, http.StatusOK, page, web.PageData{TitleKey: title, BodyClass: "cb-gateway", Data: data,
		Resubmit: &web.Resubmit{Action: loginPath, Fields: [][2]string{{"login", id}}}}, pageCSP)
}

// fillStep completes data for l's step and returns its page and title key.
func (s *Simulator) fillStep(tr translator, lang string, data *pageData, l login) (*web.PageTemplate, string) {
	switch l.step {
	case stepAfirma:
		data.Certs = s.certLabels(tr, l.req.LoA)
		return afirmaPage, "sim.afirma.title"
	case stepSegSocPassword:
		return segsocPage, "sim.segsoc.title"
	case stepSegSocSMS:
		data.Code = l.sms
		if c, ok := s.findCitizen(l.citizen); ok {
			data.Mobile = translate.Mask(c.Credentials.Mobile)
		}
		return smsPage, "sim.sms.title"
	case stepPin24H:
		return pinPage, "sim.pin.title"
	case stepEIDAS:
		data.Countries = s.countries(lang)
		return eidasPage, "sim.eidas.title"
	case stepClaveMovil:
		return mobilePage, "sim.clvmovil.title"
	case stepClaveMovilConfirm:
		data.User = translate.Mask(l.citizen)
		return confirmPage, "sim.confirm.title"
	}
	for _, p := range s.available(l.req.Disabled, l.req.LoA) {
		key := idpKey(p)
		data.IdPs = append(data.IdPs, option{Value: string(p), Label: key + ".name", Desc: key + ".desc"})
	}
	return selectPage, "sim.select.title"
}

// certLabels describes the certificates offered on the AFIRMA page.
func (s *Simulator) certLabels(tr translator, want translate.LoA) []option {
	var out []option
	for i, o := range s.certOptions(want) {
		c := o.citizen
		kind := tr("sim.cert.kind." + string(o.cert.Kind))
		label := tr("sim.cert.option", "kind", kind, "name", c.GivenName+" "+c.familyName(), "id", c.ID)
		if co := o.cert.Company; co != nil {
			label = tr("sim.cert.option_legal", "kind", kind, "name", c.GivenName+" "+c.familyName(), "id", c.ID,
				"company", co.Name, "cif", co.CIF)
		}
		out = append(out, option{Value: strconv.Itoa(i), Label: label, Kind: string(o.cert.Kind)})
	}
	return out
}

// kindLabel is the certificate kind as PartialAfirma's tipoCertificado
// names it (protocol data, not page text).
func kindLabel(k CertKind) string {
	for _, m := range methods() {
		if m.idp == translate.IdPAfirma && m.kind == k {
			return m.label
		}
	}
	return string(k)
}

// countries lists the foreign countries of the EIDAS citizens.
// country is one choice of the eIDAS page: its ISO 3166 code (the value
// posted) and its name in the page's language.
type country struct{ Code, Name string }

// countries lists the countries of the test citizens who may log in with
// eIDAS, named in lang (golang.org/x/text's CLDR names; the code itself
// where it has none), sorted by name.
func (s *Simulator) countries(lang string) []country {
	names := display.Regions(language.Make(lang))
	if names == nil { // no CLDR names for lang: Spanish, the pages' default
		names = display.Regions(language.Spanish)
	}
	var out []country
	for i := range s.citizens {
		c := &s.citizens[i]
		if !c.allows(translate.IdPEIDAS) {
			continue
		}
		code := c.EIDAS.Country
		if slices.ContainsFunc(out, func(o country) bool { return o.Code == code }) {
			continue
		}
		name := code
		if r, err := language.ParseRegion(code); err == nil {
			if n := names.Name(r); n != "" {
				name = n
			}
		}
		out = append(out, country{Code: code, Name: name})
	}
	slices.SortFunc(out, func(a, b country) int { return strings.Compare(a.Name, b.Name) })
	return out
}
