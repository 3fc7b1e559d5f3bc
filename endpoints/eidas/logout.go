package eidas

// Cl@ve 2.0 single logout at /Proxy2/ServiceProvider (the eIDAS profile has
// none). A kit posts a signed LogoutRequest as logoutRequest (+ RelayState)
// to the SSO URL; its NameID carries the kit's provider name, its Issuer
// the kit URL where the LogoutResponse must go. The answer comes back as
// logoutResponse, always with a StatusMessage.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/eidasxml"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

var _ bridge.LogoutDialect = (*Endpoint)(nil)

// Form fields of Cl@ve 2.0 single logout.
const (
	fieldLogoutRequest  = "logoutRequest"
	fieldLogoutResponse = "logoutResponse"
)

// logoutFields reads the POSTed logout messages.
var logoutPost = bridge.LogoutForm{
	Request: fieldLogoutRequest, Response: fieldLogoutResponse,
	MaxRelayState: maxRelayState, MaxBytes: maxRequestBytes, Forbidden: []string{"SAMLRequest"},
}

const (
	statusUnknownPrincipal = eidasxml.StatusPrefix + "UnknownPrincipal"
)

// isLogout reports whether a request to the SSO URL is a logout message: a
// POST with a logoutRequest or logoutResponse field.
func isLogout(c echo.Context) bool {
	if c.Request().Method != http.MethodPost {
		return false
	}
	form, err := c.FormParams()
	return err == nil && (form.Has(fieldLogoutRequest) || form.Has(fieldLogoutResponse))
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

// readLogoutRequest identifies the kit by the (unverified) NameID, its
// provider name, verifies the signature with that kit's certificates only
// and then checks, on the verified message, that the NameID still names
// it, that the Issuer (where the answer goes) is one of its registered
// logout URLs, the Destination, NotOnOrAfter, the age and that the ID is new.
func (e *Endpoint) readLogoutRequest(ctx context.Context, root *etree.Element) (*bridge.ServiceProvider, *eidasxml.LogoutRequest, error) {
	name, err := samlxml.ChildText(root, samlxml.NSAssertion, "NameID")
	if err != nil {
		return nil, nil, fmt.Errorf("LogoutRequest: %w", err)
	}
	sp, err := e.logoutSP(name)
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
	switch now := e.cfg.Now(); {
	case providerPart(lr.NameID) != sp.ID:
		return nil, nil, fmt.Errorf("sp %s: verified NameID %q does not name it", sp.ID, lr.NameID)
	case !sp.LogoutRegistered(lr.Issuer):
		return nil, nil, fmt.Errorf("sp %s: Issuer %q is not a logout URL registered for the SP", sp.ID, lr.Issuer)
	case lr.Destination != e.cfg.SSOURL:
		return nil, nil, fmt.Errorf("sp %s: Destination %q is not our SSO URL", sp.ID, lr.Destination)
	case !lr.NotOnOrAfter.IsZero() && !now.Before(lr.NotOnOrAfter.Add(e.cfg.Guard.Skew)):
		return nil, nil, fmt.Errorf("sp %s: the LogoutRequest expired at %s", sp.ID, samlxml.FormatTime(lr.NotOnOrAfter))
	}
	if err := e.cfg.Guard.Check(ctx, DialectName, sp.ID, lr.ID, lr.IssueInstant); err != nil {
		return nil, nil, err
	}
	return sp, lr, nil
}

// providerPart is a provider name without a ";<application>" part.
func providerPart(name string) string {
	provider, _, _ := strings.Cut(name, ";")
	return strings.TrimSpace(provider)
}

// logoutSP finds the Cl@ve 2.0 kit a logout message names by provider
// name; an eIDAS-profile SP has no single logout.
func (e *Endpoint) logoutSP(name string) (*bridge.ServiceProvider, error) {
	provider := providerPart(name)
	if provider == "" {
		return nil, errors.New("no provider name")
	}
	sp, err := e.cfg.Registry.Lookup(DialectName, provider)
	if err != nil {
		return nil, err
	}
	if sp.Profile != ProfileClave2 {
		return nil, fmt.Errorf("sp %s: the eIDAS profile has no single logout", sp.ID)
	}
	return sp, nil
}

// readLogoutResponse verifies a kit's answer to our LogoutRequest. Cl@ve
// gives LogoutResponses no reliable Issuer, so the bridge requires one that
// names the kit: its provider name (as in its LogoutRequests' NameID) or
// one of its registered logout URLs (as in their Issuer); the signature
// must then verify with that kit's certificates. Whether the answer is to
// the LogoutRequest the logout waits for is Flow.ContinueLogout's check.
func (e *Endpoint) readLogoutResponse(ctx context.Context, root *etree.Element) (*bridge.ServiceProvider, *eidasxml.LogoutResponse, error) {
	issuer, err := samlxml.ChildText(root, samlxml.NSAssertion, "Issuer")
	if err != nil {
		return nil, nil, fmt.Errorf("LogoutResponse: %w", err)
	}
	sps := e.logoutResponders(issuer)
	if len(sps) == 0 {
		return nil, nil, fmt.Errorf("%w: LogoutResponse Issuer %q is neither the provider name nor a registered logout URL of a Cl@ve 2.0 SP", bridge.ErrUnknownSP, issuer)
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
		case lr.Destination != "" && lr.Destination != e.cfg.SSOURL:
			return nil, nil, fmt.Errorf("sp %s: Destination %q is not our SSO URL", sp.ID, lr.Destination)
		}
		if err := e.cfg.Guard.Check(ctx, DialectName, sp.ID, lr.ID, lr.IssueInstant); err != nil {
			return nil, nil, err
		}
		return sp, lr, nil
	}
	return nil, nil, errors.Join(errs...)
}

