package server

// Personal data at rest: after real logins (one authentication, answered
// to the three demo SPs, so the session is written fresh and then updated
// by two SSO reuses) and during and after a single logout, nothing the
// store holds names the citizen: not the DNI, not a name, not the date of
// birth, in clear or in a base64 run. The memory store is observed through
// every byte written to it; the real Redis is read raw, key by key, with
// its own client.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/internal/browser"
)

// citizenData is what the simulator's citizen 99999999R is made of.
var citizenData = []string{"99999999R", "JUAN", "ESPAÑOL", "ESPA\\u00d1OL", "PRUEBAS", "1980-01-01"}

// rawEntry is one value (or key) the store was given or holds.
type rawEntry struct {
	where string // the operation or Redis key
	value []byte
}

// writeLog records every key and value written to the store it wraps.
type writeLog struct {
	store.Store
	mu      sync.Mutex
	written []rawEntry
}

func (w *writeLog) add(where string, value []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written = append(w.written, rawEntry{where, bytes.Clone(value)})
}

func (w *writeLog) entries() []rawEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]rawEntry(nil), w.written...)
}

func (w *writeLog) PutPending(ctx context.Context, id string, v []byte, ttl time.Duration) error {
	w.add("pending key", []byte(id))
	w.add("pending "+id, v)
	return w.Store.PutPending(ctx, id, v, ttl)
}

func (w *writeLog) MarkSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	w.add("seen key", []byte(key))
	return w.Store.MarkSeen(ctx, key, ttl)
}

func (w *writeLog) PutSession(ctx context.Context, id string, v []byte, ttl time.Duration) error {
	w.add("session key", []byte(id))
	w.add("session "+id, v)
	return w.Store.PutSession(ctx, id, v, ttl)
}

func (w *writeLog) UpdateSession(ctx context.Context, id string, update func([]byte) ([]byte, error), ttl time.Duration) error {
	return w.Store.UpdateSession(ctx, id, func(old []byte) ([]byte, error) {
		v, err := update(old)
		if err == nil && v != nil {
			w.add("session key", []byte(id))
			w.add("session "+id+" (update)", v)
		}
		return v, err
	}, ttl)
}

