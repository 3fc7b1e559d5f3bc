package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/store"
)

// downStore is a store whose Ping fails: Redis unreachable.
type downStore struct{ store.Store }

func (downStore) Ping(context.Context) error {
	return errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// TestReadiness: /healthz answers 200 "ok" whenever the process answers;
// /readyz answers 200 "ready" only when the keys are loaded, the store
// answers and the process is not stopping, else 503 with the reason.
func TestReadiness(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		store      func() store.Store
		edit       func(*Server)
		wantStatus int
		wantBody   string
	}{
		{"healthy", func() store.Store { return store.NewMemory(now, 0) }, nil, http.StatusOK, "ready\n"},
		{"store down", func() store.Store { return downStore{store.NewMemory(now, 0)} }, nil, http.StatusServiceUnavailable, "store unreachable\n"},
		{"store closed", func() store.Store { m := store.NewMemory(now, 0); _ = m.Close(); return m }, nil, http.StatusServiceUnavailable, "store unreachable\n"},
		{"draining", func() store.Store { return store.NewMemory(now, 0) }, (*Server).Drain, http.StatusServiceUnavailable, "draining\n"},
		{"draining and store down", func() store.Store { return downStore{store.NewMemory(now, 0)} }, (*Server).Drain, http.StatusServiceUnavailable, "draining\n"},
		{"no decryption key", func() store.Store { return store.NewMemory(now, 0) },
			func(s *Server) { k := *s.keys; k.decrypters = nil; s.keys = &k }, http.StatusServiceUnavailable, "keys not loaded\n"},
		{"no signing key", func() store.Store { return store.NewMemory(now, 0) },
			func(s *Server) { k := *s.keys; k.signer.Key = nil; s.keys = &k }, http.StatusServiceUnavailable, "keys not loaded\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := exampleConfig(t, "http://127.0.0.1:8080", nil)
			srv, err := New(cfg, zap.NewNop(), Options{Now: now, Store: tt.store()})
			if err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(srv)
			}
			if status, body := get(t, srv, "/readyz"); status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("/readyz = %d %q, want %d %q", status, body, tt.wantStatus, tt.wantBody)
			}
			if status, body := get(t, srv, "/healthz"); status != http.StatusOK || body != "ok\n" {
				t.Errorf("/healthz = %d %q, want 200 \"ok\\n\" (alive whatever readiness says)", status, body)
			}
		})
	}
}

// TestDrainSurvivesReload: once the process is stopping, /readyz stays
// 503 "draining", also from an assembly a reload built after the stop.
func TestDrainSurvivesReload(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) }
	cfg := exampleConfig(t, "http://127.0.0.1:8080", nil)
	rl, err := NewReloadable(cfg, zap.NewNop(), Options{Now: now, Store: store.NewMemory(now, 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := get(t, rl, "/readyz"); status != http.StatusOK {
		t.Fatalf("before the stop: /readyz %d", status)
	}
	rl.Drain()
	// A SIGHUP arriving during the drain builds a new assembly: it is
	// draining too.
	if err := rl.Reload(func() (*config.Config, error) { return exampleConfig(t, "http://127.0.0.1:8080", nil), nil }); err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, rl, "/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "draining") {
		t.Fatalf("after the stop and a reload: /readyz %d %q, want 503 draining", status, body)
	}
}
