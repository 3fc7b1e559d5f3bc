package flow_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/store"
)

// lockedDialect serialises the fake dialect, which counts its renders, for
// tests that run the flow concurrently.
type lockedDialect struct {
	mu sync.Mutex
	d  *fakeDialect
}

func (l *lockedDialect) Name() string { return l.d.Name() }

func (l *lockedDialect) Render(ctx context.Context, sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (bridge.Outgoing, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.d.Render(ctx, sp, req, res)
}

func (l *lockedDialect) LogoutRequest(ctx context.Context, sp *bridge.ServiceProvider, p bridge.Participant, id, relay string) (bridge.Outgoing, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.d.LogoutRequest(ctx, sp, p, id, relay)
}

func (l *lockedDialect) LogoutResponse(ctx context.Context, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, status bridge.Status) (bridge.Outgoing, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.d.LogoutResponse(ctx, sp, in, status)
}

// lockedUpstream serialises the fake connector (login only).
type lockedUpstream struct {
	mu sync.Mutex
	u  *fakeUpstream
}

func (l *lockedUpstream) Begin(ctx context.Context, p *flow.Pending) (bridge.Outgoing, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.u.Begin(ctx, p)
}

func (l *lockedUpstream) Finish(ctx context.Context, form url.Values, take flow.TakeFunc) (*flow.Pending, bridge.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.u.Finish(ctx, form, take)
}

// TestSSOConcurrentReuses: SPs answered from one session at the same
// moment (tabs of one browser, with the fixture's fixed clock) are all
// recorded, in the memory store and in Redis, and single logout then tells
// every one of them. Past session.MaxParticipants the SPs left over are
// not answered from the session (they go to the gateway), and their fresh
// login keeps no session: the one the browser has stays whole.
func TestSSOConcurrentReuses(t *testing.T) {
	stores := []struct {
		name string
		make func(t *testing.T) store.Store
	}{
		{"memory", nil},
		{"redis", func(t *testing.T) store.Store {
			r := store.NewRedis(redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()}), "")
			t.Cleanup(func() { _ = r.Close() })
			return r
		}},
	}
	for _, st := range stores {
		for _, n := range []int{60, session.MaxParticipants + 6} {
			t.Run(fmt.Sprint(st.name, "/", n), func(t *testing.T) {
				testConcurrentReuses(t, st.make, n)
			})
		}
	}
}

func testConcurrentReuses(t *testing.T, makeStore func(*testing.T) store.Store, n int) {
	ctx := context.Background()
	f := newFixture(t)
	if makeStore != nil {
		s := makeStore(t)
		f.flow.Store, f.flow.Sessions.Store = s, s
	}
	f.flow.Upstream = &lockedUpstream{u: f.up} // no gateway leg: the SPs only
	f.flow.Register(&lockedDialect{d: f.d})
	var sps []string
	for i := range n {
		id := fmt.Sprintf("tab%02d", i)
		f.reg[dialect+" "+id] = newSP(id)
		sps = append(sps, id)
	}
	br, _ := f.loginAll("sp1") // the session, through the gateway

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		answered = map[string]string{} // SP → the session index it got
		upstream []string              // SPs sent to the gateway instead
		errs     []error
	)
	start := make(chan struct{})
	for _, sp := range sps {
		wg.Go(func() {
			<-start
			reply, err := f.flow.Start(ctx, br, f.sp(sp), request(sp), nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: %w", sp, err))
			case reply.Out.URL == "answer:"+sp && field(reply.Out, "status") == "Success":
				answered[sp] = field(reply.Out, "session_index")
			case reply.Out.URL == "gateway":
				upstream = append(upstream, sp)
			default:
				errs = append(errs, fmt.Errorf("%s: unexpected reply %+v", sp, reply.Out))
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}

	room := session.MaxParticipants - 1 // sp1 is in the session already
	if len(answered) != min(n, room) || len(upstream) != n-min(n, room) {
		t.Fatalf("%d SPs at once: %d answered from the session, %d sent upstream; want %d and %d",
			n, len(answered), len(upstream), min(n, room), n-min(n, room))
	}
	sess := f.session(br)
	recorded := map[string]string{}
	for _, p := range sess.Participants {
		recorded[p.SP] = p.SessionIndex
	}
	for sp, idx := range answered {
		if recorded[sp] != idx {
			t.Errorf("%s was answered from the session (index %q) but the session records %q", sp, idx, recorded[sp])
		}
	}
	if len(sess.Participants) != len(answered)+1 {
		t.Fatalf("the session records %d SPs, want the %d answered and sp1", len(sess.Participants), len(answered))
	}
	if len(upstream) > 0 {
		if f.logs.FilterMessage("SSO session not reused").FilterField(
			zap.String("reason", session.ErrFull.Error())).Len() != len(upstream) {
			t.Errorf("the SPs refused for a full session are not logged as such")
		}
		// Another new SP's login goes through the gateway too, and keeps
		// no session: the browser's stays whole.
		f.reg[dialect+" late"] = newSP("late")
		reply := f.start(ctx, br, "late")
		if reply.Out.URL != "gateway" {
			t.Fatalf("a new SP of a full session: %+v, want it sent to the gateway", reply.Out)
		}
		reply, err := f.flow.Complete(ctx, apply(br, reply), nil)
		if err != nil || field(reply.Out, "status") != "Success" || reply.Session != nil {
			t.Fatalf("fresh login past the bound: %v, %+v, session cookie %+v; want a success without a session", err, reply.Out, reply.Session)
		}
		if !f.logged("no SSO session kept", "", "") {
			t.Error("the session not kept is not logged")
		}
		if got := len(f.session(br).Participants); got != session.MaxParticipants {
			t.Fatalf("the browser's session records %d SPs after the fresh login, want %d", got, session.MaxParticipants)
		}
	}

	// Single logout from sp1 tells every SP answered, each once, with the
	// session index it got.
	reply, err := f.flow.StartLogout(ctx, br, f.sp("sp1"), initiator("sp1"), anyRecord)
	if err != nil || reply.Session == nil || reply.Session.Value != "" {
		t.Fatalf("StartLogout: %v, %+v", err, reply)
	}
	told := map[string]string{}
	for steps := 0; strings.HasPrefix(reply.Out.URL, "logout-request:"); steps++ {
		if steps > n {
			t.Fatal("the logout does not end")
		}
		sp := strings.TrimPrefix(reply.Out.URL, "logout-request:")
		if _, twice := told[sp]; twice {
			t.Fatalf("%s told twice", sp)
		}
		told[sp] = field(reply.Out, "session_index")
		if reply, err = f.flow.ContinueLogout(ctx, f.sp(sp), field(reply.Out, "relay"), field(reply.Out, "id"), true); err != nil {
			t.Fatalf("ContinueLogout(%s): %v", sp, err)
		}
	}
	if reply.Out.URL != "logout-response:sp1" || field(reply.Out, "status") != "Success" {
		t.Fatalf("the initiator's answer: %+v", reply.Out)
	}
	var missed []string
	for sp, idx := range answered {
		if told[sp] != idx {
			missed = append(missed, sp)
		}
	}
	slices.Sort(missed)
	if len(missed) > 0 || len(told) != len(answered) {
		t.Fatalf("logout told %d SPs, %d were answered from the session; missed or told another index: %v", len(told), len(answered), missed)
	}
	if f.session(br) != nil {
		t.Fatal("the session outlives its logout")
	}
}
