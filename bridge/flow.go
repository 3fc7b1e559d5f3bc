package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/translate"
)

// Outgoing is a message the browser must POST somewhere: to the gateway or
// back to an SP.
type Outgoing struct {
	URL    string
	Fields []samlxml.Field
	// Redirect, when set, is sent as a 303 redirect instead of a POST form
	// (the HTTP-Redirect binding).
	Redirect string
}

// Pending is a login waiting for the gateway's answer, kept in the store
// under the ID of our upstream AuthnRequest and taken exactly once.
type Pending struct {
	ID         string    `json:"id"`
	RelayState string    `json:"relay_state"` // what we sent upstream as RelayState
	Request    Request   `json:"request"`
	Created    time.Time `json:"created"`
	// Browser binds the login to the browser that started it (a hash of
	// its login cookie): an answer carried to another browser is refused.
	Browser string `json:"browser,omitempty"`
}

// TakeFunc consumes the pending login with the given upstream request ID.
type TakeFunc func(ctx context.Context, id string) (*Pending, error)

// Upstream is the connector to the Cl@ve 2.0 gateway (SP role).
type Upstream interface {
	// Begin builds the signed request for p, to be POSTed to the gateway.
	Begin(ctx context.Context, p *Pending) (Outgoing, error)
	// Finish verifies the gateway's answer, consumes its pending login with
	// take, and reads the result. A non-nil Pending with an error means the
	// SP is known and must get an error status.
	Finish(ctx context.Context, form url.Values, take TakeFunc) (*Pending, Result, error)
}

// Dialect renders results in one inbound protocol.
type Dialect interface {
	Name() string
	// Render builds the signed answer to req, posted to req.ReturnURL.
	Render(ctx context.Context, sp *ServiceProvider, req *Request, res Result) (Outgoing, error)
}

// ErrUnknownSP is returned for an SP that is not registered.
var ErrUnknownSP = errors.New("unknown service provider")

// Registry finds registered SPs.
type Registry interface {
	Lookup(dialect, id string) (*ServiceProvider, error)
}

// Lister is a Registry that can also list its SPs (metadata.Registry can).
type Lister interface {
	All() []*ServiceProvider
}

// Flow runs logins: inbound request → policy → upstream → result → SP.
type Flow struct {
	Store      store.Store
	Upstream   Upstream
	Registry   Registry
	Log        *zap.Logger
	Now        func() time.Time
	Rand       io.Reader
	PendingTTL time.Duration
	// Sessions keeps SSO sessions; nil disables single sign-on.
	Sessions *Sessions
	dialects map[string]Dialect
}

// Register makes d the renderer for requests of its dialect.
func (f *Flow) Register(d Dialect) {
	if f.dialects == nil {
		f.dialects = map[string]Dialect{}
	}
	f.dialects[d.Name()] = d
}

// Begin stores req (to which the SP's policy has been applied) as a pending
// login bound to browser (see BrowserBinding) and returns the login request
// to post to the gateway.
func (f *Flow) Begin(ctx context.Context, sp *ServiceProvider, req Request, browser string) (Outgoing, error) {
	log := f.Log.With(zap.String("sp", sp.ID), zap.String("dialect", req.Dialect))
	id, err := samlxml.NewID(f.Rand)
	if err != nil {
		return Outgoing{}, fmt.Errorf("new upstream request id: %w", err)
	}
	relay, err := samlxml.NewID(f.Rand)
	if err != nil {
		return Outgoing{}, fmt.Errorf("new upstream relay state: %w", err)
	}
	p := &Pending{ID: id, RelayState: relay[1:9], Request: req, Created: f.Now(), Browser: browser}
	out, err := f.Upstream.Begin(ctx, p)
	if err != nil {
		return Outgoing{}, fmt.Errorf("sp %s: build upstream request: %w", sp.ID, err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return Outgoing{}, fmt.Errorf("encode pending login: %w", err)
	}
	if err := f.Store.PutPending(ctx, pendingKey(p.ID, browser), data, f.PendingTTL); err != nil {
		return Outgoing{}, fmt.Errorf("sp %s: store pending login: %w", sp.ID, err)
	}
	log.Info("login sent upstream", zap.String("upstream_id", p.ID), zap.String("min_loa", req.MinLoA.String()))
	return out, nil
}

// pendingKey stores a pending login under its upstream request ID and its
// browser binding, so that only the browser that started it can take it.
func pendingKey(id, browser string) string {
	if browser == "" {
		return id
	}
	return id + "|" + browser
}

// takeIn consumes a pending login only in the browser that started it; in
// another browser nothing is found and the login stays pending for its own.
func (f *Flow) takeIn(browser string) TakeFunc {
	return func(ctx context.Context, id string) (*Pending, error) {
		p, err := f.take(ctx, pendingKey(id, BrowserBinding(browser)))
		if err != nil {
			return nil, fmt.Errorf("%w (or the answer arrived in another browser than the login's)", err)
		}
		return p, nil
	}
}

// take consumes a pending login from the store.
func (f *Flow) take(ctx context.Context, id string) (*Pending, error) {
	data, err := f.Store.TakePending(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("pending login %q: %w", id, err)
	}
	var p Pending
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode pending login: %w", err)
	}
	return &p, nil
}

