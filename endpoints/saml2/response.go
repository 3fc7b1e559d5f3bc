package saml2

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/beevik/etree"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/translate"
)

// NameID formats and status codes of plain SAML2.
const (
	nameIDTransient     = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDPersistent    = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nameIDUnspecified   = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	attrNameFormatBasic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
)

func supportedNameIDFormat(f string) bool {
	return f == "" || f == nameIDTransient || f == nameIDPersistent || f == nameIDUnspecified
}

// Render builds the signed Response for req: a signed (and, if the SP wants
// it, encrypted) assertion on success, a bare status otherwise.
func (e *Endpoint) Render(ctx context.Context, sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (bridge.Outgoing, error) {
	id, err := samlxml.NewID(e.cfg.Rand)
	if err != nil {
		return bridge.Outgoing{}, err
	}
	signer := e.cfg.Signer
	signer.Method, signer.Digest = sp.SignatureAlgorithm, ""
	var assertion *etree.Element
	var nameID, format string
	if res.Status.OK() {
		switch nameID, format, err = e.nameID(req, res); {
		case errors.Is(err, errNoPersistent):
			res = bridge.Failure(bridge.StatusInvalidNameID, "no persistent NameID can be given to this service")
			if e.cfg.Log != nil {
				trace.Logger(ctx, e.cfg.Log).Warn("login refused to the SP", zap.String("sp", sp.ID),
					zap.String("status", string(res.Status.Code)), zap.String("reason", err.Error()))
			}
		case err != nil:
			return bridge.Outgoing{}, err
		}
	}
	if res.Status.OK() {
		var class string
		switch class, err = e.authnClass(req, res); {
		case errors.Is(err, errNoAuthnContext):
			res = bridge.Failure(bridge.StatusNoAuthnContext, "the level of assurance reached is not one the service asked for")
			if e.cfg.Log != nil {
				trace.Logger(ctx, e.cfg.Log).Warn("login refused to the SP", zap.String("sp", sp.ID),
					zap.String("status", string(res.Status.Code)), zap.String("reason", err.Error()))
			}
		case err != nil:
			return bridge.Outgoing{}, err
		default:
			if assertion, err = e.assertion(sp, req, res, nameID, format, class, signer); err != nil {
				return bridge.Outgoing{}, err
			}
		}
	}
	resp := &clave2msg.Response{
		ID: id, InResponseTo: req.ID, IssueInstant: e.cfg.Now(), Destination: req.ReturnURL,
		Issuer: e.cfg.EntityID, Status: clave2msg.StatusOf(res.Status.Code, res.Status.Message),
	}
	el := resp.Element(assertion)
	if err := signer.Sign(el); err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sign response: %w", err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return bridge.Outgoing{}, err
	}
	fields := []samlxml.Field{{Name: "SAMLResponse", Value: base64.StdEncoding.EncodeToString(xml)}}
	if req.RelayState != "" {
		fields = append(fields, samlxml.Field{Name: "RelayState", Value: req.RelayState})
	}
	rec := audit.Record{Direction: audit.Out, Kind: audit.Response, SP: sp.ID, ID: id, InResponseTo: req.ID,
		Status: audit.Status(resp.Status.Code, resp.Status.SubCode)}
	if res.Status.OK() {
		rec.LoA, rec.IdP = res.LoA, res.IdP
	}
	e.audit(ctx, rec)
	return bridge.Outgoing{URL: req.ReturnURL, Fields: fields}, nil
}

// assertion builds, signs and optionally encrypts the success assertion.
func (e *Endpoint) assertion(sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result, nameID, format, class string, signer samlxml.Signer) (*etree.Element, error) {
	now := e.cfg.Now()
	id, err := samlxml.NewID(e.cfg.Rand)
	if err != nil {
		return nil, err
	}
	session := res.SessionIndex // the SSO session's, when the flow keeps one
	if session == "" {
		if session, err = samlxml.NewID(e.cfg.Rand); err != nil {
			return nil, err
		}
	}
	a := &clave2msg.Assertion{
		ID: id, IssueInstant: now, Issuer: e.cfg.EntityID, NameID: nameID, NameIDFormat: format,
		InResponseTo: req.ID, Recipient: req.ReturnURL, NotBefore: now.Add(-e.cfg.Guard.Skew),
		NotOnOrAfter: now.Add(e.cfg.AssertionLifetime), Audience: sp.ID, AuthnInstant: res.AuthnInstant,
		SessionIndex: session, LoA: class, Attributes: attributes(sp, res),
	}
	el := a.Element()
	if err := signer.Sign(el); err != nil {
		return nil, fmt.Errorf("sign assertion: %w", err)
	}
	if !sp.EncryptAssertions {
		return el, nil
	}
	enc := samlxml.Encrypter{Cert: sp.EncryptionCert, KeyTransport: sp.KeyTransport, Data: sp.DataEncryption, Rand: e.cfg.Rand}
	encrypted, err := enc.Encrypt(el)
	if err != nil {
		return nil, fmt.Errorf("encrypt assertion: %w", err)
	}
	return encrypted, nil
}

