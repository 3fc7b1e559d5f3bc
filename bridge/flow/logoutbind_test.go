package flow_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
)

const (
	sp1Origin = "https://sp1.example"
	gwOrigin  = "https://gateway.example"
)

// bindFixture: sp1 registered with an ACS and a logout URL on two
// origins, the gateway at gwOrigin; one browser logged in to sp1 and sp2.
func bindFixture(t *testing.T) (*fixture, flow.Browser) {
	f := newFixture(t)
	f.sp("sp1").ACS = []bridge.Endpoint{{URL: sp1Origin + "/acs"}}
	f.sp("sp1").Logout = []bridge.Endpoint{{URL: "https://logout.sp1.example:8443/slo"}}
	f.sp("sp1").Name = "Service One"
	f.up.origins = []string{gwOrigin}
	br, _ := f.loginAll("sp1", "sp2")
	return f, br
}

func withOrigin(br flow.Browser, origin string) flow.Browser {
	br.Origin = origin
	return br
}

// asked checks that reply is the confirmation question and that nothing
// ended or went anywhere.
func (f *fixture) asked(br flow.Browser, reply flow.Reply, requester string) string {
	f.t.Helper()
	if reply.Confirm == nil || reply.Confirm.ID == "" || reply.Confirm.Requester != requester {
		f.t.Fatalf("reply = %+v, want the confirmation question from %q", reply, requester)
	}
	if reply.Out.URL != "" || reply.Session != nil {
		f.t.Fatalf("a logout to be confirmed went on: %+v", reply)
	}
	if sess := f.session(br); sess == nil || len(sess.Participants) != 2 {
		f.t.Fatalf("the session was touched: %+v", sess)
	}
	if len(f.up.begunLogouts) != 0 || len(f.up.answers) != 0 {
		f.t.Fatalf("the gateway was told: %v %v", f.up.begunLogouts, f.up.answers)
	}
	if !f.logged("logout waits for the citizen's confirmation", "", "") {
		f.t.Fatal("the question is not logged")
	}
	return reply.Confirm.ID
}

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://SP.example/acs?x=1":   "https://sp.example",
		"https://sp.example:443/":      "https://sp.example",
		"http://sp.example:80/a":       "http://sp.example",
		"http://sp.example:8080/a":     "http://sp.example:8080",
		"https://[::1]:8443/slo":       "https://[::1]:8443",
		"HTTPS://sp.example":           "https://sp.example",
		"null":                         "",
		"":                             "",
		"/relative":                    "",
		"ftp://sp.example/":            "",
		"https://user@sp.example/":     "",
		"javascript:alert(1)":          "",
		"https://sp.example:notaport/": "",
	} {
		if got := flow.Origin(in); got != want {
			t.Errorf("Origin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromSender(t *testing.T) {
	urls := []string{"https://sp.example/acs", "https://logout.sp.example:8443/slo"}
	for _, tt := range []struct {
		origin string
		want   bool
	}{
		{"", true}, // no Origin: a GET, or no browser
		{"https://sp.example", true},
		{"https://SP.example:443", true},
		{"https://logout.sp.example:8443", true},
		{"null", false},
		{"https://evil.example", false},
		{"http://sp.example", false},
		{"https://sp.example:8443", false},
		{"https://logout.sp.example", false},
		{"https://sp.example.evil.example", false},
		{"https://sp.example/acs", false}, // an Origin header has no path
		{"https://sp.example?x", false},
		{"sp.example", false},
		{" https://sp.example", false},
	} {
		if got := flow.FromSender(tt.origin, urls...); got != tt.want {
			t.Errorf("FromSender(%q) = %v, want %v", tt.origin, got, tt.want)
		}
	}
	if flow.FromSender("https://sp.example") {
		t.Error("an Origin matched a sender without URLs")
	}
}

// TestLogoutBinding: a request bound to the browser's session (it names
// the session, and its Origin, if any, is the SP's) ends it at once;
// anything else ends nothing and asks the citizen.
func TestLogoutBinding(t *testing.T) {
	tests := []struct {
		name    string
		sp      string
		origin  string
		matches func(bridge.Participant) bool
		confirm bool
	}{
		{"no Origin", "sp1", "", anyRecord, false},
		{"the ACS's origin", "sp1", sp1Origin, anyRecord, false},
		{"the logout URL's origin", "sp1", "https://logout.sp1.example:8443", anyRecord, false},
		{"another site", "sp1", "https://evil.example", anyRecord, true},
		{"opaque origin", "sp1", "null", anyRecord, true},
		{"the gateway's origin", "sp1", gwOrigin, anyRecord, true},
		{"another session's record", "sp1", "", func(p bridge.Participant) bool { return p.SessionIndex == "_other" }, true},
		{"another session's record from the SP's site", "sp1", sp1Origin, func(p bridge.Participant) bool { return false }, true},
		{"SP not in the session", "sp3", "", anyRecord, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, br := bindFixture(t)
			reply, err := f.flow.StartLogout(context.Background(), withOrigin(br, tt.origin), f.sp(tt.sp), initiator(tt.sp), tt.matches)
			if err != nil {
				t.Fatal(err)
			}
			if tt.confirm {
				want := "Service One"
				if tt.sp != "sp1" {
					want = tt.sp
				}
				f.asked(br, reply, want)
				return
			}
			if reply.Confirm != nil || reply.Session == nil || reply.Out.URL != "logout-request:sp2" || f.session(br) != nil {
				t.Fatalf("reply = %+v, want the session ended and sp2 told", reply)
			}
		})
	}
}

// confirm asks for the confirmation question of sp's logout from another
// site, and returns its id.
func (f *fixture) confirmAsked(br flow.Browser, sp string) string {
	f.t.Helper()
	reply, err := f.flow.StartLogout(context.Background(), withOrigin(br, "https://evil.example"), f.sp(sp), initiator(sp), anyRecord)
	if err != nil {
		f.t.Fatal(err)
	}
	if reply.Confirm == nil {
		f.t.Fatalf("reply = %+v, want the confirmation question", reply)
	}
	return reply.Confirm.ID
}

// TestConfirmLogout: confirmed, the logout goes on as a bound one would:
// the session ends, the other SPs and the gateway are told, the requester
// is answered; declined, the session stays and the requester hears
// RequestDenied.
func TestConfirmLogout(t *testing.T) {
	tests := []struct {
		name      string
		sp        string
		confirmed bool
		steps     []string
		status    bridge.StatusCode
	}{
		{"confirmed", "sp1", true, []string{"logout-request:sp2", "gateway-logout", "logout-response:sp1"}, bridge.StatusSuccess},
		{"confirmed, requester not in the session", "sp3", true,
			[]string{"logout-request:sp2", "logout-request:sp1", "gateway-logout", "logout-response:sp3"}, bridge.StatusSuccess},
		{"declined", "sp1", false, []string{"logout-response:sp1"}, bridge.StatusRequestDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, br := bindFixture(t)
			id := f.confirmAsked(br, tt.sp)
			// The page's form comes back without an Origin of the SP's.
			reply, err := f.flow.ConfirmLogout(context.Background(), withOrigin(br, "null"), id, tt.confirmed)
			if err != nil {
				t.Fatal(err)
			}
			if tt.confirmed != (reply.Session != nil && reply.Session.Value == "") {
				t.Fatalf("session cookie = %+v", reply.Session)
			}
			if tt.confirmed == (f.session(br) != nil) {
				t.Fatalf("confirmed %v, session left %v", tt.confirmed, f.session(br) != nil)
			}
			final, steps := f.drive(context.Background(), br, reply, nil)
			if !slices.Equal(steps, tt.steps) {
				t.Fatalf("steps %v, want %v", steps, tt.steps)
			}
			out := final.Out
			if field(out, "status") != string(tt.status) || field(out, "in_response_to") != "_lo-"+tt.sp || field(out, "relay") != "relay-"+tt.sp {
				t.Fatalf("answer = %+v", out)
			}
			if _, err := f.flow.ConfirmLogout(context.Background(), br, id, true); err == nil {
				t.Fatal("a confirmation was answered twice")
			}
			if f.leftover() != map[bool]int{true: 0, false: 1}[tt.confirmed] { // a kept session is an entry
				t.Fatalf("%d entries left in the store", f.leftover())
			}
		})
	}
}

