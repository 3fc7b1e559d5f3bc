package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
)

// stubResolver answers from a map, and fails for a name it does not know.
type stubResolver map[string][]string

func (s stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := s[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// TestCheckTarget: --target takes loopback targets only (a literal, or a
// name every address of which is loopback) unless --allow-remote, and a
// plain base URL in any case. The resolver is a stub: no lookup leaves.
func TestCheckTarget(t *testing.T) {
	res := stubResolver{
		"localhost":   {"127.0.0.1", "::1"},
		"lb.test":     {"127.0.0.2"},
		"mixed.test":  {"127.0.0.1", "192.0.2.7"},
		"remote.test": {"198.51.100.1"},
		"empty.test":  {},
	}
	tests := []struct {
		name, target string
		allowRemote  bool
		want         string // base URL, or "" when refused
		errHas       string
	}{
		{"IPv4 loopback", "http://127.0.0.1:8080", false, "http://127.0.0.1:8080", ""},
		{"trailing slash trimmed", "http://127.0.0.1:8080/", false, "http://127.0.0.1:8080", ""},
		{"path kept", "https://127.0.0.1:8443/bridge/", false, "https://127.0.0.1:8443/bridge", ""},
		{"IPv6 loopback", "http://[::1]:8080", false, "http://[::1]:8080", ""},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:8080", false, "http://[::ffff:127.0.0.1]:8080", ""},
		{"127/8 elsewhere", "http://127.3.4.5", false, "http://127.3.4.5", ""},
		{"name resolving to loopback only", "http://localhost:8080", false, "http://localhost:8080", ""},
		{"other loopback name", "http://lb.test", false, "http://lb.test", ""},
		{"remote literal", "http://192.0.2.1:8080", false, "", "not a loopback address"},
		{"remote IPv6 literal", "http://[2001:db8::1]", false, "", "not a loopback address"},
		{"unspecified address", "http://0.0.0.0:8080", false, "", "not a loopback address"},
		{"remote name", "https://remote.test", false, "", "not loopback"},
		{"one remote address among loopback ones", "http://mixed.test", false, "", "192.0.2.7"},
		{"name without address", "http://empty.test", false, "", "no address"},
		{"name that does not resolve", "http://nowhere.test", false, "", "resolving"},
		{"remote literal allowed", "http://192.0.2.1:8080", true, "http://192.0.2.1:8080", ""},
		{"remote name allowed, not resolved", "https://nowhere.test/", true, "https://nowhere.test", ""},
		{"scheme", "ftp://127.0.0.1", false, "", "scheme"},
		{"no scheme", "127.0.0.1:8080", false, "", ""},
		{"user info", "http://u:p@127.0.0.1", false, "", "without user"},
		{"query", "http://127.0.0.1/?x=1", false, "", "query"},
		{"fragment", "http://127.0.0.1/#f", false, "", "fragment"},
		{"no host", "http:///demo", false, "", "host"},
		{"too long", "http://127.0.0.1/" + strings.Repeat("a", 2048), false, "", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkTarget(context.Background(), tt.target, tt.allowRemote, res)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("checkTarget(%q) = %q, want a refusal", tt.target, got)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("checkTarget(%q): error %q does not say %q", tt.target, err, tt.errHas)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("checkTarget(%q) = %q, %v; want %q", tt.target, got, err, tt.want)
			}
		})
	}
}

// TestLoopbackOnly: the dialer's check on the resolved address, which
// also covers a name that resolves differently later and redirects.
func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		address string
		ok      bool
	}{
		{"127.0.0.1:80", true},
		{"127.255.0.1:8080", true},
		{"[::1]:443", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"10.0.0.1:80", false},
		{"192.0.2.1:443", false},
		{"[2001:db8::1]:80", false},
		{"0.0.0.0:80", false},
		{"[::]:80", false},
		{"localhost:80", false}, // never a name: the dialer has resolved it
		{"garbage", false},
	}
	for _, tt := range tests {
		err := loopbackOnly("tcp", tt.address, nil)
		if (err == nil) != tt.ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok=%v", tt.address, err, tt.ok)
		}
	}
}

// TestTargetTransportRefusesRemote: the --target transport refuses, before
// connecting, an address that is not loopback (a redirect there, say); with
// --allow-remote that check is off.
func TestTargetTransportRefusesRemote(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "http://192.0.2.1:9/", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = targetTransport(false, 1).RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Fatalf("RoundTrip to 192.0.2.1 = %v, want a refusal naming loopback", err)
	}
	if targetTransport(true, 1).DialContext == nil {
		t.Fatal("no dialer")
	}
}

