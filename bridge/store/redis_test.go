package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/store/internal/storetest"
	"github.com/clavebridge/clavebridge/internal/peertest"
)

// newMiniredis returns a Redis store with prefix over a fresh in-process
// miniredis server, both closed when t ends.
func newMiniredis(t testing.TB, prefix string) (*store.Redis, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	r := store.NewRedis(redis.NewClient(&redis.Options{Addr: mr.Addr()}), prefix)
	t.Cleanup(func() { _ = r.Close() })
	return r, mr
}

func TestRedisConformance(t *testing.T) {
	// miniredis keeps TTLs as durations and FastForward moves them, so the
	// suite's exact expiry checks hold.
	storetest.Run(t, func(t *testing.T) (store.Store, func(time.Duration)) {
		r, mr := newMiniredis(t, "")
		return r, mr.FastForward
	})
}

func TestRedisKeyLayout(t *testing.T) {
	tests := []struct {
		name, prefix, want string
	}{
		{"default prefix", "", "clavebridge:"},
		{"custom prefix", "tenant7/", "tenant7/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, mr := newMiniredis(t, tt.prefix)
			ctx := t.Context()
			if err := r.PutPending(ctx, "p1", []byte("login"), 90*time.Second); err != nil {
				t.Fatalf("PutPending: %v", err)
			}
			if _, err := r.MarkSeen(ctx, "k1", 1500*time.Millisecond); err != nil {
				t.Fatalf("MarkSeen: %v", err)
			}
			if err := r.PutSession(ctx, "s1", []byte("sess"), 1500*time.Microsecond); err != nil {
				t.Fatalf("PutSession: %v", err)
			}
			keys := mr.Keys()
			want := []string{tt.want + "pending:p1", tt.want + "seen:k1", tt.want + "session:s1"}
			if !slices.Equal(keys, want) {
				t.Fatalf("keys = %q, want %q", keys, want)
			}
			// TTLs are set in milliseconds, sub-millisecond ttls rounded up.
			ttls := map[string]time.Duration{
				want[0]: 90 * time.Second,
				want[1]: 1500 * time.Millisecond,
				want[2]: 2 * time.Millisecond,
			}
			for key, ttl := range ttls {
				if got := mr.TTL(key); got != ttl {
					t.Errorf("TTL(%s) = %v, want %v", key, got, ttl)
				}
			}
			if got, _ := mr.Get(want[0]); got != "login" {
				t.Errorf("stored pending value = %q, want %q", got, "login")
			}
		})
	}
}

func TestRedisClosed(t *testing.T) {
	r, mr := newMiniredis(t, "")
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, c := range allCalls(t.Context(), r) {
		if err := c.call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", c.name, err)
		}
	}
	if keys := mr.Keys(); len(keys) != 0 {
		t.Errorf("calls after Close wrote keys %q", keys)
	}
}

func TestRedisServerDown(t *testing.T) {
	mr := miniredis.RunT(t)
	r := store.NewRedis(redis.NewClient(&redis.Options{
		Addr: mr.Addr(), MaxRetries: -1, DialerRetries: 1, // fail fast
	}), "")
	t.Cleanup(func() { _ = r.Close() })
	mr.Close()
	for _, c := range allCalls(t.Context(), r) {
		err := c.call()
		switch {
		case err == nil:
			t.Errorf("%s with the server down: err = nil, want an error", c.name)
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrClosed):
			t.Errorf("%s with the server down: err = %v, want a connection error", c.name, err)
		case strings.Contains(err.Error(), "secret"):
			t.Errorf("%s with the server down: err = %v names the id or value", c.name, err)
		case !strings.HasPrefix(err.Error(), "redis store: "):
			t.Errorf("%s with the server down: err = %v, want the redis store: prefix", c.name, err)
		}
	}
}

