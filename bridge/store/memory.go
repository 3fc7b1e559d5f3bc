package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxEntries is the capacity NewMemory uses when given maxEntries <= 0.
const DefaultMaxEntries = 100000

// space names one of the three independent key spaces.
type space int

const (
	pendingSpace space = iota
	seenSpace
	sessionSpace
	numSpaces
)

// entry is one stored value with its absolute expiry.
type entry struct {
	value   []byte
	expires time.Time
}

func (e entry) live(now time.Time) bool { return now.Before(e.expires) }

// Memory is an in-process Store for single-instance deployments and tests.
// It holds at most maxEntries entries across all key spaces; expired entries
// are invisible at once and reclaimed lazily by an amortised sweep. Values
// are copied on the way in and out. It is safe for concurrent use.
type Memory struct {
	now        func() time.Time
	maxEntries int            // across all kinds
	caps       [numSpaces]int // per kind
	sweepEvery int

	mu      sync.Mutex
	closed  bool
	spaces  [numSpaces]map[string]entry
	inserts int       // inserts since the last sweep
	minExp  time.Time // lower bound on live expiries; zero when empty
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store reading time from now (nil means
// time.Now) and holding at most maxEntries entries (<= 0 means
// DefaultMaxEntries).
func NewMemory(now func() time.Time, maxEntries int) *Memory {
	if now == nil {
		now = time.Now
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	m := &Memory{
		now:        now,
		maxEntries: maxEntries,
		caps:       [numSpaces]int{maxEntries, maxEntries, maxEntries},
		sweepEvery: max(maxEntries/4, 1),
	}
	for i := range m.spaces {
		m.spaces[i] = make(map[string]entry)
	}
	return m
}

// Budgets are the most entries of each kind a Memory store keeps, so that
// one kind filling up (the replay cache under a flood of signed requests,
// say) never locks the others out.
type Budgets struct {
	Pending, Replay, Sessions int
}

// NewMemoryBudgets returns an empty Memory store with a budget per kind
// (each <= 0 means DefaultMaxEntries).
func NewMemoryBudgets(now func() time.Time, b Budgets) *Memory {
	caps := [numSpaces]int{pendingSpace: b.Pending, seenSpace: b.Replay, sessionSpace: b.Sessions}
	total := 0
	for i, c := range caps {
		if c <= 0 {
			caps[i] = DefaultMaxEntries
		}
		total += caps[i]
	}
	m := NewMemory(now, total)
	m.caps = caps
	return m
}

// PutPending implements Store.
func (m *Memory) PutPending(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	return m.put(ctx, "put pending", pendingSpace, id, value, ttl)
}

// TakePending implements Store.
func (m *Memory) TakePending(ctx context.Context, id string) (value []byte, err error) {
	err = m.do(ctx, "take pending", func(now time.Time) error {
		e, ok := m.lookup(pendingSpace, id, now)
		if !ok {
			return ErrNotFound
		}
		delete(m.spaces[pendingSpace], id)
		value = e.value // no longer stored, so the caller may own it
		return nil
	})
	return value, err
}

// MarkSeen implements Store.
func (m *Memory) MarkSeen(ctx context.Context, key string, ttl time.Duration) (first bool, err error) {
	err = m.do(ctx, "mark seen", func(now time.Time) error {
		if err := CheckTTL(ttl); err != nil {
			return err
		}
		if _, ok := m.lookup(seenSpace, key, now); ok {
			return nil
		}
		first = true
		return m.insert(seenSpace, key, nil, now, ttl)
	})
	return first && err == nil, err
}

// PutSession implements Store.
func (m *Memory) PutSession(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	return m.put(ctx, "put session", sessionSpace, id, value, ttl)
}

// GetSession implements Store.
func (m *Memory) GetSession(ctx context.Context, id string) (value []byte, err error) {
	err = m.do(ctx, "get session", func(now time.Time) error {
		e, ok := m.lookup(sessionSpace, id, now)
		if !ok {
			return ErrNotFound
		}
		value = bytes.Clone(e.value)
		return nil
	})
	return value, err
}

// DeleteSession implements Store. Deleting a missing session is not an error.
func (m *Memory) DeleteSession(ctx context.Context, id string) error {
	return m.do(ctx, "delete session", func(time.Time) error {
		delete(m.spaces[sessionSpace], id)
		return nil
	})
}

// UpdateSession implements Store: update runs under m's lock, so updates of
// a session never interleave, and Memory never returns ErrConflict.
func (m *Memory) UpdateSession(ctx context.Context, id string, update func(old []byte) ([]byte, error), ttl time.Duration) error {
	return m.do(ctx, "update session", func(now time.Time) error {
		if err := CheckTTL(ttl); err != nil {
			return err
		}
		var old []byte
		if e, ok := m.lookup(sessionSpace, id, now); ok {
			old = append([]byte{}, e.value...) // a copy, and never nil
		}
		value, err := update(old)
		switch {
		case err != nil:
			return err
		case value == nil:
			delete(m.spaces[sessionSpace], id)
			return nil
		}
		return m.insert(sessionSpace, id, bytes.Clone(value), now, ttl)
	})
}

// Ping implements Store: it fails only when ctx is done or m is closed.
func (m *Memory) Ping(ctx context.Context) error {
	return m.do(ctx, "ping", func(time.Time) error { return nil })
}

// Close drops all entries; later calls other than Close and Len fail with
// ErrClosed. Close is idempotent and always returns nil.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.spaces = [numSpaces]map[string]entry{}
	return nil
}

// Len reports how many entries m holds across all key spaces, including
// expired ones not yet swept. It is meant for metrics and tests.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.size()
}

// Counts reports how many entries m holds of each kind — "pending" (what
// PutPending keeps), "replay" (MarkSeen) and "sessions" — expired ones not
// yet swept included. It is meant for metrics: it costs a lock and three
// map lengths.
func (m *Memory) Counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return map[string]int{
		"pending":  len(m.spaces[pendingSpace]),
		"replay":   len(m.spaces[seenSpace]),
		"sessions": len(m.spaces[sessionSpace]),
	}
}

