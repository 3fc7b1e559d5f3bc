package clave2msg

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// Single logout values (Cl@ve only: the eIDAS profile has no logout).
const (
	// LogoutReasonUser is the Reason of a logout the citizen asked for.
	LogoutReasonUser = "urn:oasis:names:tc:SAML:2.0:logout:user"
	// StatusPartialLogout is the second-level code of a logout that did not
	// reach every session participant.
	StatusPartialLogout = StatusPrefix + "PartialLogout"
)

// LogoutRequest is a Cl@ve single logout request. In Cl@ve's dialect the
// Issuer is the URL where the LogoutResponse must be posted (not an entity
// ID) and the NameID carries the service provider's provider name, not a
// citizen.
type LogoutRequest struct {
	ID              string
	IssueInstant    time.Time
	Destination     string
	Issuer          string
	NameID          string
	NameIDFormat    string
	NameQualifier   string // as our assertions set it (pysaml2 compares it)
	SPNameQualifier string
	NotOnOrAfter    time.Time // zero: absent
	Reason          string
	SessionIndexes  []string
}

// Element builds the unsigned LogoutRequest. Empty optional values (and a
// zero NotOnOrAfter) are left out; the NameID is always written.
func (r *LogoutRequest) Element() *etree.Element {
	el := newProtocolElement("saml2p:LogoutRequest", r.ID, r.IssueInstant)
	if !r.NotOnOrAfter.IsZero() {
		el.CreateAttr("NotOnOrAfter", samlxml.FormatTime(r.NotOnOrAfter))
	}
	setOpt(el, "Reason", r.Reason)
	setOpt(el, "Destination", r.Destination)
	if r.Issuer != "" {
		el.CreateElement("saml2:Issuer").SetText(r.Issuer)
	}
	nid := el.CreateElement("saml2:NameID")
	setOpt(nid, "Format", r.NameIDFormat)
	setOpt(nid, "NameQualifier", r.NameQualifier)
	setOpt(nid, "SPNameQualifier", r.SPNameQualifier)
	nid.SetText(r.NameID)
	for _, si := range r.SessionIndexes {
		el.CreateElement("saml2p:SessionIndex").SetText(si)
	}
	return el
}

// ParseLogoutRequest reads a (verified) LogoutRequest element. It requires
// Version 2.0, an ID, an IssueInstant and exactly one NameID; Issuer,
// Destination, NotOnOrAfter and Reason are read when present and left to
// the caller to check.
func ParseLogoutRequest(el *etree.Element) (*LogoutRequest, error) {
	if err := checkProtocolRoot(el, "LogoutRequest"); err != nil {
		return nil, err
	}
	r := &LogoutRequest{
		ID:          el.SelectAttrValue("ID", ""),
		Destination: el.SelectAttrValue("Destination", ""),
		Reason:      el.SelectAttrValue("Reason", ""),
	}
	var err error
	if r.IssueInstant, err = requiredTime(el, "IssueInstant"); err != nil {
		return nil, err
	}
	if r.NotOnOrAfter, err = optionalTime(el, "NotOnOrAfter"); err != nil {
		return nil, err
	}
	if r.Issuer, err = samlxml.ChildText(el, samlxml.NSAssertion, "Issuer"); err != nil {
		return nil, fmt.Errorf("LogoutRequest: %w", err)
	}
	if err := r.readNameID(el); err != nil {
		return nil, err
	}
	indexes := samlxml.Children(el, samlxml.NSProtocol, "SessionIndex")
	if len(indexes) > MaxSessionIndexes {
		return nil, fmt.Errorf("LogoutRequest has %d SessionIndex elements, more than %d", len(indexes), MaxSessionIndexes)
	}
	for _, si := range indexes {
		index := strings.TrimSpace(si.Text())
		if err := checkBounds("LogoutRequest", field{"SessionIndex", index, MaxNameBytes}); err != nil {
			return nil, err
		}
		r.SessionIndexes = append(r.SessionIndexes, index)
	}
	return r, checkBounds("LogoutRequest", field{"ID", r.ID, MaxIDBytes}, field{"Destination", r.Destination, MaxURIBytes},
		field{"Reason", r.Reason, MaxURIBytes}, field{"Issuer", r.Issuer, MaxURIBytes}, field{"NameID", r.NameID, MaxNameBytes},
		field{"NameID Format", r.NameIDFormat, MaxURIBytes}, field{"SPNameQualifier", r.SPNameQualifier, MaxURIBytes},
		field{"NameQualifier", r.NameQualifier, MaxURIBytes})
}

func (r *LogoutRequest) readNameID(el *etree.Element) error {
	nid, err := samlxml.Child(el, samlxml.NSAssertion, "NameID")
	if err != nil || nid == nil {
		return errors.New("LogoutRequest has no single NameID")
	}
	r.NameID = strings.TrimSpace(nid.Text())
	r.NameIDFormat = nid.SelectAttrValue("Format", "")
	r.SPNameQualifier = nid.SelectAttrValue("SPNameQualifier", "")
	r.NameQualifier = nid.SelectAttrValue("NameQualifier", "")
	return nil
}

