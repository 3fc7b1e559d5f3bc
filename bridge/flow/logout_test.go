package flow_test

import (
	"context"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

func initiator(sp string) bridge.LogoutInitiator {
	return bridge.LogoutInitiator{SP: sp, Dialect: dialect, RequestID: "_lo-" + sp, RelayState: "relay-" + sp}
}

func anyRecord(bridge.Participant) bool { return true }

// loginAll logs one browser in to the SPs in turn (the first through the
// gateway, the others from its session) and returns each SP's last answer.
func (f *fixture) loginAll(sps ...string) (flow.Browser, map[string]bridge.Outgoing) {
	f.t.Helper()
	var br flow.Browser
	answers := map[string]bridge.Outgoing{}
	for _, sp := range sps {
		var out bridge.Outgoing
		br, out = f.login(br, sp)
		if field(out, "status") != "Success" {
			f.t.Fatalf("login to %s: %+v", sp, out)
		}
		answers[sp] = out
	}
	return br, answers
}

// drive answers each step of a logout under way (the SPs with ok[sp],
// true when unset; the gateway as the fake says) until whoever started it
// is answered; it returns that answer and the steps' URLs.
func (f *fixture) drive(ctx context.Context, br flow.Browser, reply flow.Reply, ok map[string]bool) (flow.Reply, []string) {
	f.t.Helper()
	var steps []string
	for range 10 {
		steps = append(steps, reply.Out.URL)
		var err error
		switch u := reply.Out.URL; {
		case strings.HasPrefix(u, "logout-request:"):
			sp := strings.TrimPrefix(u, "logout-request:")
			answer, set := ok[sp]
			reply, err = f.flow.ContinueLogout(ctx, f.sp(sp), field(reply.Out, "relay"), field(reply.Out, "id"), answer || !set)
		case u == "gateway-logout":
			reply, err = f.flow.UpstreamLogout(ctx, br, url.Values{"kind": {"logout-response"}, "relay": {field(reply.Out, "relay")}})
		default:
			return reply, steps
		}
		if err != nil {
			f.t.Fatalf("after %v: %v", steps, err)
		}
		if reply.Session != nil {
			f.t.Fatalf("a later step touched the session cookie: %+v", reply.Session)
		}
	}
	f.t.Fatalf("the logout does not end: %v", steps)
	return reply, steps
}

// TestStartLogoutNoSession: without a session there is nothing to end; the
// initiator is told UnknownPrincipal.
func TestStartLogoutNoSession(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture, br flow.Browser) flow.Browser
	}{
		{"no cookie", func(*fixture, flow.Browser) flow.Browser { return flow.Browser{} }},
		{"unknown session", func(*fixture, flow.Browser) flow.Browser { return flow.Browser{Session: "_unknown"} }},
		{"expired", func(f *fixture, br flow.Browser) flow.Browser { f.clock.advance(lifetime); return br }},
		{"SSO off", func(f *fixture, br flow.Browser) flow.Browser { f.flow.Sessions = nil; return br }},
		{"unreadable", func(f *fixture, br flow.Browser) flow.Browser {
			if err := f.store.PutSession(context.Background(), br.Session, []byte("["), lifetime); err != nil {
				f.t.Fatal(err)
			}
			return br
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, _ := f.loginAll("sp1", "sp2")
			br = tt.setup(f, br)
			reply, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
			if err != nil {
				t.Fatal(err)
			}
			out := reply.Out
			if out.URL != "logout-response:sp1" || field(out, "status") != "UnknownPrincipal" ||
				field(out, "in_response_to") != "_lo-sp1" || field(out, "relay") != "relay-sp1" {
				t.Fatalf("answer = %+v", out)
			}
			if reply.Session != nil || len(f.up.begunLogouts) != 0 {
				t.Fatalf("a refused logout went on: %+v", reply)
			}
			if !f.logged("logout refused", "reason", "no session") {
				t.Fatal("refusal not logged")
			}
		})
	}
}

