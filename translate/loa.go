// Package translate holds the pure, table-driven mappings between the
// canonical vocabulary of clavebridge (levels of assurance, identity
// providers, attribute names, identifiers) and the names each SAML dialect
// uses on the wire. It imports nothing of ours.
package translate

import (
	"fmt"
	"strconv"
)

// LoA is an eIDAS level of assurance. The zero value is "no level" and is
// never a valid level to send or accept.
type LoA int

// The notified eIDAS levels, in increasing order.
const (
	LoANone LoA = iota
	LoALow
	LoASubstantial
	LoAHigh
)

var loaNames = [...]string{LoALow: "low", LoASubstantial: "substantial", LoAHigh: "high"}

const eidasLoAPrefix = "http://eidas.europa.eu/LoA/"

// Valid reports whether l is one of the three notified levels.
func (l LoA) Valid() bool { return l >= LoALow && l <= LoAHigh }

// String returns "low", "substantial" or "high" ("none" otherwise).
func (l LoA) String() string {
	if !l.Valid() {
		return "none"
	}
	return loaNames[l]
}

// EIDAS returns the level's URI, e.g. http://eidas.europa.eu/LoA/low.
func (l LoA) EIDAS() string {
	if !l.Valid() {
		return ""
	}
	return eidasLoAPrefix + loaNames[l]
}

// ParseLoA reads "low", "substantial" or "high" (configuration files).
func ParseLoA(name string) (LoA, error) {
	for l := LoALow; l <= LoAHigh; l++ {
		if loaNames[l] == name {
			return l, nil
		}
	}
	return LoANone, fmt.Errorf("unknown level of assurance %q (want low, substantial or high)", name)
}

// LoAFromEIDAS reads a notified eIDAS LoA URI. Anything else, including
// non-notified levels, is rejected: never rounded.
func LoAFromEIDAS(uri string) (LoA, error) {
	for l := LoALow; l <= LoAHigh; l++ {
		if l.EIDAS() == uri {
			return l, nil
		}
	}
	return LoANone, fmt.Errorf("unknown or non-notified eIDAS level of assurance %q", uri)
}

// LoAFromQAA maps a STORK QAA level: 1 and 2 are low, 3 substantial, 4 high.
// QAA 1 is below anything Cl@ve 2.0 offers and is served as low; callers log it.
func LoAFromQAA(qaa string) (LoA, error) {
	n, err := strconv.Atoi(qaa)
	if err != nil {
		return LoANone, fmt.Errorf("STORK QAA level %q is not a number", qaa)
	}
	switch n {
	case 1, 2:
		return LoALow, nil
	case 3:
		return LoASubstantial, nil
	case 4:
		return LoAHigh, nil
	}
	return LoANone, fmt.Errorf("STORK QAA level %d is outside 1-4", n)
}

// QAA returns the STORK QAA level that l satisfies: low 2, substantial 3, high 4.
func (l LoA) QAA() int {
	if !l.Valid() {
		return 0
	}
	return int(l) + 1
}
