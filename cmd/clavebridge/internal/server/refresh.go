package server

import (
	"context"
	"time"
)

// MetadataRefreshTick is how often serve looks for SP metadata due for a
// refresh; each SP's own schedule (its cacheDuration within
// metadata_refresh's bounds, and its validUntil) decides what is fetched.
const MetadataRefreshTick = time.Minute

// RefreshMetadata fetches again the metadata of this assembly's SPs given
// by URL that is due (see metadata.Refresher).
func (s *Server) RefreshMetadata(ctx context.Context) { s.refresher.Refresh(ctx) }

// RunMetadataRefresh refreshes, at each tick until ctx ends, the SP
// metadata and the gateway's certificates (when due) of the assembly
// current at that tick; after, when set, is
// called after each refresh (tests drive tick and wait on it).
func (r *Reloadable) RunMetadataRefresh(ctx context.Context, tick <-chan time.Time, after func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			cur := r.Current()
			cur.RefreshMetadata(ctx)
			cur.RefreshGatewayCertificates(ctx) // gateway.go
			if after != nil {
				after()
			}
		}
	}
}
