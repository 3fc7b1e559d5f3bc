// Package clave2msg reads and writes the eIDAS / Cl@ve 2.0 SAML messages
// (AuthnRequest, Response, Assertion) as plain Go values; plain SAML 2.0
// messages are the same messages without the eIDAS extensions. It knows the wire
// format only: signing, encryption and checks belong to its callers (the
// upstream connector, the simulated gateway and the eIDAS endpoint).
package clave2msg

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// Namespaces and fixed values of the eIDAS profile.
const (
	NSEIDAS        = "http://eidas.europa.eu/saml-extensions"
	AttrNameFormat = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	NameIDUnspec   = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDPersist  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	ConsentUnspec  = "urn:oasis:names:tc:SAML:2.0:consent:unspecified"
	BearerMethod   = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// RequestedAttribute is one eidas:RequestedAttribute.
type RequestedAttribute struct {
	Name         string
	FriendlyName string
	Required     bool
	Values       []string
}

// AuthnRequest is an eIDAS or Cl@ve 2.0 authentication request.
type AuthnRequest struct {
	ID              string
	IssueInstant    time.Time
	Destination     string
	ACS             string // AssertionConsumerServiceURL
	ACSIndex        string // AssertionConsumerServiceIndex (plain SAML2)
	ProtocolBinding string
	ProviderName    string
	Issuer          string // empty in Cl@ve 2.0 requests
	ForceAuthn      bool
	IsPassive       bool
	Consent         string
	SPType          string
	NameIDFormat    string
	HasNameIDPolicy bool
	Attributes      []RequestedAttribute
	Comparison      string
	LoAs            []string
}

// Element builds the unsigned request.
func (r *AuthnRequest) Element() *etree.Element {
	el := etree.NewElement("saml2p:AuthnRequest")
	el.CreateAttr("xmlns:saml2p", samlxml.NSProtocol)
	el.CreateAttr("xmlns:saml2", samlxml.NSAssertion)
	el.CreateAttr("xmlns:eidas", NSEIDAS)
	el.CreateAttr("xmlns:xs", samlxml.NSXS)
	el.CreateAttr("xmlns:xsi", samlxml.NSXSI)
	el.CreateAttr("ID", r.ID)
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", samlxml.FormatTime(r.IssueInstant))
	setOpt(el, "Destination", r.Destination)
	setOpt(el, "Consent", r.Consent)
	el.CreateAttr("ForceAuthn", boolString(r.ForceAuthn))
	el.CreateAttr("IsPassive", boolString(r.IsPassive))
	setOpt(el, "AssertionConsumerServiceURL", r.ACS)
	setOpt(el, "AssertionConsumerServiceIndex", r.ACSIndex)
	setOpt(el, "ProtocolBinding", r.ProtocolBinding)
	setOpt(el, "ProviderName", r.ProviderName)
	if r.Issuer != "" {
		iss := el.CreateElement("saml2:Issuer")
		iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
		iss.SetText(r.Issuer)
	}
	ext := el.CreateElement("saml2p:Extensions")
	if r.SPType != "" {
		ext.CreateElement("eidas:SPType").SetText(r.SPType)
	}
	ras := ext.CreateElement("eidas:RequestedAttributes")
	for _, a := range r.Attributes {
		ra := ras.CreateElement("eidas:RequestedAttribute")
		setOpt(ra, "FriendlyName", a.FriendlyName)
		ra.CreateAttr("Name", a.Name)
		ra.CreateAttr("NameFormat", AttrNameFormat)
		ra.CreateAttr("isRequired", boolString(a.Required))
		for _, v := range a.Values {
			av := ra.CreateElement("eidas:AttributeValue")
			av.CreateAttr("xsi:type", "xs:string")
			av.SetText(v)
		}
	}
	if r.HasNameIDPolicy || r.NameIDFormat != "" {
		nip := el.CreateElement("saml2p:NameIDPolicy")
		nip.CreateAttr("AllowCreate", "true")
		setOpt(nip, "Format", r.NameIDFormat)
	}
	if len(r.LoAs) > 0 {
		rac := el.CreateElement("saml2p:RequestedAuthnContext")
		setOpt(rac, "Comparison", r.Comparison)
		for _, l := range r.LoAs {
			rac.CreateElement("saml2:AuthnContextClassRef").SetText(l)
		}
	}
	return el
}

// ParseAuthnRequest reads a (verified) AuthnRequest element.
func ParseAuthnRequest(el *etree.Element) (*AuthnRequest, error) {
	if !samlxml.Is(el, samlxml.NSProtocol, "AuthnRequest") {
		return nil, fmt.Errorf("root element is %s, not an AuthnRequest", el.FullTag())
	}
	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, fmt.Errorf("AuthnRequest Version %q is not 2.0", v)
	}
	r := &AuthnRequest{
		ID:              el.SelectAttrValue("ID", ""),
		Destination:     el.SelectAttrValue("Destination", ""),
		ACS:             el.SelectAttrValue("AssertionConsumerServiceURL", ""),
		ACSIndex:        el.SelectAttrValue("AssertionConsumerServiceIndex", ""),
		ProtocolBinding: el.SelectAttrValue("ProtocolBinding", ""),
		ProviderName:    el.SelectAttrValue("ProviderName", ""),
		Consent:         el.SelectAttrValue("Consent", ""),
	}
	if r.ID == "" {
		return nil, fmt.Errorf("AuthnRequest has no ID")
	}
	var err error
	if r.IssueInstant, err = requiredTime(el, "IssueInstant"); err != nil {
		return nil, err
	}
	if r.ForceAuthn, err = optionalBool(el, "ForceAuthn"); err != nil {
		return nil, err
	}
	if r.IsPassive, err = optionalBool(el, "IsPassive"); err != nil {
		return nil, err
	}
	if r.Issuer, err = samlxml.ChildText(el, samlxml.NSAssertion, "Issuer"); err != nil {
		return nil, err
	}
	if err := checkBounds("AuthnRequest", field{"ID", r.ID, MaxIDBytes}, field{"Destination", r.Destination, MaxURIBytes},
		field{"AssertionConsumerServiceURL", r.ACS, MaxURIBytes}, field{"AssertionConsumerServiceIndex", r.ACSIndex, 8},
		field{"ProtocolBinding", r.ProtocolBinding, MaxURIBytes}, field{"ProviderName", r.ProviderName, MaxNameBytes},
		field{"Consent", r.Consent, MaxURIBytes}, field{"Issuer", r.Issuer, MaxURIBytes}); err != nil {
		return nil, err
	}
	if err := r.readExtensions(el); err != nil {
		return nil, err
	}
	if err := r.readNameIDPolicy(el); err != nil {
		return nil, err
	}
	if err := r.readAuthnContext(el); err != nil {
		return nil, err
	}
	if len(r.LoAs) > MaxLevels {
		return nil, fmt.Errorf("AuthnRequest lists %d levels, more than %d", len(r.LoAs), MaxLevels)
	}
	for _, loa := range r.LoAs {
		if err := checkBounds("AuthnRequest", field{"AuthnContextClassRef", loa, MaxURIBytes}); err != nil {
			return nil, err
		}
	}
	return r, checkBounds("AuthnRequest", field{"NameIDPolicy Format", r.NameIDFormat, MaxURIBytes}, field{"SPType", r.SPType, MaxNameBytes})
}

