package simulator

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// successResponse builds the base64 Response for a, with its assertion
// encrypted to the certificate that verified the request (as Proxy2 does).
func (s *Simulator) successResponse(p *pending, a *authn) (string, error) {
	now := s.now()
	as, err := s.assertion(p, a, now)
	if err != nil {
		return "", err
	}
	enc := samlxml.Encrypter{Cert: p.Cert, KeyTransport: samlxml.RSAOAEPMGF1P, Data: samlxml.AES256GCM, Rand: s.rand}
	ed, err := enc.Encrypt(as.Element())
	if err != nil {
		return "", fmt.Errorf("encrypt assertion for request %s: %w", p.ID, err)
	}
	return s.signedResponse(p, clave2msg.Status{Code: clave2msg.StatusSuccess}, ed, now)
}

// signedResponse builds, signs and base64-encodes a Response to p.
func (s *Simulator) signedResponse(p *pending, st clave2msg.Status, encrypted *etree.Element, now time.Time) (string, error) {
	id, err := samlxml.NewID(s.rand)
	if err != nil {
		return "", fmt.Errorf("response ID: %w", err)
	}
	r := clave2msg.Response{ID: id, InResponseTo: p.ID, IssueInstant: now, Destination: p.ACS, Issuer: s.issuer(), Status: st}
	el := r.Element(encrypted)
	if err := s.currentSigner().Sign(el); err != nil {
		return "", fmt.Errorf("sign response to request %s: %w", p.ID, err)
	}
	data, err := serialize(el)
	if err != nil {
		return "", fmt.Errorf("response to request %s: %w", p.ID, err)
	}
	return base64.StdEncoding.EncodeToString(data), nil
}

// assertion is the eIDAS assertion for a; Audience is the request's ACS URL,
// as Cl@ve 2.0 sets it.
func (s *Simulator) assertion(p *pending, a *authn, now time.Time) (*clave2msg.Assertion, error) {
	id, err := samlxml.NewID(s.rand)
	if err != nil {
		return nil, fmt.Errorf("assertion ID: %w", err)
	}
	attrs, err := attributes(p, a)
	if err != nil {
		return nil, err
	}
	return &clave2msg.Assertion{
		ID:           id,
		IssueInstant: now,
		Issuer:       s.issuer(),
		NameID:       a.citizen.personIdentifier(a.idp),
		NameIDFormat: clave2msg.NameIDUnspec,
		InResponseTo: p.ID,
		Recipient:    p.ACS,
		NotBefore:    now,
		NotOnOrAfter: now.Add(s.lifetime),
		Audience:     p.ACS,
		AuthnInstant: now,
		LoA:          a.loa.EIDAS(),
		Attributes:   attrs,
	}, nil
}

// attributes lists what the gateway releases: the requested attributes it
// has values for, plus FirstSurname, SelectedIdP and RelayState, which
// Cl@ve 2.0 always returns.
func attributes(p *pending, a *authn) ([]clave2msg.Attribute, error) {
	c := a.citizen
	var out []clave2msg.Attribute
	add := func(at translate.Attr, always bool, value string) {
		if value == "" || !(always || p.Requested[at]) {
			return
		}
		if w, ok := clave2msg.WireAttribute(at, value); ok {
			out = append(out, w)
		}
	}
	add(translate.AttrPersonIdentifier, false, c.personIdentifier(a.idp))
	add(translate.AttrGivenName, false, c.GivenName)
	add(translate.AttrFamilyName, false, c.familyName())
	add(translate.AttrFirstSurname, true, c.FirstSurname)
	add(translate.AttrDateOfBirth, false, c.DateOfBirth)
	add(translate.AttrSelectedIdP, true, string(a.idp))
	if a.cert != nil && p.Requested[translate.AttrPartialAfirma] {
		v, err := partialAfirma(c, a.cert)
		if err != nil {
			return nil, err
		}
		add(translate.AttrPartialAfirma, false, v)
	}
	if co := company(a); co != nil {
		add(translate.AttrLegalPersonIdentifier, false, translate.PersonID{Issuer: "ES", Destination: "ES", Value: co.CIF}.String())
		add(translate.AttrLegalName, false, co.Name)
	}
	return append(out, relayStateAttribute(p.RelayState)), nil
}

func company(a *authn) *Company {
	if a.cert == nil {
		return nil
	}
	return a.cert.Company
}

// relayStateAttribute echoes the requested http://es.minhafp.clave/RelayState.
func relayStateAttribute(value string) clave2msg.Attribute {
	return clave2msg.Attribute{
		Name:         translate.ClaveRelayStateAttr,
		FriendlyName: "RelayState",
		XSIType:      "xs:string",
		Values:       []string{value},
	}
}

// serialize writes el as a standalone document without XML declaration.
func serialize(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	data, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialize %s: %w", el.Tag, err)
	}
	return data, nil
}