// TestConfirmLogoutRefusals: the question is answered once, in the
// browser (the session cookie) it was shown to, within ConfirmTTL.
func TestConfirmLogoutRefusals(t *testing.T) {
	tests := []struct {
		name string
		send func(f *fixture, br flow.Browser, id string) (flow.Reply, error)
		want string
		kept bool // the question can still be answered in the right browser
	}{
		{"another browser", func(f *fixture, _ flow.Browser, id string) (flow.Reply, error) {
			other, _ := f.loginAll("sp1")
			return f.flow.ConfirmLogout(context.Background(), other, id, true)
		}, "shown to another browser", true},
		{"no session cookie", func(f *fixture, _ flow.Browser, id string) (flow.Reply, error) {
			return f.flow.ConfirmLogout(context.Background(), flow.Browser{}, id, true)
		}, "shown to another browser", true},
		{"unknown id", func(f *fixture, br flow.Browser, id string) (flow.Reply, error) {
			return f.flow.ConfirmLogout(context.Background(), br, id+"x", true)
		}, "not found", true},
		{"no id", func(f *fixture, br flow.Browser, _ string) (flow.Reply, error) {
			return f.flow.ConfirmLogout(context.Background(), br, "", true)
		}, "names no logout", true},
		{"id too long", func(f *fixture, br flow.Browser, _ string) (flow.Reply, error) {
			return f.flow.ConfirmLogout(context.Background(), br, strings.Repeat("a", 65), true)
		}, "names no logout", true},
		{"expired", func(f *fixture, br flow.Browser, id string) (flow.Reply, error) {
			f.clock.advance(flow.ConfirmTTL)
			return f.flow.ConfirmLogout(context.Background(), br, id, true)
		}, "not found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, br := bindFixture(t)
			id := f.confirmAsked(br, "sp1")
			_, err := tt.send(f, br, id)
			refusal(t, err, bridge.KindInvalid, tt.want)
			if sess := f.session(br); tt.kept && (sess == nil || len(sess.Participants) != 2) {
				t.Fatalf("a refused confirmation touched the session: %+v", sess)
			}
			reply, err := f.flow.ConfirmLogout(context.Background(), br, id, true)
			if tt.kept != (err == nil && reply.Session != nil) {
				t.Fatalf("the right browser's confirmation: %v %+v, want it kept %v", err, reply, tt.kept)
			}
		})
	}
}

