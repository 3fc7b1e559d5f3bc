package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/store/internal/storetest"
)

// These tests start their own Redis deployments from Debian's redis-server
// and redis-sentinel on free loopback ports: a Sentinel setup (one primary,
// one replica, one sentinel) and a three-node Cluster. Without the binaries
// they skip, or fail under CI / CLAVEBRIDGE_REQUIRE_PEERS=1.

// haWait bounds how long a deployment may take to come up or fail over.
const haWait = 30 * time.Second

// redisBinary returns the path of name, or stops the test without it.
func redisBinary(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		requireRedis(t, "%s not found: %v", name, err)
	}
	return path
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisProc is one redis-server or redis-sentinel process of a test.
type redisProc struct {
	addr string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

// kill ends the process with SIGKILL (as a crash would) and reaps it.
func (p *redisProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// startRedis starts bin with a config file holding lines (port and bind are
// added) in a fresh directory, and waits until it answers PING.
func startRedis(t *testing.T, bin string, lines ...string) *redisProc {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "redis.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\nsave \"\"\nappendonly no\ndir %s\n%s\n",
		port, dir, strings.Join(lines, "\n"))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatalf("write %s: %v", conf, err)
	}
	p := &redisProc{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, conf)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(p.kill)
	c := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1})
	defer c.Close()
	waitFor(t, p.addr+" answers PING", func() error { return c.Ping(t.Context()).Err() })
	return p
}

// waitFor polls cond until it returns nil, failing after haWait. Polling,
// not sleeping: it returns as soon as cond holds.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(haWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		<-tick.C
	}
}

// sentinelSetup is a primary, a replica and a sentinel monitoring them as
// "primary".
type sentinelSetup struct {
	primary, replica, sentinel *redisProc
}

const masterName = "primary"

func startSentinel(t *testing.T) *sentinelSetup {
	t.Helper()
	server := redisBinary(t, "redis-server")
	sentinelBin := redisBinary(t, "redis-sentinel")
	s := &sentinelSetup{}
	s.primary = startRedis(t, server)
	s.replica = startRedis(t, server, "replicaof 127.0.0.1 "+port(s.primary.addr))
	replica := redis.NewClient(&redis.Options{Addr: s.replica.addr})
	defer replica.Close()
	waitFor(t, "the replica in sync", func() error {
		info, err := replica.Info(t.Context(), "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("link not up")
		}
		return nil
	})
	s.sentinel = startRedis(t, sentinelBin,
		"sentinel monitor "+masterName+" 127.0.0.1 "+port(s.primary.addr)+" 1",
		"sentinel down-after-milliseconds "+masterName+" 500",
		"sentinel failover-timeout "+masterName+" 5000",
		"sentinel parallel-syncs "+masterName+" 1")
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinel.addr})
	defer sc.Close()
	waitFor(t, "the sentinel to know the replica", func() error {
		rs, err := sc.Replicas(t.Context(), masterName).Result()
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return errors.New("no replica yet")
		}
		return nil
	})
	return s
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// startCluster starts three masters, gives each a third of the slots, joins
// them and waits until every node says the cluster is ok.
func startCluster(t *testing.T) []string {
	t.Helper()
	server := redisBinary(t, "redis-server")
	var addrs []string
	var clients []*redis.Client
	for range 3 {
		bus := freePort(t)
		p := startRedis(t, server, "cluster-enabled yes", "cluster-port "+strconv.Itoa(bus),
			"cluster-config-file nodes.conf", "cluster-node-timeout 2000", clusterACLUser)
		addrs = append(addrs, p.addr)
		c := redis.NewClient(&redis.Options{Addr: p.addr})
		t.Cleanup(func() { _ = c.Close() })
		clients = append(clients, c)
		_ = bus
	}
	ctx := t.Context()
	const slots = 16384
	for i, c := range clients {
		lo, hi := i*slots/3, (i+1)*slots/3-1
		if err := c.Do(ctx, "cluster", "addslotsrange", lo, hi).Err(); err != nil {
			t.Fatalf("cluster addslotsrange on %s: %v", addrs[i], err)
		}
	}
	for i := 1; i < len(clients); i++ {
		cport, err := clients[i].ConfigGet(ctx, "cluster-port").Result()
		if err != nil {
			t.Fatalf("config get cluster-port: %v", err)
		}
		if err := clients[0].Do(ctx, "cluster", "meet", "127.0.0.1", port(addrs[i]), cport["cluster-port"]).Err(); err != nil {
			t.Fatalf("cluster meet %s: %v", addrs[i], err)
		}
	}
	for i, c := range clients {
		waitFor(t, addrs[i]+" cluster_state:ok", func() error {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return errors.New("cluster not ok yet")
			}
			return nil
		})
	}
	return addrs
}

