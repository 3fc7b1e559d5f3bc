package stork

import (
	"fmt"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// assertion appends the signed Assertion to the Response root, using the
// prefixes the root declares, as the STORK engine wrote it.
func (e *Endpoint) assertion(root *etree.Element, sp *bridge.ServiceProvider, req *bridge.Request, issuer string, ans *answer, st requestState) error {
	id, err := samlxml.NewID(e.cfg.Rand)
	if err != nil {
		return err
	}
	now := e.cfg.Now()
	notOnOrAfter := samlxml.FormatTime(now.Add(e.cfg.AssertionLifetime))
	a := root.CreateElement("saml2:Assertion")
	a.CreateAttr("ID", id)
	a.CreateAttr("IssueInstant", samlxml.FormatTime(now))
	a.CreateAttr("Version", "2.0")
	issuerElement(a, issuer)
	e.subject(a, req, notOnOrAfter)
	cond := a.CreateElement("saml2:Conditions")
	cond.CreateAttr("NotBefore", samlxml.FormatTime(now))
	cond.CreateAttr("NotOnOrAfter", notOnOrAfter)
	cond.CreateElement("saml2:AudienceRestriction").CreateElement("saml2:Audience").SetText(st.Issuer)
	cond.CreateElement("saml2:OneTimeUse")
	as := a.CreateElement("saml2:AuthnStatement")
	as.CreateAttr("AuthnInstant", samlxml.FormatTime(now))
	as.CreateElement("saml2:SubjectLocality").CreateAttr("Address", req.ReturnURL)
	as.CreateElement("saml2:AuthnContext").CreateElement("saml2:AuthnContextDecl")
	if ans != nil {
		attributeStatement(a, ans, st.Attributes, sp.SendUsedIdP)
	}
	if err := e.signer(sp).Sign(a); err != nil {
		return fmt.Errorf("sign assertion: %w", err)
	}
	return nil
}

// subject reproduces the engine's Subject: the NameID value is the format
// URI itself (a Cl@ve 1 quirk no kit reads) and the confirmation's Address
// is the ACS URL.
func (e *Endpoint) subject(a *etree.Element, req *bridge.Request, notOnOrAfter string) {
	sub := a.CreateElement("saml2:Subject")
	nid := sub.CreateElement("saml2:NameID")
	nid.CreateAttr("Format", nameIDUnspec)
	nid.CreateAttr("NameQualifier", e.cfg.SSOURL)
	nid.SetText(nameIDUnspec)
	sc := sub.CreateElement("saml2:SubjectConfirmation")
	sc.CreateAttr("Method", bearer)
	scd := sc.CreateElement("saml2:SubjectConfirmationData")
	scd.CreateAttr("Address", req.ReturnURL)
	scd.CreateAttr("InResponseTo", req.ID)
	scd.CreateAttr("NotOnOrAfter", notOnOrAfter)
	scd.CreateAttr("Recipient", req.ReturnURL)
}

// attributeStatement lists every requested attribute in request order,
// Available with its value or NotAvailable, plus usedIdP for SPs that get
// it without asking.
func attributeStatement(a *etree.Element, ans *answer, requested []RequestedAttribute, usedIdP bool) {
	st := a.CreateElement("saml2:AttributeStatement")
	asked := map[string]bool{}
	for _, r := range requested {
		asked[r.Name] = true
		writeAttribute(st, r.Name, ans.values[r.Name])
	}
	if usedIdP && !asked["usedIdP"] {
		writeAttribute(st, "usedIdP", ans.values["usedIdP"])
	}
}

func writeAttribute(st *etree.Element, name, value string) {
	at := st.CreateElement("saml2:Attribute")
	at.CreateAttr("Name", AttrPrefix+name)
	at.CreateAttr("NameFormat", attrNameURI)
	if value == "" {
		at.CreateAttr("stork:AttributeStatus", "NotAvailable")
		return
	}
	at.CreateAttr("stork:AttributeStatus", "Available")
	v := at.CreateElement("saml2:AttributeValue")
	v.CreateAttr("xmlns:xsi", samlxml.NSXSI)
	v.CreateAttr("xsi:type", "xs:anyType")
	v.SetText(value)
}