// TestConfirmLogoutOutcomes: what the confirmation finds when it comes.
func TestConfirmLogoutOutcomes(t *testing.T) {
	t.Run("session gone meanwhile", func(t *testing.T) {
		f, br := bindFixture(t)
		id := f.confirmAsked(br, "sp1")
		if err := f.flow.Sessions.Delete(context.Background(), f.session(br).ID); err != nil {
			t.Fatal(err)
		}
		reply, err := f.flow.ConfirmLogout(context.Background(), br, id, true)
		if err != nil || field(reply.Out, "status") != "UnknownPrincipal" || reply.Out.URL != "logout-response:sp1" {
			t.Fatalf("answer = %v %+v", err, reply.Out)
		}
	})
	t.Run("requester unregistered meanwhile", func(t *testing.T) {
		f, br := bindFixture(t)
		id := f.confirmAsked(br, "sp1")
		delete(f.reg, dialect+" sp1")
		_, err := f.flow.ConfirmLogout(context.Background(), br, id, true)
		refusal(t, err, bridge.KindInternal, "unknown service provider")
	})
	t.Run("question not stored", func(t *testing.T) {
		f, br := bindFixture(t)
		f.store.failPutPending = true
		_, err := f.flow.StartLogout(context.Background(), withOrigin(br, "null"), f.sp("sp1"), initiator("sp1"), anyRecord)
		refusal(t, err, bridge.KindInternal, "The logout could not go on.")
		if f.session(br) == nil {
			t.Fatal("the session ended")
		}
	})
	t.Run("no randomness", func(t *testing.T) {
		f, br := bindFixture(t)
		f.flow.Rand = strings.NewReader("")
		_, err := f.flow.StartLogout(context.Background(), withOrigin(br, "null"), f.sp("sp1"), initiator("sp1"), anyRecord)
		refusal(t, err, bridge.KindInternal, "The logout could not go on.")
	})
	t.Run("no session: answered at once", func(t *testing.T) {
		f, _ := bindFixture(t)
		reply, err := f.flow.StartLogout(context.Background(), flow.Browser{Origin: "https://evil.example"}, f.sp("sp1"), initiator("sp1"), anyRecord)
		if err != nil || reply.Confirm != nil || field(reply.Out, "status") != "UnknownPrincipal" {
			t.Fatalf("answer = %v %+v", err, reply)
		}
	})
}

// TestGatewayLogoutBinding: the gateway's verified LogoutRequest (used
// once, fresh: the connector checks) ends the session at once when the
// browser brings it without an Origin or from the gateway's; from
// anywhere else the citizen is asked, at /upstream/slo and at the login's
// URL alike.
func TestGatewayLogoutBinding(t *testing.T) {
	form := url.Values{"kind": {"logout-request"}}
	tests := []struct {
		name    string
		origin  string
		acs     bool // posted to the login's URL (Complete)
		confirm bool
	}{
		{"no Origin", "", false, false},
		{"the gateway's origin", gwOrigin, false, false},
		{"the gateway's origin, default port", gwOrigin + ":443", false, false},
		{"another site", "https://evil.example", false, true},
		{"an SP's site", sp1Origin, false, true},
		{"opaque origin", "null", false, true},
		{"another site, at the login's URL", "https://evil.example", true, true},
		{"no Origin, at the login's URL", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, br := bindFixture(t)
			f.up.readID, f.up.readRelay = "_gw", "gw-relay"
			handle := f.flow.UpstreamLogout
			if tt.acs {
				handle = f.flow.Complete
			}
			reply, err := handle(context.Background(), withOrigin(br, tt.origin), form)
			if err != nil {
				t.Fatal(err)
			}
			if tt.confirm {
				f.asked(br, reply, "The Cl@ve identity gateway")
				return
			}
			if reply.Session == nil || f.session(br) != nil || reply.Out.URL != "logout-request:sp2" {
				t.Fatalf("reply = %+v, want the session ended and sp2 told", reply)
			}
		})
	}
}

