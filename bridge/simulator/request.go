package simulator

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// Limits the gateway applies to an incoming request.
const (
	maxRequestBytes = 131072    // Cl@ve's cap on a decoded AuthnRequest
	maxFormBytes    = 256 << 10 // the whole POST body
	issueSkew       = 5 * time.Minute
	maxIDBytes      = 256
)

// pending is a checked AuthnRequest: what the gateway needs to answer it.
type pending struct {
	ID         string
	ACS        string
	RelayState string // the RelayState form field, equal to the requested attribute
	Provider   string // ProviderName before ';'
	App        string // ProviderName after ';' (the SP application, for logs)
	LoA        translate.LoA
	Requested  map[translate.Attr]bool
	Disabled   map[translate.IdP]bool
	Cert       *x509.Certificate // verified the request; the assertion is encrypted to it
}

// readRequest decodes, verifies and checks the AuthnRequest of c.
func (s *Simulator) readRequest(c echo.Context) (*pending, error) {
	data, relay, err := readBinding(c)
	if err != nil {
		return nil, err
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, fmt.Errorf("parse AuthnRequest: %w", err)
	}
	if doc.Root() == nil {
		return nil, errors.New("parse AuthnRequest: no root element")
	}
	v, err := s.verifier.Verify(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("AuthnRequest signature: %w", err)
	}
	req, err := clave2msg.ParseAuthnRequest(v.Element)
	if err != nil {
		return nil, fmt.Errorf("read AuthnRequest: %w", err)
	}
	if len(req.ID) > maxIDBytes {
		return nil, fmt.Errorf("AuthnRequest ID of %d bytes is longer than %d", len(req.ID), maxIDBytes)
	}
	// Every verified request is one-use, valid or not.
	if err := s.replay.put(req.ID, struct{}{}, s.now()); err != nil {
		return nil, fmt.Errorf("AuthnRequest %s: ID refused (replay): %w", req.ID, err)
	}
	p, err := s.check(req, relay)
	if err != nil {
		return nil, fmt.Errorf("AuthnRequest %s: %w", req.ID, err)
	}
	p.Cert = v.Cert
	return p, nil
}

// readBinding returns the request XML and the RelayState of the POST or
// Redirect binding.
func readBinding(c echo.Context) ([]byte, string, error) {
	r := c.Request()
	if r.Method == http.MethodGet {
		m, err := samlxml.DecodeRedirect(r.URL.RawQuery, maxRequestBytes)
		if err != nil {
			return nil, "", fmt.Errorf("redirect binding: %w", err)
		}
		if m.Param != "SAMLRequest" {
			return nil, "", fmt.Errorf("redirect binding carries %s, not SAMLRequest", m.Param)
		}
		return m.XML, m.RelayState, nil
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, "", fmt.Errorf("POST binding: read form: %w", err)
	}
	value := r.PostForm.Get("SAMLRequest")
	if value == "" {
		return nil, "", errors.New("POST binding: no SAMLRequest field")
	}
	data, err := samlxml.DecodePostValue(value, maxRequestBytes)
	if err != nil {
		return nil, "", fmt.Errorf("POST binding: %w", err)
	}
	return data, r.PostForm.Get("RelayState"), nil
}

// check applies the Cl@ve 2.0 rules to a request read from verified XML.
func (s *Simulator) check(req *clave2msg.AuthnRequest, relay string) (*pending, error) {
	provider, app, err := clave2msg.SplitProviderName(req.ProviderName)
	if err != nil {
		return nil, err
	}
	if err := s.checkEnvelope(req); err != nil {
		return nil, err
	}
	loa, err := req.MinimumLoA()
	if err != nil {
		return nil, err
	}
	p := &pending{ID: req.ID, ACS: req.ACS, RelayState: relay, Provider: provider, App: app, LoA: loa}
	if err := p.readAttributes(req); err != nil {
		return nil, err
	}
	s.slo.setProvider(provider) // a gateway knows its SPs: it names the bridge as its requests do
	return p, nil
}

// checkEnvelope checks the request's attributes and mandatory elements.
func (s *Simulator) checkEnvelope(req *clave2msg.AuthnRequest) error {
	switch {
	case !req.HasNameIDPolicy:
		return errors.New("NameIDPolicy is missing")
	case len(req.Attributes) == 0:
		return errors.New("Extensions with RequestedAttributes are missing")
	case req.IsPassive:
		return errors.New("IsPassive must be false")
	case req.Destination != s.SSOURL():
		return fmt.Errorf("Destination %q is not %s", req.Destination, s.SSOURL())
	}
	if err := checkACS(req.ACS); err != nil {
		return err
	}
	if d := s.now().Sub(req.IssueInstant); d > issueSkew || d < -issueSkew {
		return fmt.Errorf("IssueInstant %s is more than %s away from now", samlxml.FormatTime(req.IssueInstant), issueSkew)
	}
	return nil
}

func checkACS(raw string) error {
	if raw == "" {
		return errors.New("AssertionConsumerServiceURL is missing")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("AssertionConsumerServiceURL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("AssertionConsumerServiceURL %q is not an absolute http(s) URL", raw)
	}
	return nil
}

// readAttributes sorts the requested attributes into eIDAS attributes,
// IdP-disable flags and the RelayState, which must equal the form field.
// Unknown attributes are dropped, as the gateway does.
func (p *pending) readAttributes(req *clave2msg.AuthnRequest) error {
	sorted, err := req.Sort()
	if err != nil {
		return err
	}
	if !sorted.HasRelay {
		return errors.New("the RelayState attribute is missing")
	}
	if sorted.RelayState != p.RelayState {
		return errors.New("the RelayState attribute does not match the RelayState field")
	}
	p.Requested = map[translate.Attr]bool{}
	for _, a := range sorted.Attributes {
		p.Requested[a.Attr] = true
	}
	p.Disabled = map[translate.IdP]bool{}
	for _, idp := range sorted.Disabled {
		p.Disabled[idp] = true
	}
	return nil
}
