package eidas

// Cl@ve 2.0 single logout at /Proxy2/ServiceProvider (the eIDAS profile has
// none), served by the mechanism both Cl@ve dialects share (clavelogout). A
// kit posts a signed LogoutRequest as logoutRequest (+ RelayState) to the
// SSO URL; its NameID carries the kit's provider name, its Issuer the kit
// URL where the LogoutResponse must go. The answer comes back as
// logoutResponse, always with a StatusMessage. What is Cl@ve 2.0's own here:
// how a kit is named, the shape of our LogoutRequest and the signature.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/endpoints/internal/clavelogout"
)

// Form fields of Cl@ve 2.0 single logout.
const (
	fieldLogoutRequest  = "logoutRequest"
	fieldLogoutResponse = "logoutResponse"
)

// newLogout is Cl@ve 2.0 single logout as the gateway speaks it: our
// messages' Issuer (and the Destination kits must use) is our SSO URL.
func (e *Endpoint) newLogout() *clavelogout.Logout {
	return clavelogout.New(clavelogout.Config{
		Dialect: DialectName, SPKind: "Cl@ve 2.0 SP",
		Request: fieldLogoutRequest, Response: fieldLogoutResponse, Forbidden: []string{"SAMLRequest"},
		MaxRelayState: maxRelayState, MaxBytes: maxRequestBytes,
		URL: e.cfg.SSOURL, Issuer: e.cfg.SSOURL,
		Lookup:     e.logoutSP,
		Member:     func(sp *bridge.ServiceProvider) bool { return sp.Profile == ProfileClave2 },
		NewRequest: e.newLogoutRequest,
		Sign:       e.signLogout,
		Flow:       e.cfg.Flow, Registry: e.cfg.Registry, Guard: e.cfg.Guard, Now: e.cfg.Now, Rand: e.cfg.Rand,
		Log: e.cfg.Log,
	})
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

// newLogoutRequest completes our LogoutRequest as the gateway's engine
// writes it: the kit's provider name in the unspecified format, qualified
// by the kit's logout URL; Reason user; NotOnOrAfter.
func (e *Endpoint) newLogoutRequest(_ *bridge.ServiceProvider, lr *clave2msg.LogoutRequest) {
	lr.NameIDFormat, lr.SPNameQualifier = clave2msg.NameIDUnspec, lr.Destination
	lr.NotOnOrAfter = lr.IssueInstant.Add(e.cfg.AssertionLifetime)
	lr.Reason = clave2msg.LogoutReasonUser
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
	return clavelogout.Encode(el)
}

// LogoutRequest tells a Cl@ve 2.0 kit that the session ended: a signed
// LogoutRequest whose Issuer is our SSO URL, posted as logoutRequest to the
// kit's first registered logout URL. eIDAS-profile SPs and kits without a
// logout URL get nothing.
func (e *Endpoint) LogoutRequest(ctx context.Context, sp *bridge.ServiceProvider, _ bridge.Participant, id, relayState string) (bridge.Outgoing, bool, error) {
	return e.logout.LogoutRequest(ctx, sp, id, relayState)
}

// LogoutResponse answers the kit that started the logout, at the URL its
// verified LogoutRequest named as Issuer (checked again against its
// registration), as logoutResponse.
func (e *Endpoint) LogoutResponse(ctx context.Context, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, status bridge.Status) (bridge.Outgoing, error) {
	return e.logout.LogoutResponse(ctx, sp, in, status)
}
