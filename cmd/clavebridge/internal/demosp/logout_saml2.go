package demosp

// Single logout of the plain SAML2 demo SP (SAML 2.0 profiles 4.4, POST
// binding): its Log out button sends a signed LogoutRequest to the
// bridge's /saml2/slo, and its SingleLogoutService /demo/saml2/slo takes
// both the bridge's answer to it and the bridge's own LogoutRequests when
// another SP started the logout.

import (
	"errors"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

const nameIDTransient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

// saml2SLOURL is the demo SP's SingleLogoutService (its logout_urls).
func (d *DemoSP) saml2SLOURL() string { return d.cfg.BaseURL + "/demo/saml2/slo" }

// bridgeSLOURL and bridgeEntityID are the bridge's SAML2 logout endpoint
// and entityID (the Issuer of its messages).
func (d *DemoSP) bridgeSLOURL() string   { return d.cfg.BaseURL + "/saml2/slo" }
func (d *DemoSP) bridgeEntityID() string { return d.cfg.BaseURL + "/saml2/metadata" }

// saml2Logout sends the signed LogoutRequest naming the login the demo SP
// remembers: its NameID (with the format) and SessionIndex. Without one
// it asks all the same, with a throwaway transient NameID, to show how the
// bridge answers a logout for no session it knows (UnknownPrincipal).
func (d *DemoSP) saml2Logout(c echo.Context) error {
	ids, err := d.newIDs(3)
	if err != nil {
		return err
	}
	id, relay := ids[0], ids[1]
	login, ok := readSAML2Login(c)
	if !ok {
		login = saml2Login{NameID: ids[2], Format: nameIDTransient}
	}
	now := d.cfg.Now()
	lr := &clave2msg.LogoutRequest{
		ID: id, IssueInstant: now, Destination: d.bridgeSLOURL(), Issuer: d.EntityID(),
		NameID: login.NameID, NameIDFormat: login.Format, NotOnOrAfter: now.Add(logoutLifetime),
		Reason: clave2msg.LogoutReasonUser,
	}
	if login.SessionIndex != "" {
		lr.SessionIndexes = []string{login.SessionIndex}
	}
	value, err := d.signEncode(lr.Element(), samlxml.RSASHA256, false)
	if err != nil {
		return err
	}
	d.rememberFor(id, relay, "saml2")
	return postFromDemo(c, bridge.Outgoing{URL: lr.Destination, Fields: []samlxml.Field{
		{Name: "SAMLRequest", Value: value}, {Name: "RelayState", Value: relay},
	}})
}

// saml2SLO receives the bridge's LogoutResponse (SAMLResponse) to the demo
// SP's LogoutRequest, or the bridge's LogoutRequest (SAMLRequest) telling
// it that the session ended elsewhere.
func (d *DemoSP) saml2SLO(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return d.refuse(c, err)
	}
	reqs, resps := form["SAMLRequest"], form["SAMLResponse"]
	if len(reqs)+len(resps) != 1 || len(form["RelayState"]) > 1 {
		return d.refuse(c, errors.New("want exactly one SAMLRequest or SAMLResponse and at most one RelayState"))
	}
	relay := form.Get("RelayState")
	if len(resps) == 1 {
		el, err := d.verifyBridge(resps[0], false)
		if err != nil {
			return d.refuse(c, err)
		}
		resp, err := clave2msg.ParseLogoutResponse(el)
		if err != nil {
			return d.refuse(c, err)
		}
		if resp.Issuer != d.bridgeEntityID() {
			return d.refuse(c, errors.New("the LogoutResponse is not the bridge's"))
		}
		return d.logoutAnswered(c, "saml2", cookieSAML2, d.saml2SLOURL(), resp, relay)
	}
	return d.saml2LogoutRequested(c, reqs[0], relay)
}

// saml2LogoutRequested ends the demo SP's login when the bridge's verified
// LogoutRequest names it (NameID and, when given, SessionIndex) and
// answers Success at the bridge's /saml2/slo, echoing the RelayState,
// which names the logout under way.
func (d *DemoSP) saml2LogoutRequested(c echo.Context, value, relay string) error {
	el, err := d.verifyBridge(value, false)
	if err != nil {
		return d.refuse(c, err)
	}
	lr, err := clave2msg.ParseLogoutRequest(el)
	if err != nil {
		return d.refuse(c, err)
	}
	if err := d.checkLogoutRequest(lr, d.bridgeEntityID(), d.saml2SLOURL()); err != nil {
		return d.refuse(c, err)
	}
	if login, ok := readSAML2Login(c); ok && names(lr, login) {
		clearCookie(c, cookieSAML2)
	}
	// Success either way: after this the demo SP holds no login of the
	// session the bridge ended.
	id, err := samlxml.NewID(d.cfg.Rand)
	if err != nil {
		return err
	}
	resp := &clave2msg.LogoutResponse{
		ID: id, InResponseTo: lr.ID, IssueInstant: d.cfg.Now(), Destination: d.bridgeSLOURL(),
		Issuer: d.EntityID(), Status: clave2msg.Status{Code: clave2msg.StatusSuccess},
	}
	answer, err := d.signEncode(resp.Element(), samlxml.RSASHA256, false)
	if err != nil {
		return err
	}
	fields := []samlxml.Field{{Name: "SAMLResponse", Value: answer}}
	if relay != "" {
		fields = append(fields, samlxml.Field{Name: "RelayState", Value: relay})
	}
	return postFromDemo(c, bridge.Outgoing{URL: resp.Destination, Fields: fields})
}

// names reports whether the LogoutRequest names the remembered login.
func names(lr *clave2msg.LogoutRequest, login saml2Login) bool {
	if lr.NameID != login.NameID {
		return false
	}
	return len(lr.SessionIndexes) == 0 || login.SessionIndex == "" || slices.Contains(lr.SessionIndexes, login.SessionIndex)
}
