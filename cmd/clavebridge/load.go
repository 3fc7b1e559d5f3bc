package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
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
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Run complete demo logins against an in-process bridge with the simulator's auto-login, and report throughput",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runLoad(cmd.OutOrStdout(), cfg, logins, workers)
		},
	}
	cmd.Flags().IntVar(&logins, "logins", 500, "number of complete logins")
	cmd.Flags().IntVar(&workers, "workers", 8, "concurrent browsers")
	return cmd
}

// runLoad serves cfg on a loopback port with auto-login and times logins.
func runLoad(w io.Writer, cfg *config.Config, logins, workers int) error {
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

	transport := &http.Transport{MaxIdleConnsPerHost: workers}
	start := time.Now()
	durations, failures := drive(base, transport, logins, workers)
	report(w, durations, failures, workers, time.Since(start))
	if failures > 0 {
		return fmt.Errorf("%d of %d logins failed", failures, logins)
	}
	return nil
}

// rebase moves every URL of the configuration from its base URL to base.
func rebase(cfg *config.Config, base string) {
	old := cfg.Server.BaseURL
	cfg.Server.BaseURL = base
	cfg.Upstream.SSOURL = strings.Replace(cfg.Upstream.SSOURL, old, base, 1)
	for i := range cfg.ServiceProviders {
		sp := &cfg.ServiceProviders[i]
		sp.ID = strings.Replace(sp.ID, old, base, 1)
		for j := range sp.ReturnURLs {
			sp.ReturnURLs[j] = strings.Replace(sp.ReturnURLs[j], old, base, 1)
		}
	}
}

func drive(base string, transport http.RoundTripper, logins, workers int) ([]time.Duration, int) {
	jobs := make(chan struct{})
	var mu sync.Mutex
	var durations []time.Duration
	failures := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				start := time.Now()
				err := oneLogin(base, transport)
				mu.Lock()
				if err != nil {
					failures++
				} else {
					durations = append(durations, time.Since(start))
				}
				mu.Unlock()
			}
		}()
	}
	for range logins {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return durations, failures
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

func report(w io.Writer, d []time.Duration, failures, workers int, wall time.Duration) {
	if len(d) == 0 {
		fmt.Fprintf(w, "no successful logins, %d failures\n", failures)
		return
	}
	slices.Sort(d)
	fmt.Fprintf(w, "logins: %d ok, %d failed, %d workers, %v\n", len(d), failures, workers, wall.Round(time.Millisecond))
	fmt.Fprintf(w, "throughput: %.1f logins/s\n", float64(len(d))/wall.Seconds())
	fmt.Fprintf(w, "latency: p50 %v  p90 %v  p99 %v  max %v\n",
		d[len(d)/2].Round(time.Microsecond), d[len(d)*9/10].Round(time.Microsecond),
		d[len(d)*99/100].Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond))
}
