package config

import (
	"strings"
	"testing"
	"time"
)

// TestReplicaIDCheck: server.replica_id is a short token (it goes in a
// header and on log lines) or absent.
func TestReplicaIDCheck(t *testing.T) {
	dir := tree(t, placeholders)
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"absent", "", true},
		{"name", "web-1", true},
		{"dots and underscores", "eu_west.2", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"space", "'web 1'", false},
		{"header injection", "\"a\\r\\nSet-Cookie: x=1\"", false},
		{"colon", "'a:b'", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := minimal
			if tt.id != "" {
				yaml += "server: {replica_id: " + tt.id + "}\n"
			}
			var got []string
			for _, f := range Check([]byte(yaml), dir, testDialects, time.Now()).Findings {
				if f.Path == "server.replica_id" && f.Severity == "error" {
					got = append(got, f.Message)
				}
			}
			if (len(got) == 0) != tt.ok {
				t.Errorf("server.replica_id %s: errors %q, want ok=%v", tt.id, got, tt.ok)
			}
		})
	}
}