// virtualClock runs the conformance suite's expiry checks against a real
// server, whose clock cannot move: it records when each entry written
// through it would expire on a virtual clock, and advance deletes those
// whose time has come (and pushes the others' real TTL well out of reach
// of the test's own duration). Every operation still runs on the server.
type virtualClock struct {
	store.Store
	client redis.UniversalClient
	prefix string

	mu  sync.Mutex
	now time.Duration
	exp map[string]time.Duration
}

func (v *virtualClock) note(key string, ttl time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.exp[v.prefix+key] = v.now + ttl
}

func (v *virtualClock) PutPending(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	err := v.Store.PutPending(ctx, id, value, ttl)
	if err == nil {
		v.note("pending:"+id, ttl)
	}
	return err
}

func (v *virtualClock) MarkSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	first, err := v.Store.MarkSeen(ctx, key, ttl)
	if err == nil && first {
		v.note("seen:"+key, ttl)
	}
	return first, err
}

func (v *virtualClock) PutSession(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	err := v.Store.PutSession(ctx, id, value, ttl)
	if err == nil {
		v.note("session:"+id, ttl)
	}
	return err
}

func (v *virtualClock) UpdateSession(ctx context.Context, id string, update func([]byte) ([]byte, error), ttl time.Duration) error {
	var last []byte
	err := v.Store.UpdateSession(ctx, id, func(old []byte) ([]byte, error) {
		value, err := update(old)
		last = value
		return value, err
	}, ttl)
	if err == nil && last != nil {
		v.note("session:"+id, ttl)
	}
	return err
}

func (v *virtualClock) advance(t *testing.T, d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.now += d
	ctx := context.Background()
	for key, at := range v.exp {
		var err error
		if at <= v.now {
			err = v.client.Del(ctx, key).Err()
			delete(v.exp, key)
		} else {
			err = v.client.PExpire(ctx, key, at-v.now+time.Hour).Err()
		}
		if err != nil {
			t.Fatalf("advance the virtual clock on %s: %v", key, err)
		}
	}
}

// conformance runs the store conformance suite against stores opened with
// opts, each under a fresh prefix, beside a plain client for the clock.
func conformance(t *testing.T, opts store.RedisOptions, client redis.UniversalClient) {
	storetest.Run(t, func(t *testing.T) (store.Store, func(time.Duration)) {
		o := opts
		o.Prefix = "clavebridge-test:" + rand.Text() + ":"
		r, err := store.OpenRedis(o)
		if err != nil {
			t.Fatalf("OpenRedis: %v", err)
		}
		t.Cleanup(func() { _ = r.Close() })
		v := &virtualClock{Store: r, client: client, prefix: o.Prefix, exp: map[string]time.Duration{}}
		return v, func(d time.Duration) { v.advance(t, d) }
	})
}

func TestRedisSentinelConformance(t *testing.T) {
	s := startSentinel(t)
	client := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: masterName, SentinelAddrs: []string{s.sentinel.addr}})
	t.Cleanup(func() { _ = client.Close() })
	for _, wait := range []int{0, 1} {
		t.Run("wait_replicas="+strconv.Itoa(wait), func(t *testing.T) {
			conformance(t, store.RedisOptions{
				Mode: store.RedisSentinel, Addresses: []string{s.sentinel.addr}, MasterName: masterName,
				WaitReplicas: wait, WaitTimeout: 500 * time.Millisecond,
			}, client)
		})
	}
}

