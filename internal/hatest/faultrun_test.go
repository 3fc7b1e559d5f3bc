package hatest_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/hatest"
)

// The fault run (issue 16, point 4): three replicas behind HAProxy started
// from docs/haproxy/haproxy.cfg, on a Redis primary and replica watched by
// three sentinels started from docs/redis/*.conf. Workers run logins in
// the three dialects (each followed by an SSO reuse through another
// dialect and a logout), every bridge hop steered to the replica after the
// previous one's, while the faults of point 3 happen: a replica SIGKILLed
// between hops, another SIGTERMed and started again, the Redis primary
// SIGKILLed so that Sentinel promotes the replica. Every login ends completed or refused
// cleanly (the bridge's error page with its trace id, or the dialect's
// error status at the SP); anything else (HAProxy's page, a reset, a hang)
// is lost. The answers of completed logins, replayed to another replica,
// are refused (nothing duplicated).
const (
	faultWorkers   = 6
	faultMinLogins = 100
	faultDeadline  = 100 * time.Second // the workers' loop, whatever happens
	// faultWaitReplicas is store.redis.wait_replicas. With 1 and a single
	// Redis replica, the promoted primary has no replica until the old one
	// rejoins, and every take-once write is refused meanwhile (see the
	// guide, "HA topology").
	faultWaitReplicas = 0
	// refusalPause is a citizen's moment on an error page.
	refusalPause = 300 * time.Millisecond
)

// faultDialects: the demo SP's login paths and options, one per dialect.
var faultDialects = []struct {
	name string
	opts url.Values
}{
	{"saml2", url.Values{"loa": {"low"}, "binding": {"post"}}},
	{"clave2", url.Values{"loa": {"low"}}},
	{"stork", url.Values{"qaa": {"2"}}},
}

type outcome int

const (
	completed outcome = iota
	refused
	lost
	confirmAsked // logouts only: the bridge's confirmation page
)

// faultTally counts the outcomes, safe for the workers.
type faultTally struct {
	mu                          sync.Mutex
	logins, logouts             [4]int
	reused, crossed, viaGateway int
	lostWhy                     []string
	answers                     []heldAnswer
	answerMax                   int          // the largest gateway answer posted, bytes
	progress                    atomic.Int64 // logins ended
}

// heldAnswer is a completed login's gateway answer, replayed at the end.
type heldAnswer struct {
	client *http.Client
	form   browser.Form
	served string // the replica id that took it
}

func (ft *faultTally) add(login bool, o outcome, why string) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if login {
		ft.logins[o]++
		ft.progress.Add(1)
	} else {
		ft.logouts[o]++
	}
	if o == lost && len(ft.lostWhy) < 10 {
		ft.lostWhy = append(ft.lostWhy, time.Now().Format("15:04:05.000 ")+why)
	}
}

// classify names a flow's outcome from its last page and hop.
func classify(page *browser.Page, err error, rec *hatest.Recorder, ok string) (outcome, string) {
	if err != nil {
		return lost, "no answer: " + err.Error()
	}
	switch {
	case strings.Contains(page.Body, ok):
		return completed, ""
	case strings.Contains(page.Body, `data-result="failed"`), strings.Contains(page.Body, `data-logout="`):
		return refused, "" // the dialect's error status, shown by the SP
	}
	hops := rec.Hops()
	if len(hops) > 0 {
		h := hops[len(hops)-1]
		if h.Replica != "" && h.Trace != "" && strings.Contains(page.Body, h.Trace) &&
			(h.Status >= 400 && h.Status < 500 || h.Status == http.StatusServiceUnavailable) {
			return refused, ""
		}
		return lost, fmt.Sprintf("%s %s: %d from %q: %.300s", h.Method, h.Path, h.Status, h.Replica, page.Body)
	}
	return lost, fmt.Sprintf("%d at %s: %.300s", page.Status, page.URL, page.Body)
}

// crossSteer sends each bridge hop to the replica after the one the
// previous hop was sent to, skipping those the test has marked down in
// the bit set (HAProxy balances as usual when the one named is down).
func crossSteer(n, first int, down *atomic.Uint32) func(*http.Request) string {
	var mu sync.Mutex
	next := first
	return func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/sim/") || strings.HasPrefix(r.URL.Path, "/demo/") {
			return ""
		}
		mu.Lock()
		defer mu.Unlock()
		for range n {
			next++
			if down.Load()&(1<<(next%n)) == 0 {
				break
			}
		}
		return fmt.Sprintf("r%d", next%n)
	}
}

