package demosp

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/translate"
)

// login builds the signed AuthnRequest the options ask for.
func (d *DemoSP) login(c echo.Context) error {
	loa, err := translate.ParseLoA(c.FormValue("loa"))
	if err != nil {
		return d.refuseWith(c, http.StatusBadRequest, bridge.ReasonBadRequest, fmt.Errorf("demo login: %w", err))
	}
	id, err := samlxml.NewID(d.cfg.Rand)
	if err != nil {
		return err
	}
	format := "urn:oasis:names:tc:SAML:2.0:nameid-format:" + map[bool]string{true: "persistent", false: "transient"}[c.FormValue("nameid") == "persistent"]
	ar := &clave2msg.AuthnRequest{
		ID: id, IssueInstant: d.cfg.Now(), Destination: d.cfg.BaseURL + "/saml2/sso", ACS: d.acsURL(),
		Issuer: d.EntityID(), ForceAuthn: c.FormValue("force") == "true", NameIDFormat: format,
		Comparison: "minimum", LoAs: []string{loa.EIDAS()},
	}
	d.remember(id, "demo")
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
	return web.WritePost(c, bridge.Outgoing{URL: ar.Destination, Fields: []samlxml.Field{
		{Name: "SAMLRequest", Value: base64.StdEncoding.EncodeToString(xml)}, {Name: "RelayState", Value: "demo"},
	}})
}

func (d *DemoSP) redirect(c echo.Context, ar *clave2msg.AuthnRequest) error {
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

// acs verifies the bridge's response the way any careful SP would and shows it.
func (d *DemoSP) acs(c echo.Context) error {
	view, err := d.readResponse(c.FormValue("SAMLResponse"))
	if err != nil {
		return d.refuseWith(c, http.StatusBadRequest, bridge.ReasonGatewayRefused, fmt.Errorf("the bridge's answer was refused by the demo SP: %w", err))
	}
	if view.OK {
		if err := setSAML2Login(c, view.login); err != nil {
			return err
		}
	}
	view.Logout = "/demo/saml2/logout"
	return d.showResult(c, view)
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
	if _, ok := d.forget(el.SelectAttrValue("InResponseTo", ""), ""); !ok {
		return nil, errors.New("response to a request this SP did not send (or replayed)")
	}
	st, _ := samlxml.Child(el, samlxml.NSProtocol, "Status")
	code, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
	view := &resultView{Status: code.SelectAttrValue("Value", "")}
	message, _ := samlxml.ChildText(st, samlxml.NSProtocol, "StatusMessage")
	view.Message = sameStatus(message, view.Status)
	if view.Status != clave2msg.StatusSuccess {
		if sub, _ := samlxml.Child(code, samlxml.NSProtocol, "StatusCode"); sub != nil {
			view.Message = sameStatus(view.Message, sub.SelectAttrValue("Value", ""))
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
	a, err := clave2msg.ParseAssertion(verified.Element)
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
	view.OK, view.NameID, view.LoA, view.Attributes = true, a.NameID, a.LoA, attributesOf(a.Attributes)
	view.login = saml2Login{NameID: a.NameID, Format: a.NameIDFormat, SessionIndex: a.SessionIndex}
	return view, nil
}