// TestStartLogoutNotNamed: a request that does not name the initiator's
// session ends nothing and answers nobody: the citizen is asked to confirm
// (logoutbind_test.go follows the confirmation).
func TestStartLogoutNotNamed(t *testing.T) {
	tests := []struct {
		name    string
		sp      string
		matches func(idx map[string]string) func(bridge.Participant) bool
	}{
		{"other session index", "sp1", func(map[string]string) func(bridge.Participant) bool {
			return func(p bridge.Participant) bool { return p.SessionIndex == "_other" }
		}},
		{"another SP's session index", "sp1", func(idx map[string]string) func(bridge.Participant) bool {
			return func(p bridge.Participant) bool { return p.SessionIndex == idx["sp2"] }
		}},
		{"SP not in the session", "sp3", func(map[string]string) func(bridge.Participant) bool { return anyRecord }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, answers := f.loginAll("sp1", "sp2")
			idx := map[string]string{"sp1": field(answers["sp1"], "session_index"), "sp2": field(answers["sp2"], "session_index")}
			reply, err := f.flow.StartLogout(context.Background(), br, f.sp(tt.sp), initiator(tt.sp), tt.matches(idx))
			if err != nil {
				t.Fatal(err)
			}
			if reply.Confirm == nil || reply.Confirm.ID == "" || reply.Out.URL != "" || reply.Session != nil {
				t.Fatalf("reply = %+v, want the confirmation question", reply)
			}
			if sess := f.session(br); sess == nil || len(sess.Participants) != 2 {
				t.Fatalf("the session was touched: %+v", sess)
			}
		})
	}
}

