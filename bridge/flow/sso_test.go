package flow_test

import (
	"context"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/translate"
)

// TestSSOReuse: a second SP is answered from the session without going
// upstream, joins it, and gets its own session index.
func TestSSOReuse(t *testing.T) {
	f := newFixture(t)
	br, first := f.login(flow.Browser{}, "sp1")
	if len(f.up.begun) != 1 {
		t.Fatalf("first login begun %d times", len(f.up.begun))
	}
	f.clock.advance(10 * time.Minute)
	reply := f.start(context.Background(), br, "sp2")
	if len(f.up.begun) != 1 || reply.Out.URL != "answer:sp2" {
		t.Fatalf("the session was not reused: %+v", reply.Out)
	}
	out := reply.Out
	if field(out, "status") != "Success" || field(out, "subject") != "ES/ES/12345678Z" || field(out, "in_response_to") != "_req-sp2" {
		t.Fatalf("answer = %+v", out)
	}
	if field(out, "session_index") == "" || field(out, "session_index") == field(first, "session_index") ||
		field(out, "transient") == field(first, "transient") {
		t.Fatalf("the SPs share a session index or NameID: %+v / %+v", first, out)
	}
	if reply.Session == nil || reply.Session.Value != br.Session || reply.Session.TTL != lifetime-10*time.Minute {
		t.Fatalf("session cookie = %+v, want the same session for the time it has left", reply.Session)
	}
	if len(reply.Logins) != 0 {
		t.Fatalf("login cookie set on reuse: %+v", reply.Logins)
	}
	sess := f.session(br)
	if len(sess.Participants) != 2 || sess.Participants[1].SP != "sp2" || sess.Participants[1].SessionIndex != field(out, "session_index") ||
		!sess.Participants[1].At.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("participants = %+v", sess.Participants)
	}
	if !f.logged("SSO session reused", "sp", "sp2") {
		t.Fatal("reuse not logged")
	}
	// The SP's own policy still filters what it gets.
	f.sp("sp3").Policy.Attributes = []bridge.Attr{translate.AttrGivenName}
	reply = f.start(context.Background(), br, "sp3")
	if got := field(reply.Out, "attributes"); got != "CurrentGivenName" {
		t.Fatalf("released %q", got)
	}
}

// TestSSONotReused: a session that may not serve a request sends it
// upstream, and says why in the log.
func TestSSONotReused(t *testing.T) {
	half := 30 * time.Minute
	zero := time.Duration(0)
	tests := []struct {
		name    string
		req     func(*bridge.Request)
		sp      func(*bridge.ServiceProvider)
		advance time.Duration
		reason  string
	}{
		{"ForceAuthn", func(r *bridge.Request) { r.ForceAuthn = true }, nil, 0, "the request forces authentication"},
		{"higher LoA", func(r *bridge.Request) { r.MinLoA = translate.LoAHigh }, nil, 0, "the request asks for a higher level of assurance"},
		{"policy floor higher", nil, func(sp *bridge.ServiceProvider) { sp.Policy.MinLoA = translate.LoAHigh }, 0, "the request asks for a higher level of assurance"},
		{"IdP excluded", func(r *bridge.Request) { r.DisabledIdPs = []bridge.IdP{translate.IdPPin24H} }, nil, 0, "the request excludes the identity provider used, or forces another"},
		{"required attribute missing", func(r *bridge.Request) {
			r.Attributes = []bridge.RequestedAttr{{Name: translate.AttrDateOfBirth, Required: true}}
		}, nil, 0, "the session lacks the required attribute DateOfBirth"},
		{"SP forbids SSO", nil, func(sp *bridge.ServiceProvider) { sp.SSOLifetime = &zero }, 0, "the SP's policy forbids single sign-on"},
		{"older than the SP allows", nil, func(sp *bridge.ServiceProvider) { sp.SSOLifetime = &half }, half, "the session is older than the SP allows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, _ := f.login(flow.Browser{}, "sp1")
			if tt.sp != nil {
				tt.sp(f.sp("sp2"))
			}
			req := request("sp2")
			if tt.req != nil {
				tt.req(req)
			}
			f.clock.advance(tt.advance)
			reply, err := f.flow.Start(context.Background(), br, f.sp("sp2"), req, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.up.begun) != 2 || reply.Out.URL != "gateway" || f.up.begun[1].Request.SP != "sp2" {
				t.Fatalf("not sent upstream: %+v", reply.Out)
			}
			if reply.Session != nil {
				t.Fatalf("session cookie touched: %+v", reply.Session)
			}
			if !f.logged("SSO session not reused", "reason", tt.reason) {
				t.Fatalf("no log line with reason %q", tt.reason)
			}
			if n := len(f.session(br).Participants); n != 1 {
				t.Fatalf("the session has %d participants", n)
			}
		})
	}
}

