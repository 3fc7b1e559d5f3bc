package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestMemoryCounts: Counts reports each kind's entries apart (what the
// metrics export as clavebridge_store_entries), taken and deleted entries
// gone, and nothing once the store is closed.
func TestMemoryCounts(t *testing.T) {
	ctx := context.Background()
	m, clock := newMemory(t, 0)
	steps := []struct {
		name string
		do   func() error
		want map[string]int
	}{
		{"empty", func() error { return nil }, map[string]int{"pending": 0, "replay": 0, "sessions": 0}},
		{"one pending", func() error { return m.PutPending(ctx, "p1", []byte("x"), time.Minute) },
			map[string]int{"pending": 1, "replay": 0, "sessions": 0}},
		{"two replay marks", func() error {
			for _, k := range []string{"r1", "r2", "r1"} { // the second r1 is a replay: no new entry
				if _, err := m.MarkSeen(ctx, k, time.Minute); err != nil {
					return err
				}
			}
			return nil
		}, map[string]int{"pending": 1, "replay": 2, "sessions": 0}},
		{"three sessions", func() error {
			for i := range 3 {
				if err := m.PutSession(ctx, fmt.Sprint("s", i), []byte("x"), time.Hour); err != nil {
					return err
				}
			}
			return nil
		}, map[string]int{"pending": 1, "replay": 2, "sessions": 3}},
		{"pending taken, a session deleted", func() error {
			if _, err := m.TakePending(ctx, "p1"); err != nil {
				return err
			}
			return m.DeleteSession(ctx, "s0")
		}, map[string]int{"pending": 0, "replay": 2, "sessions": 2}},
		{"expired, not yet swept: still counted", func() error { clock.Advance(2 * time.Minute); return nil },
			map[string]int{"pending": 0, "replay": 2, "sessions": 2}},
		{"closed", m.Close, map[string]int{"pending": 0, "replay": 0, "sessions": 0}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := m.Counts(); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("%s: Counts() = %v, want %v", s.name, got, s.want)
		}
	}
}
