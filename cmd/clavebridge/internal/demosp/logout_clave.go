package demosp

// Single logout of the Cl@ve demo SPs, as the kits do it: one URL per SP
// (/demo/clave2/logout, /demo/stork/logout) is its Log out button, where
// the bridge posts its LogoutResponse to the SP's LogoutRequest, and where
// the bridge posts its own LogoutRequests when another SP started the
// logout. The LogoutRequest's NameID is the SP's provider name, its Issuer
// the SP's logout URL (where the answer must go); the bridge's answer and
// ours carry a StatusMessage (the codec always writes one).

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// claveDialect is how one Cl@ve version does single logout.
type claveDialect struct {
	name        string // the outstanding map's dialect
	cookie      string
	self        string // the SP's logout URL
	bridgeURL   string // the bridge's logout endpoint: Destination of ours, Issuer of its own
	provider    string // the SP's provider name
	reqField    string // form field of LogoutRequests
	respField   string // form field of LogoutResponses
	method      string // our signature method
	stork       bool   // Cl@ve 1: STORK namespaces and Consent on the root, no NotOnOrAfter
	relayLength int    // the RelayState the kit sends (characters)
}

// clave2Dialect is Cl@ve 2.0 as the Java kit SP2 does it: logoutRequest
// and logoutResponse at /Proxy2/ServiceProvider, rsa-sha512 with the
// certificate in KeyInfo, NameID qualified by the kit's logout URL.
func (d *DemoSP) clave2Dialect() claveDialect {
	return claveDialect{
		name: "clave2", cookie: cookieClave2, self: d.cfg.BaseURL + "/demo/clave2/logout",
		bridgeURL: d.cfg.BaseURL + "/Proxy2/ServiceProvider", provider: d.cfg.ProviderName,
		reqField: "logoutRequest", respField: "logoutResponse", method: samlxml.RSASHA512, relayLength: 8,
	}
}

// storkDialect is Cl@ve 1 as the Java STORK engine does it:
// samlRequestLogout and samlResponseLogout at /Proxy/LogoutAction, the
// five STORK namespaces on the root, rsa-sha256 with the certificate.
func (d *DemoSP) storkDialect() claveDialect {
	return claveDialect{
		name: "stork", cookie: cookieStork, self: d.cfg.BaseURL + "/demo/stork/logout",
		bridgeURL: d.cfg.BaseURL + "/Proxy/LogoutAction", provider: d.cfg.StorkProvider,
		reqField: "samlRequestLogout", respField: "samlResponseLogout", method: samlxml.RSASHA256,
		stork: true, relayLength: 8,
	}
}

// claveLogout serves the SP's logout URL: a form with neither message is
// the Log out button.
func (d *DemoSP) claveLogout(cd claveDialect) echo.HandlerFunc {
	return func(c echo.Context) error {
		form, err := c.FormParams()
		if err != nil {
			return d.refuse(c, err)
		}
		reqs, resps := form[cd.reqField], form[cd.respField]
		switch {
		case len(reqs)+len(resps) > 1 || len(form["RelayState"]) > 1:
			return d.refuse(c, fmt.Errorf("want at most one %s or %s and at most one RelayState", cd.reqField, cd.respField))
		case len(resps) == 1:
			return d.claveAnswered(c, cd, resps[0], form.Get("RelayState"))
		case len(reqs) == 1:
			return d.claveRequested(c, cd, reqs[0], form.Get("RelayState"))
		}
		return d.claveStart(c, cd)
	}
}

// claveStart sends the SP's signed LogoutRequest to the bridge. The NameID
// names the SP, not the citizen: the bridge ends the browser's session.
func (d *DemoSP) claveStart(c echo.Context, cd claveDialect) error {
	ids, err := d.newIDs(2)
	if err != nil {
		return err
	}
	id, relay := ids[0], ids[1][1:1+cd.relayLength]
	now := d.cfg.Now()
	lr := &clave2msg.LogoutRequest{ID: id, IssueInstant: now, Destination: cd.bridgeURL, Issuer: cd.self, NameID: cd.provider}
	if !cd.stork {
		lr.NameIDFormat, lr.SPNameQualifier = clave2msg.NameIDUnspec, cd.self
		lr.NotOnOrAfter, lr.Reason = now.Add(logoutLifetime), clave2msg.LogoutReasonUser
	}
	value, err := d.signEncode(cd.shape(lr.Element()), cd.method, true)
	if err != nil {
		return err
	}
	d.rememberFor(id, relay, cd.name)
	return postFromDemo(c, bridge.Outgoing{URL: cd.bridgeURL, Fields: []samlxml.Field{
		{Name: cd.reqField, Value: value}, {Name: "RelayState", Value: relay},
	}})
}

