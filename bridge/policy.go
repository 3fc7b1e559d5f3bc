package bridge

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// Policy is what an operator allows one SP.
type Policy struct {
	MinLoA       LoA
	AllowIdPs    []IdP  // empty: every IdP
	DenyIdPs     []IdP  // always hidden
	Attributes   []Attr // releasable attributes; empty: every known attribute
	LegalPersons bool
}

// Endpoint is one registered return URL (an ACS) of an SP.
type Endpoint struct {
	URL     string
	Binding string // SAML binding URI; empty for dialects with one binding
	Index   int
}

// ServiceProvider is one registered SP with its keys and policy, resolved
// from the configuration and any metadata.
type ServiceProvider struct {
	ID   string
	Name string
	// DisplayName is how the citizen's pages name the service; HomeURL
	// its home page, where error pages link back ("": none known).
	DisplayName string
	HomeURL     string
	Dialect     string
	Profile     string // eidas dialect: clave2 or eidas
	SPType      string // eIDAS SPType from the SP's metadata (public or private), if any
	// SigningCerts verify the SP's requests; nothing else is ever trusted.
	SigningCerts   []*x509.Certificate
	EncryptionCert *x509.Certificate
	ACS            []Endpoint
	// Logout are the SP's single logout endpoints (metadata
	// SingleLogoutService or logout_urls); none: it gets no LogoutRequest.
	Logout []Endpoint
	Policy Policy
	// RequireSignedRequests refuses unsigned AuthnRequests.
	RequireSignedRequests bool
	EncryptAssertions     bool
	SignatureAlgorithm    string // signature method URI for our answers
	KeyTransport          string // xmlenc key transport URI
	DataEncryption        string // xmlenc data encryption URI
	AllowSHA1             bool
	// SSOLifetime overrides the global SSO session lifetime for this SP
	// (nil: the global one; 0: never reuse a session).
	SSOLifetime    *time.Duration
	AttributeNames string // friendly or uri
	SendUsedIdP    bool   // Cl@ve 1: add usedIdP even when not requested
	// StringValueTypes types eIDAS attribute values xs:string instead of
	// eidas-natural:…Type, for SPs (pysaml2, SATOSA) that cannot read those.
	StringValueTypes bool
	// AttributeProfile is the saml2 dialect's naming: eidas or sir.
	AttributeProfile string
}

// Verifier checks this SP's signatures: its registered certificates only,
// SHA-1 only when its policy admits it (legacy_sha1).
func (sp *ServiceProvider) Verifier() samlxml.Verifier {
	return samlxml.Verifier{Certs: sp.SigningCerts, Policy: samlxml.AlgorithmPolicy{AllowSHA1: sp.AllowSHA1}}
}

// LogoutRegistered reports whether u is one of the SP's logout URLs.
func (sp *ServiceProvider) LogoutRegistered(u string) bool {
	return u != "" && slices.ContainsFunc(sp.Logout, func(ep Endpoint) bool { return ep.URL == u })
}

// ACSByURL returns the registered endpoint with exactly this URL.
func (sp *ServiceProvider) ACSByURL(u string) (Endpoint, bool) {
	for _, e := range sp.ACS {
		if e.URL == u {
			return e, true
		}
	}
	return Endpoint{}, false
}

// RequestDenied is a policy refusal, rendered to the SP as RequestDenied or NoAuthnContext.
type RequestDenied struct {
	Code   StatusCode
	Reason string
}

func (e *RequestDenied) Error() string { return string(e.Code) + ": " + e.Reason }

