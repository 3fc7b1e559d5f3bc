package flow_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	dialect    = "fake"
	lifetime   = time.Hour
	pendingTTL = 10 * time.Minute
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

// clock is the settable time of a test: the flow, the sessions and the
// store all read it.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// fakeDialect renders answers as Outgoings whose fields record what it was
// asked to render.
type fakeDialect struct {
	name        string
	renderErr   error
	noLogoutFor map[string]bool // SPs that cannot receive a LogoutRequest
	logoutErr   error
	responseErr error
	renders     int
}

func (d *fakeDialect) Name() string { return d.name }

func (d *fakeDialect) Render(_ context.Context, sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (bridge.Outgoing, error) {
	if d.renderErr != nil {
		return bridge.Outgoing{}, d.renderErr
	}
	d.renders++
	var attrs []string
	for _, a := range res.Attributes {
		attrs = append(attrs, string(a.Name))
	}
	return bridge.Outgoing{URL: "answer:" + sp.ID, Fields: []samlxml.Field{
		{Name: "status", Value: string(res.Status.Code)},
		{Name: "message", Value: res.Status.Message},
		{Name: "in_response_to", Value: req.ID},
		{Name: "return_url", Value: req.ReturnURL},
		{Name: "subject", Value: res.Subject},
		{Name: "session_index", Value: res.SessionIndex},
		{Name: "transient", Value: res.TransientNameID},
		{Name: "persistent", Value: res.PersistentNameID},
		{Name: "attributes", Value: strings.Join(attrs, ",")},
	}}, nil
}

func (d *fakeDialect) LogoutRequest(_ context.Context, sp *bridge.ServiceProvider, p bridge.Participant, id, relayState string) (bridge.Outgoing, bool, error) {
	if d.logoutErr != nil {
		return bridge.Outgoing{}, false, d.logoutErr
	}
	if d.noLogoutFor[sp.ID] {
		return bridge.Outgoing{}, false, nil
	}
	return bridge.Outgoing{URL: "logout-request:" + sp.ID, Fields: []samlxml.Field{
		{Name: "id", Value: id},
		{Name: "relay", Value: relayState},
		{Name: "session_index", Value: p.SessionIndex},
		{Name: "name_id", Value: p.TransientNameID},
		{Name: "persistent_name_id", Value: p.Subject},
	}}, true, nil
}

func (d *fakeDialect) LogoutResponse(_ context.Context, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, status bridge.Status) (bridge.Outgoing, error) {
	if d.responseErr != nil {
		return bridge.Outgoing{}, d.responseErr
	}
	return bridge.Outgoing{URL: "logout-response:" + sp.ID, Fields: []samlxml.Field{
		{Name: "status", Value: string(status.Code)},
		{Name: "in_response_to", Value: in.RequestID},
		{Name: "relay", Value: in.RelayState},
	}}, nil
}

// loginDialect takes no part in single logout.
type loginDialect struct{ d *fakeDialect }

func (l loginDialect) Name() string { return l.d.Name() }
func (l loginDialect) Render(ctx context.Context, sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (bridge.Outgoing, error) {
	return l.d.Render(ctx, sp, req, res)
}

func field(out bridge.Outgoing, name string) string {
	for _, f := range out.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

type logoutAnswer struct {
	InResponseTo, RelayState string
	OK                       bool
}

// fakeUpstream is the gateway connector of a test. Finish takes the pending
// login named by the form's "id" (the last one begun when none) and answers
// with result and finishErr; the logout leg is controlled field by field.
type fakeUpstream struct {
	begun      []*flow.Pending
	beginErr   error
	result     bridge.Result
	finishErr  error
	noPending  bool            // Finish returns no pending login and no error
	taken      []*flow.Pending // what take returned: the stored pending logins
	finishes   int
	classified int

	begunLogouts   [][2]string // id, relayState
	beginLogoutErr error
	finishOK       bool
	finishMessage  string
	finishErrL     error
	read           []string // InResponseTo of the logout answers read
	origins        []string // the gateway's origins
	readID         string
	readRelay      string
	readErr        error
	answers        []logoutAnswer
	answerErr      error
}

func (u *fakeUpstream) Begin(_ context.Context, p *flow.Pending) (bridge.Outgoing, error) {
	if u.beginErr != nil {
		return bridge.Outgoing{}, u.beginErr
	}
	u.begun = append(u.begun, p)
	return bridge.Outgoing{URL: "gateway", Fields: []samlxml.Field{{Name: "id", Value: p.ID}, {Name: "relay", Value: p.RelayState}}}, nil
}

func (u *fakeUpstream) Finish(ctx context.Context, form url.Values, take flow.TakeFunc) (*flow.Pending, bridge.Result, error) {
	u.finishes++
	if u.noPending {
		return nil, bridge.Result{}, nil
	}
	id := form.Get("id")
	if id == "" && len(u.begun) > 0 {
		id = u.begun[len(u.begun)-1].ID
	}
	p, err := take(ctx, id)
	if err != nil {
		return nil, bridge.Result{}, err
	}
	u.taken = append(u.taken, p)
	return p, u.result, u.finishErr
}

func (u *fakeUpstream) Classify(form url.Values) flow.UpstreamMessage {
	u.classified++
	return flow.UpstreamMessage{
		LogoutRequest:  form.Get("kind") == "logout-request",
		LogoutResponse: form.Get("kind") == "logout-response",
		RelayState:     form.Get("relay"),
	}
}

func (u *fakeUpstream) BeginLogout(_ context.Context, id, relayState string) (bridge.Outgoing, error) {
	if u.beginLogoutErr != nil {
		return bridge.Outgoing{}, u.beginLogoutErr
	}
	u.begunLogouts = append(u.begunLogouts, [2]string{id, relayState})
	return bridge.Outgoing{URL: "gateway-logout", Fields: []samlxml.Field{{Name: "id", Value: id}, {Name: "relay", Value: relayState}}}, nil
}

// ReadLogoutResponse reads the answer to the form's "in_response_to" (the
// last logout begun when none): finishErrL makes it forged.
func (u *fakeUpstream) ReadLogoutResponse(_ context.Context, form url.Values) (flow.LogoutAnswer, error) {
	if u.finishErrL != nil {
		return flow.LogoutAnswer{}, u.finishErrL
	}
	id := form.Get("in_response_to")
	if id == "" && len(u.begunLogouts) > 0 {
		id = u.begunLogouts[len(u.begunLogouts)-1][0]
	}
	u.read = append(u.read, id)
	return flow.LogoutAnswer{InResponseTo: id, OK: u.finishOK, Message: u.finishMessage}, nil
}

func (u *fakeUpstream) Origins() []string { return u.origins }

func (u *fakeUpstream) ReadLogoutRequest(context.Context, url.Values) (string, string, error) {
	return u.readID, u.readRelay, u.readErr
}

func (u *fakeUpstream) LogoutResponse(_ context.Context, inResponseTo, relayState string, ok bool) (bridge.Outgoing, error) {
	if u.answerErr != nil {
		return bridge.Outgoing{}, u.answerErr
	}
	u.answers = append(u.answers, logoutAnswer{inResponseTo, relayState, ok})
	return bridge.Outgoing{URL: "gateway-logout-response", Fields: []samlxml.Field{{Name: "in_response_to", Value: inResponseTo}}}, nil
}

// loginOnly is a connector without the logout leg.
type loginOnly struct{ u *fakeUpstream }

func (l loginOnly) Begin(ctx context.Context, p *flow.Pending) (bridge.Outgoing, error) {
	return l.u.Begin(ctx, p)
}
func (l loginOnly) Finish(ctx context.Context, form url.Values, take flow.TakeFunc) (*flow.Pending, bridge.Result, error) {
	return l.u.Finish(ctx, form, take)
}

var errDown = errors.New("down")

// faultyStore fails the operations a test switches off.
type faultyStore struct {
	store.Store
	failPutPending, failPutSession, failDeleteSession bool // failPutSession: every session write
	marks                                             int  // replay-cache entries made (logins taken)
}

func (s *faultyStore) MarkSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	first, err := s.Store.MarkSeen(ctx, key, ttl)
	if first && err == nil {
		s.marks++
	}
	return first, err
}

// leftover is what the store holds beyond the replay cache's marks of the
// logins taken: sessions and logouts under way.
func (f *fixture) leftover() int { return f.mem.Len() - f.store.marks }

func (s *faultyStore) PutPending(ctx context.Context, id string, v []byte, ttl time.Duration) error {
	if s.failPutPending {
		return errDown
	}
	return s.Store.PutPending(ctx, id, v, ttl)
}

func (s *faultyStore) PutSession(ctx context.Context, id string, v []byte, ttl time.Duration) error {
	if s.failPutSession {
		return errDown
	}
	return s.Store.PutSession(ctx, id, v, ttl)
}

// UpdateSession fails like PutSession: both write a session.
func (s *faultyStore) UpdateSession(ctx context.Context, id string, update func([]byte) ([]byte, error), ttl time.Duration) error {
	if s.failPutSession {
		return errDown
	}
	return s.Store.UpdateSession(ctx, id, func(old []byte) ([]byte, error) {
		v, err := update(old)
		if err == nil && v == nil && s.failDeleteSession { // the update deletes: fail it as DeleteSession would
			return nil, errDown
		}
		return v, err
	}, ttl)
}

func (s *faultyStore) DeleteSession(ctx context.Context, id string) error {
	if s.failDeleteSession {
		return errDown
	}
	return s.Store.DeleteSession(ctx, id)
}

type fixture struct {
	t     *testing.T
	clock *clock
	mem   *store.Memory
	store *faultyStore
	up    *fakeUpstream
	reg   bridgetest.Registry
	d     *fakeDialect
	flow  *flow.Flow
	logs  *observer.ObservedLogs
}

func newFixture(t *testing.T) *fixture {
	c := &clock{t0}
	mem := store.NewMemory(c.now, 0)
	st := &faultyStore{Store: mem}
	core, logs := observer.New(zapcore.DebugLevel)
	f := &fixture{
		t: t, clock: c, mem: mem, store: st, logs: logs,
		up: &fakeUpstream{result: success(), finishOK: true},
		d:  &fakeDialect{name: dialect},
		reg: bridgetest.Registry{
			dialect + " sp1": newSP("sp1"),
			dialect + " sp2": newSP("sp2"),
			dialect + " sp3": newSP("sp3"),
		},
	}
	f.flow = &flow.Flow{
		Store: st, Upstream: f.up, Registry: f.reg, Log: zap.New(core), Now: c.now, Rand: rand.Reader, PendingTTL: pendingTTL,
		Sessions: &session.Sessions{Store: st, Lifetime: lifetime, Now: c.now, Rand: rand.Reader, Seal: bridgetest.Seal(t), Log: zap.New(core)},
		Seal:     bridgetest.Seal(t),
	}
	f.flow.Register(f.d)
	return f
}

func newSP(id string) *bridge.ServiceProvider {
	return &bridge.ServiceProvider{ID: id, Dialect: dialect, Policy: bridge.Policy{MinLoA: translate.LoALow}}
}

func request(sp string) *bridge.Request {
	return &bridge.Request{SP: sp, Dialect: dialect, ID: "_req-" + sp, ReturnURL: "acs:" + sp, MinLoA: translate.LoALow,
		State: []byte(`{"sp":"` + sp + `"}`)}
}

func success() bridge.Result {
	return bridge.Result{
		Status: bridge.Status{Code: bridge.StatusSuccess}, LoA: translate.LoASubstantial, IdP: translate.IdPPin24H,
		Subject: "ES/ES/12345678Z", AuthnInstant: t0,
		Attributes: []bridge.Attribute{
			{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/12345678Z"}},
			{Name: translate.AttrGivenName, Values: []string{"Ana"}},
			{Name: translate.AttrSelectedIdP, Values: []string{"PIN24H"}},
		},
	}
}

func (f *fixture) sp(id string) *bridge.ServiceProvider { return f.reg[dialect+" "+id] }

// start runs Start and fails the test on an error.
func (f *fixture) start(ctx context.Context, br flow.Browser, sp string) flow.Reply {
	f.t.Helper()
	reply, err := f.flow.Start(ctx, br, f.sp(sp), request(sp), nil)
	if err != nil {
		f.t.Fatalf("Start(%s): %v", sp, err)
	}
	return reply
}

// login runs a whole login for sp in a browser (through the gateway, or
// from the SSO session) and returns the browser with its cookies updated
// and the SP's answer.
func (f *fixture) login(br flow.Browser, sp string) (flow.Browser, bridge.Outgoing) {
	f.t.Helper()
	ctx := context.Background()
	reply := f.start(ctx, br, sp)
	br = apply(br, reply)
	if reply.Out.URL == "gateway" {
		if reply, err := f.flow.Complete(ctx, br, url.Values{"id": {field(reply.Out, "id")}}); err != nil {
			f.t.Fatalf("Complete(%s): %v", sp, err)
		} else {
			br = apply(br, reply)
			return br, reply.Out
		}
	}
	return br, reply.Out
}

// apply keeps a reply's cookies the way a browser does.
func apply(br flow.Browser, reply flow.Reply) flow.Browser {
	if reply.Session != nil {
		br.Session = reply.Session.Value
	}
	if len(reply.Logins) > 0 {
		logins := map[string]string{}
		for h, v := range br.Logins {
			logins[h] = v
		}
		for h, ck := range reply.Logins {
			if ck.Value == "" {
				delete(logins, h)
			} else {
				logins[h] = ck.Value
			}
		}
		br.Logins = logins
	}
	return br
}

func (f *fixture) session(br flow.Browser) *session.Session {
	f.t.Helper()
	sess, err := f.flow.Session(context.Background(), br)
	if err != nil {
		f.t.Fatalf("Session: %v", err)
	}
	return sess
}

// logged reports whether a log line with this message (and, if given,
// field key=value) was written.
func (f *fixture) logged(message, key, value string) bool {
	return slices.ContainsFunc(f.logs.FilterMessage(message).All(), func(e observer.LoggedEntry) bool {
		if key == "" {
			return true
		}
		v, ok := e.ContextMap()[key]
		return ok && v == value
	})
}

func refusal(t *testing.T, err error, kind bridge.RefusalKind, text string) {
	t.Helper()
	var r *bridge.Refusal
	if !errors.As(err, &r) || r.Kind != kind || !strings.Contains(err.Error(), text) {
		t.Fatalf("error = %v (%T), want a refusal of kind %d mentioning %q", err, err, kind, text)
	}
}
