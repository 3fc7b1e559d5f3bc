package hatest

// HAProxy in front of the replicas: its configuration (from the example
// the guide ships) and its process.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