// TestSSONoSession: no session, an expired or unreadable one, or SSO off:
// the request goes upstream.
func TestSSONoSession(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture, br flow.Browser) flow.Browser
		warn  bool
	}{
		{"no cookie", func(_ *fixture, br flow.Browser) flow.Browser { return flow.Browser{Logins: br.Logins} }, false},
		{"unknown session", func(_ *fixture, br flow.Browser) flow.Browser { br.Session = "_gone"; return br }, false},
		{"expired", func(f *fixture, br flow.Browser) flow.Browser { f.clock.advance(lifetime); return br }, false},
		{"SSO off", func(f *fixture, br flow.Browser) flow.Browser { f.flow.Sessions = nil; return br }, false},
		{"unreadable", func(f *fixture, br flow.Browser) flow.Browser {
			if err := f.store.PutSession(context.Background(), br.Session, []byte("not json"), time.Hour); err != nil {
				f.t.Fatal(err)
			}
			return br
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, _ := f.login(flow.Browser{}, "sp1")
			br = tt.setup(f, br)
			reply := f.start(context.Background(), br, "sp2")
			if len(f.up.begun) != 2 || reply.Out.URL != "gateway" {
				t.Fatalf("not sent upstream: %+v", reply.Out)
			}
			if got := f.logged("SSO session unreadable", "", ""); got != tt.warn {
				t.Fatalf("unreadable logged %v, want %v", got, tt.warn)
			}
		})
	}
}

// TestSSOReplacedAfterForceAuthn: a forced authentication gives the browser
// a new session with a fresh result; the session it replaces hands on its
// participants (single logout must still tell them) and is deleted.
func TestSSOReplacedAfterForceAuthn(t *testing.T) {
	f := newFixture(t)
	br, _ := f.login(flow.Browser{}, "sp1")
	req := request("sp1")
	req.ForceAuthn = true
	reply, err := f.flow.Start(context.Background(), br, f.sp("sp1"), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.up.result.Subject = "ES/ES/99999999R"
	reply, err = f.flow.Complete(context.Background(), apply(br, reply), nil)
	if err != nil || reply.Session == nil || reply.Session.Value == br.Session {
		t.Fatalf("Complete = %v, %+v", err, reply.Session)
	}
	sess := f.session(flow.Browser{Session: reply.Session.Value})
	// One record per SP: sp1's latest, from the forced authentication.
	if sess.Result.Subject != "ES/ES/99999999R" || len(sess.Participants) != 1 ||
		sess.Participants[0].SessionIndex != field(reply.Out, "session_index") {
		t.Fatalf("new session = %+v; want the fresh result and sp1's latest record", sess)
	}
	if old := f.session(br); old != nil {
		t.Fatalf("the replaced session is still there: %+v", old)
	}
}

func TestSSOReuseFailures(t *testing.T) {
	t.Run("session not saved", func(t *testing.T) {
		f := newFixture(t)
		br, _ := f.login(flow.Browser{}, "sp1")
		f.store.failPutSession = true
		_, err := f.flow.Start(context.Background(), br, f.sp("sp2"), request("sp2"), nil)
		refusal(t, err, bridge.KindInternal, "store session: down")
		if len(f.up.begun) != 1 {
			t.Fatal("sent upstream after the session failed")
		}
	})
	t.Run("answer not rendered", func(t *testing.T) {
		f := newFixture(t)
		br, _ := f.login(flow.Browser{}, "sp1")
		f.d.renderErr = errDown
		_, err := f.flow.Start(context.Background(), br, f.sp("sp2"), request("sp2"), nil)
		refusal(t, err, bridge.KindInternal, "render fake answer: down")
	})
}
