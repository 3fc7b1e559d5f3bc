package stork

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// maxRequestBytes caps a decoded STORK AuthnRequest.
const maxRequestBytes = 131072

// inbound is a verified STORK request from an identified SP.
type inbound struct {
	sp     *bridge.ServiceProvider
	req    *AuthnRequest
	params Params
}

// readRequest decodes the binding (plain base64 POST as the kits send, or
// Redirect), identifies the SP by ProviderName, verifies the signature with
// that SP's certificate only, and parses the other parameters.
func (e *Endpoint) readRequest(in *web.Input) (*inbound, error) {
	raw, form, err := readBinding(in)
	if err != nil {
		return nil, err
	}
	params, err := ParseParams(form)
	if err != nil {
		return nil, err
	}
	doc, err := samlxml.Parse(raw, maxRequestBytes)
	if err != nil {
		return nil, err
	}
	sp, err := e.identify(doc.Root())
	if err != nil {
		return nil, err
	}
	v := sp.Verifier()
	verified, err := v.Verify(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("sp %s: request signature: %w", sp.ID, err)
	}
	req, err := ParseAuthnRequest(verified.Element)
	if err != nil {
		return nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	if id, _ := e.lookup(req.ProviderName); id == nil || id.ID != sp.ID {
		return nil, fmt.Errorf("sp %s: verified ProviderName %q does not name it", sp.ID, req.ProviderName)
	}
	if _, ok := sp.ACSByURL(req.ACS); !ok {
		return nil, fmt.Errorf("sp %s: AssertionConsumerServiceURL %q is not registered for the SP", sp.ID, req.ACS)
	}
	return &inbound{sp: sp, req: req, params: params}, nil
}

// readBinding returns the request XML and the other parameters: for a GET,
// the Redirect binding's SAMLRequest and the query's other parameters
// (without SAMLRequest, SigAlg and Signature); for a POST, the one
// SAMLRequest field and the other fields.
func readBinding(in *web.Input) ([]byte, url.Values, error) {
	if !in.Post {
		m, err := samlxml.DecodeRedirect(in.RawQuery, maxRequestBytes)
		if err != nil {
			return nil, nil, err
		}
		if m.Param != "SAMLRequest" {
			return nil, nil, errors.New("redirect binding carries no SAMLRequest")
		}
		form, _ := url.ParseQuery(in.RawQuery) // malformed pairs are skipped, as url.URL.Query does
		form.Del("SAMLRequest")
		form.Del("SigAlg")
		form.Del("Signature")
		return m.XML, form, nil
	}
	form := in.Form
	if len(form["SAMLRequest"]) != 1 {
		return nil, nil, errors.New("want exactly one SAMLRequest")
	}
	raw, err := samlxml.DecodePostValue(form.Get("SAMLRequest"), maxRequestBytes)
	if err != nil {
		return nil, nil, err
	}
	rest := url.Values{}
	for k, v := range form {
		if k != "SAMLRequest" {
			rest[k] = v
		}
	}
	return raw, rest, nil
}

// identify finds the SP by the (not yet verified) ProviderName, only to
// choose the certificate that must verify the request.
func (e *Endpoint) identify(root *etree.Element) (*bridge.ServiceProvider, error) {
	if !samlxml.Is(root, samlxml.NSProtocol, "AuthnRequest") {
		return nil, fmt.Errorf("message is %s, not an AuthnRequest", root.FullTag())
	}
	name := root.SelectAttrValue("ProviderName", "")
	sp, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	return sp, nil
}

// lookup finds the SP registered under ProviderName, or under the name with
// trailing "_<suffix>" parts removed (RedIRIS appends the remote
// application, Cl@ve matched the certificate alias as a prefix).
func (e *Endpoint) lookup(providerName string) (*bridge.ServiceProvider, error) {
	if providerName == "" {
		return nil, errors.New("ProviderName is missing")
	}
	name := providerName
	for {
		sp, err := e.cfg.Registry.Lookup(DialectName, name)
		if err == nil {
			return sp, nil
		}
		i := strings.LastIndex(name, "_")
		if i <= 0 {
			return nil, fmt.Errorf("%w: no Cl@ve 1 SP for ProviderName %q", bridge.ErrUnknownSP, providerName)
		}
		name = name[:i]
	}
}
