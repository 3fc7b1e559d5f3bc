package hatest_test

// The replica and fault tests (make ha): two replicas behind HAProxy on one
// Redis, the gateway and the demo SP in a process of their own. Each hop's
// X-Clavebridge-Replica header says which replica served it, so the tests
// prove that a login's hops crossed replicas rather than assume it.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/hatest"
)

// The demo SP's result pages (cmd/clavebridge/internal/demosp/pages.go).
const (
	loggedIn  = `data-result="ok"`
	loggedOut = `data-logout="success"`
)

var bin *hatest.Binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hatest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if bin, err = hatest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// steer sends each path prefix's requests to the replica named.
func steer(routes map[string]string) func(*http.Request) string {
	return func(r *http.Request) string {
		for prefix, name := range routes {
			if strings.HasPrefix(r.URL.Path, prefix) {
				return name
			}
		}
		return ""
	}
}

// servedBy is the replica id of the first hop to path ("" when none went there).
func servedBy(hops []hatest.Hop, path string) string {
	for _, h := range hops {
		if h.Path == path {
			return h.Replica
		}
	}
	return ""
}

func went(hops []hatest.Hop, prefix string) bool {
	for _, h := range hops {
		if strings.HasPrefix(h.Path, prefix) {
			return true
		}
	}
	return false
}

// login runs the demo SP's login from its button to its result page.
func login(t *testing.T, c *hatest.Cluster, b *browser.Browser) *browser.Page {
	t.Helper()
	page, err := b.Post(c.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
	if err != nil {
		t.Fatal(err)
	}
	if page, _, err = b.FollowPosts(page, nil); err != nil {
		t.Fatal(err)
	}
	return page
}

// untilForm starts the demo login and follows it until the next form
// would be posted to path, which it returns unposted.
func untilForm(t *testing.T, c *hatest.Cluster, b *browser.Browser, start *browser.Page, path string) *browser.Form {
	t.Helper()
	var err error
	page := start
	if page == nil {
		if page, err = b.Post(c.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}}); err != nil {
			t.Fatal(err)
		}
	}
	last, form, err := b.FollowPosts(page, func(f browser.Form) bool { return strings.HasSuffix(f.Action, path) })
	if err != nil {
		t.Fatal(err)
	}
	if form == nil {
		t.Fatalf("the login never posted to %s; it ended at %s (%d): %.800s", path, last.URL, last.Status, last.Body)
	}
	return form
}

// TestHACrossReplicas: a login whose request hop and answer hop land on
// different replicas completes; the SSO session the second replica
// started is reused on the first (no gateway hop); logout, its hops again
// on both replicas, ends the session for every replica.
func TestHACrossReplicas(t *testing.T) {
	c := hatest.Start(t, hatest.Options{Bin: bin})
	r0, r1 := c.Replicas[0], c.Replicas[1]
	if r0.ID == r1.ID || len(r0.ID) != 8 {
		t.Fatalf("replica ids %q and %q: want two distinct random 8-hex ids", r0.ID, r1.ID)
	}
	b, rec := c.Browser()

	rec.Steer = steer(map[string]string{"/saml2/": r0.Name, "/upstream/": r1.Name})
	page := login(t, c, b)
	hops := rec.Hops()
	if !strings.Contains(page.Body, loggedIn) {
		t.Fatalf("login across replicas failed (%d): %.1500s\nhops %+v", page.Status, page.Body, hops)
	}
	if got, want := [2]string{servedBy(hops, "/saml2/sso"), servedBy(hops, "/upstream/acs")}, [2]string{r0.ID, r1.ID}; got != want {
		t.Fatalf("the request and answer hops were served by %v, want %v (hops %+v)", got, want, hops)
	}

	t.Run("SSO reuse on the other replica", func(t *testing.T) {
		before := len(rec.Hops())
		rec.Steer = steer(map[string]string{"/saml2/": r0.Name, "/upstream/": r0.Name})
		page := login(t, c, b)
		hops := rec.Hops()[before:]
		if !strings.Contains(page.Body, loggedIn) {
			t.Fatalf("SSO reuse failed (%d): %.1500s\nhops %+v", page.Status, page.Body, hops)
		}
		if went(hops, "/sim/") {
			t.Errorf("the second login went to the gateway: the session %s started was not reused on %s: %+v", r1.ID, r0.ID, hops)
		}
		if got := servedBy(hops, "/saml2/sso"); got != r0.ID {
			t.Errorf("the reuse was served by %q, want %q", got, r0.ID)
		}
	})

	t.Run("logout across replicas", func(t *testing.T) {
		before := len(rec.Hops())
		// Each bridge hop to the replica the previous one did not serve.
		next := 0
		rec.Steer = func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/sim/") || strings.HasPrefix(r.URL.Path, "/demo/") {
				return ""
			}
			next++
			return c.Replicas[next%2].Name
		}
		page, err := b.Post(c.URL+"/demo/saml2/logout", url.Values{})
		if err != nil {
			t.Fatal(err)
		}
		if page, _, err = b.FollowPosts(page, nil); err != nil {
			t.Fatal(err)
		}
		hops := rec.Hops()[before:]
		if !strings.Contains(page.Body, loggedOut) {
			t.Fatalf("logout failed (%d) at %s: %.1500s\nhops %+v", page.Status, page.URL, page.Body, hops)
		}
		seen := map[string]bool{}
		for _, h := range hops {
			if h.Replica != "" {
				seen[h.Replica] = true
			}
		}
		if !seen[r0.ID] || !seen[r1.ID] {
			t.Errorf("the logout's bridge hops did not cross replicas: %+v", hops)
		}
		// The session is gone for both replicas: a new login goes to the gateway.
		before = len(rec.Hops())
		rec.Steer = nil
		if page := login(t, c, b); !strings.Contains(page.Body, loggedIn) || !went(rec.Hops()[before:], "/sim/") {
			t.Errorf("after logout, a login did not go through the gateway: %+v", rec.Hops()[before:])
		}
	})
}

