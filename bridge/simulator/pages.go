package simulator

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/translate"
)

// pageCSP is the Content-Security-Policy of the gateway's own pages: nothing
// but the HTML itself, forms posting back here only.
const pageCSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageData is what every page template reads.
type pageData struct {
	Title     string
	App       string
	Error     string
	Action    string
	Login     string
	IdPs      []option
	Certs     []option
	Countries []string
	User      string
	Mobile    string
	Code      string
	Message   string // error page
	Reason    string // error page
}

// option is one choice on a page.
type option struct{ Value, Label string }

func parsePages() (*template.Template, error) {
	t, err := template.New("pages").Parse(pageTemplates)
	if err != nil {
		return nil, fmt.Errorf("simulator page templates: %w", err)
	}
	return t, nil
}

// securityHeaders sets the headers every answer of the gateway carries.
func securityHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// render writes template name with data.
func (s *Simulator) render(c echo.Context, status int, name string, data pageData) error {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render simulator page %s: %w", name, err)
	}
	securityHeaders(c.Response().Header(), pageCSP)
	return c.HTMLBlob(status, buf.Bytes())
}

// refuse answers a request the gateway cannot send back to the service
// provider: an HTML error page and a log line with the reason.
func (s *Simulator) refuse(c echo.Context, status int, message string, reason error) error {
	trace.Logger(c.Request().Context(), s.log).Warn("request refused", zap.String("path", c.Request().URL.Path),
		zap.Int("status", status), zap.Error(reason))
	data := pageData{Title: "Error", Message: message, Reason: reason.Error()}
	return s.render(c, status, "error", data)
}

// renderStep shows the page of the step l stands at.
// typed is the identifier to show again in the form.
func (s *Simulator) renderStep(c echo.Context, id string, l login, msg, typed string) error {
	data := pageData{App: l.req.App, Error: msg, Action: s.loginURL(), Login: id, User: typed}
	name := s.fillStep(&data, l)
	return s.render(c, http.StatusOK, name, data)
}

// fillStep completes data for l's step and returns the template name.
func (s *Simulator) fillStep(data *pageData, l login) string {
	switch l.step {
	case stepAfirma:
		data.Title, data.Certs = "Identification with an electronic certificate", s.certLabels(l.req.LoA)
		return "afirma"
	case stepSegSocPassword:
		data.Title = "Cl@ve permanente"
		return "segsoc"
	case stepSegSocSMS:
		data.Title, data.Code = "Cl@ve permanente: SMS code", l.sms
		if c, ok := s.findCitizen(l.citizen); ok {
			data.Mobile = translate.Mask(c.Credentials.Mobile)
		}
		return "sms"
	case stepPin24H:
		data.Title = "Cl@ve PIN"
		return "pin24h"
	case stepEIDAS:
		data.Title, data.Countries = "Identification of EU citizens (eIDAS)", s.countries()
		return "eidas"
	case stepClaveMovil:
		data.Title = "Cl@ve Móvil"
		return "clvmovil"
	case stepClaveMovilConfirm:
		data.Title, data.User = "Cl@ve Móvil: confirm", translate.Mask(l.citizen)
		return "confirm"
	}
	data.Title = "Choose an identification method"
	for _, p := range s.available(l.req.Disabled, l.req.LoA) {
		data.IdPs = append(data.IdPs, option{Value: string(p), Label: idpLabel(p)})
	}
	return "select"
}

// certLabels describes the certificates offered on the AFIRMA page.
func (s *Simulator) certLabels(want translate.LoA) []option {
	var out []option
	for i, o := range s.certOptions(want) {
		c := o.citizen
		label := fmt.Sprintf("%s: %s %s (%s)", kindLabel(o.cert.Kind), c.GivenName, c.familyName(), c.ID)
		if o.cert.Company != nil {
			label += fmt.Sprintf(", representing %s (%s)", o.cert.Company.Name, o.cert.Company.CIF)
		}
		out = append(out, option{Value: strconv.Itoa(i), Label: label})
	}
	return out
}

func kindLabel(k CertKind) string {
	for _, m := range methods() {
		if m.idp == translate.IdPAfirma && m.kind == k {
			return m.label
		}
	}
	return string(k)
}

// countries lists the foreign countries of the EIDAS citizens.
func (s *Simulator) countries() []string {
	var out []string
	for i := range s.citizens {
		c := &s.citizens[i]
		if c.allows(translate.IdPEIDAS) && !slices.Contains(out, c.EIDAS.Country) {
			out = append(out, c.EIDAS.Country)
		}
	}
	slices.Sort(out)
	return out
}
