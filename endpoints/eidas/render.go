package eidas

import (
	"context"
	"crypto/x509"
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

// Render builds the answer the Cl@ve 2.0 gateway (or an eIDAS node) would
// give: the Response signed over an encrypted assertion (encrypt, then
// sign), posted to the registered ACS with the RelayState echoed.
func (e *Endpoint) Render(ctx context.Context, sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (bridge.Outgoing, error) {
	id, err := samlxml.NewID(e.cfg.Rand)
	if err != nil {
		return bridge.Outgoing{}, err
	}
	var st requestState
	if err := bridge.DecodeState(req.State, &st); err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	var encrypted *etree.Element
	if res.Status.OK() {
		switch encrypted, err = e.encryptedAssertion(sp, req, &st, res); {
		case errors.Is(err, errNoPersistent):
			res = bridge.Failure(bridge.StatusInvalidNameID, "no persistent NameID can be given to this service")
			if e.cfg.Log != nil {
				trace.Logger(ctx, e.cfg.Log).Warn("login refused to the SP", zap.String("sp", sp.ID),
					zap.String("status", string(res.Status.Code)), zap.String("reason", err.Error()))
			}
		case err != nil:
			return bridge.Outgoing{}, fmt.Errorf("sp %s: %w", sp.ID, err)
		}
	}
	resp := &clave2msg.Response{
		ID: id, InResponseTo: req.ID, IssueInstant: e.cfg.Now(), Destination: req.ReturnURL,
		Issuer: e.cfg.EntityID, Status: clave2msg.StatusOf(res.Status.Code, res.Status.Message),
	}
	el := resp.Element(encrypted)
	signer := e.cfg.Signer
	signer.Method, signer.Digest, signer.IncludeCert = sp.SignatureAlgorithm, "", true
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

// encryptedAssertion builds the assertion and encrypts it to the SP.
func (e *Endpoint) encryptedAssertion(sp *bridge.ServiceProvider, req *bridge.Request, st *requestState, res bridge.Result) (*etree.Element, error) {
	a, err := e.assertion(sp, req, st, res)
	if err != nil {
		return nil, err
	}
	cert, err := encryptionCert(sp, st)
	if err != nil {
		return nil, err
	}
	enc := samlxml.Encrypter{Cert: cert, KeyTransport: sp.KeyTransport, Data: sp.DataEncryption, Rand: e.cfg.Rand}
	encrypted, err := enc.Encrypt(a.Element())
	if err != nil {
		return nil, fmt.Errorf("encrypt assertion: %w", err)
	}
	return encrypted, nil
}

// encryptionCert is the configured or metadata encryption certificate, or,
// for a Cl@ve 2.0 kit without one, the certificate that signed its request,
// as the gateway does.
func encryptionCert(sp *bridge.ServiceProvider, st *requestState) (*x509.Certificate, error) {
	if sp.EncryptionCert != nil {
		return sp.EncryptionCert, nil
	}
	for _, c := range sp.SigningCerts {
		if fingerprint(c) == st.Signer {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no encryption certificate: the request's signing certificate is no longer registered")
}

func (e *Endpoint) assertion(sp *bridge.ServiceProvider, req *bridge.Request, st *requestState, res bridge.Result) (*clave2msg.Assertion, error) {
	now := e.cfg.Now()
	id, err := samlxml.NewID(e.cfg.Rand)
	if err != nil {
		return nil, err
	}
	nameID, format, err := e.nameID(st, res)
	if err != nil {
		return nil, err
	}
	audience := req.ReturnURL // Cl@ve 2.0: the request's ACS
	if st.Profile == ProfileEIDAS {
		audience = sp.ID // eIDAS: the requester's metadata URL
	}
	return &clave2msg.Assertion{
		ID: id, IssueInstant: now, Issuer: e.cfg.EntityID, NameID: nameID, NameIDFormat: format,
		InResponseTo: req.ID, Recipient: req.ReturnURL, NotBefore: now, NotOnOrAfter: now.Add(e.cfg.AssertionLifetime),
		Audience: audience, AuthnInstant: res.AuthnInstant, LoA: res.LoA.EIDAS(), Attributes: attributes(sp, st, res),
	}, nil
}

// errNoPersistent: the SP asked for a persistent NameID and none may be
// given to it (its policy withholds the PersonIdentifier and the bridge has
// no pairwise secret); it is answered InvalidNameIDPolicy.
var errNoPersistent = errors.New("no persistent NameID for this SP")

// nameID follows the requested format. Transient: a fresh identifier (the
// SSO session's, for single logout). Persistent: the SP's persistent NameID
// as the flow chose it (the PersonIdentifier when its policy releases it,
// its pairwise identifier otherwise), refused when there is none.
// Unspecified or none, as Cl@ve 2.0 kits ask: the PersonIdentifier, as the
// gateway sends it, when the policy releases it (the Subject is then kept);
// otherwise the pairwise identifier with the persistent format, or, with
// no pairwise secret, a transient one. Never a withheld PersonIdentifier.
func (e *Endpoint) nameID(st *requestState, res bridge.Result) (string, string, error) {
	transient := func() (string, string, error) {
		if res.TransientNameID != "" { // the SSO session's, for single logout
			return res.TransientNameID, nameIDTransient, nil
		}
		id, err := samlxml.NewID(e.cfg.Rand)
		return id, nameIDTransient, err
	}
	switch st.NameIDFormat {
	case nameIDTransient:
		return transient()
	case clave2msg.NameIDPersist:
		if res.PersistentNameID == "" {
			return "", "", errNoPersistent
		}
		return res.PersistentNameID, clave2msg.NameIDPersist, nil
	}
	switch {
	case res.Subject != "":
		return res.Subject, clave2msg.NameIDUnspec, nil
	case res.PersistentNameID != "":
		return res.PersistentNameID, clave2msg.NameIDPersist, nil
	}
	return transient()
}

// attributes are the released attributes with their eIDAS names and types,
// and the echoed RelayState attribute.
func attributes(sp *bridge.ServiceProvider, st *requestState, res bridge.Result) []clave2msg.Attribute {
	var out []clave2msg.Attribute
	for _, at := range res.Attributes {
		if a, ok := clave2msg.WireAttribute(at.Name, at.Values...); ok {
			if sp.StringValueTypes {
				a.XSIType = "xs:string"
			}
			out = append(out, a)
		}
	}
	if st.HasRelayAttr {
		out = append(out, clave2msg.Attribute{
			Name: translate.ClaveRelayStateAttr, FriendlyName: "RelayState", XSIType: "xs:string",
			Values: []string{st.RelayAttr},
		})
	}
	return out
}
