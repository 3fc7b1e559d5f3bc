package flow_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/store"
)

// pendingLog records the values written to the pending key space.
type pendingLog struct {
	store.Store
	mu     sync.Mutex
	values map[string][]byte
}

func (p *pendingLog) PutPending(ctx context.Context, id string, v []byte, ttl time.Duration) error {
	p.mu.Lock()
	p.values[id] = bytes.Clone(v)
	p.mu.Unlock()
	return p.Store.PutPending(ctx, id, v, ttl)
}

// TestLogoutStateSealed: a logout under way keeps its queue of
// participants (whose persistent NameIDs may be the PersonIdentifier)
// sealed in the store, bound to its key; without state keys, or moved to
// another key, it does not open and the logout goes no further.
func TestLogoutStateSealed(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		spoil func(f *fixture, log *pendingLog, key string)
	}{
		{"intact", nil},
		{"no state keys", func(f *fixture, _ *pendingLog, _ string) { f.flow.Seal = nil }},
		{"tampered with", func(f *fixture, log *pendingLog, key string) {
			v := log.values[key]
			v[len(v)-3] ^= 1
			_ = f.mem.PutPending(ctx, key, v, time.Minute)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.flow.Upstream = loginOnly{f.up}
			log := &pendingLog{Store: f.flow.Store, values: map[string][]byte{}}
			f.flow.Store = log
			br, answers := f.loginAll("sp1", "sp2")
			if field(answers["sp2"], "persistent") != "ES/ES/12345678Z" {
				t.Fatalf("sp2 is not given the PersonIdentifier as its persistent NameID: %+v", answers["sp2"])
			}
			reply, err := f.flow.StartLogout(ctx, br, f.sp("sp1"), initiator("sp1"), anyRecord)
			if err != nil || reply.Out.URL != "logout-request:sp2" {
				t.Fatalf("StartLogout: %v, %+v", err, reply.Out)
			}
			relay, id := field(reply.Out, "relay"), field(reply.Out, "id")
			key := "logout:" + relay + "/" + id
			raw, ok := log.values[key]
			if !ok {
				t.Fatalf("no logout state under %s: %v", key, log.values)
			}
			if !strings.HasPrefix(string(raw), "test.") || bytes.Contains(raw, []byte("12345678Z")) || bytes.Contains(raw, []byte("sp2")) {
				t.Fatalf("logout state stored as %q, want it sealed", raw)
			}
			if tt.spoil != nil {
				tt.spoil(f, log, key)
			}
			reply, err = f.flow.ContinueLogout(ctx, f.sp("sp2"), relay, id, true)
			if tt.spoil != nil {
				refusal(t, err, bridge.KindInvalid, "does not belong to a logout under way")
				return
			}
			if err != nil || reply.Out.URL != "logout-response:sp1" || field(reply.Out, "status") != "Success" {
				t.Fatalf("ContinueLogout: %v, %+v", err, reply.Out)
			}
		})
	}
}
