package upstream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

var _ flow.UpstreamLogout = (*Connector)(nil)

// Form fields of Cl@ve 2.0 single logout.
const (
	fieldLogoutRequest  = "logoutRequest"
	fieldLogoutResponse = "logoutResponse"
	fieldRelayState     = "RelayState"
)

// logoutLifetime is the validity of our LogoutRequests (NotOnOrAfter).
const logoutLifetime = 5 * time.Minute

// partialLogoutMessage is the StatusMessage of a logout we could not complete.
const partialLogoutMessage = "Logout could not be completed at every service provider"

// errNoLogoutURL is returned by every logout method when Config.LogoutURL is empty.
var errNoLogoutURL = errors.New("upstream: single logout needs a LogoutURL")

// BeginLogout builds the signed Cl@ve 2.0 LogoutRequest and its POST form
// to the gateway: fields logoutRequest (base64) and RelayState.
//
// As Cl@ve wants it, the Issuer is cfg.LogoutURL (where the answer must go),
// the NameID is cfg.ProviderName (format unspecified, SPNameQualifier
// cfg.LogoutURL), the Reason is user, the Destination cfg.SSOURL and
// NotOnOrAfter five minutes from now. id is the request's ID, which the
// caller keeps to check the answer with FinishLogout; Cl@ve 2.0 requires a
// non-empty relayState.
func (c *Connector) BeginLogout(ctx context.Context, id, relayState string) (bridge.Outgoing, error) {
	switch {
	case c.cfg.LogoutURL == "":
		return bridge.Outgoing{}, errNoLogoutURL
	case id == "":
		return bridge.Outgoing{}, errors.New("upstream: logout request needs an ID")
	case relayState == "":
		return bridge.Outgoing{}, errors.New("upstream: Cl@ve 2.0 requires a RelayState")
	}
	now := c.cfg.Now()
	req := &clave2msg.LogoutRequest{
		ID:              id,
		IssueInstant:    now,
		Destination:     c.cfg.SSOURL,
		Issuer:          c.cfg.LogoutURL,
		NameID:          c.cfg.ProviderName,
		NameIDFormat:    clave2msg.NameIDUnspec,
		SPNameQualifier: c.cfg.LogoutURL,
		NotOnOrAfter:    now.Add(logoutLifetime),
		Reason:          clave2msg.LogoutReasonUser,
	}
	value, err := c.signEncode(req.Element())
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("upstream logout request: %w", err)
	}
	c.audit(ctx, audit.Record{Direction: audit.Out, Kind: audit.LogoutRequest, ID: id})
	return c.toGateway(fieldLogoutRequest, value, relayState), nil
}

// ReadLogoutResponse verifies the gateway's answer to one of our
// LogoutRequests on the form alone, before the caller takes any state by
// its RelayState, and returns the ID of the request it answers (which the
// caller must match with its own), whether its status is Success, and its
// StatusMessage.
//
// The LogoutResponse comes in the form field logoutResponse or, as RedIRIS
// also accepts, SAMLResponse (never both). It is parsed with the hardened
// parser and its signature checked against the gateway certificates only
// before anything is read; then its ID must be new to the replay store, its
// Destination cfg.LogoutURL or cfg.ACSURL (Cl@ve may answer at the ACS),
// its InResponseTo present and its IssueInstant within the response
// window. Anything else is an error. The Issuer is not checked (Cl@ve does
// not set it properly); the RelayState is the caller's to read, as it keys
// the caller's own logout state. The answer's ID and status are the
// caller's to audit once it knows the logout (and trace) it belongs to.
func (c *Connector) ReadLogoutResponse(ctx context.Context, form url.Values) (flow.LogoutAnswer, error) {
	if c.cfg.LogoutURL == "" {
		return flow.LogoutAnswer{}, errNoLogoutURL
	}
	el, err := c.readSignedField(form, fieldLogoutResponse, "SAMLResponse")
	if err != nil {
		return flow.LogoutAnswer{}, err
	}
	resp, err := clave2msg.ParseLogoutResponse(el)
	if err != nil {
		return flow.LogoutAnswer{}, err
	}
	if err := c.markFresh(ctx, "upstream-logout-response:", resp.ID); err != nil {
		return flow.LogoutAnswer{}, err
	}
	if err := c.checkLogoutResponse(resp); err != nil {
		return flow.LogoutAnswer{}, fmt.Errorf("logout response %s: %w", resp.ID, err)
	}
	return flow.LogoutAnswer{
		InResponseTo: resp.InResponseTo, OK: resp.Status.Code == clave2msg.StatusSuccess, Message: resp.Status.Message,
		ID: resp.ID, Status: audit.Status(resp.Status.Code, resp.Status.SubCode),
	}, nil
}

