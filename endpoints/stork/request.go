package stork

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// STORK 1.0 namespaces and the attribute name prefix.
const (
	NSStork     = "urn:eu:stork:names:tc:STORK:1.0:assertion"
	NSStorkP    = "urn:eu:stork:names:tc:STORK:1.0:protocol"
	AttrPrefix  = "http://www.stork.gov.eu/1.0/"
	attrNameURI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
)

// RequestedAttribute is one stork:RequestedAttribute, by its short name.
type RequestedAttribute struct {
	Name     string   `json:"name"` // after the last '/', as the kits read it
	Required bool     `json:"required,omitempty"`
	Values   []string `json:"-"`
}

// AuthnRequest is a STORK 1.0 (Cl@ve 1) authentication request with every
// extension the kits send.
type AuthnRequest struct {
	ID, Issuer, ProviderName, ACS, Destination string
	IssueInstant                               time.Time
	ForceAuthn, IsPassive                      bool
	QAA                                        string
	SPSector, SPInstitution, SPApplication     string
	SPCountry                                  string
	SectorShare, CrossSectorShare              string
	CrossBorderShare                           string
	Attributes                                 []RequestedAttribute
	SPID, CitizenCountry                       string
}

// ParseAuthnRequest reads a verified STORK AuthnRequest. It is tolerant
// where the Cl@ve 1 gateway was (any prefixes, the Signature before or after
// the Issuer) and strict on what the engine required: ID, ProviderName,
// AssertionConsumerServiceURL, a QAA level and at least one attribute.
func ParseAuthnRequest(el *etree.Element) (*AuthnRequest, error) {
	if !samlxml.Is(el, samlxml.NSProtocol, "AuthnRequest") {
		return nil, fmt.Errorf("message is %s, not an AuthnRequest", el.FullTag())
	}
	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, fmt.Errorf("AuthnRequest Version %q is not 2.0", v)
	}
	r := &AuthnRequest{
		ID: el.SelectAttrValue("ID", ""), ProviderName: el.SelectAttrValue("ProviderName", ""),
		ACS: el.SelectAttrValue("AssertionConsumerServiceURL", ""), Destination: el.SelectAttrValue("Destination", ""),
		ForceAuthn: boolAttr(el, "ForceAuthn"), IsPassive: boolAttr(el, "IsPassive"),
	}
	var err error
	if r.IssueInstant, err = samlxml.ParseTime(el.SelectAttrValue("IssueInstant", "")); err != nil {
		return nil, fmt.Errorf("AuthnRequest IssueInstant: %w", err)
	}
	if r.Issuer, err = samlxml.ChildText(el, samlxml.NSAssertion, "Issuer"); err != nil {
		return nil, err
	}
	ext, err := samlxml.Child(el, samlxml.NSProtocol, "Extensions")
	if err != nil || ext == nil {
		return nil, fmt.Errorf("STORK AuthnRequest without Extensions")
	}
	if err := r.readExtensions(ext); err != nil {
		return nil, err
	}
	return r, r.checkMandatory()
}

func (r *AuthnRequest) checkMandatory() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("AuthnRequest has no ID")
	case r.ProviderName == "" || len(r.ProviderName) > 128:
		return fmt.Errorf("ProviderName is missing or longer than 128 characters")
	case r.Issuer == "":
		return fmt.Errorf("Issuer is missing (it is the answer's Audience)")
	case r.ACS == "":
		return fmt.Errorf("AssertionConsumerServiceURL is missing")
	case r.QAA == "":
		return fmt.Errorf("QualityAuthenticationAssuranceLevel is missing")
	case len(r.Attributes) == 0:
		return fmt.Errorf("no RequestedAttribute")
	}
	return r.checkBounds()
}

// checkBounds refuses any field past the bound of the fields the bridge
// keeps, logs or echoes (the same bounds as the Cl@ve 2 codec's).
func (r *AuthnRequest) checkBounds() error {
	fields := []struct {
		name, value string
		max         int
	}{
		{"ID", r.ID, clave2msg.MaxIDBytes}, {"Issuer", r.Issuer, clave2msg.MaxURIBytes},
		{"AssertionConsumerServiceURL", r.ACS, clave2msg.MaxURIBytes}, {"Destination", r.Destination, clave2msg.MaxURIBytes},
		{"QualityAuthenticationAssuranceLevel", r.QAA, 8}, {"spSector", r.SPSector, clave2msg.MaxNameBytes},
		{"spInstitution", r.SPInstitution, clave2msg.MaxNameBytes}, {"spApplication", r.SPApplication, clave2msg.MaxNameBytes},
		{"spCountry", r.SPCountry, 8}, {"eIDSectorShare", r.SectorShare, 8}, {"eIDCrossSectorShare", r.CrossSectorShare, 8},
		{"eIDCrossBorderShare", r.CrossBorderShare, 8}, {"CitizenCountryCode", r.CitizenCountry, 8}, {"SPID", r.SPID, clave2msg.MaxNameBytes},
	}
	for _, f := range fields {
		if len(f.value) > f.max {
			return fmt.Errorf("AuthnRequest %s is %d bytes, more than %d", f.name, len(f.value), f.max)
		}
	}
	return nil
}