func (r *AuthnRequest) readExtensions(el *etree.Element) error {
	ext, err := samlxml.Child(el, samlxml.NSProtocol, "Extensions")
	if err != nil || ext == nil {
		return err
	}
	if r.SPType, err = samlxml.ChildText(ext, NSEIDAS, "SPType"); err != nil {
		return err
	}
	ras, err := samlxml.Child(ext, NSEIDAS, "RequestedAttributes")
	if err != nil || ras == nil {
		return err
	}
	requested := samlxml.Children(ras, NSEIDAS, "RequestedAttribute")
	if len(requested) > MaxAttributes {
		return fmt.Errorf("AuthnRequest asks for %d attributes, more than %d", len(requested), MaxAttributes)
	}
	for _, ra := range requested {
		a := RequestedAttribute{Name: ra.SelectAttrValue("Name", ""), FriendlyName: ra.SelectAttrValue("FriendlyName", "")}
		if a.Name == "" {
			return fmt.Errorf("RequestedAttribute without Name")
		}
		if err := checkBounds("RequestedAttribute", field{"Name", a.Name, MaxValueBytes}, field{"FriendlyName", a.FriendlyName, MaxValueBytes}); err != nil {
			return err
		}
		if nf := ra.SelectAttrValue("NameFormat", AttrNameFormat); nf != AttrNameFormat {
			return fmt.Errorf("RequestedAttribute %s has NameFormat %q", a.Name, nf)
		}
		if a.Required, err = optionalBool(ra, "isRequired"); err != nil {
			return err
		}
		values := samlxml.Children(ra, NSEIDAS, "AttributeValue")
		if len(values) > MaxAttributes {
			return fmt.Errorf("RequestedAttribute %s has %d values, more than %d", a.Name, len(values), MaxAttributes)
		}
		for _, v := range values {
			value := strings.TrimSpace(v.Text())
			if err := checkBounds("RequestedAttribute "+a.Name, field{"AttributeValue", value, MaxValueBytes}); err != nil {
				return err
			}
			a.Values = append(a.Values, value)
		}
		r.Attributes = append(r.Attributes, a)
	}
	return nil
}

func (r *AuthnRequest) readNameIDPolicy(el *etree.Element) error {
	nip, err := samlxml.Child(el, samlxml.NSProtocol, "NameIDPolicy")
	if err != nil || nip == nil {
		return err
	}
	r.HasNameIDPolicy = true
	r.NameIDFormat = nip.SelectAttrValue("Format", "")
	return nil
}

func (r *AuthnRequest) readAuthnContext(el *etree.Element) error {
	rac, err := samlxml.Child(el, samlxml.NSProtocol, "RequestedAuthnContext")
	if err != nil || rac == nil {
		return err
	}
	r.Comparison = rac.SelectAttrValue("Comparison", "exact")
	for _, c := range samlxml.Children(rac, samlxml.NSAssertion, "AuthnContextClassRef") {
		r.LoAs = append(r.LoAs, strings.TrimSpace(c.Text()))
	}
	return nil
}

// Attribute returns the requested attribute with this name, if any.
func (r *AuthnRequest) Attribute(name string) (RequestedAttribute, bool) {
	for _, a := range r.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return RequestedAttribute{}, false
}

func setOpt(el *etree.Element, key, value string) {
	if value != "" {
		el.CreateAttr(key, value)
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func optionalBool(el *etree.Element, key string) (bool, error) {
	switch v := el.SelectAttrValue(key, "false"); v {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s attribute %s=%q is not a boolean", el.Tag, key, v)
	}
}

func requiredTime(el *etree.Element, key string) (time.Time, error) {
	v := el.SelectAttrValue(key, "")
	if v == "" {
		return time.Time{}, fmt.Errorf("%s has no %s", el.Tag, key)
	}
	t, err := samlxml.ParseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %s: %w", el.Tag, key, err)
	}
	return t, nil
}
