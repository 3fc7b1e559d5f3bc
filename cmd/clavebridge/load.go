package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/demosp"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
	"github.com/clavebridge/clavebridge/internal/browser"
)

func loadCommand() *cobra.Command {
	var logins, workers int
	var rate float64
	var target string
	var allowRemote bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Run complete demo logins against an in-process bridge with the simulator's auto-login (or an external one with --target), and report throughput",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if logins <= 0 || workers <= 0 {
				return fmt.Errorf("load: --logins and --workers must be positive (got %d, %d)", logins, workers)
			}
			if rate < 0 || rate > maxRate {
				return fmt.Errorf("load: --rate must be between 0 (closed loop) and %d logins/s (got %g)", maxRate, rate)
			}
			plan := loadPlan{logins: logins, workers: workers, rate: rate}
			if target != "" {
				if cmd.Flags().Changed("config") {
					return errors.New("load: --target drives an external bridge; its configuration is its own, so -c is not used")
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
				defer cancel()
				base, err := checkTarget(ctx, target, allowRemote, net.DefaultResolver)
				if err != nil {
					return err
				}
				return runLoadTarget(cmd.OutOrStdout(), base, allowRemote, plan)
			}
			if allowRemote {
				return errors.New("load: --allow-remote only applies with --target")
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runLoad(cmd.OutOrStdout(), cfg, plan)
		},
	}
	cmd.Flags().IntVar(&logins, "logins", 500, "number of complete logins")
	cmd.Flags().IntVar(&workers, "workers", 8, "concurrent browsers (with --rate: the most logins in flight)")
	cmd.Flags().Float64Var(&rate, "rate", 0, "open loop: start this many logins a second whatever the answers (0: closed loop, each worker starts its next login when the last ends)")
	cmd.Flags().StringVar(&target, "target", "", "base URL of a running bridge (or the load balancer in front of replicas) whose demo SPs and gateway auto-login are enabled; only loopback unless --allow-remote")
	cmd.Flags().BoolVar(&allowRemote, "allow-remote", false, "with --target, allow a target that is not on loopback (a load test is traffic someone pays for: only against your own test setup)")
	return cmd
}

// hostResolver is the part of *net.Resolver checkTarget uses (a stub in tests).
type hostResolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// checkTarget validates the --target URL and returns it as a base URL
// without a trailing slash. Unless allowRemote, its host must be loopback:
// an IP literal that is, or a name every address of which is (and the
// dialer checks again, see loopbackOnly, since a name may resolve
// differently later).
func checkTarget(ctx context.Context, raw string, allowRemote bool, r hostResolver) (string, error) {
	if len(raw) > 2048 {
		return "", errors.New("load: --target is longer than 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("load: --target: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("load: --target %q: scheme must be http or https", raw)
	}
	if u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("load: --target %q: want scheme://host[:port][/path], without user, query or fragment", raw)
	}
	base := strings.TrimRight(u.String(), "/")
	if allowRemote {
		return base, nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return "", fmt.Errorf("load: --target %q is not a loopback address (pass --allow-remote for your own test setup)", raw)
		}
		return base, nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return "", fmt.Errorf("load: --target: resolving %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("load: --target: %q has no address", host)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return "", fmt.Errorf("load: --target %q resolves to %s, not loopback (pass --allow-remote for your own test setup)", raw, a)
		}
	}
	return base, nil
}

// loopbackOnly is a net.Dialer Control refusing any connection whose
// resolved address is not loopback, redirects included.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("load: dialing %s %q: %w", network, address, err)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("load: refusing to connect to %s: not loopback (pass --allow-remote for your own test setup)", ap.Addr())
	}
	return nil
}

// targetTransport is the client transport for --target: bounded waits, and
// loopback only unless allowRemote.
func targetTransport(allowRemote bool, workers int) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowRemote {
		d.Control = loopbackOnly
	}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConnsPerHost:   workers,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		Proxy:                 nil, // never through an environment proxy: the target is what is measured
	}
}

