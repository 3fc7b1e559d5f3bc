package config

import "regexp"

// replicaIDPattern is what server.replica_id may be: a short token, safe
// in a header and a log line.
var replicaIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