// FinishLogout is ReadLogoutResponse for an answer that must be to the
// LogoutRequest expectID: it reports whether its status is Success, with
// its StatusMessage.
func (c *Connector) FinishLogout(ctx context.Context, form url.Values, expectID string) (ok bool, message string, err error) {
	if c.cfg.LogoutURL == "" {
		return false, "", errNoLogoutURL
	}
	if expectID == "" {
		return false, "", errors.New("upstream: no logout request to match the answer with")
	}
	ans, err := c.ReadLogoutResponse(ctx, form)
	if err != nil {
		return false, "", err
	}
	if ans.InResponseTo != expectID {
		return false, "", fmt.Errorf("logout response answers %q, not our logout request", ans.InResponseTo)
	}
	return ans.OK, ans.Message, nil
}

// checkLogoutResponse checks where a verified LogoutResponse was sent,
// that it answers a request and when it was issued.
func (c *Connector) checkLogoutResponse(resp *clave2msg.LogoutResponse) error {
	switch {
	case resp.Destination != c.cfg.LogoutURL && resp.Destination != c.cfg.ACSURL:
		return fmt.Errorf("Destination %q is neither our logout URL nor our ACS", resp.Destination)
	case resp.InResponseTo == "":
		return errors.New("no InResponseTo")
	}
	return c.checkIssued(resp.IssueInstant)
}

// Origins are the origins the gateway's pages post from: its SSO URL's. A
// gateway LogoutRequest the browser brings with another Origin header is
// not bound to the session (the flow asks the citizen).
func (c *Connector) Origins() []string {
	if o := flow.Origin(c.cfg.SSOURL); o != "" {
		return []string{o}
	}
	return nil
}

// ReadLogoutRequest verifies a gateway-initiated LogoutRequest (form field
// logoutRequest) and returns its ID and the RelayState field.
//
// The signature must be the gateway's, the ID new to the replay store, the
// Destination cfg.LogoutURL, the NameID our cfg.ProviderName, the
// IssueInstant within the response window and NotOnOrAfter, when set, not
// passed.
func (c *Connector) ReadLogoutRequest(ctx context.Context, form url.Values) (id, relayState string, err error) {
	if c.cfg.LogoutURL == "" {
		return "", "", errNoLogoutURL
	}
	relayState, err = singleValue(form, fieldRelayState)
	if err != nil {
		return "", "", err
	}
	el, err := c.readSignedField(form, fieldLogoutRequest)
	if err != nil {
		return "", "", err
	}
	req, err := clave2msg.ParseLogoutRequest(el)
	if err != nil {
		return "", "", err
	}
	if err := c.markFresh(ctx, "upstream-logout-request:", req.ID); err != nil {
		return "", "", err
	}
	if err := c.checkLogoutRequest(req); err != nil {
		return "", "", fmt.Errorf("logout request %s: %w", req.ID, err)
	}
	c.audit(ctx, audit.Record{Direction: audit.In, Kind: audit.LogoutRequest, ID: req.ID})
	return req.ID, relayState, nil
}

// checkLogoutRequest checks a verified gateway-initiated LogoutRequest.
func (c *Connector) checkLogoutRequest(req *clave2msg.LogoutRequest) error {
	now := c.cfg.Now()
	switch {
	case req.Destination != c.cfg.LogoutURL:
		return fmt.Errorf("Destination %q is not our logout URL", req.Destination)
	case req.NameID != c.cfg.ProviderName:
		return fmt.Errorf("NameID %q is not our provider name", req.NameID)
	case !req.NotOnOrAfter.IsZero() && !now.Add(-c.cfg.ClockSkew).Before(req.NotOnOrAfter):
		return errors.New("expired (NotOnOrAfter)")
	}
	return c.checkIssued(req.IssueInstant)
}

// LogoutResponse builds our signed answer to the gateway-initiated
// LogoutRequest inResponseTo and its POST form to the gateway's SSOURL:
// fields logoutResponse (base64) and RelayState. The status is Success when
// ok, otherwise Responder / PartialLogout; a StatusMessage is always sent.
func (c *Connector) LogoutResponse(ctx context.Context, inResponseTo, relayState string, ok bool) (bridge.Outgoing, error) {
	if c.cfg.LogoutURL == "" {
		return bridge.Outgoing{}, errNoLogoutURL
	}
	if inResponseTo == "" {
		return bridge.Outgoing{}, errors.New("upstream: a logout response must answer a request ID")
	}
	id, err := samlxml.NewID(c.cfg.Rand)
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("upstream logout response: %w", err)
	}
	resp := &clave2msg.LogoutResponse{
		ID:           id,
		InResponseTo: inResponseTo,
		IssueInstant: c.cfg.Now(),
		Destination:  c.cfg.SSOURL,
		Issuer:       c.cfg.LogoutURL,
		Status:       logoutStatus(ok),
	}
	value, err := c.signEncode(resp.Element())
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("upstream logout response: %w", err)
	}
	c.audit(ctx, audit.Record{Direction: audit.Out, Kind: audit.LogoutResponse, ID: id, InResponseTo: inResponseTo,
		Status: audit.Status(resp.Status.Code, resp.Status.SubCode)})
	return c.toGateway(fieldLogoutResponse, value, relayState), nil
}

