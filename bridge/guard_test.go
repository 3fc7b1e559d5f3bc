package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/store"
)

// clock is a settable time source for the guard and the store.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

// TestRequestGuardWindow: a request is accepted from now-MaxAge-Skew to
// now+Skew, both edges included, and refused one nanosecond outside.
func TestRequestGuardWindow(t *testing.T) {
	const skew = 30 * time.Second
	tests := []struct {
		name   string
		maxAge time.Duration
		issued time.Duration // relative to now
		want   string        // "" = accepted, else part of the error
	}{
		{"now", 0, 0, ""},
		{"future edge", 0, skew, ""},
		{"past the future edge", 0, skew + time.Nanosecond, "outside the accepted window"},
		{"default max age edge", 0, -5*time.Minute - skew, ""},
		{"past the default max age", 0, -5*time.Minute - skew - time.Nanosecond, "outside the accepted window"},
		{"custom max age edge", time.Minute, -time.Minute - skew, ""},
		{"past the custom max age", time.Minute, -time.Minute - skew - time.Nanosecond, "outside the accepted window"},
		{"old but within the custom max age", 10 * time.Minute, -9 * time.Minute, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t0}
			g := RequestGuard{Replay: store.NewMemory(c.now, 0), Now: c.now, Skew: skew, MaxAge: tt.maxAge}
			err := g.Check(context.Background(), "saml2", "sp", fmt.Sprintf("_id%d", i), t0.Add(tt.issued))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Check = %v, want accepted", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Check = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// TestRequestGuardReplay: a request ID is accepted once per dialect and SP,
// and its replay entry lasts as long as the request is in the window.
func TestRequestGuardReplay(t *testing.T) {
	const skew = 30 * time.Second
	ctx := context.Background()
	c := &clock{t0}
	g := RequestGuard{Replay: store.NewMemory(c.now, 0), Now: c.now, Skew: skew}
	issued := t0.Add(skew) // the latest instant accepted now: in the window longest
	if err := g.Check(ctx, "saml2", "sp", "_a", issued); err != nil {
		t.Fatalf("first use refused: %v", err)
	}
	if err := g.Check(ctx, "saml2", "sp", "_a", issued); err == nil || !strings.Contains(err.Error(), "sp sp: request _a replayed") {
		t.Fatalf("replay: %v", err)
	}
	// The same ID from another SP or at another dialect is another request.
	if err := g.Check(ctx, "saml2", "other", "_a", issued); err != nil {
		t.Fatalf("same ID, other SP: %v", err)
	}
	if err := g.Check(ctx, "stork", "sp", "_a", issued); err != nil {
		t.Fatalf("same ID, other dialect: %v", err)
	}
	// At the last instant the request is still in the window, the replay
	// entry must still be there.
	c.t = issued.Add(5*time.Minute + skew)
	if err := g.Check(ctx, "saml2", "sp", "_a", issued); err == nil || !strings.Contains(err.Error(), "replayed") {
		t.Fatalf("replay at the end of the window: %v", err)
	}
	c.t = c.t.Add(time.Nanosecond)
	if err := g.Check(ctx, "saml2", "sp", "_a", issued); err == nil || !strings.Contains(err.Error(), "outside the accepted window") {
		t.Fatalf("after the window: %v", err)
	}
}

func TestRequestGuardStoreError(t *testing.T) {
	c := &clock{t0}
	m := store.NewMemory(c.now, 0)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	g := RequestGuard{Replay: m, Now: c.now}
	err := g.Check(context.Background(), "saml2", "sp", "_a", t0)
	if !errors.Is(err, store.ErrClosed) || !strings.Contains(err.Error(), "replay cache") {
		t.Fatalf("Check with a closed store = %v", err)
	}
}
