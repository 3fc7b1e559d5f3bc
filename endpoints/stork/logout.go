package stork

// Cl@ve 1 single logout at /Proxy/LogoutAction. It is not SAML single
// logout as the standard has it: messages go by POST only, in the fields
// samlRequestLogout and samlResponseLogout; the LogoutRequest's NameID
// carries the SP's ProviderName (no citizen, no session index) and its
// Issuer the SP URL where the LogoutResponse must be posted; the
// LogoutResponse always carries a StatusMessage (the Java kit reads it
// unconditionally). Both directions are always signed.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/eidasxml"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

var _ bridge.LogoutDialect = (*Endpoint)(nil)

// LogoutPath is the Cl@ve 1 gateway's single logout path.
const LogoutPath = "/Proxy/LogoutAction"

// Form fields of Cl@ve 1 single logout.
const (
	fieldLogoutRequest  = "samlRequestLogout"
	fieldLogoutResponse = "samlResponseLogout"
)

// logoutFields reads the POSTed logout messages.
var logoutPost = bridge.LogoutForm{
	Request: fieldLogoutRequest, Response: fieldLogoutResponse,
	MaxRelayState: maxRelayState, MaxBytes: maxRequestBytes,
}

const (
	consentUnspecified     = "urn:oasis:names:tc:SAML:2.0:consent:unspecified"
	statusUnknownPrincipal = eidasxml.StatusPrefix + "UnknownPrincipal"
)

// storkNamespaces are declared on the root of every Cl@ve 1 message, in
// the engine's order.
var storkNamespaces = [][2]string{
	{"saml2p", samlxml.NSProtocol}, {"ds", samlxml.NSDSig}, {"saml2", samlxml.NSAssertion},
	{"stork", NSStork}, {"storkp", NSStorkP},
}

// logoutURL is our /Proxy/LogoutAction, next to the SSO URL: the
// Destination SPs post their LogoutRequests to, and the Issuer of ours (the
// URL where they must answer).
func (e *Endpoint) logoutURL() string {
	return strings.TrimSuffix(e.cfg.SSOURL, SSOPath) + LogoutPath
}

// handleLogout serves a POSTed logout message: an SP's LogoutRequest
// starts a single logout, an SP's LogoutResponse to ours lets the one
// under way go on.
func (e *Endpoint) handleLogout(c echo.Context) error {
	msg, err := logoutPost.Read(c)
	if err != nil {
		return bridge.ErrorPage(c, e.cfg.Log, http.StatusBadRequest, "The logout message could not be read.", err)
	}
	return e.cfg.Flow.ServeLogoutMessage(c, msg, eidasxml.LogoutReaders(DialectName, e.readLogoutRequest, e.readLogoutResponse))
}

