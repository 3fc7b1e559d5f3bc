// Package hatest runs the bridge as it runs in production with several
// replicas, for the replica and fault tests: N `clavebridge serve`
// processes from one binary built once per test run, ONE peers process
// (cmd/clavebridge/internal/hapeers: the simulated Cl@ve gateway and the
// demo SP, whose state is in its memory, so never round-robined), HAProxy
// in front (health checks on /readyz, the shipped error pages), and a
// single-node Redis the harness starts (or the store section a test
// gives). Everything listens on 127.0.0.1, on free ports; every wait is
// bounded; every process is stopped at the test's cleanup.
package hatest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds every wait for a process to come up or go down.
const startTimeout = 30 * time.Second

// Binaries are the programs a Cluster runs, built once (see Build).
type Binaries struct {
	Bridge string // clavebridge
	Peers  string // hapeers
	Root   string // the repository root (testdata, docs/haproxy)
}

// Build builds clavebridge and hapeers into dir. Call it once, from
// TestMain, and give the result to every Start.
func Build(dir string) (*Binaries, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	b := &Binaries{Bridge: filepath.Join(dir, "clavebridge"), Peers: filepath.Join(dir, "hapeers"), Root: root}
	for out, pkg := range map[string]string{b.Bridge: "./cmd/clavebridge", b.Peers: "./cmd/clavebridge/internal/hapeers"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("hatest: cannot find the repository root")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Options shape a Cluster.
type Options struct {
	Bin *Binaries // required: Build's
	// Replicas is how many bridges (default 2).
	Replicas int
	// ShutdownTimeout is each replica's server.shutdown_timeout (default 5s).
	ShutdownTimeout time.Duration
	// StoreYAML replaces the store section given to the replicas (the lines
	// under `store:`, indented by two spaces). "" starts a single-node
	// Redis for the cluster and uses it.
	StoreYAML string
	// ServerYAML is added under each replica's `server:` (indented by two
	// spaces), after listen and base_url.
	ServerYAML string
	// HAProxyFromDocs runs HAProxy from the shipped example,
	// docs/haproxy/haproxy.cfg, with the test's addresses and the checks in
	// Checks (see haproxyFromDocs), instead of the built-in config.
	HAProxyFromDocs bool
	// Checks replaces the example's default-server line when
	// HAProxyFromDocs is set ("": "default-server check inter 200ms fall 1 rise 1").
	Checks string
}

// Cluster is a running set of replicas behind HAProxy.
type Cluster struct {
	URL      string // HAProxy's front, every replica's base_url
	Replicas []*Replica
	Peers    *Process
	HAProxy  *Process
	Redis    *Redis // nil when Options.StoreYAML was given
	dir      string
	opts     Options
	store    string
	runs     int // replica processes started, for their log names
}

// Replica is one `clavebridge serve`.
type Replica struct {
	*Process
	Name string // its name in HAProxy: r0, r1, …
	ID   string // what it sends in X-Clavebridge-Replica
	URL  string // its own listener, bypassing HAProxy
}

// Start runs a cluster for t and stops it at t's cleanup.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Bin == nil {
		t.Fatal("hatest: Options.Bin is required (Build in TestMain)")
	}
	for _, tool := range []string{"haproxy", "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("hatest needs %s (apt-get install %s): %v", tool, map[string]string{"haproxy": "haproxy", "redis-server": "redis-server"}[tool], err)
		}
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 2
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	c := &Cluster{dir: t.TempDir(), opts: opts}
	lbPort, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c.URL = fmt.Sprintf("http://127.0.0.1:%d", lbPort)
	store := opts.StoreYAML
	if store == "" {
		if c.Redis, err = StartRedis(t, c.dir); err != nil {
			t.Fatal(err)
		}
		store = "  type: redis\n  address: " + c.Redis.Addr + "\n"
	}
	c.store = store
	c.Peers, err = startProcess(t, c.dir, "peers", opts.Bin.Peers, "-listen", "127.0.0.1:0", "-base", c.URL, "-root", opts.Bin.Root)
	if err != nil {
		t.Fatal(err)
	}
	peersAddr, err := c.Peers.WaitLine(func(l map[string]any) (string, bool) {
		s, ok := l["listen"].(string)
		return s, ok && l["msg"] == "listening"
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range opts.Replicas {
		r, err := c.startReplica(t, i, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.Replicas = append(c.Replicas, r)
	}
	if c.HAProxy, err = c.startHAProxy(t, lbPort, peersAddr); err != nil {
		t.Fatal(err)
	}
	c.WaitUp(t, opts.Replicas)
	return c
}

// Restart starts replica i again (after Kill or Term and its exit) on the
// same address, so HAProxy's server line finds it; it gets a new replica
// id. The new Replica replaces c.Replicas[i] and is returned.
func (c *Cluster) Restart(t testing.TB, i int) (*Replica, error) {
	old := c.Replicas[i]
	if !old.Exited() {
		return nil, fmt.Errorf("hatest: %s is still running", old.Name)
	}
	r, err := c.startReplica(t, i, strings.TrimPrefix(old.URL, "http://"))
	if err != nil {
		return nil, err
	}
	c.Replicas[i] = r
	return r, nil
}

func (c *Cluster) startReplica(t testing.TB, i int, listen string) (*Replica, error) {
	store := c.store
	root := c.opts.Bin.Root
	td := func(p string) string { return filepath.Join(root, "testdata", p) }
	cfg := fmt.Sprintf(`mode: development
server:
  listen: %[13]s
  base_url: %[1]s
  accessibility_url: %[1]s/demo/
  shutdown_timeout: %[2]s
%[3]skeys:
  signing: {cert: %[4]s, key: %[5]s}
  encryption: {cert: %[6]s, key: %[7]s}
store:
%[8]ssecrets:
  state_keys:
    - {id: test1, file: %[9]s}
  pairwise: {file: %[10]s}
sso:
  lifetime: 1h
upstream:
  mode: clave2
  sso_url: %[1]s/sim/Proxy2/ServiceProvider
  gateway_certs: [%[11]s]
  provider_name: Q2891006E_EA0009994
  application: clavebridge-ha
  signature_algorithm: rsa-sha512
  clock_skew: 30s
log:
  development: false
service_providers:
  - id: %[1]s/demo/saml2/metadata
    name: Demo SP
    dialect: saml2
    certs: [%[12]s]
    return_urls: [%[1]s/demo/saml2/acs]
    logout_urls: [%[1]s/demo/saml2/slo]
    require_signed_requests: true
    min_loa: low
    signature_algorithm: rsa-sha256
  - id: S2800000X_E00000001
    name: Demo SP (Cl@ve 2.0 kit)
    dialect: eidas
    profile: clave2
    certs: [%[12]s]
    return_urls: [%[1]s/demo/clave2/acs]
    logout_urls: [%[1]s/demo/clave2/logout]
    min_loa: low
  - id: demo_stork_sp
    name: Demo SP (Cl@ve 1, STORK)
    dialect: stork
    certs: [%[12]s]
    return_urls: [%[1]s/demo/stork/acs]
    logout_urls: [%[1]s/demo/stork/logout]
    min_loa: low
`, c.URL, c.opts.ShutdownTimeout, c.opts.ServerYAML,
		td("keys/bridge-sign.crt"), td("keys/bridge-sign.key"), td("keys/bridge-enc.crt"), td("keys/bridge-enc.key"),
		store, td("secrets/state-test-1.key"), td("secrets/pairwise-test.key"), td("keys/simulator-sign.crt"), td("keys/demo-sp.crt"), listen)
	path := filepath.Join(c.dir, fmt.Sprintf("r%d.yaml", i))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	c.runs++
	p, err := startProcess(t, c.dir, fmt.Sprintf("r%d-%d", i, c.runs), c.opts.Bin.Bridge, "serve", "-c", path)
	if err != nil {
		return nil, err
	}
	id, err := p.WaitLine(func(l map[string]any) (string, bool) {
		s, ok := l["replica_id"].(string)
		return s, ok && l["msg"] == "replica"
	})
	if err != nil {
		return nil, err
	}
	addr, err := p.WaitLine(func(l map[string]any) (string, bool) {
		s, ok := l["listen"].(string)
		return s, ok && l["msg"] == "listening" && l["listener"] == "public"
	})
	if err != nil {
		return nil, err
	}
	return &Replica{Process: p, Name: fmt.Sprintf("r%d", i), ID: id, URL: "http://" + addr}, nil
}

// ErrorPages is where the shipped HAProxy error pages are, below the
// repository root.
const ErrorPages = "docs/haproxy/errors"

func (c *Cluster) startHAProxy(t testing.TB, port int, peersAddr string) (*Process, error) {
	var servers, steer strings.Builder
	for _, r := range c.Replicas {
		fmt.Fprintf(&servers, "  server %s %s check\n", r.Name, strings.TrimPrefix(r.URL, "http://"))
		fmt.Fprintf(&steer, "  use-server %s if { req.hdr(%s) -m str %s }\n", r.Name, SteerHeader, r.Name)
	}
	pages := filepath.Join(c.opts.Bin.Root, ErrorPages)
	if c.opts.HAProxyFromDocs {
		return c.runHAProxy(t, port, c.haproxyFromDocs(port, peersAddr, pages, steer.String(), servers.String()))
	}
	// As docs/haproxy/haproxy.cfg, with the test's ports, faster health
	// checks, and the steering header (a test's way to choose a replica;
	// never in production).
	cfg := fmt.Sprintf(`global
  maxconn 256
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  retries 3
  option redispatch 1
  unique-id-format %%{+X}o%%ci%%cp%%fp%%Ts%%rt%%pid
  http-error status 503 content-type "text/html; charset=utf-8" lf-file %[1]s/503.html hdr Cache-Control no-store
  http-error status 502 content-type "text/html; charset=utf-8" lf-file %[1]s/502.html hdr Cache-Control no-store
  http-error status 504 content-type "text/html; charset=utf-8" lf-file %[1]s/504.html hdr Cache-Control no-store
frontend public
  bind 127.0.0.1:%[2]d
  acl peers path_beg /sim/ /demo/
  use_backend peers if peers
  default_backend bridges
backend peers
  server peers %[3]s
backend bridges
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 200ms fastinter 100ms downinter 200ms fall 1 rise 1
%[4]s%[5]s`, pages, port, peersAddr, steer.String(), servers.String())
	return c.runHAProxy(t, port, cfg)
}

// haproxyFromDocs is docs/haproxy/haproxy.cfg with the test's addresses:
// the front on loopback without TLS, logging to stderr, maxconn 256, the error pages of this
// checkout, /sim/ and /demo/ routed to the peers, the replicas for the
// example's servers, Options.Checks for its default-server line, and the
// steering header. Everything else (timeouts, retries, retry-on,
// redispatch, balance, the health check, the error pages) is the
// example's own.
func (c *Cluster) haproxyFromDocs(port int, peersAddr, pages, steer, servers string) string {
	data, err := os.ReadFile(filepath.Join(c.opts.Bin.Root, "docs/haproxy/haproxy.cfg"))
	if err != nil {
		return "# " + err.Error()
	}
	checks := c.opts.Checks
	if checks == "" {
		checks = "default-server check inter 200ms fall 1 rise 1"
	}
	var out strings.Builder
	for line := range strings.SplitSeq(string(data), "\n") {
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "log /dev/log"): // to the process's log file
			out.WriteString("  log stderr format raw local0\n")
		case strings.HasPrefix(trim, "bind :80"),
			strings.HasPrefix(trim, "http-request redirect scheme https"),
			strings.HasPrefix(trim, "http-request set-header X-Forwarded-Proto"),
			strings.HasPrefix(trim, "server "):
			continue
		case strings.HasPrefix(trim, "maxconn "): // the test's fd limit
			out.WriteString("  maxconn 256\n")
		case strings.HasPrefix(trim, "bind :443"):
			fmt.Fprintf(&out, "  bind 127.0.0.1:%d\n", port)
		case strings.HasPrefix(trim, "default_backend "):
			out.WriteString("  acl peers path_beg /sim/ /demo/\n  use_backend peers if peers\n" + line + "\n")
		case strings.HasPrefix(trim, "default-server "):
			out.WriteString("  " + checks + "\n" + steer + servers)
		default:
			out.WriteString(strings.ReplaceAll(line, "/etc/haproxy/errors/clavebridge", pages) + "\n")
		}
	}
	fmt.Fprintf(&out, "backend peers\n  server peers %s\n", peersAddr)
	return out.String()
}

func (c *Cluster) runHAProxy(t testing.TB, port int, cfg string) (*Process, error) {
	path := filepath.Join(c.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.Command("haproxy", "-c", "-q", "-f", path).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c: %w\n%s\n%s", err, out, cfg)
	}
	p, err := startProcess(t, c.dir, "haproxy", "haproxy", "-db", "-f", path)
	if err != nil {
		return nil, err
	}
	err = waitFor(func() bool {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err == nil
	})
	if err != nil {
		return p, fmt.Errorf("haproxy is not listening: %w\n%s", err, cfg)
	}
	return p, nil
}

// SteerHeader is the request header with which a test asks HAProxy for a
// replica by name (r0, r1, …); when that one is down HAProxy balances as
// usual.
const SteerHeader = "X-Hatest-Replica"

// WaitUp waits until n replicas answer /readyz with 200, and then for
// HAProxy's checks (every 200ms, rise 1) to have seen them.
func (c *Cluster) WaitUp(t testing.TB, n int) {
	t.Helper()
	err := waitFor(func() bool {
		up := 0
		for _, r := range c.Replicas {
			if r.Ready() {
				up++
			}
		}
		return up >= n
	})
	if err != nil {
		t.Fatalf("hatest: fewer than %d replicas ready", n)
	}
	time.Sleep(500 * time.Millisecond) // two of HAProxy's check intervals
}

// Ready says whether the replica's /readyz answers 200.
func (r *Replica) Ready() bool {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(r.URL + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// ReplicaByID is the replica whose X-Clavebridge-Replica is id (nil: none).
func (c *Cluster) ReplicaByID(id string) *Replica {
	for _, r := range c.Replicas {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Process is a child process whose stderr and stdout are kept in a log
// file and scanned for JSON log lines.
type Process struct {
	Name string
	Log  string // the file its output goes to
	cmd  *exec.Cmd

	mu     sync.Mutex
	lines  []map[string]any
	notify chan struct{} // closed and replaced at each line
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

func startProcess(t testing.TB, dir, name, bin string, args ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &Process{Name: name, Log: logPath, cmd: cmd, notify: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = f.Write(append(sc.Bytes(), '\n'))
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, line)
			close(p.notify)
			p.notify = make(chan struct{})
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		<-scanned
		_ = f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				t.Logf("--- %s log (last 4 KB):\n%s", name, tail(out, 4<<10))
			}
		}
	})
	return p, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// WaitLine waits (at most startTimeout) for a JSON log line that match
// accepts, and returns match's value; it fails when the process ends
// first.
func (p *Process) WaitLine(match func(map[string]any) (string, bool)) (string, error) {
	deadline := time.After(startTimeout)
	seen := 0
	for {
		p.mu.Lock()
		lines, notify := p.lines, p.notify
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if v, ok := match(lines[seen]); ok {
				return v, nil
			}
		}
		select {
		case <-notify:
		case <-p.exited:
			p.mu.Lock()
			more := len(p.lines) > seen
			p.mu.Unlock()
			if !more {
				return "", fmt.Errorf("%s exited (%v) before the line awaited; log %s", p.Name, p.err, p.Log)
			}
		case <-deadline:
			return "", fmt.Errorf("%s: no line awaited within %s; log %s", p.Name, startTimeout, p.Log)
		}
	}
}

// Lines returns the JSON log lines read so far.
func (p *Process) Lines() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.lines...)
}

// Kill sends SIGKILL.
func (p *Process) Kill() error { return p.cmd.Process.Signal(syscall.SIGKILL) }

// Term sends SIGTERM.
func (p *Process) Term() error { return p.cmd.Process.Signal(syscall.SIGTERM) }

// Wait waits at most d for the process to exit and returns its exit
// error (nil: status 0).
func (p *Process) Wait(d time.Duration) error {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	case <-time.After(d):
		return fmt.Errorf("%s still running after %s", p.Name, d)
	}
}

// Exited says whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// FreePort returns a loopback TCP port free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls cond every 50ms for at most startTimeout.
func waitFor(cond func() bool) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("hatest: condition not met within %s", startTimeout)
}