// TestConfirmGatewayLogout: confirmed, the gateway's logout goes on (the
// session ends, every SP is told, the gateway answered Success); declined,
// the session stays and the gateway hears a partial logout.
func TestConfirmGatewayLogout(t *testing.T) {
	for _, confirmed := range []bool{true, false} {
		f, br := bindFixture(t)
		f.up.readID, f.up.readRelay = "_gw", "gw-relay"
		reply, err := f.flow.UpstreamLogout(context.Background(), withOrigin(br, "https://evil.example"), url.Values{"kind": {"logout-request"}})
		if err != nil {
			t.Fatal(err)
		}
		id := f.asked(br, reply, "The Cl@ve identity gateway")
		reply, err = f.flow.ConfirmLogout(context.Background(), withOrigin(br, "null"), id, confirmed)
		if err != nil {
			t.Fatal(err)
		}
		final, steps := f.drive(context.Background(), br, reply, nil)
		want := []string{"gateway-logout-response"}
		if confirmed {
			want = []string{"logout-request:sp2", "logout-request:sp1", "gateway-logout-response"}
		}
		if !slices.Equal(steps, want) || field(final.Out, "in_response_to") != "_gw" {
			t.Fatalf("confirmed %v: steps %v, answer %+v", confirmed, steps, final.Out)
		}
		if answers := []logoutAnswer{{"_gw", "gw-relay", confirmed}}; !slices.Equal(f.up.answers, answers) {
			t.Fatalf("confirmed %v: gateway answered %+v", confirmed, f.up.answers)
		}
		if confirmed == (f.session(br) != nil) {
			t.Fatalf("confirmed %v: session left %v", confirmed, f.session(br) != nil)
		}
	}
}

// TestGatewayLogoutWithoutSessionNotAsked: with no session there is
// nothing to confirm, whatever the Origin: the gateway is answered.
func TestGatewayLogoutWithoutSessionNotAsked(t *testing.T) {
	f := newFixture(t)
	f.up.origins = []string{gwOrigin}
	f.up.readID, f.up.readRelay = "_gw", "gw-relay"
	reply, err := f.flow.UpstreamLogout(context.Background(), flow.Browser{Origin: "https://evil.example"}, url.Values{"kind": {"logout-request"}})
	if err != nil || reply.Confirm != nil || reply.Out.URL != "gateway-logout-response" {
		t.Fatalf("reply = %v %+v", err, reply)
	}
}

// TestGatewayAnswerVerifiedFirst: the gateway's answer to our logout leg is
// verified before the logout is taken by its RelayState: a forged one, or
// one to another request, takes nothing, and the genuine answer still
// completes the logout.
func TestGatewayAnswerVerifiedFirst(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		form  func(relay string) url.Values
		want  string
	}{
		{"forged or unsigned", func(f *fixture) { f.up.finishErrL = errDown }, func(relay string) url.Values {
			return url.Values{"kind": {"logout-response"}, "relay": {relay}}
		}, "The gateway's logout answer was refused.: down"},
		{"answer to another request", nil, func(relay string) url.Values {
			return url.Values{"kind": {"logout-response"}, "relay": {relay}, "in_response_to": {"_other"}}
		}, "not waiting for the gateway's answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			br, _ := f.loginAll("sp1")
			reply, err := f.flow.StartLogout(context.Background(), br, f.sp("sp1"), initiator("sp1"), anyRecord)
			if err != nil || reply.Out.URL != "gateway-logout" {
				t.Fatalf("StartLogout = %v %+v", err, reply.Out)
			}
			relay := field(reply.Out, "relay")
			if tt.setup != nil {
				tt.setup(f)
			}
			before := f.leftover()
			_, err = f.flow.UpstreamLogout(context.Background(), br, tt.form(relay))
			refusal(t, err, bridge.KindInvalid, tt.want)
			if f.leftover() != before {
				t.Fatalf("store entries %d, were %d: the logout under way was taken", f.leftover(), before)
			}
			f.up.finishErrL = nil
			reply, err = f.flow.UpstreamLogout(context.Background(), br, url.Values{"kind": {"logout-response"}, "relay": {relay}})
			if err != nil || field(reply.Out, "status") != "Success" || reply.Out.URL != "logout-response:sp1" {
				t.Fatalf("the genuine answer: %v %+v", err, reply.Out)
			}
		})
	}
}
