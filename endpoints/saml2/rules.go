package saml2

import "github.com/clavebridge/clavebridge/bridge/config"

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
// and rsa-oaep-mgf1p key transport. require_signed_requests stays unset.
func (Rules) Defaults(sp *config.SPConfig) {
	if sp.SignatureAlgorithm == "" {
		sp.SignatureAlgorithm = defaultSignatureAlgorithm
	}
	if sp.KeyTransport == "" {
		sp.KeyTransport = defaultKeyTransport
	}
}

// ValidateSP refuses the keys of other dialects.
func (Rules) ValidateSP(path string, sp config.SPConfig) []error {
	return config.Unsupported(path, sp, "profile", "used_idp", "string_value_types")
}

// EncryptsToSigner is false: without an encryption certificate there is
// nothing to encrypt to.
func (Rules) EncryptsToSigner(config.SPConfig) bool { return false }
