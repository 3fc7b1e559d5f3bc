// Package flow runs logins and logouts through the bridge: an inbound
// request, already read and verified by its dialect, meets the SP's policy
// and the browser's SSO session, goes upstream, and its result comes back
// rendered by the dialect that started it; single logout tells every SP of
// a session and the gateway. The flow takes plain values (what the browser
// brought, the parsed request) and returns Replies: it knows no HTTP and no
// dialect's wire format.
package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/pairwise"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/seal"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/translate"
)

// Browser is what the browser brought that the flow needs: the value of
// its SSO session cookie, and the sealed pending logins it keeps, by
// handle (see pending.go).
type Browser struct {
	Session string
	Logins  map[string]string
	// Origin is the request's Origin header ("" when the browser sent
	// none; "null" for an opaque origin): a logout request must come from
	// its sender's origin to end the session at once (see logoutbind.go).
	Origin string
}

// Cookie is a value the browser must keep for TTL; an empty Value tells it
// to forget the cookie.
type Cookie struct {
	Value string
	TTL   time.Duration
}

// Reply is what the bridge sends the browser: a message to carry on, and
// the cookies to set or clear (nil: leave as they are).
type Reply struct {
	Out     bridge.Outgoing
	Session *Cookie // the SSO session
	// Logins are pending-login cookies to set or clear, by handle.
	Logins map[string]*Cookie
	// Confirm, when set, is shown instead of Out: a logout the bridge
	// could not bind to the browser's session waits for the citizen.
	Confirm *LogoutConfirmation
}

// TakeFunc consumes the pending login with the given upstream request ID.
type TakeFunc func(ctx context.Context, id string) (*Pending, error)

// Upstream is the connector to the Cl@ve 2.0 gateway (SP role).
type Upstream interface {
	// Begin builds the signed request for p, to be POSTed to the gateway.
	Begin(ctx context.Context, p *Pending) (bridge.Outgoing, error)
	// Finish verifies the gateway's answer, consumes its pending login with
	// take, and reads the result. A non-nil Pending with an error means the
	// SP is known and must get an error status.
	Finish(ctx context.Context, form url.Values, take TakeFunc) (*Pending, bridge.Result, error)
}

// Flow runs logins: inbound request → policy → upstream → result → SP.
type Flow struct {
	Store      store.Store
	Upstream   Upstream
	Registry   bridge.Registry
	Log        *zap.Logger
	Now        func() time.Time
	Rand       io.Reader
	PendingTTL time.Duration
	// Sessions keeps SSO sessions; nil disables single sign-on.
	Sessions *session.Sessions
	// Seal seals the state the bridge keeps in the browser.
	Seal *seal.Keys
	// Pairwise derives the persistent NameIDs of SPs that may not receive
	// the PersonIdentifier.
	Pairwise *pairwise.Keyer
	// Meter counts logins, the gateway's answers and the hops' durations
	// (nil: nothing is counted).
	Meter    Meter
	dialects map[string]bridge.Dialect
}

// Register makes d the renderer for requests of its dialect.
func (f *Flow) Register(d bridge.Dialect) {
	if f.dialects == nil {
		f.dialects = map[string]bridge.Dialect{}
	}
	f.dialects[d.Name()] = d
}

// log is the flow's logger with ctx's trace id.
func (f *Flow) log(ctx context.Context) *zap.Logger { return trace.Logger(ctx, f.Log) }

// Start answers an inbound login request once its dialect has read it
// (readErr is what reading found wrong): a refusal (*bridge.RequestDenied)
// goes back to the SP as a status in its dialect, any other error is a
// bridge.Refusal for the error page, and an acceptable request is answered
// from the browser's SSO session or sent upstream.
func (f *Flow) Start(ctx context.Context, br Browser, sp *bridge.ServiceProvider, req *bridge.Request, readErr error) (Reply, error) {
	defer f.timeHop(HopSPRequest, f.Now())
	return f.start(ctx, br, sp, req, readErr)
}

