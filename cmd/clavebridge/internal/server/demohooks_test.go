package server

import "github.com/clavebridge/clavebridge/cmd/clavebridge/internal/demosp"

// The demo SP's pages are localized (Spanish unless the browser asks
// otherwise): tests read their outcome from stable hooks, not from text.
const (
	demoLoggedIn    = demosp.ResultOK     // the result page of a login that succeeded
	demoLoginFailed = demosp.ResultFailed // … that failed
	demoLoggedOut   = demosp.LoggedOut    // the end of a complete logout
)
