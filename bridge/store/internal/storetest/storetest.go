// Package storetest is the conformance suite every store.Store
// implementation must pass.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/store"
)

// NewStoreFunc returns a fresh, empty store for one subtest, and advance,
// which moves that store's notion of time forward by d. It should register
// the store's Close with t.Cleanup.
type NewStoreFunc func(t *testing.T) (s store.Store, advance func(d time.Duration))

// ttl is the lifetime used by tests that don't care about its value.
const ttl = 10 * time.Second

// Run runs the conformance suite against the stores newStore makes.
func Run(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewStoreFunc)
	}{
		{"PendingTakeOnce", testPendingTakeOnce},
		{"PendingTakeUnknown", testPendingTakeUnknown},
		{"PendingExpiry", testPendingExpiry},
		{"Overwrite", testOverwrite},
		{"ValueIsolation", testValueIsolation},
		{"KeySpacesSeparate", testKeySpacesSeparate},
		{"MarkSeen", testMarkSeen},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"DeleteMissingSession", testDeleteMissingSession},
		{"InvalidTTL", testInvalidTTL},
		{"ConcurrentTake", testConcurrentTake},
		{"UpdateSession", testUpdateSession},
		{"UpdateSessionExpiry", testUpdateSessionExpiry},
		{"ConcurrentUpdates", func(t *testing.T, newStore NewStoreFunc) {
			s, _ := newStore(t)
			ConcurrentUpdates(t, s)
		}},
		{"Ping", testPing},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore) })
	}
}

func testPendingTakeOnce(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := t.Context()
	mustPutPending(t, s, "id", []byte("login"), ttl)
	mustTake(t, s, "id", []byte("login"))
	if _, err := s.TakePending(ctx, "id"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second TakePending: err = %v, want ErrNotFound", err)
	}
}

func testPendingTakeUnknown(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	got, err := s.TakePending(t.Context(), "never-put")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakePending(unknown) = %q, %v; want ErrNotFound", got, err)
	}
}

func testPendingExpiry(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name    string
		advance time.Duration
		live    bool
	}{
		{"fresh", 0, true},
		{"just before ttl", ttl - time.Millisecond, true},
		{"at ttl", ttl, false},
		{"long after ttl", 10 * ttl, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, advance := newStore(t)
			mustPutPending(t, s, "id", []byte("v"), ttl)
			advance(tt.advance)
			got, err := s.TakePending(t.Context(), "id")
			checkLive(t, "TakePending", got, err, []byte("v"), tt.live)
		})
	}
}

func testOverwrite(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		put  func(ctx context.Context, s store.Store, value []byte, ttl time.Duration) error
		get  func(ctx context.Context, s store.Store) ([]byte, error)
	}{
		{
			name: "pending",
			put: func(ctx context.Context, s store.Store, v []byte, ttl time.Duration) error {
				return s.PutPending(ctx, "id", v, ttl)
			},
			get: func(ctx context.Context, s store.Store) ([]byte, error) { return s.TakePending(ctx, "id") },
		},
		{
			name: "session",
			put: func(ctx context.Context, s store.Store, v []byte, ttl time.Duration) error {
				return s.PutSession(ctx, "id", v, ttl)
			},
			get: func(ctx context.Context, s store.Store) ([]byte, error) { return s.GetSession(ctx, "id") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, advance := newStore(t)
			ctx := t.Context()
			if err := tt.put(ctx, s, []byte("old"), time.Second); err != nil {
				t.Fatalf("first put: %v", err)
			}
			if err := tt.put(ctx, s, []byte("new"), ttl); err != nil {
				t.Fatalf("second put: %v", err)
			}
			advance(2 * time.Second) // past the first ttl: the second one counts
			got, err := tt.get(ctx, s)
			checkLive(t, "get after overwrite", got, err, []byte("new"), true)
		})
	}
}

func testValueIsolation(t *testing.T, newStore NewStoreFunc) {
	t.Run("pending input", func(t *testing.T) {
		s, _ := newStore(t)
		v := []byte("orig")
		mustPutPending(t, s, "id", v, ttl)
		copy(v, "XXXX")
		mustTake(t, s, "id", []byte("orig"))
	})
	t.Run("session input and output", func(t *testing.T) {
		s, _ := newStore(t)
		v := []byte("orig")
		if err := s.PutSession(t.Context(), "id", v, ttl); err != nil {
			t.Fatalf("PutSession: %v", err)
		}
		copy(v, "XXXX")
		got := mustGetSession(t, s, "id", []byte("orig"))
		copy(got, "YYYY")
		mustGetSession(t, s, "id", []byte("orig"))
	})
}

