package saml2

import (
	"errors"

	"github.com/clavebridge/clavebridge/endpoints/dialect"
)

// Plugin is the saml2 dialect as the wiring sees it.
var Plugin = dialect.Plugin{Rules: Rules{}, New: newFromDeps}

// newFromDeps builds the endpoint at deps.BaseURL: its entityID is the
// metadata URL, and its metadata names the SSO and SLO URLs. It registers
// nothing: the wiring registers it with the flow and mounts its routes.
func newFromDeps(deps dialect.Deps) (dialect.Endpoint, error) {
	entityID, ssoURL, sloURL := deps.BaseURL+MetadataPath, deps.BaseURL+SSOPath, deps.BaseURL+SLOPath
	return New(Config{
		Flow: deps.Flow, Registry: deps.Registry, Signer: deps.Signer, Guard: deps.Guard,
		EntityID: entityID, SSOURL: ssoURL, SLOURL: sloURL,
		Metadata: func() ([]byte, error) {
			if deps.IdPMetadata == nil {
				return nil, errors.New("no IdP metadata publisher")
			}
			return deps.IdPMetadata(entityID, ssoURL, sloURL)
		},
		Now: deps.Now, Rand: deps.Rand, Log: deps.Log,
	}), nil
}