// faultLogin runs one login in dialect d and returns its outcome and the
// gateway's answer it posted (nil: none, e.g. SSO reuse).
func faultLogin(c *hatest.Cluster, b *browser.Browser, rec *hatest.Recorder, d int) (outcome, string, *browser.Form) {
	dl := faultDialects[d]
	page, err := b.Post(c.URL+"/demo/"+dl.name+"/login", dl.opts)
	var answer *browser.Form
	if err == nil {
		page, answer, err = b.FollowPosts(page, func(f browser.Form) bool { return strings.HasSuffix(f.Action, "/upstream/acs") })
		if err == nil && answer != nil {
			if page, err = b.Post(answer.Action, answer.Fields); err == nil {
				page, _, err = b.FollowPosts(page, nil)
			}
		}
	}
	o, why := classify(page, err, rec, loggedIn)
	return o, dl.name + " login: " + why, answer
}

func faultLogout(c *hatest.Cluster, b *browser.Browser, rec *hatest.Recorder, d int) (outcome, string) {
	page, err := b.Post(c.URL+"/demo/"+faultDialects[d].name+"/logout", url.Values{})
	if err == nil {
		page, _, err = b.FollowPosts(page, nil)
	}
	o, why := classify(page, err, rec, loggedOut)
	if o == lost && err == nil && strings.Contains(page.Body, `action="/logout/confirm"`) {
		// The bridge could not bind the logout to the browser's session
		// (its last update lost with the old primary) and asks the citizen
		// to confirm: a defined outcome, nothing ended behind their back.
		return confirmAsked, ""
	}
	return o, faultDialects[d].name + " logout: " + why
}