// LogoutResponse answers a LogoutRequest. Cl@ve's own LogoutResponses do not
// set the Issuer properly, so readers should not rely on it.
type LogoutResponse struct {
	ID           string
	InResponseTo string
	IssueInstant time.Time
	Destination  string
	Issuer       string
	Status       Status
}

// Element builds the unsigned LogoutResponse. The StatusMessage is always
// written, as the Cl@ve kits read it unconditionally: the Success URI on
// success, otherwise Status.Message, or the status code when that is empty.
func (r *LogoutResponse) Element() *etree.Element {
	el := newProtocolElement("saml2p:LogoutResponse", r.ID, r.IssueInstant)
	setOpt(el, "InResponseTo", r.InResponseTo)
	setOpt(el, "Destination", r.Destination)
	if r.Issuer != "" {
		issuer(el, r.Issuer)
	}
	st := el.CreateElement("saml2p:Status")
	sc := st.CreateElement("saml2p:StatusCode")
	sc.CreateAttr("Value", r.Status.Code)
	if r.Status.SubCode != "" {
		sc.CreateElement("saml2p:StatusCode").CreateAttr("Value", r.Status.SubCode)
	}
	st.CreateElement("saml2p:StatusMessage").SetText(logoutMessage(r.Status))
	return el
}

// logoutMessage is the StatusMessage a LogoutResponse carries for s.
func logoutMessage(s Status) string {
	switch {
	case s.Code == StatusSuccess && (s.SubCode == "" || s.Message == ""):
		return StatusSuccess
	case s.Message != "":
		return s.Message
	default:
		return s.Code
	}
}

// ParseLogoutResponse reads a (verified) LogoutResponse element. It requires
// Version 2.0, an ID, an IssueInstant and one Status with one StatusCode;
// InResponseTo, Destination, Issuer and the StatusMessage are read when
// present and left to the caller to check.
func ParseLogoutResponse(el *etree.Element) (*LogoutResponse, error) {
	if err := checkProtocolRoot(el, "LogoutResponse"); err != nil {
		return nil, err
	}
	r := &LogoutResponse{
		ID:           el.SelectAttrValue("ID", ""),
		InResponseTo: el.SelectAttrValue("InResponseTo", ""),
		Destination:  el.SelectAttrValue("Destination", ""),
	}
	var err error
	if r.IssueInstant, err = requiredTime(el, "IssueInstant"); err != nil {
		return nil, err
	}
	if r.Issuer, err = samlxml.ChildText(el, samlxml.NSAssertion, "Issuer"); err != nil {
		return nil, fmt.Errorf("LogoutResponse: %w", err)
	}
	if r.Status, err = readStatus(el); err != nil {
		return nil, fmt.Errorf("LogoutResponse: %w", err)
	}
	return r, checkBounds("LogoutResponse", field{"ID", r.ID, MaxIDBytes}, field{"InResponseTo", r.InResponseTo, MaxIDBytes},
		field{"Destination", r.Destination, MaxURIBytes}, field{"Issuer", r.Issuer, MaxURIBytes},
		field{"StatusMessage", r.Status.Message, MaxURIBytes})
}

// newProtocolElement starts a SAML protocol message with its namespaces,
// ID, Version and IssueInstant.
func newProtocolElement(tag, id string, issued time.Time) *etree.Element {
	el := etree.NewElement(tag)
	el.CreateAttr("xmlns:saml2p", samlxml.NSProtocol)
	el.CreateAttr("xmlns:saml2", samlxml.NSAssertion)
	el.CreateAttr("ID", id)
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", samlxml.FormatTime(issued))
	return el
}

// checkProtocolRoot requires el to be the protocol element tag, Version 2.0,
// with a non-empty ID.
func checkProtocolRoot(el *etree.Element, tag string) error {
	if el == nil {
		return fmt.Errorf("no %s element", tag)
	}
	if !samlxml.Is(el, samlxml.NSProtocol, tag) {
		return fmt.Errorf("root element is %s, not a %s", el.FullTag(), tag)
	}
	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		return fmt.Errorf("%s Version %q is not 2.0", tag, v)
	}
	if el.SelectAttrValue("ID", "") == "" {
		return fmt.Errorf("%s has no ID", tag)
	}
	return nil
}

// optionalTime reads an xs:dateTime attribute that may be absent (zero time).
func optionalTime(el *etree.Element, key string) (time.Time, error) {
	if el.SelectAttr(key) == nil {
		return time.Time{}, nil
	}
	return requiredTime(el, key)
}

// LoggedOut reports whether a LogoutResponse confirms the logout: Success
// without a PartialLogout second-level code.
func LoggedOut(s Status) bool {
	return s.Code == StatusSuccess && s.SubCode != StatusPartialLogout
}
