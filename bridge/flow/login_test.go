package flow_test

import (
	"context"
	"errors"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/translate"
)

// TestStartRefusesByStatus: a request the policy or the dialect denies is
// answered to the SP with a status, and nothing goes upstream.
func TestStartRefusesByStatus(t *testing.T) {
	tests := []struct {
		name    string
		policy  bridge.Policy
		req     func(*bridge.Request)
		readErr error
		code    bridge.StatusCode
	}{
		{"legal person not allowed", bridge.Policy{}, func(r *bridge.Request) { r.LegalPerson = true }, nil, bridge.StatusRequestDenied},
		{"required attribute not releasable", bridge.Policy{Attributes: []bridge.Attr{translate.AttrPersonIdentifier}},
			func(r *bridge.Request) {
				r.Attributes = []bridge.RequestedAttr{{Name: translate.AttrDateOfBirth, Required: true}}
			}, nil, bridge.StatusInvalidAttr},
		{"every IdP denied", bridge.Policy{DenyIdPs: translate.AllIdPs()}, func(*bridge.Request) {}, nil, bridge.StatusRequestDenied},
		{"dialect's own denial", bridge.Policy{}, func(*bridge.Request) {}, bridge.Deny(bridge.StatusNoPassive, "passive"), bridge.StatusNoPassive},
		{"wrapped dialect denial", bridge.Policy{}, func(*bridge.Request) {}, errors.Join(errors.New("x"), bridge.Deny(bridge.StatusNoAuthnContext, "LoA")), bridge.StatusNoAuthnContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			sp := f.sp("sp1")
			sp.Policy = tt.policy
			req := request("sp1")
			tt.req(req)
			reply, err := f.flow.Start(context.Background(), flow.Browser{}, sp, req, tt.readErr)
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			if got := field(reply.Out, "status"); got != string(tt.code) || reply.Out.URL != "answer:sp1" {
				t.Fatalf("answer %+v, want status %s", reply.Out, tt.code)
			}
			if field(reply.Out, "in_response_to") != "_req-sp1" || field(reply.Out, "message") == "" {
				t.Fatalf("the refusal does not answer the request: %+v", reply.Out)
			}
			if len(f.up.begun) != 0 || f.mem.Len() != 0 || len(reply.Logins) != 0 || reply.Session != nil {
				t.Fatalf("a refused request went on: begun %d, stored %d, reply %+v", len(f.up.begun), f.mem.Len(), reply)
			}
			if !f.logged("request refused", "status", string(tt.code)) {
				t.Fatal("no log line for the refusal")
			}
		})
	}
}

func TestStartReadError(t *testing.T) {
	f := newFixture(t)
	readErr := errors.New("signature does not verify")
	_, err := f.flow.Start(context.Background(), flow.Browser{}, f.sp("sp1"), request("sp1"), readErr)
	refusal(t, err, bridge.KindInvalid, "sp sp1: signature does not verify")
	if !errors.Is(err, readErr) {
		t.Fatal("the refusal does not wrap the read error")
	}
	if len(f.up.begun) != 0 || f.d.renders != 0 {
		t.Fatal("an unreadable request was answered or sent upstream")
	}
}

func TestStartRefusalCannotBeRendered(t *testing.T) {
	f := newFixture(t)
	req := request("sp1")
	req.Dialect = "unregistered"
	_, err := f.flow.Start(context.Background(), flow.Browser{}, f.sp("sp1"), req, bridge.Deny(bridge.StatusRequestDenied, "no"))
	refusal(t, err, bridge.KindInternal, `no renderer for dialect "unregistered"`)

	f.d.renderErr = errDown
	_, err = f.flow.Start(context.Background(), flow.Browser{}, f.sp("sp1"), request("sp1"), bridge.Deny(bridge.StatusRequestDenied, "no"))
	refusal(t, err, bridge.KindInternal, "render fake answer: down")
}