// claveAnswered reads the bridge's LogoutResponse to the SP's request.
func (d *DemoSP) claveAnswered(c echo.Context, cd claveDialect, value, relay string) error {
	el, err := d.verifyBridge(value, cd.stork)
	if err != nil {
		return d.refuse(c, err)
	}
	resp, err := clave2msg.ParseLogoutResponse(el)
	if err != nil {
		return d.refuse(c, err)
	}
	if resp.Issuer != cd.bridgeURL {
		return d.refuse(c, errors.New("the LogoutResponse is not the bridge's"))
	}
	return d.logoutAnswered(c, cd.name, cd.cookie, cd.self, resp, relay)
}

// claveRequested ends the SP's login on the bridge's verified
// LogoutRequest naming the SP and answers Success at the bridge's logout
// endpoint, as the kit: Issuer the SP's logout URL (which the bridge
// knows from the SP's registration), the RelayState echoed.
func (d *DemoSP) claveRequested(c echo.Context, cd claveDialect, value, relay string) error {
	el, err := d.verifyBridge(value, cd.stork)
	if err != nil {
		return d.refuse(c, err)
	}
	lr, err := clave2msg.ParseLogoutRequest(el)
	if err != nil {
		return d.refuse(c, err)
	}
	if err := d.checkLogoutRequest(lr, cd.bridgeURL, cd.self); err != nil {
		return d.refuse(c, err)
	}
	if provider, _, _ := strings.Cut(lr.NameID, ";"); provider != cd.provider {
		return d.refuse(c, errors.New("the LogoutRequest names another SP"))
	}
	clearCookie(c, cd.cookie)
	id, err := samlxml.NewID(d.cfg.Rand)
	if err != nil {
		return err
	}
	resp := &clave2msg.LogoutResponse{
		ID: id, InResponseTo: lr.ID, IssueInstant: d.cfg.Now(), Destination: cd.bridgeURL,
		Issuer: cd.self, Status: clave2msg.Status{Code: clave2msg.StatusSuccess},
	}
	answer, err := d.signEncode(cd.shape(resp.Element()), cd.method, true)
	if err != nil {
		return err
	}
	fields := []samlxml.Field{{Name: cd.respField, Value: answer}}
	if relay != "" {
		fields = append(fields, samlxml.Field{Name: "RelayState", Value: relay})
	}
	return postFromDemo(c, bridge.Outgoing{URL: cd.bridgeURL, Fields: fields})
}

// shape gives a codec-built Cl@ve 1 message the STORK engine's root: the
// five STORK namespaces first, Consent unspecified, the other attributes
// in alphabetical order, and the Issuer with the entity format. Cl@ve 2.0
// messages are left as the codec builds them.
func (cd claveDialect) shape(el *etree.Element) *etree.Element {
	if !cd.stork {
		return el
	}
	var rest []etree.Attr
	for _, a := range el.Attr {
		if a.Space != "xmlns" {
			rest = append(rest, a)
		}
	}
	el.Attr = nil
	for _, ns := range [][2]string{
		{"saml2p", samlxml.NSProtocol}, {"ds", samlxml.NSDSig}, {"saml2", samlxml.NSAssertion}, {"stork", nsStork}, {"storkp", nsStorkP},
	} {
		el.CreateAttr("xmlns:"+ns[0], ns[1])
	}
	rest = append(rest, etree.Attr{Key: "Consent", Value: "urn:oasis:names:tc:SAML:2.0:consent:unspecified"})
	slices.SortFunc(rest, func(a, b etree.Attr) int { return strings.Compare(a.FullKey(), b.FullKey()) })
	for _, a := range rest {
		el.CreateAttr(a.FullKey(), a.Value)
	}
	if iss, _ := samlxml.Child(el, samlxml.NSAssertion, "Issuer"); iss != nil && iss.SelectAttr("Format") == nil {
		iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
	}
	return el
}
