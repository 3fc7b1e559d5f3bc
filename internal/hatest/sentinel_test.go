package hatest_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clavebridge/clavebridge/internal/hatest"
)

// TestHASentinelFailover: the replicas use a Sentinel setup (a primary, two
// replicas, one sentinel) with wait_replicas 1. The primary is killed with
// SIGKILL in the middle of a login: the gateway's answer posted in the
// failover window gets the bridge's error page (a 503 with a trace id, in
// bounded time) or completes, never a 500; once Sentinel has promoted a
// replica, logins succeed on the same bridge processes, and the answer
// held across the failover completes a login at most once.
func TestHASentinelFailover(t *testing.T) {
	s := startSentinelSetup(t)
	c := hatest.Start(t, hatest.Options{Bin: bin, StoreYAML: "  type: redis\n  redis:\n    mode: sentinel\n" +
		"    master_name: " + haMaster + "\n    addresses: ['" + s.sentinel + "']\n" +
		"    wait_replicas: 1\n    wait_timeout: 200ms\n"})
	b, _ := c.Browser()
	if page := login(t, c, b); !strings.Contains(page.Body, loggedIn) {
		t.Fatalf("login before the failover (%d): %.800s", page.Status, page.Body)
	}
	b2, _ := c.Browser()
	answer := untilForm(t, c, b2, nil, "/upstream/acs")

	s.kill(s.primary)
	outcomes := map[string]int{}
	post := func(what string) (int, string) {
		t.Helper()
		cl := *b2.Client // its cookies (the pending login)
		cl.Transport = &http.Transport{DisableKeepAlives: true}
		cl.Timeout = 15 * time.Second
		start := time.Now()
		resp, err := cl.PostForm(c.Replicas[0].URL+"/upstream/acs", answer.Fields)
		if err != nil {
			t.Fatalf("%s: no answer: %v", what, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: the answer took %s", what, took)
		}
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusConflict:
			assertErrorPage(t, resp, string(body))
		case resp.StatusCode >= 500:
			t.Errorf("%s: status %d: %.800s", what, resp.StatusCode, body)
		}
		outcomes[fmt.Sprintf("%s: %d in %s", what, resp.StatusCode, time.Since(start).Round(10*time.Millisecond))]++
		return resp.StatusCode, string(body)
	}
	completed := 0
	completes := func(status int, body string) {
		if status < 400 && strings.Contains(body, "<form") {
			completed++
		}
	}
	// In the window: the primary is gone and not yet replaced (go-redis's
	// retries may carry the request over the promotion: then it completes).
	completes(post("in the failover window"))

	s.waitPromoted(t)
	c.WaitUp(t, len(c.Replicas)) // by themselves: nothing restarted
	b3, rec := c.Browser()
	if page := login(t, c, b3); !strings.Contains(page.Body, loggedIn) {
		t.Fatalf("a login after the failover (%d): %.1000s\nhops %+v", page.Status, page.Body, rec.Hops())
	}

	// The held answer, twice more: its login completes at most once.
	for i := range 2 {
		completes(post(fmt.Sprintf("after the failover #%d", i+1)))
	}
	if completed > 1 {
		t.Errorf("one gateway answer completed %d logins (outcomes %v)", completed, outcomes)
	}
	t.Logf("outcomes: %v", outcomes)
}

const haMaster = "clavebridge"

type sentinelSetup struct {
	dir               string
	primary, sentinel string
	replicas          []string
	procs             map[string]*exec.Cmd
	logs              map[string]*bytes.Buffer
}

// startSentinelSetup starts a primary, two replicas and a sentinel on free
// loopback ports, and waits until the sentinel knows both replicas.
func startSentinelSetup(t *testing.T) *sentinelSetup {
	t.Helper()
	s := &sentinelSetup{dir: t.TempDir(), procs: map[string]*exec.Cmd{}, logs: map[string]*bytes.Buffer{}}
	s.primary = s.start(t, "redis-server")
	for range 2 {
		s.replicas = append(s.replicas, s.start(t, "redis-server", "replicaof 127.0.0.1 "+portOf(s.primary)))
	}
	for _, r := range s.replicas {
		c := redis.NewClient(&redis.Options{Addr: r})
		haWaitFor(t, r+" in sync", func() error {
			info, err := c.Info(t.Context(), "replication").Result()
			if err == nil && !strings.Contains(info, "master_link_status:up") {
				err = errors.New("link not up")
			}
			return err
		})
		_ = c.Close()
	}
	s.sentinel = s.start(t, "redis-sentinel",
		"sentinel monitor "+haMaster+" 127.0.0.1 "+portOf(s.primary)+" 1",
		"sentinel down-after-milliseconds "+haMaster+" 500",
		"sentinel failover-timeout "+haMaster+" 5000",
		"sentinel parallel-syncs "+haMaster+" 2")
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinel})
	defer sc.Close()
	haWaitFor(t, "the sentinel to know both replicas", func() error {
		rs, err := sc.Replicas(t.Context(), haMaster).Result()
		if err == nil && len(rs) < 2 {
			err = fmt.Errorf("%d replicas known", len(rs))
		}
		return err
	})
	return s
}

// start runs bin with a config file of its own on a free port.
func (s *sentinelSetup) start(t *testing.T, bin string, lines ...string) string {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("%s is not installed (apt-get install redis-server redis-sentinel; .ci/deps does): %v", bin, err)
	}
	port, err := hatest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dir := filepath.Join(s.dir, strconv.Itoa(port))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "redis.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\nsave \"\"\nappendonly no\nmaxmemory-policy noeviction\ndir %s\n%s\n", port, dir, strings.Join(lines, "\n"))
	if bin == "redis-sentinel" {
		text = fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n%s\n", port, dir, strings.Join(lines, "\n"))
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf)
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s.procs[addr], s.logs[addr] = cmd, log
	t.Cleanup(func() { s.kill(addr) })
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	haWaitFor(t, addr+" answers PING", func() error { return c.Ping(t.Context()).Err() })
	return addr
}

// kill ends the process at addr with SIGKILL, as a crash would.
func (s *sentinelSetup) kill(addr string) {
	if cmd := s.procs[addr]; cmd != nil && cmd.ProcessState == nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
}

// waitPromoted waits until the sentinel names a new primary and that
// primary has a replica again (wait_replicas 1 needs one).
func (s *sentinelSetup) waitPromoted(t *testing.T) {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinel})
	defer sc.Close()
	var primary string
	haWaitFor(t, "the sentinel to promote a replica", func() error {
		addr, err := sc.GetMasterAddrByName(t.Context(), haMaster).Result()
		if err != nil {
			return err
		}
		if primary = net.JoinHostPort(addr[0], addr[1]); primary == s.primary {
			return errors.New("still the old primary")
		}
		return nil
	})
	c := redis.NewClient(&redis.Options{Addr: primary})
	defer c.Close()
	haWaitFor(t, "the new primary to have a replica", func() error {
		info, err := c.Info(t.Context(), "replication").Result()
		if err == nil && (!strings.Contains(info, "role:master") || strings.Contains(info, "connected_slaves:0")) {
			err = errors.New("no replica yet")
		}
		return err
	})
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// haWaitFor polls cond (returning as soon as it holds) for at most 30 s.
func haWaitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