// TestHAReplicaKilledMidLogin: the replica that served a login's first hop
// is killed (SIGKILL); the gateway's answer, landing on the other replica,
// finishes the login; the same answer posted again is refused (the pending
// login is taken once, in the store), never a second login.
func TestHAReplicaKilledMidLogin(t *testing.T) {
	c := hatest.Start(t, hatest.Options{Bin: bin})
	r0, r1 := c.Replicas[0], c.Replicas[1]
	b, rec := c.Browser()
	rec.Steer = steer(map[string]string{"/saml2/": r0.Name, "/upstream/": r0.Name})

	toGateway := untilForm(t, c, b, nil, "/sim/Proxy2/ServiceProvider")
	if got := servedBy(rec.Hops(), "/saml2/sso"); got != r0.ID {
		t.Fatalf("the first hop was served by %q, want %q", got, r0.ID)
	}
	if err := r0.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := r0.Wait(10 * time.Second); err == nil {
		t.Fatal("the killed replica exited with status 0")
	}
	page, err := b.Post(toGateway.Action, toGateway.Fields)
	if err != nil {
		t.Fatal(err)
	}
	answer := untilForm(t, c, b, page, "/upstream/acs")
	// Steered to the dead r0: HAProxy sends it to r1.
	page, err = b.Post(answer.Action, answer.Fields)
	if err != nil {
		t.Fatal(err)
	}
	acs := rec.Hops()[len(rec.Hops())-1]
	if acs.Path != "/upstream/acs" || acs.Replica != r1.ID {
		t.Fatalf("the answer hop was %+v, want served by %s", acs, r1.ID)
	}
	if page, _, err = b.FollowPosts(page, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.Body, loggedIn) {
		t.Fatalf("the login did not finish on %s (%d): %.1500s", r1.ID, page.Status, page.Body)
	}

	// The same answer again (a replay, or a browser's resubmission).
	resp, err := b.Client.PostForm(answer.Action, answer.Fields)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || strings.Contains(string(body), "<form") {
		t.Errorf("the answer posted twice: status %d, want 409 and no form: %.1000s", resp.StatusCode, body)
	}
	assertErrorPage(t, resp, string(body))
}

// assertErrorPage: the bridge's error page, with its trace id, no stack.
func assertErrorPage(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	trace := resp.Header.Get("X-Trace-Id")
	if trace == "" || !strings.Contains(body, trace) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("not the bridge's error page with a trace id (trace %q, %s): %.800s", trace, resp.Header.Get("Content-Type"), body)
	}
	for _, leak := range []string{"goroutine ", "panic", ".go:", "redis:", "dial tcp", "connection refused"} {
		if strings.Contains(body, leak) {
			t.Errorf("the error page shows %q: %.800s", leak, body)
		}
	}
}