// Complete handles the gateway's answer, which must arrive in the browser
// that started the login (browser is the value of its login cookie), and
// returns the answer to post to the SP (without starting an SSO session).
func (f *Flow) Complete(ctx context.Context, form url.Values, browser string) (Outgoing, error) {
	return f.complete(ctx, form, browser, nil)
}

// complete is Complete; with c, a successful login starts (or replaces)
// the browser's SSO session.
func (f *Flow) complete(ctx context.Context, form url.Values, browser string, c echo.Context) (Outgoing, error) {
	p, res, err := f.Upstream.Finish(ctx, form, f.takeIn(browser))
	if p == nil {
		if err == nil {
			err = errors.New("upstream gave no pending login")
		}
		return Outgoing{}, fmt.Errorf("upstream response refused: %w", err)
	}
	req := &p.Request
	log := f.Log.With(zap.String("sp", req.SP), zap.String("dialect", req.Dialect), zap.String("upstream_id", p.ID))
	sp, lookupErr := f.Registry.Lookup(req.Dialect, req.SP)
	if lookupErr != nil {
		return Outgoing{}, fmt.Errorf("sp %s vanished from the registry: %w", req.SP, lookupErr)
	}
	if err != nil {
		log.Warn("upstream response refused", zap.Error(err))
		res = Failure(StatusResponder, "the identity gateway's answer could not be accepted")
	}
	res = f.check(req, sp, res, log)
	if res.Status.OK() && c != nil && f.Sessions != nil {
		res = f.startSession(c, req, res, log)
	}
	return f.render(ctx, sp, req, sp.Policy.Release(req, res))
}

// check turns a success that does not meet the request into a failure.
func (f *Flow) check(req *Request, sp *ServiceProvider, res Result, log *zap.Logger) Result {
	if !res.Status.OK() {
		log.Info("login failed upstream", zap.String("status", string(res.Status.Code)), zap.String("message", res.Status.Message))
		return res
	}
	if res.LoA < req.MinLoA {
		log.Warn("upstream LoA below request", zap.String("got", res.LoA.String()), zap.String("want", req.MinLoA.String()))
		return Failure(StatusNoAuthnContext, "the level of assurance reached is below the one requested")
	}
	if req.IdPDisabled(res.IdP) {
		log.Warn("upstream used a disabled IdP", zap.String("idp", string(res.IdP)))
		return Failure(StatusRequestDenied, "the identity provider used is not allowed")
	}
	if res.LegalPerson && !(req.LegalPerson && sp.Policy.LegalPersons) {
		return Failure(StatusRequestDenied, "a legal person authenticated where only natural persons are allowed")
	}
	if a, missing := MissingRequired(req, &res); missing {
		return Failure(StatusInvalidAttr, fmt.Sprintf("required attribute %s is not available", a))
	}
	log.Info("login succeeded", zap.String("subject", translate.Mask(res.Subject)),
		zap.String("idp", string(res.IdP)), zap.String("loa", res.LoA.String()))
	return res
}

func (f *Flow) render(ctx context.Context, sp *ServiceProvider, req *Request, res Result) (Outgoing, error) {
	d, ok := f.dialects[req.Dialect]
	if !ok {
		return Outgoing{}, fmt.Errorf("sp %s: no renderer for dialect %q", sp.ID, req.Dialect)
	}
	out, err := d.Render(ctx, sp, req, res)
	if err != nil {
		return Outgoing{}, fmt.Errorf("sp %s: render %s answer: %w", sp.ID, req.Dialect, err)
	}
	return out, nil
}
