package store_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/store/internal/storetest"
)

// fakeClock is a manually advanced clock, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newMemory(t *testing.T, maxEntries int) (*store.Memory, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	m := store.NewMemory(clock.Now, maxEntries)
	t.Cleanup(func() { _ = m.Close() })
	return m, clock
}

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func(time.Duration)) {
		m, clock := newMemory(t, 0)
		return m, clock.Advance
	})
}

func TestMemoryConformanceSmallCapacity(t *testing.T) {
	// Small enough that sweeps run during the suite, big enough for its keys.
	storetest.Run(t, func(t *testing.T) (store.Store, func(time.Duration)) {
		m, clock := newMemory(t, 8)
		return m, clock.Advance
	})
}

func TestMemoryFull(t *testing.T) {
	const ttl = time.Minute
	tests := []struct {
		name string
		call func(t *testing.T, m *store.Memory) error
		want error // nil: the call must succeed despite the store being full
	}{
		{"new pending", func(t *testing.T, m *store.Memory) error {
			return m.PutPending(t.Context(), "new", []byte("v"), ttl)
		}, store.ErrFull},
		{"new session", func(t *testing.T, m *store.Memory) error {
			return m.PutSession(t.Context(), "new", []byte("v"), ttl)
		}, store.ErrFull},
		{"new seen key", func(t *testing.T, m *store.Memory) error {
			_, err := m.MarkSeen(t.Context(), "new", ttl)
			return err
		}, store.ErrFull},
		{"overwrite pending", func(t *testing.T, m *store.Memory) error {
			return m.PutPending(t.Context(), "p", []byte("v2"), ttl)
		}, nil},
		{"overwrite session", func(t *testing.T, m *store.Memory) error {
			return m.PutSession(t.Context(), "s", []byte("v2"), ttl)
		}, nil},
		{"replay of seen key", func(t *testing.T, m *store.Memory) error {
			first, err := m.MarkSeen(t.Context(), "k", ttl)
			if err == nil && first {
				return errors.New("MarkSeen reported a replay as first")
			}
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fullMemory(t, ttl)
			err := tt.call(t, m)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got := m.Len(); got != 3 {
				t.Fatalf("Len = %d, want 3", got)
			}
		})
	}
}

func TestMemoryFullFreedByTake(t *testing.T) {
	m := fullMemory(t, time.Minute)
	if _, err := m.TakePending(t.Context(), "p"); err != nil {
		t.Fatalf("TakePending: %v", err)
	}
	if err := m.PutPending(t.Context(), "new", []byte("v"), time.Minute); err != nil {
		t.Fatalf("PutPending after take freed a slot: %v", err)
	}
}

