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
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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