func TestHAFaultRun(t *testing.T) {
	began := time.Now()
	rs := startFaultRedis(t)
	c := hatest.Start(t, hatest.Options{
		Bin: bin, Replicas: 3, HAProxyFromDocs: true,
		// As the example's checks (fall x inter longer than a failover),
		// scaled to the test's faster Sentinel.
		Checks: "default-server check inter 250ms fall 16 rise 1",
		StoreYAML: "  type: redis\n  redis:\n    mode: sentinel\n    master_name: " + haMaster +
			"\n    addresses: ['" + strings.Join(rs.sentinels, "', '") + "']\n" +
			"    wait_replicas: " + strconv.Itoa(faultWaitReplicas) + "\n    wait_timeout: 200ms\n",
	})
	ft := &faultTally{}
	var down atomic.Uint32 // replicas the faults took away (bit i: r<i>)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range faultWorkers {
		wg.Go(func() {
			deadline := time.Now().Add(faultDeadline)
			for i := 0; time.Now().Before(deadline); i++ {
				select {
				case <-done:
					return
				default:
				}
				d := (w + i) % len(faultDialects)
				b, rec := c.Browser()
				b.Client.Timeout = 20 * time.Second // longer: a hang
				rec.Steer = crossSteer(len(c.Replicas), w+i, &down)
				o, why, answer := faultLogin(c, b, rec, d)
				ft.add(true, o, why)
				if o != completed {
					// The citizen reads the page before going back to the
					// service (a refusal comes within a second; without
					// the pause a worker would count dozens in one
					// failover window).
					time.Sleep(refusalPause)
					continue
				}
				hops := rec.Hops()
				ft.mu.Lock()
				if answer != nil {
					seen := map[string]bool{}
					for _, h := range hops {
						if h.Replica != "" {
							seen[h.Replica] = true
						}
					}
					ft.viaGateway++
					if len(seen) > 1 {
						ft.crossed++
					}
					ft.answerMax = max(ft.answerMax, len(answer.Fields.Encode()))
					ft.answers = append(ft.answers, heldAnswer{client: b.Client, form: *answer, served: lastServed(hops, "/upstream/acs")})
				}
				ft.mu.Unlock()
				// SSO reuse through another dialect's SP.
				before := len(hops)
				o, why, answer = faultLogin(c, b, rec, (d+1)%len(faultDialects))
				ft.add(true, o, "reuse: "+why)
				if o == completed && answer == nil && !went(rec.Hops()[before:], "/sim/") {
					ft.mu.Lock()
					ft.reused++
					ft.mu.Unlock()
				}
				o, why = faultLogout(c, b, rec, d)
				ft.add(false, o, why)
			}
		})
	}

	faults := []string{}
	fault := func(after int64, what string, do func() error) {
		t.Helper()
		target := ft.progress.Load() + after
		deadline := time.Now().Add(30 * time.Second)
		for ft.progress.Load() < target && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		at := time.Now()
		if err := do(); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		faults = append(faults, fmt.Sprintf("%s at login %d, %s (%s)", what, ft.progress.Load(), at.Format("15:04:05.000"), time.Since(at).Round(10*time.Millisecond)))
	}
	fault(15, "SIGKILL r0 between hops", func() error {
		// Logins in flight have hops on r0 behind them and their next hops
		// go elsewhere; no request is inside r0 at the kill. A request
		// inside a replica at the instant it dies is lost: HAProxy 2.6
		// answered its 502 (SH--, not retried despite retry-on
		// empty-response) in one run of five (see the guide).
		down.Or(1 << 0)
		time.Sleep(300 * time.Millisecond) // the hops under way finish
		if err := c.Replicas[0].Kill(); err != nil {
			return err
		}
		if c.Replicas[0].Wait(10*time.Second) == nil {
			return errors.New("the killed replica exited with status 0")
		}
		return nil
	})
	fault(15, "SIGTERM r1, drained, started again", func() error {
		if err := c.Replicas[1].Term(); err != nil {
			return err
		}
		down.Or(1 << 1)
		defer down.And(^uint32(1 << 1))
		if err := c.Replicas[1].Wait(10 * time.Second); err != nil {
			return fmt.Errorf("after SIGTERM: %w", err)
		}
		r, err := c.Restart(t, 1)
		if err != nil {
			return err
		}
		for deadline := time.Now().Add(30 * time.Second); !r.Ready(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				return errors.New("the restarted replica is not ready")
			}
		}
		return nil
	})
	fault(15, "SIGKILL the Redis primary, Sentinel promotes the replica, the old primary restarted", func() error {
		return rs.failover(t)
	})
	// Logins go on while Sentinel makes the old primary a replica (about
	// 10 s). Observed, not asserted: in one run of a dozen it had not
	// within 25 s (the logins were unaffected).
	rejoinedIn := "not within 25 s"
	fault(30, "the old primary rejoins as a replica of the new one", func() error {
		at := time.Now()
		if rs.rejoined(t, 25*time.Second) {
			rejoinedIn = time.Since(at).Round(100 * time.Millisecond).String()
		}
		return nil
	})
	fault(20, "run on after the faults", func() error { return nil })
	for ft.progress.Load() < faultMinLogins+10 && time.Since(began) < faultDeadline {
		time.Sleep(50 * time.Millisecond)
	}
	close(done)
	wg.Wait()

	// Replays: each completed login's gateway answer, to a replica that
	// did not take it, straight (no HAProxy).
	duplicated, replayed := 0, 0
	for _, a := range ft.answers {
		var to *hatest.Replica
		for _, r := range c.Replicas {
			if r.ID != a.served && !r.Exited() {
				to = r
				break
			}
		}
		cl := *a.client
		cl.Transport = &http.Transport{DisableKeepAlives: true}
		cl.Timeout = 15 * time.Second
		resp, err := cl.PostForm(to.URL+"/upstream/acs", a.form.Fields)
		if err != nil {
			t.Errorf("replay to %s: %v", to.Name, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		replayed++
		if resp.StatusCode < 400 || strings.Contains(string(body), "<form") {
			duplicated++
			t.Errorf("an answer replayed to %s was accepted: %d %.500s", to.Name, resp.StatusCode, body)
		} else {
			assertErrorPage(t, resp, string(body))
		}
	}

	n := ft.logins[completed] + ft.logins[refused] + ft.logins[lost]
	summary := fmt.Sprintf("%d logins: %d completed, %d refused cleanly during failover, %d lost, %d duplicated",
		n, ft.logins[completed], ft.logins[refused], ft.logins[lost], duplicated)
	fmt.Println(summary)
	t.Logf("faults: %s", strings.Join(faults, "; "))
	t.Logf("logouts: %d completed, %d refused cleanly, %d confirmation asked, %d lost; SSO reused %d times; %d of %d gateway logins crossed replicas; %d answers replayed, all refused: %v; %s",
		ft.logouts[completed], ft.logouts[refused], ft.logouts[confirmAsked], ft.logouts[lost], ft.reused, ft.crossed, ft.viaGateway, replayed, duplicated == 0, time.Since(began).Round(time.Second))
	t.Logf("largest gateway answer: %d bytes; the old primary rejoined as a replica: %s", ft.answerMax, rejoinedIn)
	for _, why := range ft.lostWhy {
		t.Logf("lost: %s", why)
	}
	if len(ft.lostWhy) > 0 { // HAProxy's log lines for its own answers
		if data, err := os.ReadFile(c.HAProxy.Log); err == nil {
			for line := range strings.SplitSeq(string(data), "\n") {
				if strings.Contains(line, " 502 ") || strings.Contains(line, " 503 ") || strings.Contains(line, " 504 ") {
					t.Logf("haproxy: %s", line)
				}
			}
		}
	}
	if n < faultMinLogins || ft.logins[completed]*10 < n*9 {
		t.Errorf("%s: want at least %d logins, at least 90 %% completed", summary, faultMinLogins)
	}
	if ft.logins[lost] > 0 || ft.logouts[lost] > 0 {
		t.Errorf("%s; %d logouts lost", summary, ft.logouts[lost])
	}
	if replayed == 0 || ft.reused == 0 || ft.crossed*10 < ft.viaGateway*9 {
		t.Errorf("%d answers replayed, %d SSO reuses, %d of %d logins crossed replicas: the run did not exercise what it claims",
			replayed, ft.reused, ft.crossed, ft.viaGateway)
	}
}

func lastServed(hops []hatest.Hop, path string) string {
	id := ""
	for _, h := range hops {
		if h.Path == path {
			id = h.Replica
		}
	}
	return id
}

// faultRedis is a Redis primary and replica watched by three sentinels,
// each started from the examples in docs/redis with the test's addresses.
type faultRedis struct {
	dir              string
	primary, replica string
	sentinels        []string
	procs            map[string]*exec.Cmd
	confs            map[string]string
	bins             map[string]string
}

func startFaultRedis(t *testing.T) *faultRedis {
	t.Helper()
	rs := &faultRedis{dir: t.TempDir(), procs: map[string]*exec.Cmd{}, confs: map[string]string{}, bins: map[string]string{}}
	example := func(name string) string {
		data, err := os.ReadFile(filepath.Join(bin.Root, "docs/redis", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	redisConf, sentinelConf := example("redis.conf"), example("sentinel.conf")
	for _, want := range []string{"maxmemory-policy noeviction", "appendonly yes"} {
		if !strings.Contains(redisConf, want) {
			t.Errorf("docs/redis/redis.conf lacks %q", want)
		}
	}
	rs.primary = rs.start(t, "redis-server", redisConf, "")
	rs.replica = rs.start(t, "redis-server", redisConf, "replicaof 127.0.0.1 "+portOf(rs.primary))
	c := redis.NewClient(&redis.Options{Addr: rs.replica})
	haWaitFor(t, "the replica in sync", func() error {
		info, err := c.Info(t.Context(), "replication").Result()
		if err == nil && !strings.Contains(info, "master_link_status:up") {
			err = errors.New("link not up")
		}
		return err
	})
	_ = c.Close()
	// The example's monitor line names the test's primary; down-after is
	// shorter than the example's 3 s, to keep the run short, but not much:
	// at 400 ms a loaded box made the sentinels take the fresh primary for
	// dead and fail back to the restarted old one, with its stale data.
	var conf strings.Builder
	for line := range strings.SplitSeq(sentinelConf, "\n") {
		switch {
		case strings.HasPrefix(line, "sentinel monitor "+haMaster+" "):
			line = "sentinel monitor " + haMaster + " 127.0.0.1 " + portOf(rs.primary) + " 2"
		case strings.HasPrefix(line, "sentinel down-after-milliseconds "+haMaster+" "):
			line = "sentinel down-after-milliseconds " + haMaster + " 1000"
		}
		conf.WriteString(line + "\n")
	}
	if !strings.Contains(conf.String(), " 127.0.0.1 "+portOf(rs.primary)+" 2\n") {
		t.Fatalf("docs/redis/sentinel.conf has no `sentinel monitor %s HOST PORT 2` line", haMaster)
	}
	for range 3 {
		rs.sentinels = append(rs.sentinels, rs.start(t, "redis-sentinel", conf.String(), ""))
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: rs.sentinels[0]})
	defer sc.Close()
	haWaitFor(t, "the sentinels to know the replica and each other", func() error {
		rep, err := sc.Replicas(t.Context(), haMaster).Result()
		if err != nil {
			return err
		}
		peers, err := sc.Sentinels(t.Context(), haMaster).Result()
		if err == nil && (len(rep) < 1 || len(peers) < 2) {
			err = fmt.Errorf("%d replicas, %d other sentinels known", len(rep), len(peers))
		}
		return err
	})
	return rs
}

// start runs bin with the example's text plus the test's port, bind, dir
// and extra line (the example's own port and bind are overridden: Redis
// takes a directive's last value).
func (rs *faultRedis) start(t *testing.T, binName, example, extra string) string {
	t.Helper()
	if _, err := exec.LookPath(binName); err != nil {
		t.Fatalf("%s is not installed (apt-get install redis-server redis-sentinel; .ci/deps does): %v", binName, err)
	}
	port, err := hatest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dir := filepath.Join(rs.dir, strconv.Itoa(port))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, binName+".conf")
	text := fmt.Sprintf("%s\nport %d\nbind 127.0.0.1\ndir %s\n%s\n", example, port, dir, extra)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	rs.confs[addr], rs.bins[addr] = conf, binName
	rs.run(t, addr)
	t.Cleanup(func() { rs.kill(addr) })
	return addr
}

func (rs *faultRedis) run(t *testing.T, addr string) {
	t.Helper()
	cmd := exec.Command(rs.bins[addr], rs.confs[addr])
	log, err := os.Create(rs.confs[addr] + ".log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", rs.bins[addr], err)
	}
	go func() { _ = cmd.Wait(); _ = log.Close() }()
	rs.procs[addr] = cmd
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	haWaitFor(t, addr+" answers PING", func() error { return c.Ping(t.Context()).Err() })
}

func (rs *faultRedis) kill(addr string) {
	if cmd := rs.procs[addr]; cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if cmd.Process.Signal(syscall.Signal(0)) != nil {
				return
			}
		}
	}
}