// sessionsWritten counts the session values written.
func (w *writeLog) sessionsWritten() (fresh, updates int) {
	for _, e := range w.entries() {
		switch {
		case strings.HasSuffix(e.where, "(update)"):
			updates++
		case strings.HasPrefix(e.where, "session _"):
			fresh++
		}
	}
	return fresh, updates
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_=-]{12,}`)

// views are value and what every base64 run in it decodes to, so that a
// value merely encoded (not sealed) is found as well.
func views(value []byte) [][]byte {
	out := [][]byte{value}
	for _, run := range base64Run.FindAll(value, -1) {
		s := strings.TrimRight(string(run), "=")
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(s); err == nil {
				out = append(out, d)
			}
		}
	}
	return out
}

// checkNoPersonalData fails for each entry naming the citizen.
func checkNoPersonalData(t *testing.T, phase string, entries []rawEntry) {
	t.Helper()
	if len(entries) == 0 {
		t.Fatalf("%s: nothing to inspect", phase)
	}
	for _, e := range entries {
		for _, v := range views(e.value) {
			upper := bytes.ToUpper(v)
			for _, p := range citizenData {
				if bytes.Contains(upper, []byte(strings.ToUpper(p))) {
					t.Errorf("%s: %s holds %q in clear: %.300q", phase, e.where, p, e.value)
				}
			}
		}
	}
}

// checkSealed fails unless every session value is sealed under the
// configured state key (test1).
func checkSealed(t *testing.T, phase string, entries []rawEntry) {
	t.Helper()
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.where, "session _") || strings.Contains(e.where, ":session:") {
			n++
			if !strings.HasPrefix(string(e.value), "test1.") {
				t.Errorf("%s: %s is not sealed under state key test1: %.60q", phase, e.where, e.value)
			}
		}
	}
	if n == 0 {
		t.Errorf("%s: no session value among %d entries", phase, len(entries))
	}
}

// redisAddress is the real Redis of the tests: CLAVEBRIDGE_REDIS, or the
// default local server.
func redisAddress() string {
	if a := os.Getenv("CLAVEBRIDGE_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// TestNoPersonalDataAtRest: see the top of the file.
func TestNoPersonalDataAtRest(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) (store.Store, func() []rawEntry)
	}{
		{"memory", func(t *testing.T) (store.Store, func() []rawEntry) {
			return store.NewMemory(nil, 0), nil
		}},
		{"redis", func(t *testing.T) (store.Store, func() []rawEntry) {
			opts, err := redisOptionsFor(redisAddress())
			if err != nil {
				t.Fatal(err)
			}
			client := redis.NewClient(opts)
			if err := client.Ping(t.Context()).Err(); err != nil {
				_ = client.Close()
				requirePeer(t, "redis-server at "+redisAddress(), func() bool { return false })
			}
			prefix := fmt.Sprintf("clavebridge-atrest:%d:", time.Now().UnixNano())
			raw := redis.NewClient(opts) // the inspector's own connection
			t.Cleanup(func() {
				ctx := context.Background()
				keys, _ := raw.Keys(ctx, prefix+"*").Result()
				if len(keys) > 0 {
					raw.Del(ctx, keys...)
				}
				_ = raw.Close()
			})
			dump := func() []rawEntry {
				ctx := context.Background()
				var out []rawEntry
				iter := raw.Scan(ctx, 0, prefix+"*", 100).Iterator()
				for iter.Next(ctx) {
					key := iter.Val()
					value, err := raw.Get(ctx, key).Bytes()
					if err != nil && err != redis.Nil {
						t.Fatalf("GET %s: %v", key, err)
					}
					out = append(out, rawEntry{"redis key", []byte(key)}, rawEntry{key, value})
				}
				if err := iter.Err(); err != nil {
					t.Fatal(err)
				}
				return out
			}
			return store.NewRedis(client, prefix), dump
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			backend, dump := b.open(t)
			rec := &writeLog{Store: backend}
			h := startHarnessWith(t, Options{Store: rec}, autoLogin("AFIRMA", "99999999R", "dnie"))
			t.Cleanup(func() { _ = h.Server.Close() })

			// The SAML2 SP gets the PersonIdentifier and a persistent
			// NameID: the data is there to leak.
			if body := h.login(t, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}, "nameid": {"persistent"}}); !strings.Contains(body, "ES/ES/99999999R") || !strings.Contains(body, "JUAN") {
				t.Fatalf("saml2 login: %.1500s", body)
			}
			for _, s := range []struct {
				dialect string
				options url.Values
			}{{"clave2", url.Values{"loa": {"low"}}}, {"stork", url.Values{"qaa": {"2"}}}} {
				if body := h.login(t, s.dialect, s.options); !strings.Contains(body, demoLoggedIn) {
					t.Fatalf("%s login: %.1500s", s.dialect, body)
				}
			}
			if got := h.Server.Simulator.Logins(); got != 1 {
				t.Fatalf("the simulator saw %d logins, want 1", got)
			}
			if fresh, updates := rec.sessionsWritten(); fresh != 1 || updates != 2 {
				t.Fatalf("session written fresh %d times and updated %d times, want 1 and 2 (SSO reuse)", fresh, updates)
			}
			phases := []string{"after the logins"}
			check := func(phase string) {
				t.Helper()
				checkNoPersonalData(t, phase+" (everything written)", rec.entries())
				checkSealed(t, phase+" (everything written)", rec.entries())
				if dump != nil {
					entries := dump()
					checkNoPersonalData(t, phase+" (Redis, raw)", entries)
					if phase == phases[0] {
						checkSealed(t, phase+" (Redis, raw)", entries)
					}
				}
			}
			check(phases[0])

			// A single logout under way: stop at the first other SP's
			// logout receiver, with the logout's state in the store.
			page, err := h.Browser.Post(h.URL+"/demo/saml2/logout", url.Values{})
			if err != nil {
				t.Fatal(err)
			}
			page, form, err := h.Browser.FollowPosts(page, func(f browser.Form) bool {
				return strings.HasSuffix(f.Action, demoLogoutURLs["clave2"]) || strings.HasSuffix(f.Action, demoLogoutURLs["stork"])
			})
			if err != nil || form == nil {
				t.Fatalf("the logout did not reach another SP: %v, %.800s", err, page.Body)
			}
			check("during the logout")
			if _, _, err := h.Browser.FollowPosts(page, nil); err != nil {
				t.Fatal(err)
			}
			check("after the logout")
		})
	}
}

// redisOptionsFor parses a host:port or redis:// address.
func redisOptionsFor(address string) (*redis.Options, error) {
	if strings.Contains(address, "://") {
		return redis.ParseURL(address)
	}
	return &redis.Options{Addr: address}, nil
}
