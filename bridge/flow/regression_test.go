package flow_test

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/flow"
)

// TestGatewayAnswerCannotTakeAnSPStep: a gateway logout answer whose
// RelayState names a step waiting for an SP is refused and takes nothing:
// the SP's genuine answer still continues the logout.
func TestGatewayAnswerCannotTakeAnSPStep(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	br, _ := f.loginAll("sp1", "sp2")
	reply, err := f.flow.StartLogout(ctx, br, f.sp("sp1"), initiator("sp1"), anyRecord)
	if err != nil {
		t.Fatal(err)
	}
	relay, id := field(reply.Out, "relay"), field(reply.Out, "id")
	if _, err := f.flow.UpstreamLogout(ctx, br, url.Values{"kind": {"logout-response"}, "relay": {relay + "/" + id}}); err == nil {
		t.Fatal("a gateway answer naming an SP's step was accepted")
	}
	if _, err := f.flow.ContinueLogout(ctx, f.sp("sp2"), relay, id, true); err != nil {
		t.Fatalf("the stray message ended the logout under way: sp2's genuine answer is refused: %v", err)
	}
}

// TestForcedLoginKeepsParticipants: after a forced authentication replaced
// the session, single logout still tells the SPs of the session replaced.
func TestForcedLoginKeepsParticipants(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.flow.Upstream = loginOnly{f.up}
	br, _ := f.loginAll("sp1")
	req := request("sp2")
	req.ForceAuthn = true
	reply, err := f.flow.Start(ctx, br, f.sp("sp2"), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	br = apply(br, reply)
	reply, err = f.flow.Complete(ctx, br, nil)
	if err != nil {
		t.Fatal(err)
	}
	br = apply(br, reply)
	reply, err = f.flow.StartLogout(ctx, br, f.sp("sp2"), initiator("sp2"), anyRecord)
	if err != nil {
		t.Fatal(err)
	}
	final, steps := f.drive(ctx, br, reply, nil)
	if !slices.Contains(steps, "logout-request:sp1") {
		t.Fatalf("sp1 (logged in from this browser) is never told; steps %v, initiator hears %s", steps, field(final.Out, "status"))
	}
}

// TestLoginCookieLivesWithItsLogin: each login's cookie lives as long as
// that login may wait for the gateway, so an earlier login's expiry does
// not lose a later one.
func TestLoginCookieLivesWithItsLogin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	type kept struct {
		value   string
		expires time.Time
	}
	cookies := map[string]kept{}
	keep := func(r flow.Reply) {
		for h, ck := range r.Logins {
			if ck.Value == "" {
				delete(cookies, h)
			} else {
				cookies[h] = kept{ck.Value, f.clock.t.Add(ck.TTL)}
			}
		}
	}
	browser := func() flow.Browser {
		br := flow.Browser{Logins: map[string]string{}}
		for h, c := range cookies {
			if f.clock.t.Before(c.expires) {
				br.Logins[h] = c.value
			}
		}
		return br
	}
	keep(f.start(ctx, browser(), "sp1")) // kept until 10m
	f.clock.advance(pendingTTL - time.Minute)
	keep(f.start(ctx, browser(), "sp2")) // kept until 19m
	f.clock.advance(2 * time.Minute)     // 11m
	if _, err := f.flow.Complete(ctx, browser(), nil); err != nil {
		t.Fatalf("the second login's answer, within its PendingTTL, is refused: %v", err)
	}
}
