// Package demosp is the demo service provider served by `clavebridge serve`
// (like the Cl@ve kit's SP-DEMO): a page to pick login options, a plain
// SAML2 request through the bridge and the simulator, and a page showing
// the attributes that came back. It is a demonstration, not a library.
package demosp

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/eidasxml"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// Config is what the demo SP needs.
type Config struct {
	BaseURL    string
	Signer     samlxml.Signer
	BridgeCert *x509.Certificate
	Now        func() time.Time
	Rand       io.Reader
	Log        *zap.Logger
}

// DemoSP is the demo service provider.
type DemoSP struct {
	cfg         Config
	mu          sync.Mutex
	outstanding map[string]time.Time // request IDs awaiting an answer
}

// New returns the demo SP.
func New(cfg Config) (*DemoSP, error) {
	if cfg.Signer.Key == nil || cfg.BridgeCert == nil {
		return nil, errors.New("demo SP needs its key and the bridge certificate")
	}
	return &DemoSP{cfg: cfg, outstanding: map[string]time.Time{}}, nil
}

// EntityID is the demo SP's SAML entityID.
func (d *DemoSP) EntityID() string { return d.cfg.BaseURL + "/demo/saml2/metadata" }

func (d *DemoSP) acsURL() string { return d.cfg.BaseURL + "/demo/saml2/acs" }

// Mount registers the demo pages.
func (d *DemoSP) Mount(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/demo/") })
	e.GET("/demo/", d.home)
	e.POST("/demo/saml2/login", d.login)
	e.POST("/demo/saml2/acs", d.acs)
}

var pages = template.Must(template.New("home").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>clavebridge demo SP</title></head><body>
<h1>clavebridge demo service provider</h1>
<p>Logs in through the bridge's plain SAML2 endpoint, the upstream Cl@ve 2.0 connector and the simulated gateway.</p>
<form method="post" action="/demo/saml2/login">
<fieldset><legend>Plain SAML2 login</legend>
<p><label>Minimum level of assurance <select name="loa">
<option value="low">low</option><option value="substantial">substantial</option><option value="high">high</option></select></label></p>
<p><label>Binding <select name="binding"><option value="post">HTTP-POST</option><option value="redirect">HTTP-Redirect</option></select></label></p>
<p><label>NameID <select name="nameid"><option value="transient">transient</option><option value="persistent">persistent</option></select></label></p>
<p><label><input type="checkbox" name="force" value="true"> Force authentication</label></p>
<p><button type="submit">Log in with Cl@ve</button></p>
</fieldset></form></body></html>`))

var resultPage = template.Must(template.New("result").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>clavebridge demo SP: result</title></head><body>
<h1>{{if .OK}}Logged in{{else}}Login failed{{end}}</h1>
<p>Status: <code>{{.Status}}</code>{{if .Message}} ({{.Message}}){{end}}</p>
{{if .OK}}<p>NameID: <code>{{.NameID}}</code>, level of assurance: <code>{{.LoA}}</code></p>
<table><thead><tr><th>Attribute</th><th>Value</th></tr></thead><tbody>
{{range .Attributes}}<tr><td>{{.Name}}</td><td>{{range .Values}}<code>{{.}}</code> {{end}}</td></tr>{{end}}
</tbody></table>{{end}}
<p><a href="/demo/">Back</a></p></body></html>`))

func (d *DemoSP) home(c echo.Context) error {
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	return pages.Execute(c.Response(), nil)
}

// login builds the signed AuthnRequest the options ask for.
func (d *DemoSP) login(c echo.Context) error {
	loa, err := translate.ParseLoA(c.FormValue("loa"))
	if err != nil {
		return bridge.ErrorPage(c, d.cfg.Log, http.StatusBadRequest, "Unknown level of assurance.", err)
	}
	id, err := samlxml.NewID(d.cfg.Rand)
	if err != nil {
		return err
	}
	format := "urn:oasis:names:tc:SAML:2.0:nameid-format:" + map[bool]string{true: "persistent", false: "transient"}[c.FormValue("nameid") == "persistent"]
	ar := &eidasxml.AuthnRequest{
		ID: id, IssueInstant: d.cfg.Now(), Destination: d.cfg.BaseURL + "/saml2/sso", ACS: d.acsURL(),
		Issuer: d.EntityID(), ForceAuthn: c.FormValue("force") == "true", NameIDFormat: format,
		Comparison: "minimum", LoAs: []string{loa.EIDAS()},
	}
	d.remember(id)
	if c.FormValue("binding") == "redirect" {
		return d.redirect(c, ar)
	}
	el := ar.Element()
	if err := d.cfg.Signer.Sign(el); err != nil {
		return err
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return err
	}
	return bridge.WritePost(c, bridge.Outgoing{URL: ar.Destination, Fields: []samlxml.Field{
		{Name: "SAMLRequest", Value: base64.StdEncoding.EncodeToString(xml)}, {Name: "RelayState", Value: "demo"},
	}})
}