func testKeySpacesSeparate(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := t.Context()
	mustPutPending(t, s, "x", []byte("pending"), ttl)
	if err := s.PutSession(ctx, "x", []byte("session"), ttl); err != nil {
		t.Fatalf("PutSession: %v", err)
	}
	mustMarkSeen(t, s, "x", true)
	mustMarkSeen(t, s, "y", true)

	mustGetSession(t, s, "x", []byte("session"))
	mustTake(t, s, "x", []byte("pending"))
	mustGetSession(t, s, "x", []byte("session")) // taking pending left it alone
	mustMarkSeen(t, s, "x", false)
	if err := s.DeleteSession(ctx, "x"); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	mustMarkSeen(t, s, "x", false) // deleting the session left it alone

	// A seen key creates neither a pending login nor a session.
	if _, err := s.TakePending(ctx, "y"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TakePending(seen-only key): err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(ctx, "y"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(seen-only key): err = %v, want ErrNotFound", err)
	}
}

func testMarkSeen(t *testing.T, newStore NewStoreFunc) {
	s, advance := newStore(t)
	steps := []struct {
		name      string
		advance   time.Duration
		key       string
		wantFirst bool
	}{
		{"first", 0, "k", true},
		{"replay", 0, "k", false},
		{"other key", 0, "k2", true},
		{"replay before expiry", ttl - time.Millisecond, "k", false},
		{"after expiry", time.Millisecond, "k", true},
		{"replay after re-mark", 0, "k", false},
	}
	for _, st := range steps {
		advance(st.advance)
		first, err := s.MarkSeen(t.Context(), st.key, ttl)
		if err != nil || first != st.wantFirst {
			t.Fatalf("%s: MarkSeen(%q) = %v, %v; want %v, nil", st.name, st.key, first, err, st.wantFirst)
		}
	}
}

func testSessions(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := t.Context()
	if err := s.PutSession(ctx, "sid", []byte("sess"), ttl); err != nil {
		t.Fatalf("PutSession: %v", err)
	}
	mustGetSession(t, s, "sid", []byte("sess"))
	mustGetSession(t, s, "sid", []byte("sess")) // Get does not consume
	if err := s.DeleteSession(ctx, "sid"); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := s.GetSession(ctx, "sid"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession after delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(ctx, "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession(unknown): err = %v, want ErrNotFound", err)
	}
}

func testSessionExpiry(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name    string
		advance time.Duration
		live    bool
	}{
		{"just before ttl", ttl - time.Millisecond, true},
		{"at ttl", ttl, false},
		{"long after ttl", 10 * ttl, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, advance := newStore(t)
			if err := s.PutSession(t.Context(), "sid", []byte("v"), ttl); err != nil {
				t.Fatalf("PutSession: %v", err)
			}
			advance(tt.advance)
			got, err := s.GetSession(t.Context(), "sid")
			checkLive(t, "GetSession", got, err, []byte("v"), tt.live)
		})
	}
}

func testDeleteMissingSession(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	if err := s.DeleteSession(t.Context(), "never-put"); err != nil {
		t.Fatalf("DeleteSession(missing) = %v, want nil", err)
	}
}