// authnClass is the AuthnContextClassRef the assertion states: the eIDAS
// level reached, or what the SP's exact or maximum request admits
// (errNoAuthnContext when nothing it admits can be stated).
func (e *Endpoint) authnClass(req *bridge.Request, res bridge.Result) (string, error) {
	var st requestState
	if err := bridge.DecodeState(req.State, &st); err != nil {
		return "", err
	}
	return statedClass(st.AuthnContext, res.LoA)
}

// errNoPersistent: the SP asked for a persistent NameID and none may be
// given to it (its policy withholds the PersonIdentifier and the bridge has
// no pairwise secret); it is answered InvalidNameIDPolicy.
var errNoPersistent = errors.New("no persistent NameID for this SP")

// nameID follows the NameIDPolicy Format the SP asked for. Persistent: the
// SP's persistent NameID as the flow chose it (the PersonIdentifier when
// its policy releases it, its pairwise identifier otherwise). Transient,
// unspecified or none: a random transient identifier (the SSO session's,
// for single logout), so that an SP that did not ask for a stable
// identifier does not get one. Never the Subject itself.
func (e *Endpoint) nameID(req *bridge.Request, res bridge.Result) (string, string, error) {
	var st requestState
	if err := bridge.DecodeState(req.State, &st); err != nil {
		return "", "", err
	}
	if st.NameIDFormat == nameIDPersistent {
		if res.PersistentNameID == "" {
			return "", "", errNoPersistent
		}
		return res.PersistentNameID, nameIDPersistent, nil
	}
	if res.TransientNameID != "" { // the SSO session's, for single logout
		return res.TransientNameID, nameIDTransient, nil
	}
	id, err := samlxml.NewID(e.cfg.Rand)
	return id, nameIDTransient, err
}

// attributes names the released attributes the way the SP is configured:
// eIDAS FriendlyNames with the basic name format, or eIDAS URIs; under the
// sir attribute profile, the SIR names (NameFormat uri) of those that have
// one. res holds only what the SP's policy releases, so a
// schacPersonalUniqueID comes only with a released PersonIdentifier.
func attributes(sp *bridge.ServiceProvider, res bridge.Result) []clave2msg.Attribute {
	var out []clave2msg.Attribute
	for _, at := range res.Attributes {
		if at.Name == translate.AttrPersonIdentifier && !sp.Policy.ReleasesIdentifier() {
			continue // never reaches here through the flow; fail closed all the same
		}
		if sp.AttributeProfile == translate.ProfileSIR {
			if a, ok := sirAttribute(at); ok {
				out = append(out, a)
				continue
			}
		}
		w, ok := translate.Wire(at.Name)
		if !ok {
			continue
		}
		a := clave2msg.Attribute{Name: w.FriendlyName, NameFormat: attrNameFormatBasic, XSIType: "xs:string", Values: at.Values}
		if sp.AttributeNames == "uri" {
			a.Name, a.NameFormat, a.FriendlyName = w.Name, clave2msg.AttrNameFormat, w.FriendlyName
		}
		out = append(out, a)
	}
	return out
}

// sirAttribute names at as the SIR federation does, if it has a SIR name
// (a PersonIdentifier only when it is a Spanish DNI or NIE).
func sirAttribute(at bridge.Attribute) (clave2msg.Attribute, bool) {
	w, values, ok := translate.SIRWire(at.Name, at.Values)
	if !ok {
		return clave2msg.Attribute{}, false
	}
	return clave2msg.Attribute{Name: w.Name, NameFormat: clave2msg.AttrNameFormat, FriendlyName: w.FriendlyName,
		XSIType: "xs:string", Values: values}, true
}