// runLoadTarget times logins through the demo SPs of the bridge at base.
func runLoadTarget(w io.Writer, base string, allowRemote bool, plan loadPlan) error {
	hops := &hopTimer{next: targetTransport(allowRemote, plan.workers)}
	return runPlan(w, base, hops, plan, "the load client only; the bridge's own is in its metrics")
}

// runPlan drives plan's logins, then reports them, their hops and the
// process's peak RSS (rssScope says what that process holds).
func runPlan(w io.Writer, base string, hops *hopTimer, plan loadPlan, rssScope string) error {
	start := time.Now()
	durations, failures, firstErr := drive(plan, func() error { return oneLogin(base, hops) })
	report(w, durations, failures, plan, time.Since(start))
	hops.report(w, len(durations)+failures)
	if rss, err := peakRSS(); err == nil {
		fmt.Fprintf(w, "peak RSS: %.1f MiB (%s)\n", float64(rss)/(1<<20), rssScope)
	}
	if failures > 0 {
		return fmt.Errorf("%d of %d logins failed (first: %w)", failures, plan.logins, firstErr)
	}
	return nil
}

// peakRSS is this process's peak resident set size in bytes.
func peakRSS() (int64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return ru.Maxrss << 10, nil // Linux reports KiB
}

// runLoad serves cfg on a loopback port with auto-login and times logins.
func runLoad(w io.Writer, cfg *config.Config, plan loadPlan) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	rebase(cfg, base)
	cfg.Simulator.AutoLogin = &config.AutoLoginConfig{IdP: "AFIRMA", Citizen: "99999999R", Method: "dnie"}
	srv, err := server.New(cfg, zap.NewNop(), server.Options{})
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	hops := &hopTimer{next: &http.Transport{MaxIdleConnsPerHost: plan.workers}}
	return runPlan(w, base, hops, plan, "bridge, simulator, demo SPs and the load client in one process")
}

// rebase moves every URL of the configuration from its base URL to base.
func rebase(cfg *config.Config, base string) {
	old := cfg.Server.BaseURL
	cfg.Server.BaseURL = base
	move := func(s *string) {
		if strings.HasPrefix(*s, old) {
			*s = base + strings.TrimPrefix(*s, old)
		}
	}
	move(&cfg.Server.AccessibilityURL)
	move(&cfg.Upstream.SSOURL)
	move(&cfg.Upstream.GatewayCertificatesURL) // in simulated mode, defaulted below the old base URL at load
	for i := range cfg.ServiceProviders {
		sp := &cfg.ServiceProviders[i]
		move(&sp.ID)
		move(&sp.HomeURL)
		for j := range sp.ReturnURLs {
			move(&sp.ReturnURLs[j])
		}
		for j := range sp.LogoutURLs {
			move(&sp.LogoutURLs[j])
		}
	}
}

// loadPlan is what to run: logins in all, by workers browsers in a closed
// loop, or, with rate > 0, started rate times a second (open loop) with at
// most workers in flight.
type loadPlan struct {
	logins, workers int
	rate            float64
}

// maxRate bounds --rate (a typo must not make a flood).
const maxRate = 10000

