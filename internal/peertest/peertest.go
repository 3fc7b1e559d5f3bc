// Package peertest decides what a test does when a peer it drives is
// missing (a program or service we did not write: xmlsec1, pysaml2, Redis,
// Apache and its SAML modules, SoftHSM2, chromium, openssl, systemd): under
// CI (CI set) or with CLAVEBRIDGE_REQUIRE_PEERS=1 the test fails, since a
// skipped peer would pass for proof; on a developer's machine it skips,
// saying how to install the peer.
package peertest

import (
	"os"
	"testing"
)

// Required reports whether a missing peer is a failure here.
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv("CLAVEBRIDGE_REQUIRE_PEERS") == "1"
}

// Missing stops t because a peer is missing; why names it and how to
// install it.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatal(why + " (required here: CI or CLAVEBRIDGE_REQUIRE_PEERS=1)")
	}
	t.Skip(why + "; set CLAVEBRIDGE_REQUIRE_PEERS=1 to make this a failure")
}
