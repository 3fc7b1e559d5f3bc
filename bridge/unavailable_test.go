package bridge

import (
	"errors"
	"fmt"
	"testing"
)

// TestUnavailableWins: a store failure (an unavailable Refusal) stays
// unavailable, 503, however a caller wraps it: as an invalid request, as
// an internal failure, or with fmt.Errorf; an internal failure without it
// stays a 500.
func TestUnavailableWins(t *testing.T) {
	down := Refuse(ReasonUnavailable, "sp1", "store unavailable", errors.New("connection refused"))
	tests := []struct {
		name string
		err  error
		want Reason
	}{
		{"internal", Internal("The logout could not go on.", down), ReasonUnavailable},
		{"internal, wrapped", Internal("The session could not be ended.", fmt.Errorf("session: %w", down)), ReasonUnavailable},
		{"invalid", Invalid("request", fmt.Errorf("replay cache: %w", down)), ReasonUnavailable},
		{"internal, other cause", Internal("x", errors.New("boom")), ReasonInternal},
		{"internal, inner refusal not unavailable", Internal("x", Refuse(ReasonLoginUsed, "", "used", nil)), ReasonInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *Refusal
			if !errors.As(tt.err, &r) || r.Reason != tt.want || r.Kind != KindInternal {
				t.Fatalf("%v: reason %v, want %v", tt.err, r, tt.want)
			}
			if tt.want == ReasonUnavailable && (r.Reason.Status() != 503 || r.SP != "sp1") {
				t.Errorf("status %d, sp %q", r.Reason.Status(), r.SP)
			}
		})
	}
}