func TestRedisClusterConformance(t *testing.T) {
	addrs := startCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = client.Close() })
	opts := store.RedisOptions{Mode: store.RedisCluster, Addresses: addrs[:1], Username: "clavebridge", Password: redisTestPassword}
	conformance(t, opts, client)

	// The keys spread over the nodes: each primary holds some.
	t.Run("keys on every node", func(t *testing.T) {
		opts.Prefix = "spread:"
		r, err := store.OpenRedis(opts)
		if err != nil {
			t.Fatalf("OpenRedis: %v", err)
		}
		defer r.Close()
		for i := range 64 {
			if err := r.PutPending(t.Context(), strconv.Itoa(i), []byte("v"), time.Minute); err != nil {
				t.Fatalf("PutPending: %v", err)
			}
		}
		for _, a := range addrs {
			c := redis.NewClient(&redis.Options{Addr: a})
			n, err := c.DBSize(t.Context()).Result()
			_ = c.Close()
			if err != nil || n == 0 {
				t.Errorf("node %s holds %d keys (%v), want some", a, n, err)
			}
		}
	})

	// WAIT on a cluster without replicas: no replica can acknowledge, so a
	// take-once write fails closed with ErrNotReplicated, and is not
	// retried into a second success.
	t.Run("wait without replicas fails closed", func(t *testing.T) {
		o := opts
		o.Prefix = "wait:"
		o.WaitReplicas, o.WaitTimeout = 1, 10*time.Millisecond
		r, err := store.OpenRedis(o)
		if err != nil {
			t.Fatalf("OpenRedis: %v", err)
		}
		defer r.Close()
		if _, err := r.MarkSeen(t.Context(), "k", time.Minute); !errors.Is(err, store.ErrNotReplicated) {
			t.Fatalf("MarkSeen = %v, want ErrNotReplicated", err)
		}
		if first, err := r.MarkSeen(t.Context(), "k", time.Minute); first || !errors.Is(err, nil) {
			t.Fatalf("second MarkSeen = %v, %v; want false, nil (a replay: nothing written, nothing to wait for)", first, err)
		}
	})
}

// TestRedisSentinelFailover kills the primary with SIGKILL while the store
// is in use: Sentinel promotes the replica, and the same store (no new
// client) works again; a replay mark and a taken value written with
// wait_replicas 1 before the crash survive it, so neither is used twice.
func TestRedisSentinelFailover(t *testing.T) {
	s := startSentinel(t)
	r, err := store.OpenRedis(store.RedisOptions{
		Mode: store.RedisSentinel, Addresses: []string{s.sentinel.addr}, MasterName: masterName,
		WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	ctx := t.Context()
	if err := r.PutPending(ctx, "login", []byte("v"), time.Minute); err != nil {
		t.Fatalf("PutPending: %v", err)
	}
	if got, err := r.TakePending(ctx, "login"); err != nil || string(got) != "v" {
		t.Fatalf("TakePending = %q, %v", got, err)
	}
	if first, err := r.MarkSeen(ctx, "assertion", time.Minute); err != nil || !first {
		t.Fatalf("MarkSeen = %v, %v; want true", first, err)
	}

	s.primary.kill()

	// Until Sentinel promotes the replica, calls fail (with an error, never a
	// hang: the timeouts bound them); afterwards they succeed again.
	waitFor(t, "the store to work after failover", func() error {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return r.PutSession(c, "probe", []byte("p"), time.Minute)
	})
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinel.addr})
	defer sc.Close()
	addr, err := sc.GetMasterAddrByName(ctx, masterName).Result()
	if err != nil || net.JoinHostPort(addr[0], addr[1]) != s.replica.addr {
		t.Fatalf("sentinel's primary = %v, %v; want the old replica %s", addr, err, s.replica.addr)
	}
	if _, err := r.TakePending(ctx, "login"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakePending after failover = %v, want ErrNotFound (taken once, before the crash)", err)
	}
	if first, err := r.MarkSeen(ctx, "assertion", time.Minute); err != nil || first {
		t.Fatalf("MarkSeen after failover = %v, %v; want false (a replay)", first, err)
	}
	// The new primary has no replica now: with wait_replicas 1 a new
	// take-once write fails closed rather than pretend it is safe.
	if first, err := r.MarkSeen(ctx, "another", time.Minute); !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("MarkSeen without replicas = %v, %v, want ErrNotReplicated", first, err)
	}
}