// readLogoutRequest identifies the SP by the (unverified) NameID, which is
// its ProviderName, verifies the signature with that SP's certificates only
// and then checks, on the verified message, that the NameID still names it,
// that the Issuer (where the answer goes) is one of its registered logout
// URLs, the Destination when present, the age and that the ID is new.
func (e *Endpoint) readLogoutRequest(ctx context.Context, root *etree.Element) (*bridge.ServiceProvider, *eidasxml.LogoutRequest, error) {
	name, err := samlxml.ChildText(root, samlxml.NSAssertion, "NameID")
	if err != nil {
		return nil, nil, fmt.Errorf("LogoutRequest: %w", err)
	}
	sp, err := e.lookup(name)
	if err != nil {
		return nil, nil, fmt.Errorf("LogoutRequest NameID: %w", err)
	}
	verified, err := sp.Verifier().Verify(root)
	if err != nil {
		return nil, nil, fmt.Errorf("sp %s: logout message signature: %w", sp.ID, err)
	}
	lr, err := eidasxml.ParseLogoutRequest(verified.Element)
	if err != nil {
		return nil, nil, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	now := e.cfg.Now()
	switch named, _ := e.lookup(lr.NameID); {
	case named == nil || named.ID != sp.ID:
		return nil, nil, fmt.Errorf("sp %s: verified NameID %q does not name it", sp.ID, lr.NameID)
	case !sp.LogoutRegistered(lr.Issuer):
		return nil, nil, fmt.Errorf("sp %s: Issuer %q is not a logout URL registered for the SP", sp.ID, lr.Issuer)
	case lr.Destination != e.logoutURL(): // the kits always set it
		return nil, nil, fmt.Errorf("sp %s: Destination %q is not our logout URL", sp.ID, lr.Destination)
	case !lr.NotOnOrAfter.IsZero() && !now.Before(lr.NotOnOrAfter.Add(e.cfg.Guard.Skew)):
		return nil, nil, fmt.Errorf("sp %s: the LogoutRequest expired at %s", sp.ID, samlxml.FormatTime(lr.NotOnOrAfter))
	}
	if err := e.cfg.Guard.Check(ctx, DialectName, sp.ID, lr.ID, lr.IssueInstant); err != nil {
		return nil, nil, err
	}
	return sp, lr, nil
}

// readLogoutResponse verifies an SP's answer to our LogoutRequest. Cl@ve 1
// gives LogoutResponses no reliable Issuer, so the bridge requires one that
// names the SP: its ProviderName (as in its LogoutRequests' NameID) or one
// of its registered logout URLs (as in their Issuer); the signature must
// then verify with that SP's certificates. Whether the answer is to the
// LogoutRequest the logout waits for is Flow.ContinueLogout's check.
func (e *Endpoint) readLogoutResponse(ctx context.Context, root *etree.Element) (*bridge.ServiceProvider, *eidasxml.LogoutResponse, error) {
	issuer, err := samlxml.ChildText(root, samlxml.NSAssertion, "Issuer")
	if err != nil {
		return nil, nil, fmt.Errorf("LogoutResponse: %w", err)
	}
	sps := e.logoutResponders(issuer)
	if len(sps) == 0 {
		return nil, nil, fmt.Errorf("%w: LogoutResponse Issuer %q is neither the ProviderName nor a registered logout URL of a Cl@ve 1 SP", bridge.ErrUnknownSP, issuer)
	}
	var errs []error
	for _, sp := range sps {
		verified, err := sp.Verifier().Verify(root)
		if err != nil {
			errs = append(errs, fmt.Errorf("sp %s: logout message signature: %w", sp.ID, err))
			continue
		}
		lr, err := eidasxml.ParseLogoutResponse(verified.Element)
		if err != nil {
			return nil, nil, fmt.Errorf("sp %s: %w", sp.ID, err)
		}
		switch {
		case lr.Issuer != issuer:
			return nil, nil, fmt.Errorf("sp %s: verified Issuer %q differs", sp.ID, lr.Issuer)
		case lr.InResponseTo == "":
			return nil, nil, fmt.Errorf("sp %s: LogoutResponse without InResponseTo", sp.ID)
		case lr.Destination != "" && lr.Destination != e.logoutURL():
			return nil, nil, fmt.Errorf("sp %s: Destination %q is not our logout URL", sp.ID, lr.Destination)
		}
		if err := e.cfg.Guard.Check(ctx, DialectName, sp.ID, lr.ID, lr.IssueInstant); err != nil {
			return nil, nil, err
		}
		return sp, lr, nil
	}
	return nil, nil, errors.Join(errs...)
}

// logoutResponders are the Cl@ve 1 SPs a LogoutResponse Issuer may name:
// the SP registered under that ProviderName, else those that registered it
// as a logout URL (when the registry can list its SPs).
func (e *Endpoint) logoutResponders(issuer string) []*bridge.ServiceProvider {
	if issuer == "" {
		return nil
	}
	if sp, err := e.lookup(issuer); err == nil {
		return []*bridge.ServiceProvider{sp}
	}
	all, ok := e.cfg.Registry.(bridge.Lister)
	if !ok {
		return nil
	}
	var out []*bridge.ServiceProvider
	for _, sp := range all.All() {
		if sp.Dialect == DialectName && sp.LogoutRegistered(issuer) {
			out = append(out, sp)
		}
	}
	return out
}

// LogoutRequest tells a Cl@ve 1 SP that the session ended: a signed STORK
// LogoutRequest naming the SP by its ProviderName, whose Issuer is our
// /Proxy/LogoutAction (where the SP must answer), posted as
// samlRequestLogout to the SP's first registered logout URL. An SP without
// one gets nothing.
func (e *Endpoint) LogoutRequest(_ context.Context, sp *bridge.ServiceProvider, _ bridge.Participant, id, relayState string) (bridge.Outgoing, bool, error) {
	if len(sp.Logout) == 0 {
		return bridge.Outgoing{}, false, nil
	}
	dest := sp.Logout[0].URL
	lr := &eidasxml.LogoutRequest{ID: id, IssueInstant: e.cfg.Now(), Destination: dest, Issuer: e.logoutURL(), NameID: sp.ID}
	value, err := e.signLogout(sp, lr.Element())
	if err != nil {
		return bridge.Outgoing{}, false, fmt.Errorf("sp %s: logout request: %w", sp.ID, err)
	}
	return bridge.Outgoing{URL: dest, Fields: samlxml.MessageFields(fieldLogoutRequest, value, relayState)}, true, nil
}

// LogoutResponse answers the Cl@ve 1 SP that started the logout, at the
// URL its verified LogoutRequest named as Issuer (checked again against its
// registration), as samlResponseLogout.
func (e *Endpoint) LogoutResponse(_ context.Context, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, status bridge.Status) (bridge.Outgoing, error) {
	dest := in.Extra[eidasxml.ReturnURLKey]
	if !sp.LogoutRegistered(dest) {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: logout return URL %q is not registered", sp.ID, dest)
	}
	id, err := samlxml.NewID(e.cfg.Rand)
	if err != nil {
		return bridge.Outgoing{}, err
	}
	lr := &eidasxml.LogoutResponse{
		ID: id, InResponseTo: in.RequestID, IssueInstant: e.cfg.Now(), Destination: dest,
		Issuer: e.logoutURL(), Status: logoutStatus(status),
	}
	value, err := e.signLogout(sp, lr.Element())
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: logout response: %w", sp.ID, err)
	}
	return bridge.Outgoing{URL: dest, Fields: samlxml.MessageFields(fieldLogoutResponse, value, in.RelayState)}, nil
}