// TestLoadCommandFlags: the flag combinations refused before any traffic.
func TestLoadCommandFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		errHas string
	}{
		{"remote target", []string{"load", "--target", "http://192.0.2.1:8080"}, "not a loopback address"},
		{"config with target", []string{"load", "-c", "x.yaml", "--target", "http://127.0.0.1:1"}, "-c is not used"},
		{"allow-remote without target", []string{"load", "--allow-remote"}, "only applies with --target"},
		{"no logins", []string{"load", "--target", "http://127.0.0.1:1", "--logins", "0"}, "positive"},
		{"no workers", []string{"load", "--target", "http://127.0.0.1:1", "--workers", "-1"}, "positive"},
		{"negative rate", []string{"load", "--target", "http://127.0.0.1:1", "--rate", "-1"}, "--rate must be between"},
		{"flooding rate", []string{"load", "--target", "http://127.0.0.1:1", "--rate", "1e6"}, "--rate must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := rootCommand()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tt.args)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("%v: error %v, want one saying %q", tt.args, err, tt.errHas)
			}
		})
	}
}

// TestLoadTarget: `load --target` drives a bridge it did not start, through
// its demo SP, and reports logins/s, hop latencies and the replica that
// served the bridge's hops.
func TestLoadTarget(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(example), "testdata/", filepath.Join(root, "testdata")+"/")
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, server.DialectRules())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	rebase(cfg, base)
	cfg.Simulator.AutoLogin = &config.AutoLoginConfig{IdP: "AFIRMA", Citizen: "99999999R", Method: "dnie"}
	srv, err := server.New(cfg, zap.NewNop(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// what a replica started by serve sends (server.Reloadable); the
	// in-process handler does not
	named := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(server.ReplicaHeader, "feedc0de")
		srv.ServeHTTP(w, r)
	})
	hs := &http.Server{Handler: named}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	for _, loop := range []struct {
		args []string
		mode string
	}{
		{nil, "closed loop"},
		{[]string{"--rate", "60"}, `open loop at 60 logins/s, at most 2 in flight`}, // six logins in 0.1 s
	} {
		cmd := rootCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"load", "--target", base + "/", "--logins", "6", "--workers", "2"}, loop.args...))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("load --target %v: %v\n%s", loop.args, err, out.String())
		}
		for _, want := range []string{
			`(?m)^logins: 6 ok, 0 failed, 2 workers, ` + loop.mode + `, `,
			`(?m)^throughput: [0-9.]+ logins/s$`,
			`(?m)^latency: p50 \S+  p90 \S+  p99 \S+  max \S+$`,
			`(?m)^hops: [0-9]+ \([0-9.]+ a login\): p50 \S+  p90 \S+  p99 \S+  max \S+$`,
			`(?m)^  POST /demo/saml2/login +6 hops  p50 \S+  p99 \S+$`,
			`(?m)^  POST /saml2/sso +6 hops  p50 \S+  p99 \S+$`,
			`(?m)^  POST /upstream/acs +6 hops  p50 \S+  p99 \S+$`,
			`(?m)^bridge hops by replica: feedc0de [0-9]+$`,
			`(?m)^peak RSS: [0-9.]+ MiB \(the load client only; `,
		} {
			if !regexp.MustCompile(want).MatchString(out.String()) {
				t.Errorf("output does not match %s:\n%s", want, out.String())
			}
		}
	}
}

// TestHopTimerBounded: however many paths a target sends the client to,
// the per-path table keeps at most maxHopKinds rows, the rest under "other".
func TestHopTimerBounded(t *testing.T) {
	h := &hopTimer{}
	for i := range 3 * maxHopKinds {
		r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/p"+strconv.Itoa(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		h.record(r, time.Millisecond, "")
	}
	if len(h.byPath) != maxHopKinds || len(h.byPath["other"]) != 2*maxHopKinds+1 || len(h.hops) != 3*maxHopKinds {
		t.Fatalf("%d kinds, %d other, %d hops; want %d, %d, %d", len(h.byPath), len(h.byPath["other"]), len(h.hops),
			maxHopKinds, 2*maxHopKinds+1, 3*maxHopKinds)
	}
}

// TestDriveOpenLoopCountsTheWait: in the open loop a login's time runs
// from its slot in the schedule, so logins queued behind slower ones show
// the wait. Five logins due 1 ms apart, one worker, 4 ms each: the last
// ends at least 20 ms after the start and was due at 4 ms, so it counts at
// least 16 ms (a lower bound only: a busy machine can only add to it).
// Failures are counted, the first one kept.
func TestDriveOpenLoopCountsTheWait(t *testing.T) {
	const n, work = 5, 4 * time.Millisecond
	calls := 0
	var mu sync.Mutex
	login := func() error {
		time.Sleep(work)
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 2 {
			return errors.New("second login refused")
		}
		return nil
	}
	d, failures, firstErr := drive(loadPlan{logins: n, workers: 1, rate: 1000}, login)
	if len(d) != n-1 || failures != 1 || firstErr == nil || firstErr.Error() != "second login refused" {
		t.Fatalf("%d timed, %d failures (%v), want %d and 1", len(d), failures, firstErr, n-1)
	}
	if last := slices.Max(d); last < n*work-(n-1)*time.Millisecond {
		t.Fatalf("the slowest login counted %v: the wait behind the others is missing", last)
	}
}
