package clave2msg

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// SAML status URIs.
const (
	StatusPrefix    = "urn:oasis:names:tc:SAML:2.0:status:"
	StatusSuccess   = StatusPrefix + "Success"
	StatusRequester = StatusPrefix + "Requester"
	StatusResponder = StatusPrefix + "Responder"

	StatusAuthnFailed         = StatusPrefix + "AuthnFailed"
	StatusRequestDenied       = StatusPrefix + "RequestDenied"
	StatusNoAuthnContext      = StatusPrefix + "NoAuthnContext"
	StatusInvalidAttr         = StatusPrefix + "InvalidAttrNameOrValue"
	StatusNoPassive           = StatusPrefix + "NoPassive"
	StatusInvalidNameIDPolicy = StatusPrefix + "InvalidNameIDPolicy"
)

// Status is a two-level SAML status with its message.
type Status struct {
	Code    string
	SubCode string
	Message string
}

// Response is the outer eIDAS response; its assertion travels encrypted.
type Response struct {
	ID           string
	InResponseTo string
	IssueInstant time.Time
	Destination  string
	Issuer       string
	Status       Status
}

// Element builds the unsigned Response holding assertion: an xenc:EncryptedData
// element (wrapped in an EncryptedAssertion), a plain signed Assertion, or
// nil for an error response.
func (r *Response) Element(assertion *etree.Element) *etree.Element {
	el := etree.NewElement("saml2p:Response")
	el.CreateAttr("xmlns:saml2p", samlxml.NSProtocol)
	el.CreateAttr("xmlns:saml2", samlxml.NSAssertion)
	el.CreateAttr("ID", r.ID)
	el.CreateAttr("InResponseTo", r.InResponseTo)
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", samlxml.FormatTime(r.IssueInstant))
	el.CreateAttr("Destination", r.Destination)
	el.CreateAttr("Consent", "urn:oasis:names:tc:SAML:2.0:consent:obtained")
	issuer(el, r.Issuer)
	st := el.CreateElement("saml2p:Status")
	sc := st.CreateElement("saml2p:StatusCode")
	sc.CreateAttr("Value", r.Status.Code)
	if r.Status.SubCode != "" {
		sc.CreateElement("saml2p:StatusCode").CreateAttr("Value", r.Status.SubCode)
	}
	if r.Status.Message != "" {
		st.CreateElement("saml2p:StatusMessage").SetText(r.Status.Message)
	}
	switch {
	case assertion == nil:
	case samlxml.Is(assertion, samlxml.NSXMLEnc, "EncryptedData"):
		el.CreateElement("saml2:EncryptedAssertion").AddChild(assertion)
	default:
		el.AddChild(assertion)
	}
	return el
}

func issuer(el *etree.Element, value string) {
	iss := el.CreateElement("saml2:Issuer")
	iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
	iss.SetText(value)
}

// ParseResponse reads a (verified) Response element and returns the
// EncryptedData of its single EncryptedAssertion, or nil if it has none. A
// plain Assertion, or more than one assertion, is refused.
func ParseResponse(el *etree.Element) (*Response, *etree.Element, error) {
	if !samlxml.Is(el, samlxml.NSProtocol, "Response") {
		return nil, nil, fmt.Errorf("root element is %s, not a Response", el.FullTag())
	}
	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, nil, fmt.Errorf("response Version %q is not 2.0", v)
	}
	r := &Response{
		ID:           el.SelectAttrValue("ID", ""),
		InResponseTo: el.SelectAttrValue("InResponseTo", ""),
		Destination:  el.SelectAttrValue("Destination", ""),
	}
	var err error
	if r.IssueInstant, err = requiredTime(el, "IssueInstant"); err != nil {
		return nil, nil, err
	}
	if r.Issuer, err = samlxml.ChildText(el, samlxml.NSAssertion, "Issuer"); err != nil {
		return nil, nil, err
	}
	if r.Status, err = readStatus(el); err != nil {
		return nil, nil, err
	}
	if n := len(samlxml.Children(el, samlxml.NSAssertion, "Assertion")); n > 0 {
		return nil, nil, fmt.Errorf("response carries %d unencrypted assertions", n)
	}
	encs := samlxml.Children(el, samlxml.NSAssertion, "EncryptedAssertion")
	switch len(encs) {
	case 0:
		return r, nil, nil
	case 1:
		ed, err := samlxml.Child(encs[0], samlxml.NSXMLEnc, "EncryptedData")
		if err != nil || ed == nil {
			return nil, nil, fmt.Errorf("EncryptedAssertion without one EncryptedData")
		}
		return r, ed, nil
	default:
		return nil, nil, fmt.Errorf("response carries %d encrypted assertions", len(encs))
	}
}