// TestSingleLogout: the initiator's logout ends the session, tells each
// other SP (its latest record) in turn, then the gateway, then answers.
func TestSingleLogout(t *testing.T) {
	f := newFixture(t)
	br, first := f.loginAll("sp1", "sp2", "sp3")
	_, latest := f.login(br, "sp2") // sp2's second record
	idx1 := field(first["sp1"], "session_index")
	var asked []string
	matches := func(p bridge.Participant) bool {
		asked = append(asked, p.SP)
		return p.SessionIndex == idx1
	}
	ctx := trace.Start(context.Background(), "slo-trace")
	reply, err := f.flow.StartLogout(ctx, br, f.sp("sp1"), initiator("sp1"), matches)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(asked, func(sp string) bool { return sp != "sp1" }) || len(asked) == 0 {
		t.Fatalf("matches was asked about %v", asked)
	}
	if reply.Session == nil || reply.Session.Value != "" {
		t.Fatalf("session cookie = %+v, want it cleared", reply.Session)
	}
	if f.session(br) != nil {
		t.Fatal("the session outlives its logout")
	}
	out := reply.Out
	relay, id2 := field(out, "relay"), field(out, "id")
	if out.URL != "logout-request:sp2" || relay == "" || id2 == "" {
		t.Fatalf("first step = %+v, want sp2 told", out)
	}
	if field(out, "session_index") != field(latest, "session_index") || field(out, "name_id") != field(latest, "transient") {
		t.Fatalf("sp2 told about %+v, want its latest record %+v", out, latest)
	}

	// Answers that are not the one awaited change nothing.
	wrong := []struct {
		name                string
		sp                  string
		relay, inResponseTo string
	}{
		{"wrong SP", "sp3", relay, id2},
		{"wrong InResponseTo", "sp2", relay, "_other"},
		{"no InResponseTo", "sp2", relay, ""},
		{"wrong RelayState", "sp2", "_other", id2},
		{"no RelayState", "sp2", "", id2},
		{"the initiator", "sp1", relay, id2},
	}
	for _, w := range wrong {
		stray := trace.Start(context.Background(), "stray")
		_, err := f.flow.ContinueLogout(stray, f.sp(w.sp), w.relay, w.inResponseTo, true)
		refusal(t, err, bridge.KindInvalid, "does not belong to a logout under way")
		if len(f.up.begunLogouts) != 0 {
			t.Fatalf("%s: the logout moved on", w.name)
		}
	}

	ctx2 := trace.Start(context.Background(), "sp2-answer")
	reply, err = f.flow.ContinueLogout(ctx2, f.sp("sp2"), relay, id2, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := trace.ID(ctx2); got != "slo-trace" {
		t.Fatalf("trace = %q, want the logout's", got)
	}
	out = reply.Out
	if out.URL != "logout-request:sp3" || field(out, "relay") != relay || field(out, "session_index") != field(first["sp3"], "session_index") {
		t.Fatalf("second step = %+v", out)
	}
	id3 := field(out, "id")
	// The answer to the first request does not count twice.
	if _, err := f.flow.ContinueLogout(context.Background(), f.sp("sp2"), relay, id2, true); err == nil {
		t.Fatal("sp2's answer accepted twice")
	}

	reply, err = f.flow.ContinueLogout(context.Background(), f.sp("sp3"), relay, id3, true)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Out.URL != "gateway-logout" || len(f.up.begunLogouts) != 1 || f.up.begunLogouts[0][1] != relay {
		t.Fatalf("gateway step = %+v, begun %v", reply.Out, f.up.begunLogouts)
	}
	gwID := f.up.begunLogouts[0][0]

	ctx3 := trace.Start(context.Background(), "gateway-answer")
	reply, err = f.flow.UpstreamLogout(ctx3, br, url.Values{"kind": {"logout-response"}, "relay": {relay}})
	if err != nil {
		t.Fatal(err)
	}
	if got := trace.ID(ctx3); got != "slo-trace" {
		t.Fatalf("trace = %q, want the logout's", got)
	}
	if !slices.Equal(f.up.read, []string{gwID}) {
		t.Fatalf("answers read %v, want one to our request %s", f.up.read, gwID)
	}
	out = reply.Out
	if out.URL != "logout-response:sp1" || field(out, "status") != "Success" || field(out, "in_response_to") != "_lo-sp1" || field(out, "relay") != "relay-sp1" {
		t.Fatalf("answer = %+v", out)
	}
	if reply.Session != nil {
		t.Fatalf("the last step touched the session cookie: %+v", reply.Session)
	}
	if !f.logged("single logout finished", "trace_id", "slo-trace") {
		t.Fatal("the end is not logged with the logout's trace")
	}
	// Nothing is left to answer.
	if _, err := f.flow.UpstreamLogout(context.Background(), br, url.Values{"kind": {"logout-response"}, "relay": {relay}}); err == nil {
		t.Fatal("the gateway's answer accepted twice")
	}
	if f.leftover() != 0 {
		t.Fatalf("%d entries left in the store", f.leftover())
	}
}

// TestSingleLogoutOutcomes: how the steps' fortunes decide what the
// initiator hears.
func TestSingleLogoutOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fixture)
		ok     map[string]bool
		steps  []string
		status bridge.StatusCode
		log    string
	}{
		{"everyone logs out", nil, nil,
			[]string{"logout-request:sp3", "logout-request:sp2", "gateway-logout", "logout-response:sp1"}, bridge.StatusSuccess, ""},
		{"an SP does not log out", nil, map[string]bool{"sp2": false},
			[]string{"logout-request:sp3", "logout-request:sp2", "gateway-logout", "logout-response:sp1"}, bridge.StatusPartialLogout, "an SP did not log out"},
		{"an SP is no longer registered", func(f *fixture) { delete(f.reg, dialect+" sp3") }, nil,
			[]string{"logout-request:sp2", "gateway-logout", "logout-response:sp1"}, bridge.StatusPartialLogout, "logout not sent to an SP"},
		{"no SP can be told", func(f *fixture) { f.d.logoutErr = errDown }, nil,
			[]string{"gateway-logout", "logout-response:sp1"}, bridge.StatusPartialLogout, "logout not sent to an SP"},
		{"an SP has no logout endpoint", func(f *fixture) { f.d.noLogoutFor = map[string]bool{"sp3": true} }, nil,
			[]string{"logout-request:sp2", "gateway-logout", "logout-response:sp1"}, bridge.StatusSuccess, ""},
		{"the gateway does not confirm", func(f *fixture) { f.up.finishOK, f.up.finishMessage = false, "no session" }, nil,
			[]string{"logout-request:sp3", "logout-request:sp2", "gateway-logout", "logout-response:sp1"}, bridge.StatusPartialLogout, "the gateway did not confirm the logout"},
		{"the gateway cannot be told", func(f *fixture) { f.up.beginLogoutErr = errDown }, nil,
			[]string{"logout-request:sp3", "logout-request:sp2", "logout-response:sp1"}, bridge.StatusPartialLogout, "logout not sent upstream"},
		{"no gateway leg", func(f *fixture) { f.flow.Upstream = loginOnly{f.up} }, nil,
			[]string{"logout-request:sp3", "logout-request:sp2", "logout-response:sp1"}, bridge.StatusSuccess, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, _ := f.loginAll("sp1", "sp2", "sp3")
			if tt.setup != nil {
				tt.setup(f)
			}
			reply, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
			if err != nil {
				t.Fatal(err)
			}
			if reply.Session == nil || reply.Session.Value != "" {
				t.Fatalf("session cookie = %+v", reply.Session)
			}
			final, steps := f.drive(context.Background(), br, reply, tt.ok)
			if !slices.Equal(steps, tt.steps) {
				t.Fatalf("steps %v, want %v", steps, tt.steps)
			}
			if got := field(final.Out, "status"); got != string(tt.status) {
				t.Fatalf("status %q, want %s", got, tt.status)
			}
			if tt.log != "" && !f.logged(tt.log, "", "") {
				t.Fatalf("no log line %q", tt.log)
			}
			ends := f.logs.FilterMessage("single logout finished").All()
			if len(ends) != 1 || ends[0].ContextMap()["partial"] != (tt.status == bridge.StatusPartialLogout) {
				t.Fatalf("the end is logged as %+v", ends)
			}
			if f.leftover() != 0 {
				t.Fatalf("%d entries left in the store", f.leftover())
			}
		})
	}
}

