package eidas

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// Limits of the gateway we stand in for.
const (
	maxRequestBytes = 131072 // Cl@ve 2.0's cap on a decoded AuthnRequest
	maxRelayState   = 256
)

// inbound is an AuthnRequest from an identified SP, read from verified XML.
type inbound struct {
	sp          *bridge.ServiceProvider
	req         *clave2msg.AuthnRequest
	acs         bridge.Endpoint
	relayState  string            // the RelayState form field
	signer      *x509.Certificate // the registered certificate that verified the request
	application string            // Cl@ve 2.0: ProviderName after ';'
}

// message is one decoded binding: the document, the RelayState field and,
// for the Redirect binding, its query signature.
type message struct {
	doc      *etree.Document
	relay    string
	redirect *samlxml.RedirectMessage
}

// readRequest decodes the binding, identifies the SP from the (unverified)
// Issuer or ProviderName only to pick its keys, verifies the signature and
// resolves the ACS from the SP's registration.
func (e *Endpoint) readRequest(input *web.Input) (*inbound, error) {
	msg, err := readBinding(input)
	if err != nil {
		return nil, err
	}
	sp, err := e.identify(msg.doc.Root())
	if err != nil {
		return nil, err
	}
	v := sp.Verifier()
	verified, err := verifyRequest(v, msg)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	ar, err := clave2msg.ParseAuthnRequest(verified.Element)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	in := &inbound{sp: sp, req: ar, relayState: msg.relay, signer: verified.Cert}
	if err := in.confirmIdentity(); err != nil {
		return nil, err
	}
	if in.acs, err = resolveACS(sp, ar.ACS); err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	if sp.Profile == ProfileEIDAS && ar.ACS != "" && ar.ACS != sp.ACS[0].URL {
		return nil, fmt.Errorf("sp %s: AssertionConsumerServiceURL %q is not the metadata's default", sp.ID, ar.ACS)
	}
	return in, nil
}

// verifyRequest checks the query signature of a Redirect request (SAML
// bindings 3.4.4.1: it covers the message, which then carries no
// ds:Signature of its own, as OpenSAML and pysaml2 send it) and, whenever
// the XML carries one (Cl@ve kits sign inside the XML even on Redirect),
// the embedded signature. A request with neither is refused.
func verifyRequest(v samlxml.Verifier, msg *message) (*samlxml.Verified, error) {
	root := msg.doc.Root()
	var verified *samlxml.Verified
	if msg.redirect != nil && msg.redirect.SigAlg != "" {
		cert, err := msg.redirect.Verify(v)
		if err != nil {
			return nil, fmt.Errorf("redirect signature: %w", err)
		}
		verified = &samlxml.Verified{Element: root, Cert: cert, Method: msg.redirect.SigAlg}
	}
	if verified == nil || len(samlxml.Children(root, samlxml.NSDSig, "Signature")) > 0 {
		embedded, err := v.Verify(root)
		if err != nil {
			return nil, fmt.Errorf("request signature: %w", err)
		}
		verified = embedded
	}
	return verified, nil
}

// readBinding returns the request document and RelayState of either binding.
func readBinding(in *web.Input) (*message, error) {
	if !in.Post {
		m, err := samlxml.DecodeRedirect(in.RawQuery, maxRequestBytes)
		if err != nil {
			return nil, err
		}
		if m.Param != "SAMLRequest" {
			return nil, errors.New("redirect binding carries no SAMLRequest")
		}
		return parseMessage(m.XML, m.RelayState, m)
	}
	return readPost(in.Form)
}

// readPost reads the POST binding's fields.
func readPost(form url.Values) (*message, error) {
	if len(form["SAMLRequest"]) != 1 || len(form["RelayState"]) > 1 {
		return nil, errors.New("want exactly one SAMLRequest and at most one RelayState")
	}
	raw, err := samlxml.DecodePostValue(form.Get("SAMLRequest"), maxRequestBytes)
	if err != nil {
		return nil, err
	}
	return parseMessage(raw, form.Get("RelayState"), nil)
}

func parseMessage(raw []byte, relay string, redirect *samlxml.RedirectMessage) (*message, error) {
	if len(relay) > maxRelayState {
		return nil, fmt.Errorf("RelayState is %d bytes, more than %d", len(relay), maxRelayState)
	}
	doc, err := samlxml.Parse(raw, maxRequestBytes)
	if err != nil {
		return nil, err
	}
	if !samlxml.Is(doc.Root(), samlxml.NSProtocol, "AuthnRequest") {
		return nil, fmt.Errorf("message is %s, not an AuthnRequest", doc.Root().FullTag())
	}
	return &message{doc: doc, relay: relay, redirect: redirect}, nil
}

// identify finds the SP: an eIDAS-profile SP by its Issuer, a Cl@ve 2.0 kit
// (which sends no Issuer) by the provider part of its ProviderName. Nothing
// else is read before the signature is verified.
func (e *Endpoint) identify(root *etree.Element) (*bridge.ServiceProvider, error) {
	issuer, err := samlxml.ChildText(root, samlxml.NSAssertion, "Issuer")
	if err != nil {
		return nil, err
	}
	id, profile := issuer, ProfileEIDAS
	if issuer == "" {
		provider, _, err := clave2msg.SplitProviderName(root.SelectAttrValue("ProviderName", ""))
		if err != nil {
			return nil, fmt.Errorf("a request without Issuer is a Cl@ve 2.0 request: %w", err)
		}
		id, profile = provider, ProfileClave2
	}
	sp, err := e.cfg.Registry.Lookup(DialectName, id)
	if err != nil {
		return nil, err
	}
	if sp.Profile != profile {
		return nil, fmt.Errorf("sp %s is registered with the %s profile but sent a %s request", sp.ID, sp.Profile, profile)
	}
	return sp, nil
}

// confirmIdentity checks that the verified request names the SP whose key
// verified it.
func (in *inbound) confirmIdentity() error {
	if in.sp.Profile == ProfileEIDAS {
		if in.req.Issuer != in.sp.ID {
			return fmt.Errorf("sp %s: verified Issuer is %q", in.sp.ID, in.req.Issuer)
		}
		return nil
	}
	provider, app, err := clave2msg.SplitProviderName(in.req.ProviderName)
	if err != nil || provider != in.sp.ID || in.req.Issuer != "" {
		return fmt.Errorf("sp %s: verified ProviderName %q does not name it", in.sp.ID, in.req.ProviderName)
	}
	in.application = app
	return nil
}

// resolveACS returns the registered ACS the request names, or the first
// registered one (the metadata's default) when it names none.
func resolveACS(sp *bridge.ServiceProvider, acs string) (bridge.Endpoint, error) {
	if acs == "" {
		return sp.ACS[0], nil
	}
	if ep, ok := sp.ACSByURL(acs); ok {
		return ep, nil
	}
	return bridge.Endpoint{}, fmt.Errorf("AssertionConsumerServiceURL %q is not registered for the SP", acs)
}

// fingerprint names a certificate in the pending request (SHA-256 of DER).
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
