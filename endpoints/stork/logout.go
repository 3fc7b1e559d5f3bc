package stork

// Cl@ve 1 single logout at /Proxy/LogoutAction, served by the logout both
// Cl@ve dialects share (endpoints/internal/clavelogout): messages go by
// POST only, in the fields samlRequestLogout and samlResponseLogout; the
// LogoutRequest's NameID carries the SP's ProviderName (no citizen, no
// session index) and its Issuer the SP URL where the LogoutResponse must
// be posted; the LogoutResponse always carries a StatusMessage (the Java
// kit reads it unconditionally). Both directions are always signed. What
// is Cl@ve 1's own is here: the field names, naming SPs by ProviderName,
// and the STORK form and signature of our messages.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/endpoints/internal/clavelogout"
)

var _ bridge.LogoutDialect = (*Endpoint)(nil)

// LogoutPath is the Cl@ve 1 gateway's single logout path.
const LogoutPath = "/Proxy/LogoutAction"

// Form fields of Cl@ve 1 single logout.
const (
	fieldLogoutRequest  = "samlRequestLogout"
	fieldLogoutResponse = "samlResponseLogout"
)

const consentUnspecified = "urn:oasis:names:tc:SAML:2.0:consent:unspecified"

// storkNamespaces are declared on the root of every Cl@ve 1 message, in
// the engine's order.
var storkNamespaces = [][2]string{
	{"saml2p", samlxml.NSProtocol}, {"ds", samlxml.NSDSig}, {"saml2", samlxml.NSAssertion},
	{"stork", NSStork}, {"storkp", NSStorkP},
}

// newLogout is Cl@ve 1 single logout: every Cl@ve 1 SP with a registered
// logout URL takes part; SPs are named by their ProviderName (with the
// "_<suffix>" stripping of lookup); our messages carry nothing beyond the
// common LogoutRequest and are signed in the STORK form (signLogout).
func (e *Endpoint) newLogout() *clavelogout.Logout {
	cfg := e.cfg
	return clavelogout.New(clavelogout.Config{
		Dialect: DialectName, SPKind: "Cl@ve 1 SP",
		Request: fieldLogoutRequest, Response: fieldLogoutResponse,
		MaxRelayState: maxRelayState, MaxBytes: maxRequestBytes,
		URL: e.logoutURL(), Issuer: e.logoutURL(),
		Lookup:     e.lookup,
		Member:     func(*bridge.ServiceProvider) bool { return true },
		NewRequest: func(*bridge.ServiceProvider, *clave2msg.LogoutRequest) {},
		Sign:       e.signLogout,
		Flow:       cfg.Flow, Registry: cfg.Registry, Guard: cfg.Guard, Now: cfg.Now, Rand: cfg.Rand,
		Log: cfg.Log,
	})
}

// logoutURL is our /Proxy/LogoutAction, next to the SSO URL: the
// Destination SPs post their LogoutRequests to, and the Issuer of ours (the
// URL where they must answer).
func (e *Endpoint) logoutURL() string {
	return strings.TrimSuffix(e.cfg.SSOURL, SSOPath) + LogoutPath
}

// LogoutRequest tells a Cl@ve 1 SP that the session ended: a signed STORK
// LogoutRequest naming the SP by its ProviderName, whose Issuer is our
// /Proxy/LogoutAction (where the SP must answer), posted as
// samlRequestLogout to the SP's first registered logout URL. An SP without
// one gets nothing.
func (e *Endpoint) LogoutRequest(ctx context.Context, sp *bridge.ServiceProvider, _ bridge.Participant, id, relayState string) (bridge.Outgoing, bool, error) {
	return e.logout.LogoutRequest(ctx, sp, id, relayState)
}

// LogoutResponse answers the Cl@ve 1 SP that started the logout, at the
// URL its verified LogoutRequest named as Issuer (checked again against its
// registration), as samlResponseLogout.
func (e *Endpoint) LogoutResponse(ctx context.Context, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, status bridge.Status) (bridge.Outgoing, error) {
	return e.logout.LogoutResponse(ctx, sp, in, status)
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
	return clavelogout.Encode(el)
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
