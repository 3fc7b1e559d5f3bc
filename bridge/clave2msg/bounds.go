package clave2msg

import "fmt"

// The bounds of every field the bridge stores, logs or echoes from a
// message, whoever sent it: a value past its bound refuses the message.
const (
	// MaxIDBytes bounds message IDs and InResponseTo (as the simulator and
	// the Cl@ve kits draw them: far below it).
	MaxIDBytes = 256
	// MaxURIBytes bounds Issuers, Destinations, ACS URLs and format URIs
	// (SAML metadata's entityID limit is 1024).
	MaxURIBytes = 1024
	// MaxNameBytes bounds provider names, NameIDs and session indexes.
	MaxNameBytes = 256
	// MaxAttributes bounds the attributes one request may ask for (the
	// eIDAS and Cl@ve catalogues have about 40).
	MaxAttributes = 64
	// MaxValueBytes bounds one requested attribute's name or value.
	MaxValueBytes = 512
	// MaxSessionIndexes bounds the SessionIndex elements of a LogoutRequest.
	MaxSessionIndexes = 8
	// MaxLevels bounds the levels listed in RequestedAuthnContext.
	MaxLevels = 8
)

// field is one value and its bound.
type field struct {
	name  string
	value string
	max   int
}

// checkBounds refuses the first value past its bound.
func checkBounds(msg string, fields ...field) error {
	for _, f := range fields {
		if len(f.value) > f.max {
			return fmt.Errorf("%s %s is %d bytes, more than %d", msg, f.name, len(f.value), f.max)
		}
	}
	return nil
}