func readStatus(el *etree.Element) (Status, error) {
	st, err := samlxml.Child(el, samlxml.NSProtocol, "Status")
	if err != nil || st == nil {
		return Status{}, fmt.Errorf("response has no single Status")
	}
	sc, err := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
	if err != nil || sc == nil {
		return Status{}, fmt.Errorf("status has no single StatusCode")
	}
	s := Status{Code: sc.SelectAttrValue("Value", "")}
	if sub, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode"); sub != nil {
		s.SubCode = sub.SelectAttrValue("Value", "")
	}
	s.Message, _ = samlxml.ChildText(st, samlxml.NSProtocol, "StatusMessage")
	return s, nil
}

// Attribute is one released attribute.
type Attribute struct {
	Name         string
	NameFormat   string // default: the uri name format
	FriendlyName string
	XSIType      string
	Values       []string
}

// WireAttribute builds an Attribute with the eIDAS name and type of a.
func WireAttribute(a translate.Attr, values ...string) (Attribute, bool) {
	w, ok := translate.Wire(a)
	if !ok {
		return Attribute{}, false
	}
	return Attribute{Name: w.Name, FriendlyName: w.FriendlyName, XSIType: w.XSIType(), Values: values}, true
}

// Assertion is a SAML 2.0 assertion as the eIDAS profile shapes it (before
// encryption / after decryption); plain SAML2 answers use it too.
type Assertion struct {
	ID           string
	IssueInstant time.Time
	Issuer       string
	NameID       string
	NameIDFormat string
	InResponseTo string
	Recipient    string
	Address      string
	NotBefore    time.Time
	NotOnOrAfter time.Time // of the Conditions (and, when building, of the confirmation)
	// ConfirmationNotOnOrAfter is read from SubjectConfirmationData.
	ConfirmationNotOnOrAfter time.Time
	Audience                 string
	AuthnInstant             time.Time
	SessionIndex             string // optional, for SPs that do single logout
	LoA                      string
	Attributes               []Attribute
}

// Element builds the assertion with the namespaces its value types need.
func (a *Assertion) Element() *etree.Element {
	el := etree.NewElement("saml2:Assertion")
	el.CreateAttr("xmlns:saml2", samlxml.NSAssertion)
	el.CreateAttr("xmlns:xs", samlxml.NSXS)
	el.CreateAttr("xmlns:xsi", samlxml.NSXSI)
	el.CreateAttr("xmlns:eidas-natural", translate.NSNaturalPerson)
	el.CreateAttr("xmlns:eidas-legal", translate.NSLegalPerson)
	el.CreateAttr("ID", a.ID)
	el.CreateAttr("IssueInstant", samlxml.FormatTime(a.IssueInstant))
	el.CreateAttr("Version", "2.0")
	issuer(el, a.Issuer)
	a.subject(el.CreateElement("saml2:Subject"))
	cond := el.CreateElement("saml2:Conditions")
	cond.CreateAttr("NotBefore", samlxml.FormatTime(a.NotBefore))
	cond.CreateAttr("NotOnOrAfter", samlxml.FormatTime(a.NotOnOrAfter))
	cond.CreateElement("saml2:AudienceRestriction").CreateElement("saml2:Audience").SetText(a.Audience)
	as := el.CreateElement("saml2:AuthnStatement")
	as.CreateAttr("AuthnInstant", samlxml.FormatTime(a.AuthnInstant))
	setOpt(as, "SessionIndex", a.SessionIndex)
	as.CreateElement("saml2:AuthnContext").CreateElement("saml2:AuthnContextClassRef").SetText(a.LoA)
	if len(a.Attributes) > 0 {
		st := el.CreateElement("saml2:AttributeStatement")
		for _, at := range a.Attributes {
			writeAttribute(st, at)
		}
	}
	return el
}

func (a *Assertion) subject(sub *etree.Element) {
	nid := sub.CreateElement("saml2:NameID")
	nid.CreateAttr("Format", a.NameIDFormat)
	nid.CreateAttr("NameQualifier", a.Issuer)
	nid.SetText(a.NameID)
	sc := sub.CreateElement("saml2:SubjectConfirmation")
	sc.CreateAttr("Method", BearerMethod)
	scd := sc.CreateElement("saml2:SubjectConfirmationData")
	setOpt(scd, "Address", a.Address)
	scd.CreateAttr("InResponseTo", a.InResponseTo)
	scd.CreateAttr("NotOnOrAfter", samlxml.FormatTime(a.NotOnOrAfter))
	scd.CreateAttr("Recipient", a.Recipient)
}

func writeAttribute(st *etree.Element, at Attribute) {
	ae := st.CreateElement("saml2:Attribute")
	setOpt(ae, "FriendlyName", at.FriendlyName)
	ae.CreateAttr("Name", at.Name)
	nf := at.NameFormat
	if nf == "" {
		nf = AttrNameFormat
	}
	ae.CreateAttr("NameFormat", nf)
	for _, v := range at.Values {
		av := ae.CreateElement("saml2:AttributeValue")
		xsiType := at.XSIType
		if xsiType == "" {
			xsiType = "xs:string"
		}
		av.CreateAttr("xsi:type", xsiType)
		av.SetText(v)
	}
}