func (f *Flow) start(ctx context.Context, br Browser, sp *bridge.ServiceProvider, req *bridge.Request, readErr error) (Reply, error) {
	refused := LoginInvalidRequest
	if readErr == nil {
		readErr, refused = sp.Policy.Apply(req), LoginDeniedPolicy // a policy refusal is answered like the dialect's
	}
	var denied *bridge.RequestDenied
	switch {
	case errors.As(readErr, &denied):
		f.log(ctx).Info("request refused", zap.String("sp", sp.ID), zap.String("dialect", req.Dialect),
			zap.String("status", string(denied.Code)), zap.String("reason", denied.Reason))
		out, err := f.render(ctx, sp, req, bridge.Failure(denied.Code, denied.Reason))
		if err != nil {
			f.countLogin(sp, LoginInternalError)
			return Reply{}, bridge.Internal("The request could not be answered.", err)
		}
		f.countLogin(sp, refused)
		return Reply{Out: out}, nil
	case readErr != nil:
		f.countLogin(sp, LoginInvalidRequest)
		return Reply{}, bridge.Refuse(bridge.ReasonBadRequest, sp.ID, "The authentication request is not valid.", fmt.Errorf("sp %s: %w", sp.ID, readErr))
	}
	if reply, ok, err := f.reuse(ctx, br, sp, req); err != nil {
		f.countLogin(sp, LoginInternalError)
		return Reply{}, bridge.Internal("The login could not be answered.", err)
	} else if ok {
		return reply, nil
	}
	out, handle, cookie, err := f.Begin(ctx, sp, *req)
	if errors.Is(err, errPendingTooLarge) {
		return f.start(ctx, br, sp, req, bridge.Deny(bridge.StatusRequestDenied, "the request is larger than this service keeps"))
	}
	if err != nil {
		f.countLogin(sp, LoginInternalError)
		return Reply{}, bridge.Internal("The login could not be started.", err)
	}
	reply := Reply{Logins: f.pruneLogins(br)}
	reply.Logins[handle] = &cookie
	reply.Out = out
	return reply, nil
}

// Begin seals req (to which the SP's policy has been applied) as a
// pending login for the browser to keep under handle, and returns the
// login request to post to the gateway.
func (f *Flow) Begin(ctx context.Context, sp *bridge.ServiceProvider, req bridge.Request) (out bridge.Outgoing, handle string, cookie Cookie, err error) {
	id, err := samlxml.NewID(f.Rand)
	if err != nil {
		return bridge.Outgoing{}, "", Cookie{}, fmt.Errorf("new upstream request id: %w", err)
	}
	// The login's trace id is the request's, and travels to the gateway
	// and back as RelayState (a random value when ctx has none).
	login := trace.ID(ctx)
	if login == "" {
		if login, err = trace.NewID(f.Rand); err != nil {
			return bridge.Outgoing{}, "", Cookie{}, fmt.Errorf("new trace id: %w", err)
		}
	}
	p := &Pending{ID: id, RelayState: login, Request: req, Created: f.Now(), Trace: login, Policy: releasePolicyOf(sp.Policy)}
	handle, sealed, err := f.sealPending(p)
	if err != nil {
		return bridge.Outgoing{}, "", Cookie{}, fmt.Errorf("sp %s: %w", sp.ID, err)
	}
	if out, err = f.Upstream.Begin(ctx, p); err != nil {
		f.countUpstream(UpstreamError)
		return bridge.Outgoing{}, "", Cookie{}, fmt.Errorf("sp %s: build upstream request: %w", sp.ID, err)
	}
	f.log(ctx).Info("login sent upstream", zap.String("sp", sp.ID), zap.String("dialect", req.Dialect),
		zap.String("upstream_id", p.ID), zap.String("min_loa", req.MinLoA.String()))
	return out, handle, Cookie{Value: sealed, TTL: f.PendingTTL}, nil
}