// put is the shared body of PutPending and PutSession.
func (m *Memory) put(ctx context.Context, op string, sp space, id string, value []byte, ttl time.Duration) error {
	value = bytes.Clone(value) // copy outside the lock
	return m.do(ctx, op, func(now time.Time) error {
		if err := CheckTTL(ttl); err != nil {
			return err
		}
		return m.insert(sp, id, value, now, ttl)
	})
}

// do runs fn under m.mu with the current time, after checking that ctx is
// not done and m is open. Errors are wrapped with op.
func (m *Memory) do(ctx context.Context, op string, fn func(now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: %s: %w", op, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("memory store: %s: %w", op, ErrClosed)
	}
	if err := fn(m.now()); err != nil {
		return fmt.Errorf("memory store: %s: %w", op, err)
	}
	return nil
}

// lookup returns the live entry for key, deleting it if it has expired.
// Callers hold m.mu.
func (m *Memory) lookup(sp space, key string, now time.Time) (entry, bool) {
	e, ok := m.spaces[sp][key]
	if !ok {
		return entry{}, false
	}
	if !e.live(now) {
		delete(m.spaces[sp], key)
		return entry{}, false
	}
	return e, true
}

// insert stores value under key until now+ttl. Replacing an existing key
// never needs room; adding one may sweep and fails with ErrFull when no room
// is left. Callers hold m.mu.
func (m *Memory) insert(sp space, key string, value []byte, now time.Time, ttl time.Duration) error {
	if _, exists := m.spaces[sp][key]; !exists {
		if err := m.makeRoom(sp, now); err != nil {
			return err
		}
	}
	exp := now.Add(ttl)
	m.spaces[sp][key] = entry{value: value, expires: exp}
	if m.minExp.IsZero() || exp.Before(m.minExp) {
		m.minExp = exp
	}
	return nil
}

// makeRoom sweeps when due — every sweepEvery inserts or when full, and only
// if something may have expired — and reports ErrFull if m, or the kind sp
// is added to, is still full. Callers hold m.mu.
func (m *Memory) makeRoom(sp space, now time.Time) error {
	m.inserts++
	full := func() bool { return m.size() >= m.maxEntries || len(m.spaces[sp]) >= m.caps[sp] }
	due := m.inserts >= m.sweepEvery || full()
	if due && !m.minExp.IsZero() && !now.Before(m.minExp) {
		m.sweep(now)
	}
	if full() {
		return ErrFull
	}
	return nil
}

// sweep deletes every expired entry and recomputes minExp. Callers hold m.mu.
func (m *Memory) sweep(now time.Time) {
	m.inserts = 0
	m.minExp = time.Time{}
	for _, entries := range m.spaces {
		for key, e := range entries {
			switch {
			case !e.live(now):
				delete(entries, key)
			case m.minExp.IsZero() || e.expires.Before(m.minExp):
				m.minExp = e.expires
			}
		}
	}
}

// size is the number of entries across all key spaces. Callers hold m.mu.
func (m *Memory) size() int {
	n := 0
	for _, entries := range m.spaces {
		n += len(entries)
	}
	return n
}