// Apply raises the request to the SP's floor LoA, hides the IdPs the SP may
// not use, refuses legal persons if not allowed, and drops attributes the SP
// may not receive (refusing the request if one of them was required).
func (p Policy) Apply(r *Request) error {
	asked := len(r.Attributes)
	if !r.MinLoA.Valid() || r.MinLoA < p.MinLoA {
		r.MinLoA = p.MinLoA
	}
	if r.LegalPerson && !p.LegalPersons {
		return &RequestDenied{StatusRequestDenied, "legal persons are not allowed for this service"}
	}
	if r.LegalPerson && len(r.Attributes) > 0 { // asking for nothing specific is asking for everything
		r.Attributes = withLegalMDS(r.Attributes)
	}
	r.DisabledIdPs = p.disabledIdPs(r.DisabledIdPs)
	if len(r.DisabledIdPs) == len(translate.AllIdPs()) {
		return &RequestDenied{StatusRequestDenied, "no identity provider is left after applying the request and the policy"}
	}
	kept := r.Attributes[:0:0]
	for _, a := range r.Attributes {
		if p.Releasable(a.Name) {
			kept = append(kept, a)
			continue
		}
		if a.Required {
			return &RequestDenied{StatusInvalidAttr, fmt.Sprintf("attribute %s is required but not releasable to this service", a.Name)}
		}
	}
	if len(kept) == 0 && asked > 0 {
		return &RequestDenied{StatusRequestDenied, "none of the requested attributes may be released to this service"}
	}
	r.Attributes = kept
	return nil
}

// withLegalMDS adds the legal-person minimum data set to a request that
// admits legal persons, so that it is asked for and released.
func withLegalMDS(attrs []RequestedAttr) []RequestedAttr {
	for _, a := range []Attr{translate.AttrLegalPersonIdentifier, translate.AttrLegalName} {
		if !slices.ContainsFunc(attrs, func(r RequestedAttr) bool { return r.Name == a }) {
			attrs = append(attrs, RequestedAttr{Name: a})
		}
	}
	return attrs
}

// disabledIdPs intersects the IdPs the request allows with those the policy
// allows and returns the complement, in a fixed order.
func (p Policy) disabledIdPs(requested []IdP) []IdP {
	var out []IdP
	for _, idp := range translate.AllIdPs() {
		allowed := len(p.AllowIdPs) == 0 || slices.Contains(p.AllowIdPs, idp)
		if !allowed || slices.Contains(p.DenyIdPs, idp) || slices.Contains(requested, idp) {
			out = append(out, idp)
		}
	}
	return out
}

// Releasable reports whether the SP may receive attribute a. PartialAfirma
// carries the citizen's certificate, and in it the identifier: it is
// releasable only with the PersonIdentifier.
func (p Policy) Releasable(a Attr) bool {
	if len(p.Attributes) == 0 {
		return true
	}
	if a == translate.AttrPartialAfirma && !slices.Contains(p.Attributes, translate.AttrPersonIdentifier) {
		return false
	}
	return slices.Contains(p.Attributes, a)
}

// ReleasesIdentifier reports whether the SP may learn the citizen's
// PersonIdentifier, in an attribute or as an identifier (NameID, STORK
// eIdentifier); without it, it gets only a transient or pairwise NameID.
func (p Policy) ReleasesIdentifier() bool {
	return p.Releasable(translate.AttrPersonIdentifier)
}

// Release filters a successful result down to what the SP asked for (or,
// if it asked for nothing specific, everything) and may receive. The
// Subject (the PersonIdentifier) stays only when the policy releases the
// PersonIdentifier, so that no dialect can put it in a NameID or an
// eIdentifier; the PersistentNameID the flow chose for the SP stays.
func (p Policy) Release(req *Request, res Result) Result {
	if !res.Status.OK() {
		return res
	}
	out := res
	if !p.ReleasesIdentifier() {
		out.Subject = ""
	}
	out.Attributes = nil
	for _, a := range res.Attributes {
		if p.Releasable(a.Name) && requested(req, a.Name) {
			out.Attributes = append(out.Attributes, a)
		}
	}
	return out
}

func requested(req *Request, a Attr) bool {
	if len(req.Attributes) == 0 {
		return true
	}
	for _, r := range req.Attributes {
		if r.Name == a {
			return true
		}
	}
	return false
}

// MissingRequired returns the first required attribute the result lacks.
func MissingRequired(req *Request, res *Result) (Attr, bool) {
	for _, a := range req.Attributes {
		if a.Required && res.Value(a.Name) == "" {
			return a.Name, true
		}
	}
	return "", false
}
