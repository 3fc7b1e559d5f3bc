package stork

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// Status URIs of STORK answers.
const (
	statusPrefix    = "urn:oasis:names:tc:SAML:2.0:status:"
	statusSuccess   = statusPrefix + "Success"
	QAANotSupported = "http://www.stork.gov.eu/saml20/statusCodes/QAANotSupported"
	nameIDUnspec    = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	bearer          = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	consentObtained = "urn:oasis:names:tc:SAML:2.0:consent:obtained"
	entityFormat    = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
	failureIssuer   = "CLAVE" // an answer with no IdP behind it
)

// statusCodes maps canonical outcomes to the STORK engine's codes.
var statusCodes = map[bridge.StatusCode][2]string{
	bridge.StatusAuthnFailed:    {statusPrefix + "Responder", statusPrefix + "AuthnFailed"},
	bridge.StatusRequestDenied:  {statusPrefix + "Requester", statusPrefix + "RequestDenied"},
	bridge.StatusNoAuthnContext: {statusPrefix + "Responder", QAANotSupported},
	bridge.StatusInvalidAttr:    {statusPrefix + "Requester", statusPrefix + "InvalidAttrNameOrValue"},
	bridge.StatusNoPassive:      {statusPrefix + "Requester", statusPrefix + "RequestDenied"},
	bridge.StatusInvalidNameID:  {statusPrefix + "Requester", statusPrefix + "InvalidNameIDPolicy"},
	bridge.StatusResponder:      {statusPrefix + "Responder", ""},
}

// Render answers exactly as the Cl@ve 1 gateway did: the five STORK
// namespaces and xs on the root, the Response and its single Assertion both
// signed (exclusive c14n with InclusiveNamespaces "xs"), Issuer = the IdP
// used, and the extra POST fields.
func (e *Endpoint) Render(ctx context.Context, sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (bridge.Outgoing, error) {
	// A failure is answered even from an unreadable state.
	var st requestState
	if err := bridge.DecodeState(req.State, &st); err != nil && res.Status.OK() {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	var ans *answer
	if res.Status.OK() {
		ans = newAnswer(&res, afirmaNeedsOf(st))
		if name, missing := missingRequired(st.Attributes, ans); missing {
			res, ans = bridge.Failure(bridge.StatusInvalidAttr, "required attribute "+name+" is not available"), nil
		}
	}
	doc, err := e.response(sp, req, res, ans, st)
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	xml, err := samlxml.Serialize(doc)
	if err != nil {
		return bridge.Outgoing{}, err
	}
	rec := audit.Record{Direction: audit.Out, Kind: audit.Response, SP: sp.ID, ID: doc.SelectAttrValue("ID", ""), InResponseTo: req.ID,
		Status: auditStatus(res.Status)}
	if res.Status.OK() {
		rec.LoA, rec.IdP = res.LoA, res.IdP
	}
	e.audit(ctx, rec)
	return bridge.Outgoing{URL: req.ReturnURL, Fields: formFields(xml, req, st, ans)}, nil
}

// missingRequired finds a required attribute the answer cannot fill.
func missingRequired(requested []RequestedAttribute, ans *answer) (string, bool) {
	for _, a := range requested {
		if _, ok := ans.values[a.Name]; a.Required && !ok {
			return a.Name, true
		}
	}
	return "", false
}

// formFields are SAMLResponse (plain base64), RelayState if the SP sent
// one, and, for SPs that sent allowLegalPerson=true, isLegalPerson and oid.
func formFields(xml []byte, req *bridge.Request, st requestState, ans *answer) []samlxml.Field {
	fields := []samlxml.Field{{Name: "SAMLResponse", Value: base64.StdEncoding.EncodeToString(xml)}}
	if req.RelayState != "" {
		fields = append(fields, samlxml.Field{Name: "RelayState", Value: req.RelayState})
	}
	if st.AllowLegalPerson && ans != nil {
		fields = append(fields, samlxml.Field{Name: "isLegalPerson", Value: boolString(ans.legalPerson)})
		if ans.legalPerson && ans.oid != "" {
			fields = append(fields, samlxml.Field{Name: "oid", Value: ans.oid})
		}
	}
	return fields
}

// response builds and signs the Response and its Assertion (a failure,
// like the engine's, still carries an Assertion without attributes).
func (e *Endpoint) response(sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result, ans *answer, st requestState) (*etree.Element, error) {
	id, err := samlxml.NewID(e.cfg.Rand)
	if err != nil {
		return nil, err
	}
	issuer := failureIssuer
	if ans != nil {
		issuer = ans.issuer
	}
	root := etree.NewElement("saml2p:Response")
	for _, ns := range [][2]string{
		{"saml2p", samlxml.NSProtocol}, {"ds", samlxml.NSDSig}, {"saml2", samlxml.NSAssertion},
		{"stork", NSStork}, {"storkp", NSStorkP}, {"xs", samlxml.NSXS},
	} {
		root.CreateAttr("xmlns:"+ns[0], ns[1])
	}
	root.CreateAttr("Consent", consentObtained)
	root.CreateAttr("Destination", req.ReturnURL)
	root.CreateAttr("ID", id)
	root.CreateAttr("InResponseTo", req.ID)
	root.CreateAttr("IssueInstant", samlxml.FormatTime(e.cfg.Now()))
	root.CreateAttr("Version", "2.0")
	issuerElement(root, issuer)
	writeStatus(root, res.Status)
	if err := e.assertion(root, sp, req, issuer, ans, st); err != nil {
		return nil, err
	}
	if err := e.signer(sp).Sign(root); err != nil {
		return nil, fmt.Errorf("sign response: %w", err)
	}
	return root, nil
}

func (e *Endpoint) signer(sp *bridge.ServiceProvider) samlxml.Signer {
	s := e.cfg.Signer
	s.Method, s.Digest, s.IncludeCert, s.InclusivePrefixes = sp.SignatureAlgorithm, "", true, []string{"xs"}
	return s
}

func issuerElement(parent *etree.Element, value string) {
	iss := parent.CreateElement("saml2:Issuer")
	iss.CreateAttr("Format", entityFormat)
	iss.SetText(value)
}

func writeStatus(root *etree.Element, s bridge.Status) {
	st := root.CreateElement("saml2p:Status")
	sc := st.CreateElement("saml2p:StatusCode")
	if s.OK() {
		sc.CreateAttr("Value", statusSuccess)
		st.CreateElement("saml2p:StatusMessage").SetText(statusSuccess)
		return
	}
	codes, ok := statusCodes[s.Code]
	if !ok {
		codes = statusCodes[bridge.StatusResponder]
	}
	sc.CreateAttr("Value", codes[0])
	if codes[1] != "" {
		sc.CreateElement("saml2p:StatusCode").CreateAttr("Value", codes[1])
	}
	msg := s.Message
	if msg == "" {
		msg = string(s.Code)
	}
	st.CreateElement("saml2p:StatusMessage").SetText(msg)
}
