package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/store"
)

// TestReplicaHeader: every response, whatever its path or status, names
// the replica: server.replica_id, or a random 8-hex id drawn at start,
// kept by a reload (the id is fixed for the process).
func TestReplicaHeader(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) }
	tests := []struct {
		name, id string
		want     *regexp.Regexp
	}{
		{"default: random", "", regexp.MustCompile(`^[0-9a-f]{8}$`)},
		{"configured", "web-2.eu", regexp.MustCompile(`^web-2\.eu$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := exampleConfig(t, "http://127.0.0.1:8080", func(c *config.Config) { c.Server.ReplicaID = tt.id })
			rl, err := NewReloadable(cfg, zap.NewNop(), Options{Now: now, Store: store.NewMemory(now, 0)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			id := rl.ReplicaID()
			if !tt.want.MatchString(id) {
				t.Fatalf("replica id %q, want %s", id, tt.want)
			}
			check := func(when string) {
				for _, req := range []*http.Request{
					httptest.NewRequest(http.MethodGet, "/healthz", nil),
					httptest.NewRequest(http.MethodGet, "/readyz", nil),
					httptest.NewRequest(http.MethodGet, "/nope", nil),
					httptest.NewRequest(http.MethodGet, "/upstream/acs", nil),
					httptest.NewRequest(http.MethodPost, "/saml2/sso", nil),
				} {
					rec := httptest.NewRecorder()
					rl.ServeHTTP(rec, req)
					if got := rec.Header().Get(ReplicaHeader); got != id {
						t.Errorf("%s: %s %s (%d): %s %q, want %q", when, req.Method, req.URL.Path, rec.Code, ReplicaHeader, got, id)
					}
				}
			}
			check("at start")
			if err := rl.Reload(func() (*config.Config, error) { return exampleConfig(t, "http://127.0.0.1:8080", nil), nil }); err != nil {
				t.Fatal(err)
			}
			check("after a reload")
		})
	}
}

// brokenStore fails every call, as a Redis that is down does.
type brokenStore struct{ store.Store }

var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (brokenStore) PutPending(context.Context, string, []byte, time.Duration) error { return errDown }
func (brokenStore) TakePending(context.Context, string) ([]byte, error)             { return nil, errDown }
func (brokenStore) MarkSeen(context.Context, string, time.Duration) (bool, error) {
	return false, errDown
}
func (brokenStore) PutSession(context.Context, string, []byte, time.Duration) error { return errDown }
func (brokenStore) GetSession(context.Context, string) ([]byte, error)              { return nil, errDown }
func (brokenStore) DeleteSession(context.Context, string) error                     { return errDown }
func (brokenStore) UpdateSession(context.Context, string, func([]byte) ([]byte, error), time.Duration) error {
	return errDown
}

// TestStoreFaults: the core sees a store failure as a Refusal of reason
// unavailable (503), the underlying error still reachable; what the store
// answers by design and a session update's own error pass unchanged.
func TestStoreFaults(t *testing.T) {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) }
	down := withFaults(brokenStore{})
	if withFaults(down) != down {
		t.Error("withFaults wrapped twice")
	}
	_, takeErr := down.TakePending(ctx, "x")
	_, seenErr := down.MarkSeen(ctx, "x", time.Minute)
	_, getErr := down.GetSession(ctx, "x")
	for name, err := range map[string]error{
		"PutPending": down.PutPending(ctx, "x", []byte("v"), time.Minute), "TakePending": takeErr, "MarkSeen": seenErr,
		"PutSession": down.PutSession(ctx, "x", []byte("v"), time.Minute), "GetSession": getErr,
		"DeleteSession": down.DeleteSession(ctx, "x"),
		"UpdateSession": down.UpdateSession(ctx, "x", func(b []byte) ([]byte, error) { return b, nil }, time.Minute),
	} {
		var r *bridge.Refusal
		if !errors.As(err, &r) || r.Reason != bridge.ReasonUnavailable || r.Reason.Status() != http.StatusServiceUnavailable || !errors.Is(err, errDown) {
			t.Errorf("%s: %v, want an unavailable refusal wrapping the store's error", name, err)
		}
		// A dialect's refusal wrapping it keeps the reason.
		if outer := bridge.Invalid("request", err); !errors.As(outer, &r) || r.Reason != bridge.ReasonUnavailable {
			t.Errorf("%s: wrapped by a dialect: %v", name, outer)
		}
	}

	up := withFaults(store.NewMemory(now, 0))
	if _, err := up.TakePending(ctx, "absent"); !errors.Is(err, store.ErrNotFound) || errors.As(err, new(*bridge.Refusal)) {
		t.Errorf("absent pending: %v, want ErrNotFound as it is", err)
	}
	if err := up.PutSession(ctx, "s", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	mine := errors.New("the session may not be changed")
	err := up.UpdateSession(ctx, "s", func([]byte) ([]byte, error) { return nil, mine }, time.Minute)
	if !errors.Is(err, mine) || errors.As(err, new(*bridge.Refusal)) {
		t.Errorf("UpdateSession's own error: %v, want it unchanged", err)
	}
}