// TestStartNewLogin: the pending login is sealed into a cookie of its own
// that the browser keeps; the server keeps nothing for it.
func TestStartNewLogin(t *testing.T) {
	f := newFixture(t)
	ctx := trace.Start(context.Background(), "trace-start")
	sp := f.sp("sp1")
	sp.Policy.MinLoA = translate.LoASubstantial
	reply := f.start(ctx, flow.Browser{}, "sp1")
	if len(reply.Logins) != 1 {
		t.Fatalf("login cookies = %+v, want one", reply.Logins)
	}
	if reply.Session != nil {
		t.Fatalf("a new login set the session cookie: %+v", reply.Session)
	}
	if len(f.up.begun) != 1 || reply.Out.URL != "gateway" {
		t.Fatalf("not sent upstream: %+v", reply.Out)
	}
	p := f.up.begun[0]
	for handle, ck := range reply.Logins {
		if handle != p.ID[1:17] || ck.TTL != pendingTTL || ck.Value == "" || strings.Contains(ck.Value, "sp1") || strings.Contains(ck.Value, p.ID) {
			t.Fatalf("login cookie %s = %+v: want the login's handle, sealed, for %v", handle, ck, pendingTTL)
		}
	}
	if p.Trace != "trace-start" || p.RelayState != "trace-start" {
		t.Fatalf("pending trace %q, relay %q: want the context's trace id", p.Trace, p.RelayState)
	}
	if !regexp.MustCompile(`^_[0-9a-f]{40}$`).MatchString(p.ID) || field(reply.Out, "id") != p.ID {
		t.Fatalf("upstream request id %q", p.ID)
	}
	if !p.Created.Equal(t0) || p.Request.MinLoA != translate.LoASubstantial || p.Request.SP != "sp1" {
		t.Fatalf("pending = %+v (the policy must have been applied)", p)
	}
	if f.mem.Len() != 0 {
		t.Fatalf("the store holds %d entries for a login nobody authenticated", f.mem.Len())
	}
	if !f.logged("login sent upstream", "trace_id", "trace-start") {
		t.Fatal("no log line with the trace id")
	}

	// What the browser kept is what was sent, and the answer forgets it.
	br := apply(flow.Browser{}, reply)
	done, err := f.flow.Complete(ctx, br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := f.up.taken[0]
	if got.ID != p.ID || got.Trace != p.Trace || got.RelayState != p.RelayState ||
		!got.Created.Equal(p.Created) || got.Request.ID != "_req-sp1" || string(got.Request.State) != `{"sp":"sp1"}` {
		t.Fatalf("kept pending %+v, sent %+v", got, p)
	}
	if ck := done.Logins[p.ID[1:17]]; ck == nil || ck.Value != "" {
		t.Fatalf("the answer did not clear the login cookie: %+v", done.Logins)
	}
}

// TestLoginsInTabs: logins started in several tabs each keep their own
// cookie; past MaxLogins the oldest is dropped, and undecipherable cookies
// are forgotten.
func TestLoginsInTabs(t *testing.T) {
	f := newFixture(t)
	br := flow.Browser{Logins: map[string]string{"0123456789abcdef": "test.garbage"}}
	for i := range flow.MaxLogins + 1 {
		reply := f.start(context.Background(), br, "sp1")
		if i == 0 {
			if ck := reply.Logins["0123456789abcdef"]; ck == nil || ck.Value != "" {
				t.Fatalf("a cookie that does not open was kept: %+v", reply.Logins)
			}
		}
		br = apply(br, reply)
		f.clock.advance(time.Second)
	}
	if len(br.Logins) != flow.MaxLogins {
		t.Fatalf("the browser keeps %d logins, want %d", len(br.Logins), flow.MaxLogins)
	}
	if _, kept := br.Logins[f.up.begun[0].ID[1:17]]; kept {
		t.Fatal("the oldest login was not dropped")
	}
	// Each remaining login completes in this browser, whatever the order.
	for i := flow.MaxLogins; i >= 1; i-- {
		if _, err := f.flow.Complete(context.Background(), br, url.Values{"id": {f.up.begun[i].ID}}); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	_, err := f.flow.Complete(context.Background(), br, url.Values{"id": {f.up.begun[0].ID}})
	refusal(t, err, bridge.KindInvalid, "not kept by this browser")
}

// TestStartWithoutTrace: the login gets a fresh trace id, which is also its
// RelayState.
func TestStartWithoutTrace(t *testing.T) {
	f := newFixture(t)
	f.start(context.Background(), flow.Browser{}, "sp1")
	f.start(context.Background(), flow.Browser{}, "sp1")
	a, b := f.up.begun[0], f.up.begun[1]
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a.Trace) || a.RelayState != a.Trace || a.Trace == b.Trace {
		t.Fatalf("traces %q (relay %q), %q", a.Trace, a.RelayState, b.Trace)
	}
}

func TestStartFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		want  string
	}{
		{"upstream request", func(f *fixture) { f.up.beginErr = errDown }, "build upstream request: down"},
		{"no state key", func(f *fixture) { f.flow.Seal = nil }, "no state key to seal the pending login with"},
		{"no randomness", func(f *fixture) { f.flow.Rand = strings.NewReader("") }, "new upstream request id"},
		{"randomness for the id only", func(f *fixture) { f.flow.Rand = io.LimitReader(zeros{}, 20) }, "new trace id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.setup(f)
			_, err := f.flow.Start(context.Background(), flow.Browser{}, f.sp("sp1"), request("sp1"), nil)
			refusal(t, err, bridge.KindInternal, tt.want)
			if f.mem.Len() != 0 {
				t.Fatal("a failed start left state in the store")
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestComplete: the gateway's answer becomes the SP's answer, a session
// starts with the SP as participant.
func TestComplete(t *testing.T) {
	f := newFixture(t)
	f.sp("sp1").Policy.Attributes = []bridge.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName}
	br := apply(flow.Browser{}, f.start(context.Background(), flow.Browser{}, "sp1"))
	f.clock.advance(time.Minute)
	reply, err := f.flow.Complete(context.Background(), br, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := reply.Out
	if out.URL != "answer:sp1" || field(out, "status") != "Success" || field(out, "subject") != "ES/ES/12345678Z" ||
		field(out, "in_response_to") != "_req-sp1" || field(out, "return_url") != "acs:sp1" {
		t.Fatalf("answer = %+v", out)
	}
	if got := field(out, "attributes"); got != "PersonIdentifier,CurrentGivenName" {
		t.Fatalf("released %q, want what the policy allows", got)
	}
	if reply.Session == nil || reply.Session.Value == "" || reply.Session.TTL != lifetime {
		t.Fatalf("session cookie = %+v", reply.Session)
	}
	if len(reply.Logins) != 1 {
		t.Fatalf("login cookies = %+v, want the login's cleared", reply.Logins)
	}
	sess := f.session(flow.Browser{Session: reply.Session.Value})
	if sess == nil || sess.Result.Subject != "ES/ES/12345678Z" || len(sess.Result.Attributes) != 3 {
		t.Fatalf("session = %+v, want the whole upstream result", sess)
	}
	if !sess.Created.Equal(t0.Add(time.Minute)) || !sess.Expires.Equal(t0.Add(time.Minute+lifetime)) {
		t.Fatalf("session times %v %v", sess.Created, sess.Expires)
	}
	if len(sess.Participants) != 1 {
		t.Fatalf("participants = %+v", sess.Participants)
	}
	p := sess.Participants[0]
	if p.SP != "sp1" || p.Dialect != dialect || p.SessionIndex == "" || p.SessionIndex != field(out, "session_index") ||
		p.TransientNameID == "" || p.TransientNameID != field(out, "transient") || string(p.State) != `{"sp":"sp1"}` || !p.At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("participant %+v, answer %+v", p, out)
	}
	if !f.logged("login succeeded", "subject", translate.Mask("ES/ES/12345678Z")) || !f.logged("SSO session started", "", "") {
		t.Fatal("missing log lines")
	}
	// The pending login was taken once.
	if _, err := f.flow.Complete(context.Background(), br, nil); err == nil {
		t.Fatal("the same answer was accepted twice")
	}
}

// TestCompleteOnlyInItsBrowser: the gateway's answer carried to another
// browser takes nothing, and the login stays pending for its own; a
// cookie that was tampered with or sealed for another login does not open.
func TestCompleteOnlyInItsBrowser(t *testing.T) {
	f := newFixture(t)
	br := apply(flow.Browser{}, f.start(context.Background(), flow.Browser{}, "sp1"))
	other := apply(flow.Browser{}, f.start(context.Background(), flow.Browser{}, "sp2"))
	answer := url.Values{"id": {f.up.begun[0].ID}}
	var handle, sealed, otherSealed string
	for h, v := range br.Logins {
		handle, sealed = h, v
	}
	for _, v := range other.Logins {
		otherSealed = v
	}
	tampered := sealed[:len(sealed)-4] + "AAAA"
	for name, b := range map[string]flow.Browser{
		"no cookies":              {},
		"another login's cookies": other,
		"another login's value":   {Logins: map[string]string{handle: otherSealed}},
		"tampered":                {Logins: map[string]string{handle: tampered}},
		"session id as login":     {Session: sealed},
	} {
		if _, err := f.flow.Complete(context.Background(), b, answer); err == nil {
			t.Fatalf("%s: the answer was accepted", name)
		}
		if f.d.renders != 0 {
			t.Fatalf("%s: answered in another browser", name)
		}
	}
	reply, err := f.flow.Complete(context.Background(), br, answer)
	if err != nil || field(reply.Out, "status") != "Success" {
		t.Fatalf("the login's own browser: %v, %+v", err, reply.Out)
	}
	// Taken once: the same cookie and answer again are refused.
	_, err = f.flow.Complete(context.Background(), br, answer)
	refusal(t, err, bridge.KindInvalid, "already answered")
}

func TestCompletePendingExpires(t *testing.T) {
	f := newFixture(t)
	br := apply(flow.Browser{}, f.start(context.Background(), flow.Browser{}, "sp1"))
	f.clock.advance(pendingTTL)
	_, err := f.flow.Complete(context.Background(), br, nil)
	refusal(t, err, bridge.KindInvalid, "expired")
}

// TestPendingBounded: a request whose pending login would hold more than
// MaxPendingBytes is refused with a status to the SP, and nothing is kept.
func TestPendingBounded(t *testing.T) {
	f := newFixture(t)
	req := request("sp1")
	req.State = []byte(`"` + strings.Repeat("x", flow.MaxPendingBytes) + `"`)
	reply, err := f.flow.Start(context.Background(), flow.Browser{}, f.sp("sp1"), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if field(reply.Out, "status") != string(bridge.StatusRequestDenied) || len(reply.Logins) != 0 || len(f.up.begun) != 0 {
		t.Fatalf("reply %+v, begun %d", reply, len(f.up.begun))
	}
}

// TestCompleteChecks: a success that does not meet the request or the
// policy reaches the SP as the matching failure, and starts no session.
func TestCompleteChecks(t *testing.T) {
	tests := []struct {
		name    string
		req     func(*bridge.Request)
		policy  func(*bridge.Policy)
		res     func(*bridge.Result)
		err     error
		code    bridge.StatusCode
		logLine string
	}{
		{"upstream error", nil, nil, nil, errors.New("bad signature"), bridge.StatusResponder, "upstream response refused"},
		{"upstream failure", nil, nil, func(r *bridge.Result) { *r = bridge.Failure(bridge.StatusAuthnFailed, "cancelled") }, nil, bridge.StatusAuthnFailed, "login failed upstream"},
		{"LoA below request", func(r *bridge.Request) { r.MinLoA = translate.LoAHigh }, nil, nil, nil, bridge.StatusNoAuthnContext, "upstream LoA below request"},
		{"LoA below policy", nil, func(p *bridge.Policy) { p.MinLoA = translate.LoAHigh }, nil, nil, bridge.StatusNoAuthnContext, "upstream LoA below request"},
		{"disabled IdP by request", func(r *bridge.Request) { r.DisabledIdPs = []bridge.IdP{translate.IdPPin24H} }, nil, nil, nil, bridge.StatusRequestDenied, "upstream used a disabled IdP"},
		{"disabled IdP by policy", nil, func(p *bridge.Policy) { p.AllowIdPs = []bridge.IdP{translate.IdPAfirma} }, nil, nil, bridge.StatusRequestDenied, "upstream used a disabled IdP"},
		{"legal person, natural request", nil, nil, func(r *bridge.Result) { r.LegalPerson = true }, nil, bridge.StatusRequestDenied, "legal person refused"},
		{"missing required attribute", func(r *bridge.Request) {
			r.Attributes = []bridge.RequestedAttr{{Name: translate.AttrDateOfBirth, Required: true}}
		}, nil, nil, nil, bridge.StatusInvalidAttr, "required attribute missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.policy != nil {
				tt.policy(&f.sp("sp1").Policy)
			}
			req := request("sp1")
			if tt.req != nil {
				tt.req(req)
			}
			reply, err := f.flow.Start(context.Background(), flow.Browser{}, f.sp("sp1"), req, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.res != nil {
				tt.res(&f.up.result)
			}
			f.up.finishErr = tt.err
			reply, err = f.flow.Complete(context.Background(), apply(flow.Browser{}, reply), nil)
			if err != nil {
				t.Fatalf("Complete = %v, want an answer to the SP", err)
			}
			if got := field(reply.Out, "status"); got != string(tt.code) || reply.Out.URL != "answer:sp1" {
				t.Fatalf("status %q, want %s", got, tt.code)
			}
			if field(reply.Out, "subject") != "" || field(reply.Out, "attributes") != "" {
				t.Fatalf("a failure carries identity: %+v", reply.Out)
			}
			if reply.Session != nil {
				t.Fatalf("a failure started a session: %+v", reply.Session)
			}
			if !f.logged(tt.logLine, "", "") {
				t.Fatalf("no log line %q", tt.logLine)
			}
		})
	}
}

// TestCompleteLegalPerson: a legal person passes when the request and the
// policy admit one.
func TestCompleteLegalPerson(t *testing.T) {
	f := newFixture(t)
	f.sp("sp1").Policy.LegalPersons = true
	req := request("sp1")
	req.LegalPerson = true
	req.Attributes = []bridge.RequestedAttr{{Name: translate.AttrPersonIdentifier}}
	reply, err := f.flow.Start(context.Background(), flow.Browser{}, f.sp("sp1"), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.up.result.LegalPerson = true
	f.up.result.Attributes = append(f.up.result.Attributes, bridge.Attribute{Name: translate.AttrLegalPersonIdentifier, Values: []string{"ES/ES/B1"}})
	reply, err = f.flow.Complete(context.Background(), apply(flow.Browser{}, reply), nil)
	if err != nil || field(reply.Out, "status") != "Success" {
		t.Fatalf("Complete = %v, %+v", err, reply.Out)
	}
	// What was asked for, with the legal MDS the policy added.
	if got := field(reply.Out, "attributes"); got != "PersonIdentifier,LegalPersonIdentifier" {
		t.Fatalf("released %q", got)
	}
}

func TestCompleteRefusals(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		kind  bridge.RefusalKind
		want  string
	}{
		{"no pending login", func(f *fixture) { f.up.noPending = true }, bridge.KindInvalid, "upstream gave no pending login"},
		{"SP vanished", func(f *fixture) { delete(f.reg, dialect+" sp1") }, bridge.KindInvalid, "sp sp1 vanished from the registry"},
		{"SP vanished, upstream error", func(f *fixture) {
			delete(f.reg, dialect+" sp1")
			f.up.finishErr = errDown
		}, bridge.KindInvalid, "vanished"},
		{"answer not rendered", func(f *fixture) { f.d.renderErr = errDown }, bridge.KindInternal, "render fake answer: down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br := apply(flow.Browser{}, f.start(context.Background(), flow.Browser{}, "sp1"))
			tt.setup(f)
			_, err := f.flow.Complete(context.Background(), br, nil)
			refusal(t, err, tt.kind, tt.want)
		})
	}
}

// TestCompleteAdoptsTrace: the request that brings the gateway's answer
// continues the login's trace.
func TestCompleteAdoptsTrace(t *testing.T) {
	f := newFixture(t)
	br := apply(flow.Browser{}, f.start(trace.Start(context.Background(), "login-trace"), flow.Browser{}, "sp1"))
	ctx := trace.Start(context.Background(), "answer-request")
	if _, err := f.flow.Complete(ctx, br, nil); err != nil {
		t.Fatal(err)
	}
	if got := trace.ID(ctx); got != "login-trace" {
		t.Fatalf("trace after Complete = %q, want the login's", got)
	}
	if !f.logged("answer sent to the SP", "trace_id", "login-trace") {
		t.Fatal("the answer is not logged with the login's trace")
	}
	// An answer refused in another browser adopts nothing.
	br2 := apply(flow.Browser{}, f.start(trace.Start(context.Background(), "second-login"), flow.Browser{}, "sp1"))
	ctx = trace.Start(context.Background(), "stray")
	if _, err := f.flow.Complete(ctx, flow.Browser{}, url.Values{"id": {f.up.begun[len(f.up.begun)-1].ID}}); err == nil || len(br2.Logins) != 1 {
		t.Fatal("accepted in another browser")
	}
	if got := trace.ID(ctx); got != "stray" {
		t.Fatalf("trace = %q after a refused answer", got)
	}
}

// TestCompleteSessionNotKept: failing to keep a session costs only SSO.
func TestCompleteSessionNotKept(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		warn  bool
	}{
		{"sessions off", func(f *fixture) { f.flow.Sessions = nil }, false},
		{"lifetime 0", func(f *fixture) { f.flow.Sessions.Lifetime = 0 }, false},
		{"store fails", func(f *fixture) { f.store.failPutSession = true }, true},
		{"no state keys to seal it with", func(f *fixture) { f.flow.Sessions.Seal = nil }, true},
		{"no randomness for the session", func(f *fixture) { f.flow.Sessions.Rand = strings.NewReader("") }, true},
		{"no randomness for the session index", func(f *fixture) { f.flow.Rand = strings.NewReader("") }, true},
		{"no randomness for the transient NameID", func(f *fixture) { f.flow.Rand = io.LimitReader(zeros{}, 20) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br := apply(flow.Browser{}, f.start(context.Background(), flow.Browser{}, "sp1"))
			tt.setup(f)
			reply, err := f.flow.Complete(context.Background(), br, nil)
			if err != nil || field(reply.Out, "status") != "Success" {
				t.Fatalf("Complete = %v, %+v", err, reply.Out)
			}
			if reply.Session != nil {
				t.Fatalf("session cookie %+v for a session not kept", reply.Session)
			}
			if got := f.logged("no SSO session kept", "", ""); got != tt.warn {
				t.Fatalf("warning logged: %v, want %v", got, tt.warn)
			}
		})
	}
}

