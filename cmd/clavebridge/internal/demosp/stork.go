package demosp

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
)

const (
	nsStork  = "urn:eu:stork:names:tc:STORK:1.0:assertion"
	nsStorkP = "urn:eu:stork:names:tc:STORK:1.0:protocol"
)

func (d *DemoSP) storkACSURL() string { return d.cfg.BaseURL + "/demo/stork/acs" }

// storkLogin sends a Cl@ve 1 request laid out as the Java STORK engine
// writes it, with the kit's POST parameters.
func (d *DemoSP) storkLogin(c echo.Context) error {
	id, err := samlxml.NewID(d.cfg.Rand)
	if err != nil {
		return err
	}
	qaa := c.FormValue("qaa")
	if len(qaa) != 1 || qaa < "1" || qaa > "4" {
		return d.refuseWith(c, http.StatusBadRequest, bridge.ReasonBadRequest, fmt.Errorf("demo Cl@ve 1 login: qaa %q", qaa))
	}
	el := d.storkRequest(id, qaa, c.FormValue("required_surname") == "true", c.FormValue("force") == "true")
	signer := d.cfg.Signer
	signer.Method = samlxml.RSASHA256
	signer.IncludeCert = true
	if err := signer.Sign(el); err != nil {
		return err
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return err
	}
	excluded := "none"
	if form, _ := c.FormParams(); len(form["exclude"]) > 0 {
		excluded = strings.Join(form["exclude"], ";") + ";"
	}
	forced := c.FormValue("forced")
	if forced == "" {
		forced = "none"
	}
	d.remember(id, "demo-stork")
	return web.WritePost(c, bridge.Outgoing{URL: d.cfg.BaseURL + "/Proxy/ServiceProvider", Fields: []samlxml.Field{
		{Name: "SAMLRequest", Value: base64.StdEncoding.EncodeToString(xml)},
		{Name: "excludedIdPList", Value: excluded}, {Name: "forcedIdP", Value: forced},
		{Name: "allowLegalPerson", Value: map[bool]string{true: "true", false: "false"}[c.FormValue("legal") == "true"]},
		{Name: "RelayState", Value: "demo-stork"},
	}})
}