// drive runs plan's logins (each a call of login). A login's time counts
// from when it was due: in the open loop that is its slot in the schedule,
// so a login that waits for a free worker because earlier ones are slow
// shows the wait (the percentiles see the backlog instead of hiding it).
func drive(plan loadPlan, login func() error) ([]time.Duration, int, error) {
	type job struct{ due time.Time }
	jobs := make(chan job)
	var mu sync.Mutex
	var durations []time.Duration
	var firstErr error
	failures := 0
	var wg sync.WaitGroup
	for range plan.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				due := j.due
				if due.IsZero() {
					due = time.Now()
				}
				err := login()
				mu.Lock()
				if err != nil {
					failures++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					durations = append(durations, time.Since(due))
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := range plan.logins {
		var j job
		if plan.rate > 0 {
			j.due = start.Add(time.Duration(float64(i) / plan.rate * float64(time.Second)))
			time.Sleep(time.Until(j.due))
		}
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	return durations, failures, firstErr
}

func oneLogin(base string, transport http.RoundTripper) error {
	b := browser.New(transport)
	page, err := b.Post(base+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
	if err != nil {
		return err
	}
	page, _, err = b.FollowPosts(page, nil)
	if err != nil {
		return err
	}
	if !strings.Contains(page.Body, demosp.ResultOK) { // the result page's hook, whatever its language
		return fmt.Errorf("login did not succeed (status %d)", page.Status)
	}
	return nil
}

func report(w io.Writer, d []time.Duration, failures int, plan loadPlan, wall time.Duration) {
	if len(d) == 0 {
		fmt.Fprintf(w, "no successful logins, %d failures\n", failures)
		return
	}
	slices.Sort(d)
	mode := "closed loop"
	if plan.rate > 0 {
		mode = fmt.Sprintf("open loop at %g logins/s, at most %d in flight", plan.rate, plan.workers)
	}
	fmt.Fprintf(w, "logins: %d ok, %d failed, %d workers, %s, %v\n", len(d), failures, plan.workers, mode, wall.Round(time.Millisecond))
	fmt.Fprintf(w, "throughput: %.1f logins/s\n", float64(len(d))/wall.Seconds())
	fmt.Fprintf(w, "latency: p50 %v  p90 %v  p99 %v  max %v\n",
		d[len(d)/2].Round(time.Microsecond), d[len(d)*9/10].Round(time.Microsecond),
		d[len(d)*99/100].Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond))
}

// hopTimer times each hop (one HTTP request, from sending it to the end of
// its body) and counts the hops each replica served (server.ReplicaHeader).
type hopTimer struct {
	next     http.RoundTripper
	mu       sync.Mutex
	hops     []time.Duration
	byPath   map[string][]time.Duration // "POST /path" → its hops' times (at most maxHopKinds keys)
	replicas map[string]int
}

// maxHopKinds bounds byPath: a target's odd redirects cannot grow it.
const maxHopKinds = 32

func (h *hopTimer) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := h.next.RoundTrip(r)
	if err != nil {
		h.record(r, time.Since(start), "")
		return nil, err
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, done: func() {
		h.record(r, time.Since(start), resp.Header.Get(server.ReplicaHeader))
	}}
	return resp, nil
}

func (h *hopTimer) record(r *http.Request, d time.Duration, replica string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hops = append(h.hops, d)
	kind := r.Method + " " + r.URL.Path
	if h.byPath == nil {
		h.byPath = map[string][]time.Duration{}
	}
	if _, ok := h.byPath[kind]; !ok && len(h.byPath) >= maxHopKinds-1 {
		kind = "other"
	}
	h.byPath[kind] = append(h.byPath[kind], d)
	if replica != "" {
		if h.replicas == nil {
			h.replicas = map[string]int{}
		}
		h.replicas[replica]++
	}
}

// report prints the hop latencies and, when replicas named themselves, how
// many hops each served (the demo SP's and the gateway's hops name none).
func (h *hopTimer) report(w io.Writer, logins int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.hops) == 0 || logins == 0 {
		return
	}
	d := slices.Clone(h.hops)
	slices.Sort(d)
	fmt.Fprintf(w, "hops: %d (%.1f a login): p50 %v  p90 %v  p99 %v  max %v\n", len(d), float64(len(d))/float64(logins),
		d[len(d)/2].Round(time.Microsecond), d[len(d)*9/10].Round(time.Microsecond),
		d[len(d)*99/100].Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond))
	kinds := make([]string, 0, len(h.byPath))
	for k := range h.byPath {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		d := slices.Clone(h.byPath[k])
		slices.Sort(d)
		fmt.Fprintf(w, "  %-40s %5d hops  p50 %v  p99 %v\n", k, len(d),
			d[len(d)/2].Round(time.Microsecond), d[len(d)*99/100].Round(time.Microsecond))
	}
	if len(h.replicas) == 0 {
		return
	}
	ids := make([]string, 0, len(h.replicas))
	for id := range h.replicas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s %d", id, h.replicas[id])
	}
	fmt.Fprintf(w, "bridge hops by replica: %s\n", strings.Join(parts, ", "))
}

// timedBody calls done once, when the body is closed.
type timedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *timedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