func testInvalidTTL(t *testing.T, newStore NewStoreFunc) {
	calls := []struct {
		name string
		call func(ctx context.Context, s store.Store, ttl time.Duration) error
	}{
		{"PutPending", func(ctx context.Context, s store.Store, ttl time.Duration) error {
			return s.PutPending(ctx, "id", []byte("v"), ttl)
		}},
		{"MarkSeen", func(ctx context.Context, s store.Store, ttl time.Duration) error {
			_, err := s.MarkSeen(ctx, "id", ttl)
			return err
		}},
		{"PutSession", func(ctx context.Context, s store.Store, ttl time.Duration) error {
			return s.PutSession(ctx, "id", []byte("v"), ttl)
		}},
		{"UpdateSession", func(ctx context.Context, s store.Store, ttl time.Duration) error {
			return s.UpdateSession(ctx, "id", func([]byte) ([]byte, error) { return []byte("v"), nil }, ttl)
		}},
	}
	for _, c := range calls {
		for _, bad := range []time.Duration{0, -time.Second} {
			t.Run(c.name+"/"+bad.String(), func(t *testing.T) {
				s, _ := newStore(t)
				if err := c.call(t.Context(), s, bad); !errors.Is(err, store.ErrInvalidTTL) {
					t.Fatalf("ttl %v: err = %v, want ErrInvalidTTL", bad, err)
				}
			})
		}
	}
	// Nothing was written by the rejected calls.
	s, _ := newStore(t)
	for _, c := range calls {
		_ = c.call(t.Context(), s, 0)
	}
	if _, err := s.TakePending(t.Context(), "id"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TakePending after rejected put: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(t.Context(), "id"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession after rejected put: err = %v, want ErrNotFound", err)
	}
	mustMarkSeen(t, s, "id", true)
}

func testConcurrentTake(t *testing.T, newStore NewStoreFunc) {
	const racers = 16
	s, _ := newStore(t)
	ctx := t.Context()
	mustPutPending(t, s, "id", []byte("v"), ttl)

	var (
		start    = make(chan struct{})
		mu       sync.Mutex
		wins     int
		otherErr []error
		wg       sync.WaitGroup
	)
	for range racers {
		wg.Go(func() {
			<-start
			_, err := s.TakePending(ctx, "id")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrNotFound):
				otherErr = append(otherErr, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 || len(otherErr) > 0 {
		t.Fatalf("%d concurrent takes: %d won, unexpected errors %v; want exactly 1 winner", racers, wins, otherErr)
	}
}

func testPing(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping = %v, want nil", err)
	}
}

func testCancelledContext(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	mustPutPending(t, s, "p", []byte("pending"), ttl)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	calls := []struct {
		name string
		call func() error
	}{
		{"PutPending", func() error { return s.PutPending(ctx, "q", []byte("v"), ttl) }},
		{"TakePending", func() error { _, err := s.TakePending(ctx, "p"); return err }},
		{"MarkSeen", func() error { _, err := s.MarkSeen(ctx, "k", ttl); return err }},
		{"PutSession", func() error { return s.PutSession(ctx, "s", []byte("v"), ttl) }},
		{"GetSession", func() error { _, err := s.GetSession(ctx, "s"); return err }},
		{"DeleteSession", func() error { return s.DeleteSession(ctx, "s") }},
		{"UpdateSession", func() error {
			return s.UpdateSession(ctx, "s", func([]byte) ([]byte, error) {
				t.Error("UpdateSession with a cancelled ctx ran update")
				return []byte("v"), nil
			}, ttl)
		}},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled ctx: err = %v, want context.Canceled", c.name, err)
		}
	}

	// The cancelled calls had no effect.
	mustTake(t, s, "p", []byte("pending"))
	if _, err := s.TakePending(t.Context(), "q"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TakePending(q) after cancelled put: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(t.Context(), "s"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(s) after cancelled put: err = %v, want ErrNotFound", err)
	}
	mustMarkSeen(t, s, "k", true)
}

// errRefused is what an update in the suite returns to leave a session as
// it is.
var errRefused = errors.New("storetest: update refused")

// checkLive asserts that a read returned want (live) or ErrNotFound (!live).
func checkLive(t *testing.T, op string, got []byte, err error, want []byte, live bool) {
	t.Helper()
	switch {
	case live && (err != nil || !bytes.Equal(got, want)):
		t.Fatalf("%s = %q, %v; want %q, nil", op, got, err, want)
	case !live && !errors.Is(err, store.ErrNotFound):
		t.Fatalf("%s = %q, %v; want ErrNotFound", op, got, err)
	}
}

func mustPutPending(t *testing.T, s store.Store, id string, v []byte, ttl time.Duration) {
	t.Helper()
	if err := s.PutPending(t.Context(), id, v, ttl); err != nil {
		t.Fatalf("PutPending(%q): %v", id, err)
	}
}

func mustTake(t *testing.T, s store.Store, id string, want []byte) {
	t.Helper()
	got, err := s.TakePending(t.Context(), id)
	checkLive(t, "TakePending("+id+")", got, err, want, true)
}

func mustGetSession(t *testing.T, s store.Store, id string, want []byte) []byte {
	t.Helper()
	got, err := s.GetSession(t.Context(), id)
	checkLive(t, "GetSession("+id+")", got, err, want, true)
	return got
}

func mustMarkSeen(t *testing.T, s store.Store, key string, wantFirst bool) {
	t.Helper()
	first, err := s.MarkSeen(t.Context(), key, ttl)
	if err != nil || first != wantFirst {
		t.Fatalf("MarkSeen(%q) = %v, %v; want %v, nil", key, first, err, wantFirst)
	}
}