// TestCompleteRoutesLogout: a logout message posted to the login's URL
// goes to UpstreamLogout, not to Finish.
func TestCompleteRoutesLogout(t *testing.T) {
	f := newFixture(t)
	br, _ := f.login(flow.Browser{}, "sp1")
	finishes := f.up.finishes
	f.up.readID, f.up.readRelay = "_gw-logout", "gw-relay"
	reply, err := f.flow.Complete(context.Background(), br, url.Values{"kind": {"logout-request"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.up.finishes != finishes {
		t.Fatal("a logout request went to Finish")
	}
	if reply.Out.URL != "logout-request:sp1" || reply.Session == nil || reply.Session.Value != "" {
		t.Fatalf("reply = %+v", reply)
	}
	// A logout response that belongs to nothing is refused, not finished.
	_, err = f.flow.Complete(context.Background(), br, url.Values{"kind": {"logout-response"}, "relay": {"nothing"}})
	refusal(t, err, bridge.KindInvalid, "does not belong to a logout under way")
	if f.up.finishes != finishes {
		t.Fatal("a logout response went to Finish")
	}
	// Without a logout leg the form is a login's answer.
	f.flow.Upstream = loginOnly{f.up}
	_, err = f.flow.Complete(context.Background(), br, url.Values{"kind": {"logout-request"}, "id": {"_none"}})
	refusal(t, err, bridge.KindInvalid, "pending login")
	if f.up.finishes != finishes+1 {
		t.Fatal("Finish not asked")
	}
}

// TestFlowSession: the browser's session, none without a cookie or SSO.
func TestFlowSession(t *testing.T) {
	f := newFixture(t)
	br, _ := f.login(flow.Browser{}, "sp1")
	if sess := f.session(br); sess == nil || sess.ID != br.Session {
		t.Fatalf("Session = %+v", sess)
	}
	for _, other := range []flow.Browser{{}, {Session: "unknown"}, {Logins: br.Logins}} {
		if sess := f.session(other); sess != nil {
			t.Fatalf("Session(%+v) = %+v", other, sess)
		}
	}
	f.clock.advance(lifetime)
	if sess := f.session(br); sess != nil {
		t.Fatal("an expired session was found")
	}
	f.flow.Sessions = nil
	if sess, err := f.flow.Session(context.Background(), br); sess != nil || err != nil {
		t.Fatalf("Session without SSO = %v, %v", sess, err)
	}
	// A broken record (not sealed by our keys) is no session, and is
	// logged; a store that fails is an error.
	f = newFixture(t)
	if err := f.store.PutSession(context.Background(), "_broken", []byte("{"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if sess, err := f.flow.Session(context.Background(), flow.Browser{Session: "_broken"}); sess != nil || err != nil {
		t.Fatalf("a corrupt session loaded: %+v, %v", sess, err)
	}
	if !f.logged("SSO session unreadable", "", "") {
		t.Fatal("the corrupt session was not logged")
	}
	_ = f.mem.Close()
	if _, err := f.flow.Session(context.Background(), flow.Browser{Session: "_broken"}); err == nil {
		t.Fatal("a failing store is no error")
	}
}