// Complete handles the gateway's answer, which must arrive in the browser
// that started the login, and returns the answer to post to the SP; a
// successful login starts (or replaces) the browser's SSO session. A
// logout message the gateway sends to the login's URL goes to
// UpstreamLogout.
func (f *Flow) Complete(ctx context.Context, br Browser, form url.Values) (Reply, error) {
	if u := f.upstreamLogout(); u != nil {
		if msg := u.Classify(form); msg.LogoutRequest || msg.LogoutResponse {
			return f.UpstreamLogout(ctx, br, form) // Cl@ve sometimes answers logouts at the login's URL
		}
	}
	defer f.timeHop(HopGatewayAnswer, f.Now())
	p, res, err := f.Upstream.Finish(ctx, form, f.takeIn(br))
	f.countUpstream(upstreamResult(p, res, err))
	if p == nil {
		if err == nil {
			err = errors.New("upstream gave no pending login")
		}
		return Reply{}, bridge.Refuse(bridge.ReasonGatewayRefused, "", "The identity gateway's answer was refused.", fmt.Errorf("upstream response refused: %w", err))
	}
	req := &p.Request
	log := f.log(ctx).With(zap.String("sp", req.SP), zap.String("dialect", req.Dialect), zap.String("upstream_id", p.ID))
	sp, lookupErr := f.Registry.Lookup(req.Dialect, req.SP)
	if lookupErr != nil {
		return Reply{}, bridge.Refuse(bridge.ReasonUnknownSP, req.SP, "The identity gateway's answer was refused.", fmt.Errorf("sp %s vanished from the registry: %w", req.SP, lookupErr))
	}
	sp = p.underStartPolicy(sp) // a reload since the login started does not change what it releases
	if err != nil {
		log.Warn("upstream response refused", zap.Error(err))
		res = bridge.Failure(bridge.StatusResponder, "the identity gateway's answer could not be accepted")
	}
	f.timeHop(HopGateway, p.Created)
	defer f.timeHop(HopLogin, p.Created)
	res, result := f.check(req, sp, res, log)
	res = f.identify(sp, res, log)
	reply := Reply{Logins: map[string]*Cookie{handleOf(p.ID): {}}} // the login is over: forget its cookie
	if res.Status.OK() && f.Sessions != nil {
		res, reply.Session = f.startSession(ctx, br, req, res, log)
	}
	out, err := f.render(ctx, sp, req, sp.Policy.Release(req, res))
	if err != nil {
		f.countLogin(sp, LoginInternalError)
		return Reply{}, bridge.Refuse(bridge.ReasonInternal, sp.ID, "The identity gateway's answer could not be passed on.", err)
	}
	f.countLogin(sp, result)
	reply.Out = out
	return reply, nil
}

// check turns a success that does not meet the request into a failure,
// and says how the login ends.
func (f *Flow) check(req *bridge.Request, sp *bridge.ServiceProvider, res bridge.Result, log *zap.Logger) (bridge.Result, LoginResult) {
	if !res.Status.OK() {
		log.Info("login failed upstream", zap.String("status", string(res.Status.Code)), zap.String("message", res.Status.Message))
		return res, failedUpstream(res)
	}
	if res.LoA < req.MinLoA {
		log.Warn("upstream LoA below request", zap.String("got", res.LoA.String()), zap.String("want", req.MinLoA.String()))
		return bridge.Failure(bridge.StatusNoAuthnContext, "the level of assurance reached is below the one requested"), LoginLoA
	}
	if req.IdPDisabled(res.IdP) {
		log.Warn("upstream used a disabled IdP", zap.String("idp", string(res.IdP)))
		return bridge.Failure(bridge.StatusRequestDenied, "the identity provider used is not allowed"), LoginIdP
	}
	if !res.IdP.Known() && len(req.DisabledIdPs) > 0 {
		// Fail closed: an SP (or its request) that restricts identity
		// providers never gets a login whose provider nobody can name.
		log.Warn("upstream named no known IdP", zap.String("idp", string(res.IdP)))
		return bridge.Failure(bridge.StatusRequestDenied, "the identity provider used is not known"), LoginIdP
	}
	if res.LegalPerson && !(req.LegalPerson && sp.Policy.LegalPersons) {
		log.Warn("legal person refused")
		return bridge.Failure(bridge.StatusRequestDenied, "a legal person authenticated where only natural persons are allowed"), LoginLegalPerson
	}
	if a, missing := bridge.MissingRequired(req, &res); missing {
		log.Warn("required attribute missing", zap.String("attribute", string(a)))
		return bridge.Failure(bridge.StatusInvalidAttr, fmt.Sprintf("required attribute %s is not available", a)), LoginAttribute
	}
	log.Info("login succeeded", zap.String("subject", translate.Mask(res.Subject)),
		zap.String("idp", string(res.IdP)), zap.String("loa", res.LoA.String()))
	return res, LoginSuccess
}

func (f *Flow) render(ctx context.Context, sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (bridge.Outgoing, error) {
	d, ok := f.dialects[req.Dialect]
	if !ok {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: no renderer for dialect %q", sp.ID, req.Dialect)
	}
	out, err := d.Render(ctx, sp, req, res)
	if err != nil {
		return bridge.Outgoing{}, fmt.Errorf("sp %s: render %s answer: %w", sp.ID, req.Dialect, err)
	}
	f.log(ctx).Info("answer sent to the SP", zap.String("sp", sp.ID), zap.String("dialect", req.Dialect),
		zap.String("status", string(res.Status.Code)))
	return out, nil
}
