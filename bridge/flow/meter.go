package flow

import (
	"time"

	"github.com/clavebridge/clavebridge/bridge"
)

// Meter counts what the flow does, for the operator's metrics. Every label
// it is given comes from a closed set: the SP's configured id and dialect
// (never a value from a message the bridge has not verified), a
// LoginResult, an UpstreamResult, a Hop. It never sees the citizen. A nil
// Meter counts nothing.
type Meter interface {
	// Login counts one login answered to (or refused for) a configured SP.
	Login(sp, dialect string, result LoginResult)
	// Upstream counts one answer of the gateway to a login request.
	Upstream(result UpstreamResult)
	// Hop records how long one hop of a login took.
	Hop(hop Hop, d time.Duration)
}

// LoginResult is how a login ended, for an SP the bridge had identified.
// A request refused before its SP is identified (unreadable, unknown
// issuer, bad signature) is no login of any SP and is not counted.
type LoginResult string

// The login results: a small closed set, never free text.
const (
	// LoginSuccess: the citizen authenticated at the gateway and the SP got
	// the answer.
	LoginSuccess LoginResult = "success"
	// LoginSSO: answered from the browser's SSO session, without the gateway.
	LoginSSO LoginResult = "sso"
	// LoginDeniedPolicy: the SP's policy refused the request (legal persons,
	// identity providers, attributes it may not receive).
	LoginDeniedPolicy LoginResult = "denied_policy"
	// LoginInvalidRequest: the SP's (verified) request was refused by its
	// dialect: destination, age, replay, what it asks for, its size.
	LoginInvalidRequest LoginResult = "invalid_request"
	// LoginLoA: the level of assurance reached is below the one asked for.
	LoginLoA LoginResult = "loa"
	// LoginIdP: the identity provider used is disabled for the login or not
	// known while the login restricts providers.
	LoginIdP LoginResult = "idp"
	// LoginLegalPerson: a legal person authenticated where only natural
	// persons are allowed.
	LoginLegalPerson LoginResult = "legal_person"
	// LoginAttribute: a required attribute did not come.
	LoginAttribute LoginResult = "attribute"
	// LoginCancelled: the gateway answered AuthnFailed: the citizen
	// cancelled or did not authenticate.
	LoginCancelled LoginResult = "cancelled"
	// LoginUpstreamError: the gateway answered another error, or its answer
	// could not be accepted.
	LoginUpstreamError LoginResult = "upstream_error"
	// LoginInternalError: the bridge could not start the login or render
	// its answer.
	LoginInternalError LoginResult = "internal_error"
)

// LoginResults lists every LoginResult.
func LoginResults() []LoginResult {
	return []LoginResult{
		LoginSuccess, LoginSSO, LoginDeniedPolicy, LoginInvalidRequest, LoginLoA, LoginIdP,
		LoginLegalPerson, LoginAttribute, LoginCancelled, LoginUpstreamError, LoginInternalError,
	}
}

// UpstreamResult is what became of one answer of the gateway to a login
// request.
type UpstreamResult string

// The upstream results.
const (
	// UpstreamSuccess: a verified answer with a successful authentication.
	UpstreamSuccess UpstreamResult = "success"
	// UpstreamCancelled: a verified answer with AuthnFailed.
	UpstreamCancelled UpstreamResult = "cancelled"
	// UpstreamFailure: a verified answer with another error status.
	UpstreamFailure UpstreamResult = "failure"
	// UpstreamRefused: the answer was not accepted (signature, replay,
	// age, audience, an unknown or already answered login, …).
	UpstreamRefused UpstreamResult = "refused"
	// UpstreamError: the bridge could not build or sign the request.
	UpstreamError UpstreamResult = "error"
)

// UpstreamResults lists every UpstreamResult.
func UpstreamResults() []UpstreamResult {
	return []UpstreamResult{UpstreamSuccess, UpstreamCancelled, UpstreamFailure, UpstreamRefused, UpstreamError}
}

// Hop is one leg of a login whose duration is measured.
type Hop string

// The hops.
const (
	// HopSPRequest: the SP's request, from its arrival in the flow until it
	// is sent to the gateway or answered (Start).
	HopSPRequest Hop = "sp_request"
	// HopGateway: the citizen at the gateway, from the pending login's
	// creation to the gateway's answer.
	HopGateway Hop = "gateway"
	// HopGatewayAnswer: the gateway's answer, from its arrival until the
	// answer to the SP is ready (Complete).
	HopGatewayAnswer Hop = "gateway_answer"
	// HopLogin: a login through the gateway, from the pending login's
	// creation until the answer to the SP is ready.
	HopLogin Hop = "login"
)

// Hops lists every Hop.
func Hops() []Hop { return []Hop{HopSPRequest, HopGateway, HopGatewayAnswer, HopLogin} }

// countLogin counts a login of sp, when there is a Meter.
func (f *Flow) countLogin(sp *bridge.ServiceProvider, result LoginResult) {
	if f.Meter != nil && sp != nil {
		f.Meter.Login(sp.ID, sp.Dialect, result)
	}
}

// countUpstream counts an answer of the gateway, when there is a Meter.
func (f *Flow) countUpstream(result UpstreamResult) {
	if f.Meter != nil {
		f.Meter.Upstream(result)
	}
}

// timeHop records the time since began for hop, when there is a Meter
// (defer f.timeHop(hop, f.Now()) times a whole call).
func (f *Flow) timeHop(hop Hop, began time.Time) {
	if f.Meter != nil {
		f.Meter.Hop(hop, f.Now().Sub(began))
	}
}

// upstreamResult classifies what Upstream.Finish gave.
func upstreamResult(p *Pending, res bridge.Result, err error) UpstreamResult {
	switch {
	case p == nil || err != nil:
		return UpstreamRefused
	case res.Status.OK():
		return UpstreamSuccess
	case res.Status.Code == bridge.StatusAuthnFailed:
		return UpstreamCancelled
	default:
		return UpstreamFailure
	}
}

// failedUpstream is the LoginResult of a login the gateway did not
// authenticate: cancelled or an error.
func failedUpstream(res bridge.Result) LoginResult {
	if res.Status.Code == bridge.StatusAuthnFailed {
		return LoginCancelled
	}
	return LoginUpstreamError
}
