package bridge

import (
	"errors"
	"fmt"
	"testing"
)

// TestRefuse: a refusal names its reason and SP; a reason found deeper
// down (a dead end of the pending login, expired metadata) wins over the
// outer one; an unknown SP is its own reason; the kind follows the reason.
func TestRefuse(t *testing.T) {
	deep := Refuse(ReasonLoginExpired, "https://sp/md", "expired", errors.New("at 10:00"))
	tests := []struct {
		name   string
		err    error
		reason Reason
		sp     string
		kind   RefusalKind
		status int
	}{
		{"plain invalid", Invalid("bad", errors.New("x")), ReasonBadRequest, "", KindInvalid, 400},
		{"internal", Internal("store", errors.New("down")), ReasonInternal, "", KindInternal, 500},
		{"unknown sp", Invalid("bad", fmt.Errorf("lookup: %w", ErrUnknownSP)), ReasonUnknownSP, "", KindInvalid, 400},
		{"inner wins", Refuse(ReasonGatewayRefused, "", "refused", fmt.Errorf("take: %w", deep)), ReasonLoginExpired, "https://sp/md", KindInvalid, 410},
		{"outer sp kept", Refuse(ReasonBadRequest, "https://other/md", "bad", deep), ReasonLoginExpired, "https://other/md", KindInvalid, 410},
		{"used", Refuse(ReasonLoginUsed, "", "again", nil), ReasonLoginUsed, "", KindInvalid, 409},
		{"unavailable", Refuse(ReasonMetadataExpired, "x", "md", nil), ReasonMetadataExpired, "x", KindInvalid, 503},
		{"store down", Refuse(ReasonUnavailable, "", "store", nil), ReasonUnavailable, "", KindInternal, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *Refusal
			if !errors.As(tt.err, &r) {
				t.Fatal("not a Refusal")
			}
			if r.Reason != tt.reason || r.SP != tt.sp || r.Kind != tt.kind || r.Reason.Status() != tt.status {
				t.Fatalf("got %s %q kind %d status %d", r.Reason, r.SP, r.Kind, r.Reason.Status())
			}
		})
	}
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] || r.Status() < 400 {
			t.Errorf("reason %q repeated or not an error status", r)
		}
		seen[r] = true
	}
}
