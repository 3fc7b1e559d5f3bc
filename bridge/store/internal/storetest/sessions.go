package storetest

// The session updates of the suite: compare-and-set, expiry, and many
// writers at once.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/store"
)

func testUpdateSession(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name   string
		before []byte // nil: no session
		// update returns this value (nil: delete) or, when fail, errRefused.
		value []byte
		fail  bool
		after []byte // nil: no session
	}{
		{"create", nil, []byte("new"), false, []byte("new")},
		{"replace", []byte("old"), []byte("new"), false, []byte("new")},
		{"refuse an existing one", []byte("old"), nil, true, []byte("old")},
		{"refuse a missing one", nil, nil, true, nil},
		{"delete", []byte("old"), nil, false, nil},
		{"delete a missing one", nil, nil, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			ctx := t.Context()
			if tt.before != nil {
				if err := s.PutSession(ctx, "sid", tt.before, ttl); err != nil {
					t.Fatalf("PutSession: %v", err)
				}
			}
			// The same id in the other key spaces is not the session.
			mustPutPending(t, s, "sid", []byte("pending"), ttl)
			mustMarkSeen(t, s, "sid", true)
			calls := 0
			err := s.UpdateSession(ctx, "sid", func(old []byte) ([]byte, error) {
				calls++
				if !bytes.Equal(old, tt.before) || (old == nil) != (tt.before == nil) {
					t.Errorf("update got %q (nil %v), want %q (nil %v)", old, old == nil, tt.before, tt.before == nil)
				}
				if tt.fail {
					return nil, errRefused
				}
				return tt.value, nil
			}, ttl)
			switch {
			case calls != 1:
				t.Errorf("update ran %d times without contention, want once", calls)
			case tt.fail && !errors.Is(err, errRefused):
				t.Errorf("UpdateSession = %v, want update's error", err)
			case !tt.fail && err != nil:
				t.Errorf("UpdateSession = %v, want nil", err)
			}
			got, err := s.GetSession(ctx, "sid")
			checkLive(t, "GetSession after UpdateSession", got, err, tt.after, tt.after != nil)
			mustTake(t, s, "sid", []byte("pending"))
			mustMarkSeen(t, s, "sid", false)
		})
	}

	t.Run("value isolation", func(t *testing.T) {
		s, _ := newStore(t)
		ctx := t.Context()
		if err := s.PutSession(ctx, "sid", []byte("orig"), ttl); err != nil {
			t.Fatalf("PutSession: %v", err)
		}
		// Changing what update was given changes nothing stored.
		if err := s.UpdateSession(ctx, "sid", func(old []byte) ([]byte, error) {
			copy(old, "XXXX")
			return nil, errRefused
		}, ttl); !errors.Is(err, errRefused) {
			t.Fatalf("UpdateSession = %v, want update's error", err)
		}
		mustGetSession(t, s, "sid", []byte("orig"))
		// Nor does changing what update returned, once stored.
		v := []byte("next")
		if err := s.UpdateSession(ctx, "sid", func([]byte) ([]byte, error) { return v, nil }, ttl); err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		copy(v, "YYYY")
		mustGetSession(t, s, "sid", []byte("next"))
	})
}

func testUpdateSessionExpiry(t *testing.T, newStore NewStoreFunc) {
	t.Run("an expired session is none", func(t *testing.T) {
		s, advance := newStore(t)
		if err := s.PutSession(t.Context(), "sid", []byte("old"), ttl); err != nil {
			t.Fatalf("PutSession: %v", err)
		}
		advance(ttl)
		err := s.UpdateSession(t.Context(), "sid", func(old []byte) ([]byte, error) {
			if old != nil {
				t.Errorf("update got the expired value %q", old)
			}
			return nil, errRefused
		}, ttl)
		if !errors.Is(err, errRefused) {
			t.Fatalf("UpdateSession = %v, want update's error", err)
		}
	})
	t.Run("the write lives for ttl", func(t *testing.T) {
		s, advance := newStore(t)
		if err := s.PutSession(t.Context(), "sid", []byte("old"), time.Second); err != nil {
			t.Fatalf("PutSession: %v", err)
		}
		if err := s.UpdateSession(t.Context(), "sid", func([]byte) ([]byte, error) { return []byte("new"), nil }, ttl); err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		advance(ttl - time.Millisecond) // past the first ttl: the update's counts
		mustGetSession(t, s, "sid", []byte("new"))
		advance(time.Millisecond)
		if got, err := s.GetSession(t.Context(), "sid"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetSession at the update's ttl = %q, %v; want ErrNotFound", got, err)
		}
	})
}

// ConcurrentUpdateRacers is how many updates ConcurrentUpdates runs at once.
const ConcurrentUpdateRacers = 50

// ConcurrentUpdates runs ConcurrentUpdateRacers updates of one session at
// once, each adding its own token to the value, and checks that none was
// lost: every update succeeds and the value ends with every token exactly
// once. It takes the store rather than a NewStoreFunc so that it runs
// against a real server too (which cannot move its clock).
func ConcurrentUpdates(t *testing.T, s store.Store) {
	const racers = ConcurrentUpdateRacers
	ctx := t.Context()
	const id = "race"
	if err := s.PutSession(ctx, id, []byte("start"), time.Minute); err != nil {
		t.Fatalf("PutSession: %v", err)
	}
	var (
		start = make(chan struct{})
		mu    sync.Mutex
		errs  []error
		calls int
		wg    sync.WaitGroup
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			err := s.UpdateSession(ctx, id, func(old []byte) ([]byte, error) {
				mu.Lock()
				calls++
				mu.Unlock()
				if old == nil {
					return nil, errors.New("the session vanished")
				}
				return fmt.Appendf(old, ",%d", i), nil
			}, time.Minute)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d concurrent updates failed: %v", len(errs), racers, errs)
	}
	got, err := s.GetSession(ctx, id)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	tokens := strings.Split(string(got), ",")
	if tokens[0] != "start" {
		t.Fatalf("value = %q, want it to start with the value put", got)
	}
	var want []string
	for i := range racers {
		want = append(want, strconv.Itoa(i))
	}
	tokens = tokens[1:]
	slices.Sort(tokens)
	slices.Sort(want)
	if !slices.Equal(tokens, want) {
		t.Fatalf("after %d concurrent updates (%d calls of update) the value holds %d tokens %v; want each of %v once",
			racers, calls, len(tokens), tokens, want)
	}
	t.Logf("%d concurrent updates, none lost; update ran %d times", racers, calls)
}
