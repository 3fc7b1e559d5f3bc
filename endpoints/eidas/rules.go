package eidas

import (
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
)

// Plugin is the dialect as the wiring sees it.
var Plugin = dialect.Plugin{Rules: Rules{}, New: newFromDeps}

// newFromDeps builds the endpoint on the bridge's base URL: our Issuer is
// the metadata URL, our SSO URL the gateway's /Proxy2/ServiceProvider.
func newFromDeps(d dialect.Deps) (dialect.Endpoint, error) {
	base := d.BaseURL
	return New(Config{
		Flow: d.Flow, Registry: d.Registry, Guard: d.Guard, Signer: d.Signer,
		EntityID: base + MetadataPath, SSOURL: base + SSOPath,
		Metadata:     func() ([]byte, error) { return d.IdPMetadata(base+MetadataPath, base+SSOPath, "") },
		Certificates: d.Clave2Certificates,
		Now:          d.Now, Rand: d.Rand, Log: d.Log,
	}), nil
}

// Rules are the configuration rules of the dialect's SPs.
type Rules struct{}

var _ config.DialectRules = Rules{}

// Name is the dialect's name in service_providers[].dialect.
func (Rules) Name() string { return DialectName }

// Defaults: an SP is a Cl@ve 2.0 kit unless its profile says eidas; kits
// get what the gateway sends them (rsa-sha512, rsa-oaep-mgf1p), stock eIDAS
// peers what node 2.9 needs (RSA-PSS, xmlenc11#rsa-oaep). Requests must be
// signed unless configured otherwise, and assertions are always encrypted
// (the eIDAS profile always encrypts).
func (Rules) Defaults(sp *config.SPConfig) {
	if sp.Profile == "" {
		sp.Profile = ProfileClave2
	}
	signature, keyTransport := "rsa-sha512", "rsa-oaep-mgf1p"
	if sp.Profile == ProfileEIDAS {
		signature, keyTransport = "rsa-pss-sha512", "rsa-oaep"
	}
	if sp.SignatureAlgorithm == "" {
		sp.SignatureAlgorithm = signature
	}
	if sp.KeyTransport == "" {
		sp.KeyTransport = keyTransport
	}
	if sp.RequireSigned == nil {
		signed := true
		sp.RequireSigned = &signed
	}
	sp.EncryptAssertions = true
}

// ValidateSP: the profile is clave2 or eidas; an eIDAS-profile SP is
// registered by its signed metadata, so it needs both the metadata and the
// certificate that checks its signature (for metadata from a URL the core
// already demands that certificate). used_idp is Cl@ve 1's.
func (Rules) ValidateSP(path string, sp config.SPConfig) []error {
	errs := config.Unsupported(path, sp, "used_idp", "attribute_profile")
	switch sp.Profile {
	case ProfileClave2:
	case ProfileEIDAS:
		if sp.Metadata == "" {
			errs = append(errs, config.FieldErrorf(path+".metadata", "an eIDAS-profile SP is registered by its signed metadata"))
		}
		if sp.MetadataSigningCert == "" && !config.IsURL(sp.Metadata) {
			errs = append(errs, config.FieldErrorf(path+".metadata_signing_cert", "required to check the metadata's signature"))
		}
	default:
		errs = append(errs, config.FieldErrorf(path+".profile", "%q is not clave2 or eidas", sp.Profile))
	}
	return errs
}

// EncryptsToSigner: a Cl@ve 2.0 kit gets its assertion encrypted to the
// certificate that signed its request, as the gateway does.
func (Rules) EncryptsToSigner(sp config.SPConfig) bool { return sp.Profile == ProfileClave2 }