// TestOpenRedisRefuses: options that cannot work fail before any dial, and
// the error never shows a password.
func TestOpenRedisRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts store.RedisOptions
		want string
	}{
		{"no address", store.RedisOptions{}, "no address"},
		{"bad mode", store.RedisOptions{Mode: "ring", Addresses: []string{"127.0.0.1:1"}}, `mode "ring"`},
		{"single with two", store.RedisOptions{Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}}, "one address"},
		{"sentinel without master", store.RedisOptions{Mode: store.RedisSentinel, Addresses: []string{"127.0.0.1:1"}}, "master name"},
		{"cluster db", store.RedisOptions{Mode: store.RedisCluster, Addresses: []string{"127.0.0.1:1"}, DB: 1}, "database 0"},
		{"negative db", store.RedisOptions{Addresses: []string{"127.0.0.1:1"}, DB: -1}, "negative"},
		{"wait not shorter than read", store.RedisOptions{Addresses: []string{"127.0.0.1:1"}, WaitReplicas: 1, WaitTimeout: time.Second, ReadTimeout: time.Second}, "not shorter"},
		{"wait beyond the default read timeout", store.RedisOptions{Addresses: []string{"127.0.0.1:1"}, WaitReplicas: 1, WaitTimeout: 5 * time.Second}, "not shorter"},
		{"server down", store.RedisOptions{Addresses: []string{"redis://u:hunter2@127.0.0.1:" + closedPort(t)}, DialTimeout: 100 * time.Millisecond}, "connect (single mode, 127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := store.OpenRedis(tt.opts)
			if err == nil {
				_ = r.Close()
				t.Fatal("OpenRedis succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("err = %v, want one containing %q and no password", err, tt.want)
			}
		})
	}
}

// TestRedisACLUser runs the conformance suite as the least-privileged ACL
// user docs/operations.md section 5 suggests (its keys, its commands),
// with the password given as an option and read by Redis's AUTH.
func TestRedisACLUser(t *testing.T) {
	server := redisBinary(t, "redis-server")
	p := startRedis(t, server, "user clavebridge on >"+redisTestPassword+" resetkeys ~clavebridge-test:* resetchannels -@all +@read +@write +@scripting +@connection -@dangerous")
	admin := redis.NewClient(&redis.Options{Addr: p.addr})
	t.Cleanup(func() { _ = admin.Close() })
	opts := store.RedisOptions{Addresses: []string{p.addr}, Username: "clavebridge", Password: redisTestPassword}
	conformance(t, opts, admin)

	t.Run("wrong password", func(t *testing.T) {
		o := opts
		o.Password = "not-" + redisTestPassword
		if r, err := store.OpenRedis(o); err == nil || strings.Contains(err.Error(), o.Password) {
			if r != nil {
				_ = r.Close()
			}
			t.Fatalf("OpenRedis with a wrong password = %v, want an error without the password", err)
		}
	})
}

const redisTestPassword = "pw-for-the-acl-test"

// clusterACLUser is the ACL user of docs/operations.md section 5 in cluster
// mode: it also reads the slot map.
const clusterACLUser = "user clavebridge on >" + redisTestPassword + " resetkeys ~clavebridge-test:* ~spread:* ~wait:* resetchannels -@all +@read +@write +@scripting +@connection -@dangerous +cluster|slots +cluster|shards"