func TestMemoryErrFullMessage(t *testing.T) {
	m := fullMemory(t, time.Minute)
	err := m.PutPending(t.Context(), "new", []byte("v"), time.Minute)
	if want := "memory store: put pending: store: full"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

// fullMemory returns a store of capacity 3 holding pending "p", seen "k" and
// session "s", all live for ttl.
func fullMemory(t *testing.T, ttl time.Duration) *store.Memory {
	t.Helper()
	m, _ := newMemory(t, 3)
	ctx := t.Context()
	if err := m.PutPending(ctx, "p", []byte("v"), ttl); err != nil {
		t.Fatalf("PutPending: %v", err)
	}
	if _, err := m.MarkSeen(ctx, "k", ttl); err != nil {
		t.Fatalf("MarkSeen: %v", err)
	}
	if err := m.PutSession(ctx, "s", []byte("v"), ttl); err != nil {
		t.Fatalf("PutSession: %v", err)
	}
	return m
}

func TestMemorySweepReusesCapacity(t *testing.T) {
	const capacity, ttl = 100, time.Minute
	m, clock := newMemory(t, capacity)
	ctx := t.Context()
	for round := range 5 {
		for i := range capacity {
			key := strconv.Itoa(round) + "/" + strconv.Itoa(i)
			if _, err := m.MarkSeen(ctx, key, ttl); err != nil {
				t.Fatalf("round %d: MarkSeen #%d: %v", round, i, err)
			}
		}
		if _, err := m.MarkSeen(ctx, "overflow", ttl); !errors.Is(err, store.ErrFull) {
			t.Fatalf("round %d: MarkSeen past capacity: err = %v, want ErrFull", round, err)
		}
		clock.Advance(ttl)
	}
}

func TestMemoryPeriodicSweep(t *testing.T) {
	// Entries that expire are dropped by a later insert's sweep well before
	// the store fills, so Len stays bounded by live entries plus one interval.
	const capacity, ttl = 1000, time.Second
	m, clock := newMemory(t, capacity)
	ctx := t.Context()
	for i := range 10 * capacity {
		if err := m.PutPending(ctx, strconv.Itoa(i), nil, ttl); err != nil {
			t.Fatalf("PutPending #%d: %v", i, err)
		}
		clock.Advance(ttl / 10) // about 10 entries live at any time
	}
	if got, limit := m.Len(), capacity/4+10; got > limit {
		t.Fatalf("Len = %d, want <= %d", got, limit)
	}
}

func TestMemoryDefaults(t *testing.T) {
	m := store.NewMemory(nil, 0)
	defer m.Close()
	ctx := t.Context()
	for i := range store.DefaultMaxEntries {
		if _, err := m.MarkSeen(ctx, strconv.Itoa(i), time.Hour); err != nil {
			t.Fatalf("MarkSeen #%d: %v", i, err)
		}
	}
	if _, err := m.MarkSeen(ctx, "one more", time.Hour); !errors.Is(err, store.ErrFull) {
		t.Fatalf("MarkSeen past default capacity: err = %v, want ErrFull", err)
	}
}

func TestMemoryClosed(t *testing.T) {
	m, _ := newMemory(t, 0)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := t.Context()
	calls := []struct {
		name string
		call func() error
	}{
		{"PutPending", func() error { return m.PutPending(ctx, "p", nil, time.Second) }},
		{"TakePending", func() error { _, err := m.TakePending(ctx, "p"); return err }},
		{"MarkSeen", func() error { _, err := m.MarkSeen(ctx, "k", time.Second); return err }},
		{"PutSession", func() error { return m.PutSession(ctx, "s", nil, time.Second) }},
		{"GetSession", func() error { _, err := m.GetSession(ctx, "s"); return err }},
		{"DeleteSession", func() error { return m.DeleteSession(ctx, "s") }},
		{"Ping", func() error { return m.Ping(ctx) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", c.name, err)
		}
	}
}

func BenchmarkMemoryPutTake(b *testing.B) {
	m := store.NewMemory(nil, 0)
	defer m.Close()
	ctx := b.Context()
	value := []byte(`{"request_id":"abc","relay_state":"xyz"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := m.PutPending(ctx, "id", value, time.Minute); err != nil {
			b.Fatal(err)
		}
		if _, err := m.TakePending(ctx, "id"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMemoryBudgetsPerKind: each kind fills up on its own budget; a full
// replay cache (or session space) locks no other kind out.
func TestMemoryBudgetsPerKind(t *testing.T) {
	ctx := t.Context()
	const ttl = time.Minute
	m := store.NewMemoryBudgets(nil, store.Budgets{Pending: 2, Replay: 3, Sessions: 1})
	for i := range 3 {
		if _, err := m.MarkSeen(ctx, fmt.Sprint("k", i), ttl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.MarkSeen(ctx, "k3", ttl); !errors.Is(err, store.ErrFull) {
		t.Fatalf("MarkSeen past the replay budget: %v", err)
	}
	for i := range 2 {
		if err := m.PutPending(ctx, fmt.Sprint("p", i), []byte("v"), ttl); err != nil {
			t.Fatalf("pending %d with the replay cache full: %v", i, err)
		}
	}
	if err := m.PutPending(ctx, "p2", []byte("v"), ttl); !errors.Is(err, store.ErrFull) {
		t.Fatalf("PutPending past the pending budget: %v", err)
	}
	if err := m.PutSession(ctx, "s", []byte("v"), ttl); err != nil {
		t.Fatalf("a session with the other kinds full: %v", err)
	}
	if err := m.PutSession(ctx, "s2", []byte("v"), ttl); !errors.Is(err, store.ErrFull) {
		t.Fatalf("PutSession past the session budget: %v", err)
	}
	if err := m.PutSession(ctx, "s", []byte("v2"), ttl); err != nil {
		t.Fatalf("overwriting within a full budget: %v", err)
	}
	if m.Len() != 6 {
		t.Fatalf("Len = %d", m.Len())
	}
	d := store.NewMemoryBudgets(nil, store.Budgets{})
	for i := range 10 {
		if err := d.PutSession(ctx, fmt.Sprint("s", i), []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
	}
}