// ParseAssertion reads a decrypted Assertion element.
func ParseAssertion(el *etree.Element) (*Assertion, error) {
	if !samlxml.Is(el, samlxml.NSAssertion, "Assertion") {
		return nil, fmt.Errorf("decrypted element is %s, not an Assertion", el.FullTag())
	}
	a := &Assertion{ID: el.SelectAttrValue("ID", "")}
	if a.ID == "" {
		return nil, fmt.Errorf("assertion has no ID")
	}
	var err error
	if a.IssueInstant, err = requiredTime(el, "IssueInstant"); err != nil {
		return nil, err
	}
	if a.Issuer, err = samlxml.ChildText(el, samlxml.NSAssertion, "Issuer"); err != nil {
		return nil, err
	}
	steps := []func(*etree.Element) error{a.readSubject, a.readConditions, a.readAuthn, a.readAttributes}
	for _, step := range steps {
		if err := step(el); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *Assertion) readSubject(el *etree.Element) error {
	sub, err := samlxml.Child(el, samlxml.NSAssertion, "Subject")
	if err != nil || sub == nil {
		return fmt.Errorf("assertion has no single Subject")
	}
	nid, err := samlxml.Child(sub, samlxml.NSAssertion, "NameID")
	if err != nil || nid == nil {
		return fmt.Errorf("subject has no single NameID")
	}
	a.NameID, a.NameIDFormat = strings.TrimSpace(nid.Text()), nid.SelectAttrValue("Format", "")
	scs := samlxml.Children(sub, samlxml.NSAssertion, "SubjectConfirmation")
	if len(scs) != 1 || scs[0].SelectAttrValue("Method", "") != BearerMethod {
		return fmt.Errorf("subject needs exactly one bearer SubjectConfirmation")
	}
	scd, err := samlxml.Child(scs[0], samlxml.NSAssertion, "SubjectConfirmationData")
	if err != nil || scd == nil {
		return fmt.Errorf("bearer confirmation has no SubjectConfirmationData")
	}
	a.InResponseTo = scd.SelectAttrValue("InResponseTo", "")
	a.Recipient = scd.SelectAttrValue("Recipient", "")
	a.Address = scd.SelectAttrValue("Address", "")
	a.ConfirmationNotOnOrAfter, err = requiredTime(scd, "NotOnOrAfter")
	return err
}

func (a *Assertion) readConditions(el *etree.Element) error {
	cond, err := samlxml.Child(el, samlxml.NSAssertion, "Conditions")
	if err != nil || cond == nil {
		return fmt.Errorf("assertion has no single Conditions")
	}
	if a.NotBefore, err = requiredTime(cond, "NotBefore"); err != nil {
		return err
	}
	if a.NotOnOrAfter, err = requiredTime(cond, "NotOnOrAfter"); err != nil {
		return err
	}
	ars := samlxml.Children(cond, samlxml.NSAssertion, "AudienceRestriction")
	if len(ars) != 1 {
		return fmt.Errorf("conditions need exactly one AudienceRestriction")
	}
	auds := samlxml.Children(ars[0], samlxml.NSAssertion, "Audience")
	if len(auds) != 1 {
		return fmt.Errorf("audience restriction needs exactly one Audience")
	}
	a.Audience = strings.TrimSpace(auds[0].Text())
	return nil
}

func (a *Assertion) readAuthn(el *etree.Element) error {
	ass := samlxml.Children(el, samlxml.NSAssertion, "AuthnStatement")
	if len(ass) != 1 {
		return fmt.Errorf("assertion needs exactly one AuthnStatement")
	}
	var err error
	if a.AuthnInstant, err = requiredTime(ass[0], "AuthnInstant"); err != nil {
		return err
	}
	a.SessionIndex = ass[0].SelectAttrValue("SessionIndex", "")
	ctx, err := samlxml.Child(ass[0], samlxml.NSAssertion, "AuthnContext")
	if err != nil || ctx == nil {
		return fmt.Errorf("AuthnStatement has no single AuthnContext")
	}
	a.LoA, err = samlxml.ChildText(ctx, samlxml.NSAssertion, "AuthnContextClassRef")
	return err
}

func (a *Assertion) readAttributes(el *etree.Element) error {
	sts := samlxml.Children(el, samlxml.NSAssertion, "AttributeStatement")
	if len(sts) > 1 {
		return fmt.Errorf("assertion has %d AttributeStatements", len(sts))
	}
	if len(sts) == 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, ae := range samlxml.Children(sts[0], samlxml.NSAssertion, "Attribute") {
		at := Attribute{
			Name:         ae.SelectAttrValue("Name", ""),
			NameFormat:   ae.SelectAttrValue("NameFormat", ""),
			FriendlyName: ae.SelectAttrValue("FriendlyName", ""),
		}
		if at.Name == "" || seen[at.Name] {
			return fmt.Errorf("attribute without a Name or repeated: %q", at.Name)
		}
		seen[at.Name] = true
		for _, v := range samlxml.Children(ae, samlxml.NSAssertion, "AttributeValue") {
			at.Values = append(at.Values, strings.TrimSpace(v.Text()))
		}
		a.Attributes = append(a.Attributes, at)
	}
	return nil
}