// failover kills the primary (SIGKILL), waits for the sentinels to promote
// the replica and starts the old primary again (from its append-only
// file; Sentinel makes it the new primary's replica, see rejoined).
func (rs *faultRedis) failover(t *testing.T) error {
	rs.kill(rs.primary)
	sc := redis.NewSentinelClient(&redis.Options{Addr: rs.sentinels[1]})
	defer sc.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		addr, err := sc.GetMasterAddrByName(t.Context(), haMaster).Result()
		if err == nil && net.JoinHostPort(addr[0], addr[1]) == rs.replica {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no promotion within 30 s: %v %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("Sentinel promoted the replica %s after the kill", time.Since(deadline.Add(-30*time.Second)).Round(10*time.Millisecond))
	// Start the old primary only once every sentinel names the new one: a
	// sentinel still naming it could take it back as the primary, with its
	// stale data.
	for _, addr := range rs.sentinels {
		s := redis.NewSentinelClient(&redis.Options{Addr: addr})
		for {
			got, err := s.GetMasterAddrByName(t.Context(), haMaster).Result()
			if err == nil && net.JoinHostPort(got[0], got[1]) == rs.replica {
				break
			}
			if time.Now().After(deadline) {
				_ = s.Close()
				return fmt.Errorf("sentinel %s still names %v (%v)", addr, got, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = s.Close()
	}
	rs.run(t, rs.primary)
	return nil
}

// rejoined says whether the old primary, started again, is now a replica
// of the promoted one (Sentinel reconfigures it; waits at most d).
func (rs *faultRedis) rejoined(t *testing.T, d time.Duration) bool {
	c := redis.NewClient(&redis.Options{Addr: rs.primary})
	defer c.Close()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		info, err := c.Info(t.Context(), "replication").Result()
		if err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_port:"+portOf(rs.replica)) {
			return true
		}
	}
	return false
}
