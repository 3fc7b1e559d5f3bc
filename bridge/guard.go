package bridge

import (
	"context"
	"fmt"
	"time"

	"github.com/clavebridge/clavebridge/bridge/store"
)

// RequestGuard judges an inbound request's age and refuses replays, the
// same way for every dialect.
type RequestGuard struct {
	Replay store.Store
	Now    func() time.Time
	Skew   time.Duration
	MaxAge time.Duration // how old an IssueInstant may be (default 5 minutes)
}

func (g RequestGuard) maxAge() time.Duration {
	if g.MaxAge == 0 {
		return 5 * time.Minute
	}
	return g.MaxAge
}

// CheckAge accepts a request issued within [now-MaxAge-Skew, now+Skew],
// without remembering it: for messages nobody signed, whose replay is no
// attack.
func (g RequestGuard) CheckAge(spID string, issued time.Time) error {
	now, skew, age := g.Now(), g.Skew, g.maxAge()
	if issued.After(now.Add(skew)) || issued.Before(now.Add(-age-skew)) {
		return fmt.Errorf("sp %s: IssueInstant %s is outside the accepted window", spID, issued.Format(time.RFC3339))
	}
	return nil
}

// Check accepts a request issued within [now-MaxAge-Skew, now+Skew] whose
// ID this SP has not used before. The replay entry outlives the window
// (plus a second, since the store's expiry is exclusive), so a request is
// never accepted twice.
func (g RequestGuard) Check(ctx context.Context, dialect, spID, requestID string, issued time.Time) error {
	if err := g.CheckAge(spID, issued); err != nil {
		return err
	}
	age, skew := g.maxAge(), g.Skew
	first, err := g.Replay.MarkSeen(ctx, dialect+"-request:"+spID+":"+requestID, age+2*skew+time.Second)
	if err != nil {
		return fmt.Errorf("replay cache: %w", err)
	}
	if !first {
		return fmt.Errorf("sp %s: request %s replayed", spID, requestID)
	}
	return nil
}
