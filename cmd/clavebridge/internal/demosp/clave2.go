package demosp

import (
	"crypto"
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

func (d *DemoSP) clave2ACSURL() string { return d.cfg.BaseURL + "/demo/clave2/acs" }

// clave2Login builds the request exactly as the Cl@ve 2.0 Java kit's SP2
// does: no Issuer, ProviderName "<provider>;<application>", NameIDPolicy,
// one minimum LoA, the RelayState attribute with the same random value as
// the RelayState field, the IdP-disable flags, signed rsa-sha512 with the
// certificate in KeyInfo.
func (d *DemoSP) clave2Login(c echo.Context) error {
	loa, err := translate.ParseLoA(c.FormValue("loa"))
	if err != nil {
		return d.refuseWith(c, http.StatusBadRequest, bridge.ReasonBadRequest, fmt.Errorf("demo Cl@ve 2.0 login: %w", err))
	}
	id, err := samlxml.NewID(d.cfg.Rand)
	if err != nil {
		return err
	}
	relay, err := samlxml.NewID(d.cfg.Rand)
	if err != nil {
		return err
	}
	relay = relay[1:9] // the kit's 8-character RelayState
	form, _ := c.FormParams()
	attrs, err := kitAttributes(form["disable"], c.FormValue("afirma") == "true", relay)
	if err != nil {
		return d.refuseWith(c, http.StatusBadRequest, bridge.ReasonBadRequest, fmt.Errorf("demo Cl@ve 2.0 login: %w", err))
	}
	ar := &clave2msg.AuthnRequest{
		ID: id, IssueInstant: d.cfg.Now(), Destination: d.cfg.BaseURL + "/Proxy2/ServiceProvider",
		ACS: d.clave2ACSURL(), ProviderName: d.cfg.ProviderName + ";" + d.cfg.Application,
		ForceAuthn: c.FormValue("force") == "true", Consent: clave2msg.ConsentUnspec,
		HasNameIDPolicy: true, NameIDFormat: clave2msg.NameIDUnspec,
		Comparison: "minimum", LoAs: []string{loa.EIDAS()}, Attributes: attrs,
	}
	el := ar.Element()
	signer := d.cfg.Signer
	signer.Method, signer.IncludeCert = samlxml.RSASHA512, true
	if err := signer.Sign(el); err != nil {
		return err
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return err
	}
	d.remember(id, relay)
	return web.WritePost(c, bridge.Outgoing{URL: ar.Destination, Fields: []samlxml.Field{
		{Name: "SAMLRequest", Value: base64.StdEncoding.EncodeToString(xml)}, {Name: "RelayState", Value: relay},
	}})
}

// kitAttributes are the kit's default requested attributes plus the
// options chosen on the page.
func kitAttributes(disabled []string, afirma bool, relay string) ([]clave2msg.RequestedAttribute, error) {
	var out []clave2msg.RequestedAttribute
	for _, a := range []translate.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName, translate.AttrFamilyName} {
		w, _ := translate.Wire(a)
		out = append(out, clave2msg.RequestedAttribute{Name: w.Name, FriendlyName: w.FriendlyName, Required: true})
	}
	if afirma {
		w, _ := translate.Wire(translate.AttrPartialAfirma)
		out = append(out, clave2msg.RequestedAttribute{Name: w.Name, FriendlyName: w.FriendlyName})
	}
	for _, name := range disabled {
		idp, err := translate.ParseIdP(name)
		if err != nil {
			return nil, err
		}
		out = append(out, clave2msg.RequestedAttribute{Name: idp.DisableAttribute(), FriendlyName: idp.DisableFriendlyName()})
	}
	return append(out, clave2msg.RequestedAttribute{
		Name: translate.ClaveRelayStateAttr, FriendlyName: "RelayState", Values: []string{relay},
	}), nil
}

// clave2ACS validates the answer the way the kit does: Response signature
// against the gateway's (here the bridge's) certificate, decryption with
// the SP's key, Audience = this ACS, InResponseTo = a request we sent, and
// the RelayState equal in the form field, the attribute and our record.
func (d *DemoSP) clave2ACS(c echo.Context) error {
	view, err := d.readClave2Response(c.FormValue("SAMLResponse"), c.FormValue("RelayState"))
	if err != nil {
		return d.refuseWith(c, http.StatusBadRequest, bridge.ReasonGatewayRefused, fmt.Errorf("the bridge's answer was refused by the demo SP: %w", err))
	}
	if view.OK {
		setCookie(c, cookieClave2, "1")
	}
	view.Logout = "/demo/clave2/logout"
	return d.showResult(c, view)
}

func (d *DemoSP) readClave2Response(b64, relayField string) (*resultView, error) {
	raw, err := samlxml.DecodePostValue(b64, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{d.cfg.BridgeCert}}.Verify(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("response signature: %w", err)
	}
	resp, enc, err := clave2msg.ParseResponse(v.Element)
	if err != nil {
		return nil, err
	}
	sent, ok := d.forget(resp.InResponseTo, "")
	if !ok {
		return nil, errors.New("response to a request this SP did not send (or replayed)")
	}
	if relayField != sent.relayState {
		return nil, errors.New("RelayState field does not match the request's")
	}
	view := &resultView{Status: resp.Status.Code, Message: sameStatus(resp.Status.Message, resp.Status.Code, resp.Status.SubCode)}
	if resp.Status.Code != clave2msg.StatusSuccess {
		view.Status += " / " + resp.Status.SubCode
		return view, nil
	}
	return d.readClave2Assertion(enc, sent, view)
}

func (d *DemoSP) readClave2Assertion(enc *etree.Element, sent outstanding, view *resultView) (*resultView, error) {
	key, ok := d.cfg.Signer.Key.(crypto.Decrypter)
	if enc == nil || !ok {
		return nil, errors.New("success without an encrypted assertion, or no key to open it")
	}
	plain, err := samlxml.Decrypt(enc, key, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	a, err := clave2msg.ParseAssertion(plain)
	if err != nil {
		return nil, err
	}
	now := d.cfg.Now()
	switch {
	case a.Audience != d.clave2ACSURL() || a.Recipient != d.clave2ACSURL():
		return nil, errors.New("assertion is not for this ACS")
	case now.Before(a.NotBefore) || !now.Before(a.NotOnOrAfter):
		return nil, errors.New("assertion is outside its validity window")
	}
	echoed := false
	for _, at := range a.Attributes {
		if at.Name == translate.ClaveRelayStateAttr {
			echoed = len(at.Values) == 1 && at.Values[0] == sent.relayState
		}
	}
	if !echoed {
		return nil, errors.New("RelayState attribute missing or not the request's")
	}
	view.OK, view.NameID, view.LoA, view.Attributes = true, a.NameID, a.LoA, attributesOf(a.Attributes)
	return view, nil
}
