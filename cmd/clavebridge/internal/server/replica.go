package server

// Each response names the replica that served it, so that an operator (and
// the replica tests, internal/hatest) can tell which process of several
// behind a load balancer answered a hop. The id is opaque: the configured
// server.replica_id, or 8 random hex digits drawn when the process starts.

import (
	"encoding/hex"
	"fmt"
	"io"

	"github.com/clavebridge/clavebridge/bridge/config"
)

// ReplicaHeader is the response header naming the replica.
const ReplicaHeader = "X-Clavebridge-Replica"

// replicaID is server.replica_id, or a random 8-hex id read from rnd.
func replicaID(cfg *config.Config, rnd io.Reader) (string, error) {
	if cfg.Server.ReplicaID != "" {
		return cfg.Server.ReplicaID, nil
	}
	var b [4]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("drawing a replica id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ReplicaID is the id this process sends in ReplicaHeader.
func (r *Reloadable) ReplicaID() string { return r.replica }
