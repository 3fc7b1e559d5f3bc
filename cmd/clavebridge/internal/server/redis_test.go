package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/clavebridge/clavebridge/bridge/config"
)

// TestOpenRedis: store.redis reaches go-redis — the ACL user and the
// password read from its file or variable, the db — and a wrong or missing
// password stops the start with an error naming the key, not the password.
func TestOpenRedis(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireUserAuth("clavebridge", "from-the-file")
	pwFile := filepath.Join(t.TempDir(), "redis.password")
	if err := os.WriteFile(pwFile, []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("F0_REDIS_WRONG", "wrong-password")
	tests := []struct {
		name    string
		pw      config.RedisPassword
		wantErr string
	}{
		{"password from a file", config.RedisPassword{File: pwFile}, ""},
		{"wrong password from env", config.RedisPassword{Env: "F0_REDIS_WRONG"}, "WRONGPASS"},
		{"unset variable", config.RedisPassword{Env: "F0_REDIS_UNSET"}, "store.redis.password: redis password: environment variable F0_REDIS_UNSET is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg config.Config
			cfg.Store.Type = "redis"
			cfg.Store.Redis = config.RedisConfig{
				Mode: config.RedisSingle, Addresses: []string{mr.Addr()}, Username: "clavebridge", Password: tt.pw, DB: 3,
				DialTimeout: config.Duration(time.Second), ReadTimeout: config.Duration(time.Second), WriteTimeout: config.Duration(time.Second),
				WaitTimeout: config.Duration(50 * time.Millisecond),
			}
			r, err := openRedis(&cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "wrong-password") {
					t.Fatalf("openRedis = %v, want an error containing %q, without the password", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("openRedis: %v", err)
			}
			defer r.Close()
			if err := r.PutSession(t.Context(), "s", []byte("v"), time.Minute); err != nil {
				t.Fatalf("PutSession: %v", err)
			}
			mr.Select(3)
			if keys := mr.Keys(); len(keys) != 1 || keys[0] != "clavebridge:session:s" {
				t.Fatalf("db 3 keys = %q, want the session", keys)
			}
		})
	}
}
