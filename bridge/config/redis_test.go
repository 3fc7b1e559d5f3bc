package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRedisCheck: what `check` says about store.redis — errors for what
// cannot work (or puts a password in the file), warnings for what works
// but is unsafe in production.
func TestRedisCheck(t *testing.T) {
	dir := tree(t, placeholders)
	t.Setenv("F0_REDIS_PW", "s3cret")
	const set = "store: {type: redis, "
	tests := []struct {
		name, yaml string
		want       []string // "<severity> <path>: <message part>"
	}{
		{"shorthand address, loopback", set + "address: '127.0.0.1:6379'}\n", nil},
		{"no address", set + "redis: {mode: single}}\n", []string{"error store.address: redis needs an address"}},
		{"both address forms", set + "address: '127.0.0.1:1', redis: {addresses: ['127.0.0.1:2']}}\n", []string{"error store.address: name the servers"}},
		{"inline password", "store:\n  type: redis\n  address: '127.0.0.1:1'\n  redis:\n    password: hunter2\n", []string{"error store.redis.password: a Redis password is never written"}},
		{"password in the URL", set + "address: 'redis://u:hunter2@127.0.0.1:6379'}\n", []string{"error store.address: the URL holds a password"}},
		{"unknown key under password", set + "address: '127.0.0.1:1', redis: {password: {value: x}}}\n", []string{"error store.redis.password"}},
		{"bad mode", set + "redis: {mode: ring, addresses: ['127.0.0.1:1']}}\n", []string{"error store.redis.mode"}},
		{"sentinel without master", set + "redis: {mode: sentinel, addresses: ['127.0.0.1:26379'], wait_replicas: 1}}\n", []string{"error store.redis.master_name"}},
		{"cluster db", set + "redis: {mode: cluster, addresses: ['127.0.0.1:7000'], db: 2, wait_replicas: 1}}\n", []string{"error store.redis.db"}},
		{"cluster address not host:port", set + "redis: {mode: cluster, addresses: ['redis://127.0.0.1:1'], wait_replicas: 1}}\n", []string{"error store.redis.addresses[0]"}},
		{"wait not shorter than read", set + "address: '127.0.0.1:1', redis: {wait_replicas: 1, wait_timeout: 2s, read_timeout: 1s}}\n", []string{"error store.redis.wait_timeout"}},
		{"negative pool", set + "address: '127.0.0.1:1', redis: {pool_size: -1}}\n", []string{"error store.redis.pool_size"}},
		{"tls file missing", set + "address: '127.0.0.1:1', redis: {tls: {enabled: true, ca_file: nope.pem}}}\n", []string{"error store.redis.tls.ca_file"}},
		{"tls settings while off", set + "address: '127.0.0.1:1', redis: {tls: {server_name: r}}}\n", []string{"error store.redis.tls.enabled"}},
		{"cert without key", set + "address: '127.0.0.1:1', redis: {tls: {enabled: true, cert_file: a.crt}}}\n", []string{"error store.redis.tls: cert_file and key_file"}},
		{"sentinel without wait", set + "redis: {mode: sentinel, master_name: m, addresses: ['127.0.0.1:26379']}}\n", []string{"warning store.redis.wait_replicas"}},
		{"remote plain TCP, no password", set + "address: 'redis.internal:6379'}\n", []string{"warning store.redis.tls.enabled", "warning store.redis.password"}},
		{"remote TLS, password from env", set + "address: 'redis.internal:6379', redis: {tls: {enabled: true}, password: {env: F0_REDIS_PW}}}\n", nil},
		{"password env unset", set + "address: '127.0.0.1:6379', redis: {password: {env: F0_NOT_SET_ANYWHERE}}}\n", []string{"warning store.redis.password.env"}},
		{"password file missing", set + "address: '127.0.0.1:6379', redis: {password: {file: nope.pw}}}\n", []string{"error store.redis.password.file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range Check([]byte(minimal+tt.yaml), dir, testDialects, time.Now()).Findings {
				if strings.Contains(f.Message, "hunter2") {
					t.Errorf("a finding shows the password: %+v", f)
				}
				if strings.HasPrefix(f.Path, "store") {
					got = append(got, string(f.Severity)+" "+f.Path+": "+f.Message)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("store findings = %q, want %d like %q", got, len(tt.want), tt.want)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
					t.Errorf("store findings = %q, want one beginning %q", got, w)
				}
			}
		})
	}
}

func TestRedisDefaults(t *testing.T) {
	var c Config
	c.applyDefaults()
	r := c.Store.Redis
	if r.Mode != RedisSingle || r.DialTimeout.D() != 2*time.Second || r.ReadTimeout.D() != time.Second ||
		r.WriteTimeout.D() != time.Second || r.WaitTimeout.D() != 50*time.Millisecond || r.WaitReplicas != 0 {
		t.Fatalf("defaults = %+v", r)
	}
}

func TestReadRedisPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("pw", "p@ss word\n")
	write("empty", "\n")
	write("big", strings.Repeat("x", maxRedisPasswordBytes+1))
	t.Setenv("F0_PW", "from-env")
	c := &Config{dir: dir}
	tests := []struct {
		name    string
		p       RedisPassword
		want    string
		wantErr string
	}{
		{"none", RedisPassword{}, "", ""},
		{"file, newline trimmed, spaces kept", RedisPassword{File: "pw"}, "p@ss word", ""},
		{"env", RedisPassword{Env: "F0_PW"}, "from-env", ""},
		{"env unset", RedisPassword{Env: "F0_UNSET_PW"}, "", "not set"},
		{"empty file", RedisPassword{File: "empty"}, "", "empty"},
		{"too big", RedisPassword{File: "big"}, "", "more than"},
		{"missing file", RedisPassword{File: "nope"}, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ReadRedisPassword(tt.p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "p@ss") {
					t.Fatalf("the error %q shows the password", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadRedisPassword = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