// TestSingleLogoutSkipsLoginOnlyDialects: a participant whose dialect
// takes no part in single logout is not told, and that is no failure.
func TestSingleLogoutSkipsLoginOnlyDialects(t *testing.T) {
	f := newFixture(t)
	f.flow.Register(loginDialect{&fakeDialect{name: "plain"}})
	f.reg["plain sp4"] = &bridge.ServiceProvider{ID: "sp4", Dialect: "plain"}
	br, _ := f.loginAll("sp1", "sp2")
	req := request("sp4")
	req.Dialect = "plain"
	reply, err := f.flow.Start(context.Background(), br, f.reg["plain sp4"], req, nil)
	if err != nil || reply.Out.URL != "answer:sp4" {
		t.Fatalf("sp4 login: %v %+v", err, reply.Out)
	}
	if n := len(f.session(br).Participants); n != 3 {
		t.Fatalf("%d participants", n)
	}
	f.flow.Upstream = loginOnly{f.up}
	reply, err = f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
	if err != nil {
		t.Fatal(err)
	}
	final, steps := f.drive(context.Background(), br, reply, nil)
	if !slices.Equal(steps, []string{"logout-request:sp2", "logout-response:sp1"}) || field(final.Out, "status") != "Success" {
		t.Fatalf("steps %v, answer %+v", steps, final.Out)
	}
	// Nor can a login-only dialect's SP start one.
	br, _ = f.loginAll("sp1")
	_, err = f.flow.StartLogout(context.Background(), br, f.reg["plain sp4"], bridge.LogoutInitiator{SP: "sp4", Dialect: "plain"}, anyRecord)
	refusal(t, err, bridge.KindInternal, "dialect plain has no logout")
}

// TestGatewayLogout: a logout the gateway starts ends the session, tells
// every SP and answers the gateway.
func TestGatewayLogout(t *testing.T) {
	tests := []struct {
		name  string
		ok    map[string]bool
		steps []string
		want  bool
	}{
		{"every SP logs out", nil, []string{"logout-request:sp2", "logout-request:sp1", "gateway-logout-response"}, true},
		{"an SP does not", map[string]bool{"sp1": false}, []string{"logout-request:sp2", "logout-request:sp1", "gateway-logout-response"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, _ := f.loginAll("sp1", "sp2")
			f.up.readID, f.up.readRelay = "_gw", "gw-relay"
			ctx := trace.Start(context.Background(), "gw-trace")
			reply, err := f.flow.UpstreamLogout(ctx, br, url.Values{"kind": {"logout-request"}})
			if err != nil {
				t.Fatal(err)
			}
			if reply.Session == nil || reply.Session.Value != "" {
				t.Fatalf("session cookie = %+v, want it cleared", reply.Session)
			}
			if f.session(br) != nil {
				t.Fatal("the session outlives the gateway's logout")
			}
			final, steps := f.drive(context.Background(), br, reply, tt.ok)
			if !slices.Equal(steps, tt.steps) {
				t.Fatalf("steps %v, want %v", steps, tt.steps)
			}
			if len(f.up.begunLogouts) != 0 || len(f.up.read) != 0 {
				t.Fatal("the gateway was sent a LogoutRequest of its own logout")
			}
			want := []logoutAnswer{{"_gw", "gw-relay", tt.want}}
			if !slices.Equal(f.up.answers, want) || field(final.Out, "in_response_to") != "_gw" {
				t.Fatalf("gateway answered %+v, want %+v", f.up.answers, want)
			}
			if !f.logged("single logout started by the gateway", "trace_id", "gw-trace") {
				t.Fatal("start not logged")
			}
		})
	}
}

