package upstream

import (
	"context"
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

// Finish verifies the gateway's POSTed answer before reading anything from
// it, consumes the pending login it answers (once), then checks and reads it.
// Errors before the pending login is taken return a nil Pending.
//
// A verified response is audited once its pending login is known (its SP
// and trace id; a response no login of this browser waits for has
// neither), with the level and identity provider when it is a success
// that passed every check.
func (c *Connector) Finish(ctx context.Context, form url.Values, take flow.TakeFunc) (p *flow.Pending, res bridge.Result, err error) {
	resp, enc, err := c.readVerified(ctx, form)
	if err != nil {
		return nil, bridge.Result{}, err
	}
	rec := audit.Record{Direction: audit.In, Kind: audit.Response, ID: resp.ID, InResponseTo: resp.InResponseTo,
		Status: audit.Status(resp.Status.Code, resp.Status.SubCode)}
	defer func() { c.audit(ctx, rec) }()
	if p, err = take(ctx, resp.InResponseTo); err != nil {
		return nil, bridge.Result{}, fmt.Errorf("response to an unknown or already answered request: %w", err)
	}
	rec.SP = p.Request.SP
	if res, err = c.check(ctx, p, form.Get("RelayState"), resp, enc); err != nil {
		return p, bridge.Result{}, err
	}
	if res.Status.OK() {
		rec.LoA, rec.IdP = res.LoA, res.IdP
	}
	return p, res, nil
}

// readVerified decodes, parses and verifies the Response, and refuses a
// response ID seen before.
func (c *Connector) readVerified(ctx context.Context, form url.Values) (*clave2msg.Response, *etree.Element, error) {
	if len(form["SAMLResponse"]) != 1 {
		return nil, nil, errors.New("want exactly one SAMLResponse form field")
	}
	raw, err := samlxml.DecodePostValue(form.Get("SAMLResponse"), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("decode SAMLResponse: %w", err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse SAMLResponse: %w", err)
	}
	v := samlxml.Verifier{Certs: c.gatewayCerts(), Policy: c.cfg.Policy}
	verified, err := v.Verify(doc.Root())
	if err != nil {
		return nil, nil, fmt.Errorf("response signature: %w", err)
	}
	resp, enc, err := clave2msg.ParseResponse(verified.Element)
	if err != nil {
		return nil, nil, err
	}
	if resp.ID == "" || resp.InResponseTo == "" {
		return nil, nil, errors.New("response lacks ID or InResponseTo")
	}
	first, err := c.cfg.Replay.MarkSeen(ctx, "upstream-response:"+resp.ID, c.cfg.MaxResponseAge+2*c.cfg.ClockSkew)
	if err != nil {
		return nil, nil, fmt.Errorf("replay cache: %w", err)
	}
	if !first {
		// a reload, the back button or a double submission of the answer
		return nil, nil, bridge.Refuse(bridge.ReasonLoginUsed, "", "gateway answer already received", fmt.Errorf("response %s replayed", resp.ID))
	}
	return resp, enc, nil
}

// check validates the response against the pending login and reads its result.
func (c *Connector) check(ctx context.Context, p *flow.Pending, relay string, resp *clave2msg.Response, enc *etree.Element) (bridge.Result, error) {
	now := c.cfg.Now()
	if resp.Destination != c.cfg.ACSURL {
		return bridge.Result{}, fmt.Errorf("response Destination %q is not our ACS", resp.Destination)
	}
	if relay != p.RelayState {
		return bridge.Result{}, errors.New("RelayState form field does not match the request")
	}
	if err := c.checkInstant(now, resp.IssueInstant); err != nil {
		return bridge.Result{}, err
	}
	if resp.Status.Code != clave2msg.StatusSuccess {
		if enc != nil {
			return bridge.Result{}, errors.New("error response carries an assertion")
		}
		return failure(resp.Status), nil
	}
	if enc == nil {
		return bridge.Result{}, errors.New("success response without an encrypted assertion")
	}
	plain, err := c.decrypt(enc)
	if err != nil {
		return bridge.Result{}, fmt.Errorf("assertion: %w", err)
	}
	a, err := clave2msg.ParseAssertion(plain)
	if err != nil {
		return bridge.Result{}, err
	}
	if a.Issuer != resp.Issuer {
		return bridge.Result{}, fmt.Errorf("assertion Issuer %q is not the Response Issuer %q", a.Issuer, resp.Issuer)
	}
	if err := c.checkAssertion(ctx, now, p, a); err != nil {
		return bridge.Result{}, err
	}
	return result(p, a)
}

func (c *Connector) checkInstant(now, issued time.Time) error {
	skew := c.cfg.ClockSkew
	if issued.After(now.Add(skew)) {
		return fmt.Errorf("response issued in the future (%s)", issued.Format(time.RFC3339))
	}
	if issued.Before(now.Add(-c.cfg.MaxResponseAge - skew)) {
		return fmt.Errorf("response is stale (issued %s)", issued.Format(time.RFC3339))
	}
	return nil
}

// checkAssertion applies the bearer, audience, window and replay rules.
func (c *Connector) checkAssertion(ctx context.Context, now time.Time, p *flow.Pending, a *clave2msg.Assertion) error {
	skew := c.cfg.ClockSkew
	switch {
	case a.InResponseTo != p.ID:
		return fmt.Errorf("assertion answers %q, not our request", a.InResponseTo)
	case a.Recipient != c.cfg.ACSURL:
		return fmt.Errorf("assertion Recipient %q is not our ACS", a.Recipient)
	case a.Audience != c.cfg.ACSURL:
		return fmt.Errorf("assertion Audience %q is not our ACS", a.Audience)
	case now.Add(skew).Before(a.NotBefore):
		return errors.New("assertion not yet valid (NotBefore)")
	case !now.Add(-skew).Before(a.NotOnOrAfter):
		return errors.New("assertion expired (Conditions NotOnOrAfter)")
	case !now.Add(-skew).Before(a.ConfirmationNotOnOrAfter):
		return errors.New("assertion expired (SubjectConfirmationData NotOnOrAfter)")
	}
	ttl := a.NotOnOrAfter.Sub(now) + skew
	first, err := c.cfg.Replay.MarkSeen(ctx, "upstream-assertion:"+a.ID, max(ttl, time.Second))
	if err != nil {
		return fmt.Errorf("replay cache: %w", err)
	}
	if !first {
		return fmt.Errorf("assertion %s replayed", a.ID)
	}
	return nil
}

// decrypt opens the assertion with the key whose certificate it names, or
// else with the first of our keys that fits.
func (c *Connector) decrypt(enc *etree.Element) (*etree.Element, error) {
	keys := c.cfg.DecryptionKeys
	for _, cert := range samlxml.RecipientCertificates(enc) {
		for _, k := range keys {
			if k.Cert.Equal(cert) {
				keys = []DecryptionKey{k}
			}
		}
	}
	for _, k := range keys {
		if plain, err := samlxml.Decrypt(enc, k.Key, samlxml.DefaultMaxMessageBytes); err == nil {
			return plain, nil
		}
	}
	return nil, samlxml.ErrDecrypt
}