func (d *DemoSP) storkRequest(id, qaa string, surnameRequired, force bool) *etree.Element {
	el := etree.NewElement("saml2p:AuthnRequest")
	for _, ns := range [][2]string{{"saml2p", samlxml.NSProtocol}, {"ds", samlxml.NSDSig}, {"saml2", samlxml.NSAssertion}, {"stork", nsStork}, {"storkp", nsStorkP}} {
		el.CreateAttr("xmlns:"+ns[0], ns[1])
	}
	for _, kv := range [][2]string{
		{"AssertionConsumerServiceURL", d.storkACSURL()}, {"Consent", "urn:oasis:names:tc:SAML:2.0:consent:unspecified"},
		{"Destination", d.cfg.BaseURL + "/Proxy/ServiceProvider"}, {"ForceAuthn", map[bool]string{true: "true", false: "false"}[force]}, {"ID", id}, {"IsPassive", "false"},
		{"IssueInstant", samlxml.FormatTime(d.cfg.Now())}, {"ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
		{"ProviderName", d.cfg.StorkProvider}, {"Version", "2.0"},
	} {
		el.CreateAttr(kv[0], kv[1])
	}
	iss := el.CreateElement("saml2:Issuer")
	iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
	iss.SetText(d.storkIssuer())
	ext := el.CreateElement("saml2p:Extensions")
	ext.CreateElement("stork:QualityAuthenticationAssuranceLevel").SetText(qaa)
	for _, t := range []string{"spSector", "spInstitution", "spApplication"} {
		ext.CreateElement("stork:" + t).SetText(d.cfg.StorkProvider)
	}
	for _, t := range []string{"eIDSectorShare", "eIDCrossSectorShare", "eIDCrossBorderShare"} {
		ext.CreateElement("storkp:" + t).SetText("true")
	}
	ras := ext.CreateElement("storkp:RequestedAttributes")
	for _, a := range []struct {
		name     string
		required bool
	}{{"eIdentifier", true}, {"givenName", true}, {"surname", surnameRequired}, {"inheritedFamilyName", false},
		{"citizenQAALevel", false}, {"isdnie", false}, {"afirmaResponse", false}, {"registerType", false}} {
		ra := ras.CreateElement("stork:RequestedAttribute")
		ra.CreateAttr("Name", "http://www.stork.gov.eu/1.0/"+a.name)
		ra.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
		ra.CreateAttr("isRequired", map[bool]string{true: "true", false: "false"}[a.required])
	}
	vidp := ext.CreateElement("storkp:AuthenticationAttributes").CreateElement("storkp:VIDPAuthenticationAttributes")
	vidp.CreateElement("storkp:SPInformation").CreateElement("storkp:SPID").SetText(strings.ToUpper(d.cfg.StorkProvider))
	return el
}

func (d *DemoSP) storkIssuer() string { return d.cfg.BaseURL + "/demo/stork" }

// storkACS validates the answer as the Java STORK engine does: the
// Response signature against the trusted certificate, then the first
// Assertion's Conditions/@NotOnOrAfter in the future (no skew), an Audience,
// and an AttributeStatement on success; attributes by the name after the
// last '/'.
func (d *DemoSP) storkACS(c echo.Context) error {
	view, err := d.readStorkResponse(c.FormValue("SAMLResponse"))
	if err != nil {
		return d.refuseWith(c, http.StatusBadRequest, bridge.ReasonGatewayRefused, fmt.Errorf("the bridge's answer was refused by the demo SP: %w", err))
	}
	if v := c.FormValue("isLegalPerson"); v != "" {
		view.Attributes = append(view.Attributes, attribute{Name: "isLegalPerson", Values: []string{v}, FromPost: true})
	}
	if v := c.FormValue("oid"); v != "" {
		view.Attributes = append(view.Attributes, attribute{Name: "oid", Values: []string{v}, FromPost: true})
	}
	if view.OK {
		setCookie(c, cookieStork, "1")
	}
	view.Logout = "/demo/stork/logout"
	return d.showResult(c, view)
}

func (d *DemoSP) readStorkResponse(b64 string) (*resultView, error) {
	raw, err := samlxml.DecodePostValue(b64, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{d.cfg.BridgeCert}, Policy: samlxml.AlgorithmPolicy{AllowSHA1: true}}.Verify(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("response signature: %w", err)
	}
	resp := v.Element
	if _, ok := d.forget(resp.SelectAttrValue("InResponseTo", ""), ""); !ok {
		return nil, errors.New("response to a request this SP did not send (or replayed)")
	}
	st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status")
	code, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
	if code == nil {
		return nil, errors.New("response without a StatusCode")
	}
	view := &resultView{Status: code.SelectAttrValue("Value", "")}
	message, _ := samlxml.ChildText(st, samlxml.NSProtocol, "StatusMessage")
	view.Message = sameStatus(message, view.Status)
	if sub, _ := samlxml.Child(code, samlxml.NSProtocol, "StatusCode"); sub != nil {
		view.Message = sameStatus(view.Message, sub.SelectAttrValue("Value", ""))
		view.Status += " / " + sub.SelectAttrValue("Value", "")
	}
	issuer, _ := samlxml.ChildText(resp, samlxml.NSAssertion, "Issuer")
	return d.readStorkAssertion(resp, issuer, view)
}

func (d *DemoSP) readStorkAssertion(resp *etree.Element, issuer string, view *resultView) (*resultView, error) {
	as := samlxml.Children(resp, samlxml.NSAssertion, "Assertion")
	if len(as) == 0 {
		return nil, errors.New("no assertion (the Java engine needs one)")
	}
	a := as[0]
	cond, _ := samlxml.Child(a, samlxml.NSAssertion, "Conditions")
	if cond == nil {
		return nil, errors.New("assertion without Conditions")
	}
	noa, err := samlxml.ParseTime(cond.SelectAttrValue("NotOnOrAfter", ""))
	if err != nil || !d.cfg.Now().Before(noa) {
		return nil, errors.New("Conditions NotOnOrAfter missing or passed")
	}
	if ar, _ := samlxml.Child(cond, samlxml.NSAssertion, "AudienceRestriction"); ar == nil || len(samlxml.Children(ar, samlxml.NSAssertion, "Audience")) == 0 {
		return nil, errors.New("assertion without Audience")
	}
	statement, _ := samlxml.Child(a, samlxml.NSAssertion, "AttributeStatement")
	if !strings.HasSuffix(view.Status, "Success") {
		return view, nil
	}
	if statement == nil {
		return nil, errors.New("success without an AttributeStatement")
	}
	view.OK, view.Issuer = true, issuer
	for _, at := range samlxml.Children(statement, samlxml.NSAssertion, "Attribute") {
		full := at.SelectAttrValue("Name", "")
		name := full[strings.LastIndex(full, "/")+1:]
		var values []string
		for _, v := range samlxml.Children(at, samlxml.NSAssertion, "AttributeValue") {
			values = append(values, strings.TrimSpace(v.Text()))
		}
		if name == "citizenQAALevel" && len(values) == 1 {
			view.LoA = "QAA " + values[0] // the level the citizen reached
		}
		view.Attributes = append(view.Attributes, attribute{Name: name, Values: values, Status: at.SelectAttrValue("stork:AttributeStatus", "")})
	}
	return view, nil
}