// logoutStatus maps a logout outcome to SAML codes: a partial logout is a
// Success with the PartialLogout second-level code; a refusal is Requester
// with UnknownPrincipal or RequestDenied. The codec always writes a
// StatusMessage (the Success URI on success, the text otherwise).
func logoutStatus(s bridge.Status) eidasxml.Status {
	switch s.Code {
	case bridge.StatusSuccess:
		return eidasxml.Status{Code: eidasxml.StatusSuccess}
	case bridge.StatusPartialLogout:
		return eidasxml.Status{Code: eidasxml.StatusSuccess, SubCode: eidasxml.StatusPartialLogout, Message: s.Message}
	case bridge.StatusUnknownPrincipal:
		return eidasxml.Status{Code: eidasxml.StatusRequester, SubCode: statusUnknownPrincipal, Message: s.Message}
	case bridge.StatusRequestDenied:
		return eidasxml.Status{Code: eidasxml.StatusRequester, SubCode: eidasxml.StatusRequestDenied, Message: s.Message}
	}
	return eidasxml.Status{Code: eidasxml.StatusResponder, Message: s.Message}
}

// signLogout gives a logout message the Cl@ve 1 form, signs it as the
// engine did (the SP's signature method, exclusive c14n, the certificate in
// KeyInfo) and returns it base64-encoded.
func (e *Endpoint) signLogout(sp *bridge.ServiceProvider, el *etree.Element) (string, error) {
	storkRoot(el)
	s := e.cfg.Signer
	s.Method, s.Digest, s.IncludeCert, s.InclusivePrefixes = sp.SignatureAlgorithm, "", true, nil
	if s.Method == "" {
		s.Method = samlxml.RSASHA256
	}
	if err := s.Sign(el); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(xml), nil
}

// storkRoot re-declares a codec-built message the way the STORK engine
// wrote it: the five STORK namespaces first, then Consent="unspecified"
// and the other attributes in alphabetical order, and the Issuer with the
// entity format.
func storkRoot(el *etree.Element) {
	attrs := el.Attr
	el.Attr = nil
	for _, ns := range storkNamespaces {
		el.CreateAttr("xmlns:"+ns[0], ns[1])
	}
	var rest []etree.Attr
	for _, a := range attrs {
		if a.Space != "xmlns" && !(a.Space == "" && a.Key == "xmlns") {
			rest = append(rest, a)
		}
	}
	rest = append(rest, etree.Attr{Key: "Consent", Value: consentUnspecified})
	slices.SortFunc(rest, func(a, b etree.Attr) int { return strings.Compare(a.FullKey(), b.FullKey()) })
	for _, a := range rest {
		el.CreateAttr(a.FullKey(), a.Value)
	}
	if iss, _ := samlxml.Child(el, samlxml.NSAssertion, "Issuer"); iss != nil && iss.SelectAttr("Format") == nil {
		iss.CreateAttr("Format", entityFormat)
	}
}