// TestHAReplicaTerminated: SIGTERM to a replica with a request in flight:
// it stops taking new connections (HAProxy sends new logins to the other
// replica), the request in flight finishes within server.shutdown_timeout,
// and the process exits with status 0.
func TestHAReplicaTerminated(t *testing.T) {
	const drain = 5 * time.Second
	c := hatest.Start(t, hatest.Options{Bin: bin, ShutdownTimeout: drain})
	r0, r1 := c.Replicas[0], c.Replicas[1]
	b, _ := c.Browser()
	// A login's first hop, to be sent to r0 slowly: in flight at SIGTERM.
	form := untilForm(t, c, b, nil, "/saml2/sso")
	body := form.Fields.Encode()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(r0.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * drain))
	half := len(body) / 2
	if _, err := fmt.Fprintf(conn, "POST /saml2/sso HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
		strings.TrimPrefix(c.URL, "http://"), len(body), body[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the request is read and its handler reading the body
	sent := time.Now()
	if err := r0.Term(); err != nil {
		t.Fatal(err)
	}
	if _, err := r0.WaitLine(func(l map[string]any) (string, bool) {
		return "", l["msg"] == "shutting down: draining requests in flight"
	}); err != nil {
		t.Fatal(err)
	}
	// Draining: new logins through HAProxy, even steered to r0, finish on r1.
	b2, rec2 := c.Browser()
	rec2.Steer = steer(map[string]string{"/saml2/": r0.Name, "/upstream/": r0.Name})
	if page := login(t, c, b2); !strings.Contains(page.Body, loggedIn) || servedBy(rec2.Hops(), "/saml2/sso") != r1.ID {
		t.Errorf("a login during the drain: %+v", rec2.Hops())
	}
	if r0.Exited() {
		t.Fatal("the replica exited with a request in flight")
	}
	// The request in flight completes.
	if _, err := io.WriteString(conn, body[half:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "/sim/Proxy2/ServiceProvider") || resp.Header.Get(hatest.ReplicaHeader) != r0.ID {
		t.Errorf("the request in flight: status %d, replica %q: %.800s", resp.StatusCode, resp.Header.Get(hatest.ReplicaHeader), page)
	}
	if err := r0.Wait(drain + 2*time.Second); err != nil {
		t.Fatalf("after the drain: %v", err)
	}
	if took := time.Since(sent); took > drain+2*time.Second {
		t.Errorf("the replica took %s to stop, shutdown_timeout %s", took, drain)
	}
	var order []string
	for _, l := range r0.Lines() {
		if m, _ := l["msg"].(string); m == "shutting down: draining requests in flight" || m == "clavebridge stopped" || m == "shutdown timeout reached: closing the connections still open" {
			order = append(order, m)
		}
	}
	if len(order) != 2 || order[1] != "clavebridge stopped" {
		t.Errorf("the stop's lines: %q, want the drain then the stop, no timeout", order)
	}
}

// TestHARedisDown: with Redis gone, a replica answers a login with its
// error page (503, trace id, no stack), quickly; /readyz says "store
// unreachable", so HAProxy takes every replica out and serves its own
// page (Spanish and English, no script, a reference); when Redis returns,
// the replicas are ready again by themselves and logins succeed.
func TestHARedisDown(t *testing.T) {
	c := hatest.Start(t, hatest.Options{Bin: bin})
	r0 := c.Replicas[0]
	b, _ := c.Browser()
	// Two logins' hops to post during the outage: an SP's request, and the
	// gateway's answer to another login started before it.
	request := untilForm(t, c, b, nil, "/saml2/sso")
	b2, _ := c.Browser()
	answer := untilForm(t, c, b2, nil, "/upstream/acs")
	// And a logged-in citizen's logout, sent by the SP.
	b3, _ := c.Browser()
	if page := login(t, c, b3); !strings.Contains(page.Body, loggedIn) {
		t.Fatalf("login before the outage: %.800s", page.Body)
	}
	start, err := b3.Post(c.URL+"/demo/saml2/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	logout := untilForm(t, c, b3, start, "/saml2/slo")
	if err := c.Redis.Stop(); err != nil {
		t.Fatal(err)
	}

	for _, hop := range []struct {
		name   string
		client *http.Client
		path   string
		form   *browser.Form
	}{
		{"SP's request", b.Client, "/saml2/sso", request},
		{"gateway's answer", b2.Client, "/upstream/acs", answer},
		{"SP's logout", b3.Client, "/saml2/slo", logout},
	} {
		t.Run("replica's page for the "+hop.name, func(t *testing.T) {
			cl := *hop.client // its cookies (the pending login)
			cl.Transport = &http.Transport{DisableKeepAlives: true}
			cl.Timeout = 15 * time.Second
			start := time.Now()
			resp, err := cl.PostForm(r0.URL+hop.path, hop.form.Fields)
			if err != nil {
				t.Fatalf("no answer while Redis is down: %v", err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the answer took %s", took)
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status %d while Redis is down, want 503: %.800s", resp.StatusCode, body)
			}
			assertErrorPage(t, resp, string(body))
		})
	}

	t.Run("readyz", func(t *testing.T) {
		resp, err := http.Get(r0.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(body)) != "store unreachable" {
			t.Errorf("/readyz %d %q", resp.StatusCode, body)
		}
	})

	t.Run("HAProxy's page", func(t *testing.T) {
		var resp *http.Response
		var body []byte
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := http.Get(c.URL + "/saml2/sso?SAMLRequest=x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
			_ = r.Body.Close()
			resp = r
			if r.Header.Get(hatest.ReplicaHeader) == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		page := string(body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(hatest.ReplicaHeader) != "" {
			t.Fatalf("with every replica out: status %d, replica %q: %.500s", resp.StatusCode, resp.Header.Get(hatest.ReplicaHeader), page)
		}
		if !regexp.MustCompile(`referencia: <span class="ref">[0-9A-F]{12,}`).MatchString(page) {
			t.Errorf("HAProxy's page gives no reference: %.1500s", page)
		}
		for _, want := range []string{`<html lang="es">`, `lang="en"`, "<h1", "<main>", "no está disponible", "not available", `<meta name="viewport"`} {
			if !strings.Contains(page, want) {
				t.Errorf("HAProxy's page lacks %q", want)
			}
		}
		for _, bad := range []string{"<script", "%[", "javascript:", "on" + "load="} {
			if strings.Contains(page, bad) {
				t.Errorf("HAProxy's page has %q", bad)
			}
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("HAProxy's page headers: %v", resp.Header)
		}
	})

	if err := c.Redis.Start(); err != nil {
		t.Fatal(err)
	}
	c.WaitUp(t, len(c.Replicas)) // by themselves: nothing restarted
	b2, rec := c.Browser()
	if page := login(t, c, b2); !strings.Contains(page.Body, loggedIn) {
		t.Fatalf("a login after Redis returned (%d): %.1000s\nhops %+v", page.Status, page.Body, rec.Hops())
	}
}

// TestHAProxyShippedConfig: docs/haproxy/haproxy.cfg is valid for Debian's
// HAProxy once its certificate and error page paths are this checkout's
// (haproxy -c checks the directives, the pages' files and their log
// format), and it health-checks the replicas on /readyz.
func TestHAProxyShippedConfig(t *testing.T) {
	data, err := os.ReadFile(bin.Root + "/docs/haproxy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"option httpchk GET /readyz", "option redispatch", "lf-file /etc/haproxy/errors/clavebridge/503.html", "balance roundrobin"} {
		if !strings.Contains(text, want) {
			t.Errorf("the shipped config lacks %q", want)
		}
	}
	text = strings.NewReplacer(
		"/etc/haproxy/errors/clavebridge", bin.Root+"/"+hatest.ErrorPages,
		"bind :443 ssl crt /etc/haproxy/certs/bridge.pem alpn h2,http/1.1", "bind 127.0.0.1:1443",
		"bind :80", "bind 127.0.0.1:1080",
	).Replace(text)
	path := t.TempDir() + "/haproxy.cfg"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", path).CombinedOutput(); err != nil || strings.Contains(string(out), "WARNING") {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}