// logoutStatus is the status of our answer to a gateway-initiated logout.
func logoutStatus(ok bool) clave2msg.Status {
	if ok {
		return clave2msg.Status{Code: clave2msg.StatusSuccess}
	}
	return clave2msg.Status{
		Code:    clave2msg.StatusResponder,
		SubCode: clave2msg.StatusPartialLogout,
		Message: partialLogoutMessage,
	}
}

// signEncode signs el with our key and returns it base64-encoded.
func (c *Connector) signEncode(el *etree.Element) (string, error) {
	if err := c.cfg.Signer.Sign(el); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(xml), nil
}

// toGateway is the POST form of one message to the gateway.
func (c *Connector) toGateway(field, value, relayState string) bridge.Outgoing {
	return bridge.Outgoing{URL: c.cfg.SSOURL, Fields: []samlxml.Field{
		{Name: field, Value: value},
		{Name: fieldRelayState, Value: relayState},
	}}
}

// readSignedField decodes, parses and verifies the message in the one form
// field of names that is present, against the gateway certificates only.
// Nothing of the message is read before its signature is checked.
func (c *Connector) readSignedField(form url.Values, names ...string) (*etree.Element, error) {
	name, value, err := oneField(form, names...)
	if err != nil {
		return nil, err
	}
	raw, err := samlxml.DecodePostValue(value, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	v := samlxml.Verifier{Certs: c.gatewayCerts(), Policy: c.cfg.Policy}
	verified, err := v.Verify(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("%s signature: %w", name, err)
	}
	return verified.Element, nil
}

// oneField returns the name and value of the only field of names in form,
// which must have exactly one value.
func oneField(form url.Values, names ...string) (name, value string, err error) {
	for _, n := range names {
		if _, ok := form[n]; !ok {
			continue
		}
		if name != "" {
			return "", "", fmt.Errorf("form carries both %s and %s", name, n)
		}
		name = n
	}
	if name == "" {
		return "", "", fmt.Errorf("form carries none of %v", names)
	}
	value, err = singleValue(form, name)
	return name, value, err
}

// singleValue returns the value of an optional form field given at most once.
func singleValue(form url.Values, name string) (string, error) {
	if len(form[name]) > 1 {
		return "", fmt.Errorf("form field %s given %d times", name, len(form[name]))
	}
	return form.Get(name), nil
}

// markFresh records a message ID in the replay store for as long as its
// IssueInstant would be accepted, refusing one seen before.
func (c *Connector) markFresh(ctx context.Context, prefix, id string) error {
	first, err := c.cfg.Replay.MarkSeen(ctx, prefix+id, c.cfg.MaxResponseAge+2*c.cfg.ClockSkew)
	if err != nil {
		return fmt.Errorf("replay cache: %w", err)
	}
	if !first {
		return fmt.Errorf("message %s replayed", id)
	}
	return nil
}

// checkIssued applies the IssueInstant window of MaxResponseAge and the
// clock skew.
func (c *Connector) checkIssued(issued time.Time) error {
	now, skew := c.cfg.Now(), c.cfg.ClockSkew
	if issued.After(now.Add(skew)) {
		return fmt.Errorf("issued in the future (%s)", issued.Format(time.RFC3339))
	}
	if issued.Before(now.Add(-c.cfg.MaxResponseAge - skew)) {
		return fmt.Errorf("stale (issued %s)", issued.Format(time.RFC3339))
	}
	return nil
}

// Classify says what a form the gateway posted carries: a logoutRequest,
// a logoutResponse, or a login's answer; and its RelayState field.
func (c *Connector) Classify(form url.Values) flow.UpstreamMessage {
	return flow.UpstreamMessage{
		LogoutRequest:  form.Get(fieldLogoutRequest) != "",
		LogoutResponse: form.Get(fieldLogoutResponse) != "",
		RelayState:     form.Get(fieldRelayState),
	}
}
