package stork

import "github.com/clavebridge/clavebridge/bridge/config"

// Rules are what the Cl@ve 1 dialect requires of its SPs' configuration.
type Rules struct{}

var _ config.DialectRules = Rules{}

// Name is the value of service_providers[].dialect for Cl@ve 1 SPs.
func (Rules) Name() string { return DialectName }

// Defaults fills in what Cl@ve 1 kits need unless configured: signed
// requests (a Cl@ve 1 kit always signs), rsa-sha256 signatures and
// rsa-oaep-mgf1p key transport.
func (Rules) Defaults(sp *config.SPConfig) {
	if sp.RequireSigned == nil {
		required := true
		sp.RequireSigned = &required
	}
	if sp.SignatureAlgorithm == "" {
		sp.SignatureAlgorithm = "rsa-sha256"
	}
	if sp.KeyTransport == "" {
		sp.KeyTransport = "rsa-oaep-mgf1p"
	}
}

// ValidateSP refuses the keys Cl@ve 1 has no use for: profile and
// string_value_types (used_idp is its own).
func (Rules) ValidateSP(path string, sp config.SPConfig) []error {
	return config.Unsupported(path, sp, "profile", "string_value_types", "attribute_profile")
}

// EncryptsToSigner is false: the Cl@ve 1 gateway never encrypted to the
// request's signer (its answers are signed, not encrypted).
func (Rules) EncryptsToSigner(config.SPConfig) bool { return false }
