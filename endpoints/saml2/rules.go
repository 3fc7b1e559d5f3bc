package saml2

import (
	"slices"
	"strings"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/translate"
)

// Default algorithms of plain SAML2 SPs, the ones stock SAML libraries
// accept.
const (
	defaultSignatureAlgorithm = "rsa-sha256"
	defaultKeyTransport       = "rsa-oaep-mgf1p"
)

// Rules are what the saml2 dialect knows of its SPs' configuration. Plain
// SAML2 SPs have no profile, usedIdP or string value types; they need not
// sign their requests unless configured to (require_signed_requests) or
// their metadata says AuthnRequestsSigned; and an encrypted assertion goes
// to their registered encryption certificate only.
type Rules struct{}

var _ config.DialectRules = Rules{}

// Name is the value of service_providers[].dialect this package serves.
func (Rules) Name() string { return DialectName }

// Defaults fills the algorithms an SP leaves unset: rsa-sha256 signatures
// and rsa-oaep-mgf1p key transport, and the eidas attribute profile.
// require_signed_requests stays unset.
func (Rules) Defaults(sp *config.SPConfig) {
	if sp.AttributeProfile == "" {
		sp.AttributeProfile = translate.ProfileEIDAS
	}
	if sp.SignatureAlgorithm == "" {
		sp.SignatureAlgorithm = defaultSignatureAlgorithm
	}
	if sp.KeyTransport == "" {
		sp.KeyTransport = defaultKeyTransport
	}
}

// ValidateSP refuses the keys of other dialects and an unknown
// attribute_profile.
func (Rules) ValidateSP(path string, sp config.SPConfig) []error {
	errs := config.Unsupported(path, sp, "profile", "used_idp", "string_value_types")
	if sp.AttributeProfile != "" && !slices.Contains(translate.AttributeProfiles(), sp.AttributeProfile) {
		errs = append(errs, config.FieldErrorf(path+".attribute_profile", "%q is not an attribute profile of the saml2 dialect (%s)",
			sp.AttributeProfile, strings.Join(translate.AttributeProfiles(), " or ")))
	}
	return errs
}

// EncryptsToSigner is false: without an encryption certificate there is
// nothing to encrypt to.
func (Rules) EncryptsToSigner(config.SPConfig) bool { return false }