// readExtensions reads the STORK extensions, matching namespace URIs.
func (r *AuthnRequest) readExtensions(ext *etree.Element) error {
	texts := []struct {
		ns, tag string
		dst     *string
	}{
		{NSStork, "QualityAuthenticationAssuranceLevel", &r.QAA},
		{NSStork, "spSector", &r.SPSector}, {NSStork, "spInstitution", &r.SPInstitution},
		{NSStork, "spApplication", &r.SPApplication}, {NSStork, "spCountry", &r.SPCountry},
		{NSStorkP, "eIDSectorShare", &r.SectorShare}, {NSStorkP, "eIDCrossSectorShare", &r.CrossSectorShare},
		{NSStorkP, "eIDCrossBorderShare", &r.CrossBorderShare},
	}
	for _, t := range texts {
		v, err := samlxml.ChildText(ext, t.ns, t.tag)
		if err != nil {
			return err
		}
		*t.dst = v
	}
	if err := r.readAttributes(ext); err != nil {
		return err
	}
	return r.readAuthenticationAttributes(ext)
}

func (r *AuthnRequest) readAttributes(ext *etree.Element) error {
	ras, err := samlxml.Child(ext, NSStorkP, "RequestedAttributes")
	if err != nil || ras == nil {
		return err
	}
	seen := map[string]bool{}
	requested := samlxml.Children(ras, NSStork, "RequestedAttribute")
	if len(requested) > clave2msg.MaxAttributes {
		return fmt.Errorf("AuthnRequest asks for %d attributes, more than %d", len(requested), clave2msg.MaxAttributes)
	}
	for _, ra := range requested {
		full := ra.SelectAttrValue("Name", "")
		if len(full) > clave2msg.MaxValueBytes {
			return fmt.Errorf("RequestedAttribute Name is %d bytes, more than %d", len(full), clave2msg.MaxValueBytes)
		}
		name := full[strings.LastIndex(full, "/")+1:]
		if name == "" || seen[name] {
			return fmt.Errorf("RequestedAttribute %q without a name or repeated", full)
		}
		seen[name] = true
		a := RequestedAttribute{Name: name, Required: boolAttr(ra, "isRequired")}
		values := samlxml.Children(ra, NSStork, "AttributeValue")
		if len(values) > clave2msg.MaxAttributes {
			return fmt.Errorf("RequestedAttribute %s has %d values, more than %d", name, len(values), clave2msg.MaxAttributes)
		}
		for _, v := range values {
			value := strings.TrimSpace(v.Text())
			if len(value) > clave2msg.MaxValueBytes {
				return fmt.Errorf("RequestedAttribute %s value is %d bytes, more than %d", name, len(value), clave2msg.MaxValueBytes)
			}
			a.Values = append(a.Values, value)
		}
		r.Attributes = append(r.Attributes, a)
	}
	return nil
}

func (r *AuthnRequest) readAuthenticationAttributes(ext *etree.Element) error {
	aa, err := samlxml.Child(ext, NSStorkP, "AuthenticationAttributes")
	if err != nil || aa == nil {
		return err
	}
	vidp, err := samlxml.Child(aa, NSStorkP, "VIDPAuthenticationAttributes")
	if err != nil || vidp == nil {
		return err
	}
	if r.CitizenCountry, err = samlxml.ChildText(vidp, NSStorkP, "CitizenCountryCode"); err != nil {
		return err
	}
	info, err := samlxml.Child(vidp, NSStorkP, "SPInformation")
	if err != nil || info == nil {
		return err
	}
	r.SPID, err = samlxml.ChildText(info, NSStorkP, "SPID")
	return err
}

func boolAttr(el *etree.Element, key string) bool {
	v := strings.TrimSpace(el.SelectAttrValue(key, "false"))
	return v == "true" || v == "1"
}