// allCalls is one call of every Store method that takes a context, with ids
// and values containing "secret".
func allCalls(ctx context.Context, s store.Store) []struct {
	name string
	call func() error
} {
	return []struct {
		name string
		call func() error
	}{
		{"PutPending", func() error { return s.PutPending(ctx, "secret-p", []byte("secret-v"), time.Second) }},
		{"TakePending", func() error { _, err := s.TakePending(ctx, "secret-p"); return err }},
		{"MarkSeen", func() error { _, err := s.MarkSeen(ctx, "secret-k", time.Second); return err }},
		{"PutSession", func() error { return s.PutSession(ctx, "secret-s", []byte("secret-v"), time.Second) }},
		{"GetSession", func() error { _, err := s.GetSession(ctx, "secret-s"); return err }},
		{"DeleteSession", func() error { return s.DeleteSession(ctx, "secret-s") }},
		{"UpdateSession", func() error {
			return s.UpdateSession(ctx, "secret-s", func([]byte) ([]byte, error) { return []byte("secret-v"), nil }, time.Second)
		}},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
}

// TestRedisUpdateRace: a write that lands between UpdateSession's read
// and its compare-and-set makes it read again and redo the update on the
// new value; a session that keeps changing makes it give up with
// ErrConflict after RedisUpdateAttempts tries, having written nothing.
func TestRedisUpdateRace(t *testing.T) {
	const key = "clavebridge:session:sid"
	tests := []struct {
		name   string
		before string // "": no session
		// meddle runs inside update, on the calls numbered in times (1-based).
		meddle func(mr *miniredis.Miniredis, call int)
		times  int
		// olds are what update must see on each call; want the final value.
		olds []string
		want string
		err  error
	}{
		{"changed once", "a", func(mr *miniredis.Miniredis, _ int) { _ = mr.Set(key, "b") }, 1,
			[]string{"a", "b"}, "b+", nil},
		{"created meanwhile", "", func(mr *miniredis.Miniredis, _ int) { _ = mr.Set(key, "b") }, 1,
			[]string{"", "b"}, "b+", nil},
		{"deleted meanwhile", "a", func(mr *miniredis.Miniredis, _ int) { mr.Del(key) }, 1,
			[]string{"a", ""}, "+", nil},
		{"changed every time", "a", func(mr *miniredis.Miniredis, call int) { _ = mr.Set(key, strconv.Itoa(call)) }, store.RedisUpdateAttempts,
			nil, strconv.Itoa(store.RedisUpdateAttempts), store.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, mr := newMiniredis(t, "")
			if tt.before != "" {
				_ = mr.Set(key, tt.before)
			}
			var olds []string
			err := r.UpdateSession(t.Context(), "sid", func(old []byte) ([]byte, error) {
				olds = append(olds, string(old))
				if len(olds) <= tt.times {
					tt.meddle(mr, len(olds))
				}
				return append(old, '+'), nil
			}, time.Minute)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("UpdateSession = %v, want %v", err, tt.err)
			}
			if tt.olds != nil && !slices.Equal(olds, tt.olds) {
				t.Errorf("update saw %q, want %q", olds, tt.olds)
			}
			if tt.err != nil && len(olds) != store.RedisUpdateAttempts {
				t.Errorf("update ran %d times, want %d", len(olds), store.RedisUpdateAttempts)
			}
			if got, _ := mr.Get(key); got != tt.want {
				t.Errorf("stored %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDialRedis(t *testing.T) {
	mr := miniredis.RunT(t)
	for _, address := range []string{mr.Addr(), "redis://" + mr.Addr(), "redis://" + mr.Addr() + "/0"} {
		t.Run(address, func(t *testing.T) {
			r, err := store.DialRedis(address)
			if err != nil {
				t.Fatalf("DialRedis: %v", err)
			}
			defer r.Close()
			if err := r.PutSession(t.Context(), "sid", []byte("v"), time.Minute); err != nil {
				t.Fatalf("PutSession: %v", err)
			}
			if !mr.Exists("clavebridge:session:sid") {
				t.Fatalf("keys = %q, want clavebridge:session:sid", mr.Keys())
			}
		})
	}
}

func TestDialRedisErrors(t *testing.T) {
	authed := miniredis.RunT(t)
	authed.RequireAuth("right-pw")
	tests := []struct {
		name, address, want string
	}{
		{"no port", "localhost", "redis store: parse address: want a redis:// URL or host:port"},
		{"empty", "", "redis store: parse address: want a redis:// URL or host:port"},
		{"bad scheme", "http://localhost:6379", "redis store: parse address: redis: invalid URL scheme: http"},
		{"bad url", "redis://user:s3cret@localhost:notaport", "redis store: parse address: "},
		{"refused", "127.0.0.1:" + closedPort(t), "redis store: connect to 127.0.0.1:"},
		{"wrong password", "redis://:s3cret@" + authed.Addr(), "redis store: connect to " + authed.Addr() + ": ping: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := store.DialRedis(tt.address)
			if err == nil {
				r.Close()
				t.Fatal("DialRedis: err = nil, want an error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to start with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("err = %q reveals the password", err)
			}
		})
	}
}

// closedPort returns a loopback TCP port that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// TestRedisServer runs against the real redis-server at CLAVEBRIDGE_REDIS
// (host:port or redis:// URL). The conformance suite needs to move the
// store's clock, which a real server cannot do, so this covers the same
// ground with real time and short TTLs. It fails when no server is reachable
// under CI or with CLAVEBRIDGE_REQUIRE_PEERS=1, and skips otherwise.
func TestRedisServer(t *testing.T) {
	address := os.Getenv("CLAVEBRIDGE_REDIS")
	if address == "" {
		requireRedis(t, "CLAVEBRIDGE_REDIS is not set")
	}
	dialled, err := store.DialRedis(address)
	if err != nil {
		requireRedis(t, "%v", err)
	}
	if err := dialled.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r, client, prefix := realRedis(t, address)
	ctx := t.Context()
	const ttl = time.Minute

	t.Run("PendingTakeOnce", func(t *testing.T) {
		if err := r.PutPending(ctx, "p", []byte("login"), ttl); err != nil {
			t.Fatalf("PutPending: %v", err)
		}
		if got, err := r.TakePending(ctx, "p"); err != nil || string(got) != "login" {
			t.Fatalf("TakePending = %q, %v; want login, nil", got, err)
		}
		if _, err := r.TakePending(ctx, "p"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second TakePending: err = %v, want ErrNotFound", err)
		}
		if _, err := r.TakePending(ctx, "never-put"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TakePending(unknown): err = %v, want ErrNotFound", err)
		}
	})

	t.Run("MarkSeen", func(t *testing.T) {
		for i, want := range []bool{true, false, false} {
			if first, err := r.MarkSeen(ctx, "k", ttl); err != nil || first != want {
				t.Fatalf("MarkSeen #%d = %v, %v; want %v, nil", i+1, first, err, want)
			}
		}
		// The replay cache is its own key space.
		if _, err := r.TakePending(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TakePending(seen-only key): err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Sessions", func(t *testing.T) {
		if err := r.PutSession(ctx, "s", []byte("sess"), ttl); err != nil {
			t.Fatalf("PutSession: %v", err)
		}
		for range 2 { // Get does not consume
			if got, err := r.GetSession(ctx, "s"); err != nil || string(got) != "sess" {
				t.Fatalf("GetSession = %q, %v; want sess, nil", got, err)
			}
		}
		for range 2 { // deleting a missing session is not an error
			if err := r.DeleteSession(ctx, "s"); err != nil {
				t.Fatalf("DeleteSession: %v", err)
			}
		}
		if _, err := r.GetSession(ctx, "s"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetSession after delete: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("KeyAndPTTL", func(t *testing.T) {
		if err := r.PutSession(ctx, "ms", []byte("v"), 1500*time.Millisecond); err != nil {
			t.Fatalf("PutSession: %v", err)
		}
		pttl, err := client.PTTL(ctx, prefix+"session:ms").Result()
		if err != nil || pttl <= time.Second || pttl > 1500*time.Millisecond {
			t.Fatalf("PTTL(%ssession:ms) = %v, %v; want in (1s, 1.5s]", prefix, pttl, err)
		}
	})

	t.Run("RealTTL", func(t *testing.T) {
		// The server's own clock expires the entries: poll for that under a
		// deadline instead of sleeping past the TTL.
		const short = 50 * time.Millisecond
		if err := r.PutPending(ctx, "p", []byte("v"), short); err != nil {
			t.Fatalf("PutPending: %v", err)
		}
		if err := r.PutSession(ctx, "s", []byte("v"), short); err != nil {
			t.Fatalf("PutSession: %v", err)
		}
		if first, err := r.MarkSeen(ctx, "short", short); err != nil || !first {
			t.Fatalf("MarkSeen = %v, %v; want true, nil", first, err)
		}
		if got, err := r.GetSession(ctx, "s"); err != nil || string(got) != "v" {
			t.Fatalf("GetSession before expiry = %q, %v; want v, nil", got, err)
		}
		expired := func(key string) bool {
			n, err := client.Exists(ctx, key).Result()
			return err == nil && n == 0
		}
		deadline := time.Now().Add(5 * time.Second)
		for !(expired(prefix+"pending:p") && expired(prefix+"session:s") && expired(prefix+"seen:short")) {
			if time.Now().After(deadline) {
				t.Fatal("the entries did not expire within 5 s of a 50 ms TTL")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := r.TakePending(ctx, "p"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TakePending after expiry: err = %v, want ErrNotFound", err)
		}
		if _, err := r.GetSession(ctx, "s"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession after expiry: err = %v, want ErrNotFound", err)
		}
		if first, err := r.MarkSeen(ctx, "short", short); err != nil || !first {
			t.Errorf("MarkSeen after expiry = %v, %v; want true, nil", first, err)
		}
	})

	t.Run("InvalidTTL", func(t *testing.T) {
		if err := r.PutPending(ctx, "bad", []byte("v"), 0); !errors.Is(err, store.ErrInvalidTTL) {
			t.Fatalf("PutPending(ttl 0): err = %v, want ErrInvalidTTL", err)
		}
		if _, err := r.TakePending(ctx, "bad"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TakePending after rejected put: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("ConcurrentTake", func(t *testing.T) {
		const racers, rounds = 16, 20
		for round := range rounds {
			if err := r.PutPending(ctx, "race", []byte("v"), ttl); err != nil {
				t.Fatalf("PutPending: %v", err)
			}
			var (
				start = make(chan struct{})
				mu    sync.Mutex
				wins  int
				errs  []error
				wg    sync.WaitGroup
			)
			for range racers {
				wg.Go(func() {
					<-start
					_, err := r.TakePending(ctx, "race")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case !errors.Is(err, store.ErrNotFound):
						errs = append(errs, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if wins != 1 || len(errs) > 0 {
				t.Fatalf("round %d: %d concurrent takes: %d won, unexpected errors %v; want exactly 1 winner",
					round, racers, wins, errs)
			}
		}
	})

	t.Run("UpdateSession", func(t *testing.T) {
		for i, want := range []string{"1", "1,2"} {
			err := r.UpdateSession(ctx, "u", func(old []byte) ([]byte, error) {
				if len(old) == 0 {
					return []byte("1"), nil
				}
				return append(old, ",2"...), nil
			}, ttl)
			if err != nil {
				t.Fatalf("UpdateSession #%d: %v", i+1, err)
			}
			if got, err := r.GetSession(ctx, "u"); err != nil || string(got) != want {
				t.Fatalf("after update #%d: GetSession = %q, %v; want %q", i+1, got, err, want)
			}
		}
		if pttl, err := client.PTTL(ctx, prefix+"session:u").Result(); err != nil || pttl <= ttl-10*time.Second || pttl > ttl {
			t.Fatalf("PTTL after UpdateSession = %v, %v; want about %v", pttl, err, ttl)
		}
		if err := r.UpdateSession(ctx, "u", func([]byte) ([]byte, error) { return nil, nil }, ttl); err != nil {
			t.Fatalf("UpdateSession (delete): %v", err)
		}
		if _, err := r.GetSession(ctx, "u"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetSession after an update deleted it: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("ConcurrentUpdates", func(t *testing.T) {
		storetest.ConcurrentUpdates(t, r)
	})

	t.Run("Ping", func(t *testing.T) {
		if err := r.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		for _, c := range allCalls(cctx, r) {
			if err := c.call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with cancelled ctx: err = %v, want context.Canceled", c.name, err)
			}
		}
	})
}

// realRedis returns a Redis store over the server at address under a fresh
// random prefix, with its client and that prefix; when t ends it deletes the
// keys under the prefix and closes the store.
func realRedis(t *testing.T, address string) (*store.Redis, *redis.Client, string) {
	t.Helper()
	var opts *redis.Options
	if strings.Contains(address, "://") {
		var err error
		if opts, err = redis.ParseURL(address); err != nil {
			t.Fatalf("parse CLAVEBRIDGE_REDIS: %v", err)
		}
	} else {
		opts = &redis.Options{Addr: address}
	}
	client := redis.NewClient(opts)
	prefix := "clavebridge-test:" + rand.Text() + ":"
	r := store.NewRedis(client, prefix)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up test keys: %v", err)
		}
		_ = r.Close()
	})
	return r, client, prefix
}

// requireRedis stops the test when no redis-server is available
// (peertest.Missing).
func requireRedis(t *testing.T, format string, args ...any) {
	t.Helper()
	peertest.Missing(t, "redis-server unavailable: "+fmt.Sprintf(format, args...)+
		" (start redis-server and set CLAVEBRIDGE_REDIS=127.0.0.1:6379)")
}

func BenchmarkRedisPutTake(b *testing.B) {
	r, _ := newMiniredis(b, "")
	ctx := b.Context()
	value := []byte(`{"request_id":"abc","relay_state":"xyz"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.PutPending(ctx, "id", value, time.Minute); err != nil {
			b.Fatal(err)
		}
		if _, err := r.TakePending(ctx, "id"); err != nil {
			b.Fatal(err)
		}
	}
}