func TestGatewayLogoutWithoutSession(t *testing.T) {
	for _, br := range []flow.Browser{{}, {Session: "_gone"}} {
		f := newFixture(t)
		f.up.readID, f.up.readRelay = "_gw", "gw-relay"
		reply, err := f.flow.UpstreamLogout(context.Background(), br, url.Values{"kind": {"logout-request"}})
		if err != nil {
			t.Fatal(err)
		}
		if reply.Session != nil || reply.Out.URL != "gateway-logout-response" {
			t.Fatalf("reply = %+v", reply)
		}
		if want := []logoutAnswer{{"_gw", "gw-relay", true}}; !slices.Equal(f.up.answers, want) {
			t.Fatalf("answers = %+v", f.up.answers)
		}
	}
}

func TestUpstreamLogoutRefusals(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		form  url.Values
		kind  bridge.RefusalKind
		want  string
	}{
		{"no logout leg", func(f *fixture) { f.flow.Upstream = loginOnly{f.up} }, url.Values{"kind": {"logout-request"}}, bridge.KindInvalid, "the upstream connector has no logout"},
		{"unreadable request", func(f *fixture) { f.up.readErr = errDown }, url.Values{"kind": {"logout-request"}}, bridge.KindInvalid, "The gateway's logout request was refused.: down"},
		{"response without RelayState", nil, url.Values{"kind": {"logout-response"}}, bridge.KindInvalid, "does not belong to a logout under way"},
		{"response with a bare slash", nil, url.Values{"kind": {"logout-response"}, "relay": {"/x"}}, bridge.KindInvalid, "does not belong to a logout under way"},
		{"response to nothing", nil, url.Values{"kind": {"logout-response"}, "relay": {"_nothing"}}, bridge.KindInvalid, "not found"},
		{"gateway answer not sent", func(f *fixture) {
			f.up.answerErr = errDown
			f.d.noLogoutFor = map[string]bool{"sp1": true}
		}, url.Values{"kind": {"logout-request"}}, bridge.KindInternal, "The logout could not be answered.: down"},
		{"session not ended", func(f *fixture) { f.store.failDeleteSession = true }, url.Values{"kind": {"logout-request"}}, bridge.KindInternal, "The session could not be ended."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, _ := f.loginAll("sp1")
			if tt.setup != nil {
				tt.setup(f)
			}
			_, err := f.flow.UpstreamLogout(context.Background(), br, tt.form)
			refusal(t, err, tt.kind, tt.want)
		})
	}
}

// TestGatewayLogoutDuringOurs: a logout the gateway starts while ours waits
// for its answer is answered on its own, and ours still completes.
func TestGatewayLogoutDuringOurs(t *testing.T) {
	f := newFixture(t)
	br, _ := f.loginAll("sp1")
	reply, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
	if err != nil || reply.Out.URL != "gateway-logout" {
		t.Fatalf("StartLogout = %v, %+v", err, reply.Out)
	}
	// The same form classified as a logout request is the gateway's own
	// logout: there is no session left, so it is just answered.
	f.up.readID = "_gw"
	if reply, err := f.flow.UpstreamLogout(context.Background(), br, url.Values{"kind": {"logout-request"}}); err != nil || reply.Session != nil {
		t.Fatalf("gateway logout = %v, %+v", err, reply)
	}
	// Our logout still waits for the gateway's answer.
	reply, err = f.flow.UpstreamLogout(context.Background(), br, url.Values{"kind": {"logout-response"}, "relay": {field(reply.Out, "relay")}})
	if err != nil || field(reply.Out, "status") != "Success" {
		t.Fatalf("answer = %v, %+v", err, reply.Out)
	}
}

func TestLogoutFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		want  string
	}{
		{"session not deleted", func(f *fixture) { f.store.failDeleteSession = true }, "The session could not be ended.: take session: memory store: update session: down"},
		{"state not stored", func(f *fixture) { f.store.failPutPending = true }, "The logout could not go on.: down"},
		{"no randomness", func(f *fixture) { f.flow.Rand = strings.NewReader("") }, "The logout could not go on."},
		{"randomness for the logout only", func(f *fixture) { f.flow.Rand = io.LimitReader(zeros{}, 20) }, "The logout could not go on."},
		{"answer not rendered", func(f *fixture) {
			f.d.responseErr = errDown
			f.flow.Upstream = loginOnly{f.up}
			f.d.noLogoutFor = map[string]bool{"sp2": true}
		}, "The logout could not be answered.: down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, _ := f.loginAll("sp1", "sp2")
			tt.setup(f)
			_, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
			refusal(t, err, bridge.KindInternal, tt.want)
		})
	}
	t.Run("no randomness for the gateway", func(t *testing.T) {
		f := newFixture(t)
		br, _ := f.loginAll("sp1")
		f.flow.Rand = io.LimitReader(zeros{}, 20)
		_, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
		refusal(t, err, bridge.KindInternal, "The logout could not go on.")
	})
	t.Run("initiator unregistered meanwhile", func(t *testing.T) {
		f := newFixture(t)
		br, _ := f.loginAll("sp1", "sp2")
		reply, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
		if err != nil {
			t.Fatal(err)
		}
		delete(f.reg, dialect+" sp1")
		f.flow.Upstream = loginOnly{f.up}
		_, err = f.flow.ContinueLogout(context.Background(), f.sp("sp2"), field(reply.Out, "relay"), field(reply.Out, "id"), true)
		refusal(t, err, bridge.KindInternal, "The logout could not be answered.: unknown service provider")
	})
	t.Run("misdirected answer not put back", func(t *testing.T) {
		f := newFixture(t)
		br, _ := f.loginAll("sp1", "sp2")
		reply, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
		if err != nil {
			t.Fatal(err)
		}
		f.store.failPutPending = true
		_, err = f.flow.ContinueLogout(context.Background(), f.sp("sp3"), field(reply.Out, "relay"), field(reply.Out, "id"), true)
		refusal(t, err, bridge.KindInvalid, "down")
	})
}

// TestLogoutInitiatorWithSeveralRecords: an SP answered twice from one
// session has one record, its latest: the request must name that one (the
// earlier one is replaced, and naming it ends nothing), and the initiator
// is not told about itself.
func TestLogoutInitiatorWithSeveralRecords(t *testing.T) {
	f := newFixture(t)
	f.flow.Upstream = loginOnly{f.up}
	br, first := f.loginAll("sp1", "sp2")
	_, again := f.login(br, "sp1")
	names := func(idx string) func(bridge.Participant) bool {
		return func(p bridge.Participant) bool { return p.SessionIndex == idx }
	}
	reply, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), names(field(first["sp1"], "session_index")))
	if err != nil || reply.Session != nil || f.session(br) == nil || strings.HasPrefix(reply.Out.URL, "logout-request:") {
		t.Fatalf("a request naming sp1's replaced record: %v, %+v; want it to end nothing", err, reply)
	}
	if n := len(f.session(br).Participants); n != 2 {
		t.Fatalf("%d participant records, want one per SP", n)
	}
	reply, err = f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), names(field(again, "session_index")))
	if err != nil {
		t.Fatal(err)
	}
	final, steps := f.drive(context.Background(), br, reply, nil)
	if !slices.Equal(steps, []string{"logout-request:sp2", "logout-response:sp1"}) || field(final.Out, "status") != "Success" {
		t.Fatalf("steps %v, answer %+v", steps, final.Out)
	}
}