// logoutResponders are the Cl@ve 2.0 kits a LogoutResponse Issuer may
// name: the one registered under that provider name, else those that
// registered it as a logout URL (when the registry can list its SPs).
func (e *Endpoint) logoutResponders(issuer string) []*bridge.ServiceProvider {
	if issuer == "" {
		return nil
	}
	if sp, err := e.logoutSP(issuer); err == nil {
		return []*bridge.ServiceProvider{sp}
	}
	all, ok := e.cfg.Registry.(bridge.Lister)
	if !ok {
		return nil
	}
	var out []*bridge.ServiceProvider
	for _, sp := range all.All() {
		if sp.Dialect == DialectName && sp.Profile == ProfileClave2 && sp.LogoutRegistered(issuer) {
			out = append(out, sp)
		}
	}
	return out
}

// LogoutRequest tells a Cl@ve 2.0 kit that the session ended: a signed
// LogoutRequest as the gateway's engine writes it (NameID = the kit's
// provider name, unspecified format, qualified by the kit's logout URL;
// Reason user; NotOnOrAfter), whose Issuer is our SSO URL, posted as
// logoutRequest to the kit's first registered logout URL. eIDAS-profile SPs
// and kits without a logout URL get nothing.
func (e *Endpoint) LogoutRequest(_ context.Context, sp *bridge.ServiceProvider, _ bridge.Participant, id, relayState string) (bridge.Outgoing, bool, error) {
	if len(sp.Logout) == 0 || sp.Profile != ProfileClave2 {
		return bridge.Outgoing{}, false, nil
	}
	dest := sp.Logout[0].URL
	now := e.cfg.Now()
	lr := &eidasxml.LogoutRequest{
		ID: id, IssueInstant: now, Destination: dest, Issuer: e.cfg.SSOURL,
		NameID: sp.ID, NameIDFormat: eidasxml.NameIDUnspec, SPNameQualifier: dest,
		NotOnOrAfter: now.Add(e.cfg.AssertionLifetime), Reason: eidasxml.LogoutReasonUser,
	}
	value, err := e.signLogout(sp, lr.Element())
	if err != nil {
		return bridge.Outgoing{}, false, fmt.Errorf("sp %s: logout request: %w", sp.ID, err)
	}
	return bridge.Outgoing{URL: dest, Fields: samlxml.MessageFields(fieldLogoutRequest, value, relayState)}, true, nil
}

// LogoutResponse answers the kit that started the logout, at the URL its
// verified LogoutRequest named as Issuer (checked again against its
// registration), as logoutResponse.
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
		Issuer: e.cfg.SSOURL, Status: logoutStatus(status),
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

// signLogout signs a logout message as the gateway does towards kits (the
// SP's signature method, rsa-sha512 by default, with the certificate in
// KeyInfo) and returns it base64-encoded.
func (e *Endpoint) signLogout(sp *bridge.ServiceProvider, el *etree.Element) (string, error) {
	s := e.cfg.Signer
	s.Method, s.Digest, s.IncludeCert = sp.SignatureAlgorithm, "", true
	if s.Method == "" {
		s.Method = samlxml.RSASHA512
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