func (d *DemoSP) redirect(c echo.Context, ar *eidasxml.AuthnRequest) error {
	xml, err := samlxml.Serialize(ar.Element())
	if err != nil {
		return err
	}
	loc, err := samlxml.EncodeRedirect(ar.Destination, "SAMLRequest", xml, "demo", &d.cfg.Signer)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, loc)
}

func (d *DemoSP) remember(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	for k, t := range d.outstanding {
		if now.Sub(t) > 15*time.Minute {
			delete(d.outstanding, k)
		}
	}
	if len(d.outstanding) < 10000 {
		d.outstanding[id] = now
	}
}

func (d *DemoSP) forget(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.outstanding[id]
	delete(d.outstanding, id)
	return ok
}

// acs verifies the bridge's response the way any careful SP would and shows it.
func (d *DemoSP) acs(c echo.Context) error {
	view, err := d.readResponse(c.FormValue("SAMLResponse"))
	if err != nil {
		return bridge.ErrorPage(c, d.cfg.Log, http.StatusBadRequest, "The bridge's answer was refused by the demo SP.", err)
	}
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	return resultPage.Execute(c.Response(), view)
}

type resultView struct {
	OK                      bool
	Status, Message, NameID string
	LoA                     string
	Attributes              []eidasxml.Attribute
}

func (d *DemoSP) readResponse(b64 string) (*resultView, error) {
	raw, err := samlxml.DecodePostValue(b64, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	v := samlxml.Verifier{Certs: []*x509.Certificate{d.cfg.BridgeCert}}
	resp, err := v.Verify(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("response signature: %w", err)
	}
	el := resp.Element
	if !d.forget(el.SelectAttrValue("InResponseTo", "")) {
		return nil, errors.New("response to a request this SP did not send (or replayed)")
	}
	st, _ := samlxml.Child(el, samlxml.NSProtocol, "Status")
	code, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
	view := &resultView{Status: code.SelectAttrValue("Value", "")}
	view.Message, _ = samlxml.ChildText(st, samlxml.NSProtocol, "StatusMessage")
	if view.Status != eidasxml.StatusSuccess {
		if sub, _ := samlxml.Child(code, samlxml.NSProtocol, "StatusCode"); sub != nil {
			view.Status += " / " + sub.SelectAttrValue("Value", "")
		}
		return view, nil
	}
	return d.readAssertion(el, view)
}

func (d *DemoSP) readAssertion(resp *etree.Element, view *resultView) (*resultView, error) {
	as := samlxml.Children(resp, samlxml.NSAssertion, "Assertion")
	if len(as) != 1 {
		return nil, fmt.Errorf("want one assertion, got %d", len(as))
	}
	v := samlxml.Verifier{Certs: []*x509.Certificate{d.cfg.BridgeCert}}
	verified, err := v.Verify(as[0])
	if err != nil {
		return nil, fmt.Errorf("assertion signature: %w", err)
	}
	a, err := eidasxml.ParseAssertion(verified.Element)
	if err != nil {
		return nil, err
	}
	if a.Audience != d.EntityID() || a.Recipient != d.acsURL() {
		return nil, errors.New("assertion is not for this SP")
	}
	now := d.cfg.Now()
	if now.Before(a.NotBefore) || !now.Before(a.NotOnOrAfter) {
		return nil, errors.New("assertion is outside its validity window")
	}
	view.OK, view.NameID, view.LoA, view.Attributes = true, a.NameID, a.LoA, a.Attributes
	return view, nil
}
