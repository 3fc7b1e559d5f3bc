package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/demosp"
	"github.com/clavebridge/clavebridge/internal/browser"
)

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr is a loopback address nobody listens on (for a moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually polls cond every few milliseconds until it holds or the
// deadline passes.
func eventually(t *testing.T, what string, out *lockedBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; the bridge wrote:\n%s", what, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var reloadedLine = regexp.MustCompile(`configuration reloaded[^,]`)

// TestServeReloadsOnSIGHUP runs the clavebridge binary, changes an SP's
// policy in its file and sends SIGHUP: the change is applied to the next
// login. A broken file then leaves the last good configuration serving and
// the reload metric at 0; a good one again sets it back to 1.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "clavebridge")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	listen, metricsAddr := freeAddr(t), freeAddr(t)
	base := "http://" + listen
	example, err := os.ReadFile(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	original := strings.NewReplacer(
		"http://localhost:8080", base,
		"127.0.0.1:8080", listen,
		"127.0.0.1:9464", metricsAddr,
		"testdata/", filepath.Join(root, "testdata")+"/",
		`# auto_login: {idp: AFIRMA, citizen: "99999999R", method: dnie}`, `auto_login: {idp: SEGSOC, citizen: "00000000T"}`,
	).Replace(string(example))
	const allowed, denied = "deny_idps: [PIN24H]", "deny_idps: [PIN24H, SEGSOC]"
	if strings.Count(original, allowed) != 1 || !strings.Contains(original, "auto_login: {idp: SEGSOC") {
		t.Fatal("config.example.yaml no longer has the lines this test edits")
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(original)

	out := &lockedBuffer{}
	cmd := exec.Command(bin, "serve", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	client := &http.Client{Timeout: 5 * time.Second}
	get := func(u string) (int, string) {
		resp, err := client.Get(u)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	eventually(t, "/healthz", out, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("the bridge exited: %v\n%s", err, out)
		default:
		}
		status, _ := get(base + "/healthz")
		return status == http.StatusOK
	})
	reloadMetric := func() string {
		status, body := get("http://" + metricsAddr + "/metrics")
		if status != http.StatusOK {
			t.Fatalf("metrics: status %d", status)
		}
		m := regexp.MustCompile(`(?m)^clavebridge_config_last_reload_successful (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no clavebridge_config_last_reload_successful in the metrics:\n%.3000s", body)
		}
		return m[1]
	}
	login := func(want ...string) {
		t.Helper()
		b := browser.New(http.DefaultTransport)
		page, err := b.Post(base+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
		if err == nil {
			page, _, err = b.FollowPosts(page, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(page.Body, w) {
				t.Fatalf("the login's last page lacks %q:\n%.2000s", w, page.Body)
			}
		}
	}
	hup := func() {
		t.Helper()
		if err := syscall.Kill(cmd.Process.Pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	reloads := func() int { return len(reloadedLine.FindAllString(out.String(), -1)) }
	failures := func() int { return strings.Count(out.String(), "configuration reload failed") }

	login(demosp.ResultOK, "SEGSOC")
	if got := reloadMetric(); got != "1" {
		t.Errorf("reload metric at startup = %s, want 1", got)
	}

	// The SP's policy now denies the IdP the citizen uses.
	write(strings.Replace(original, allowed, denied, 1))
	hup()
	eventually(t, "the reload's log line", out, func() bool { return reloads() == 1 })
	login(demosp.ResultFailed, "RequestDenied")
	if got := reloadMetric(); got != "1" {
		t.Errorf("reload metric after a good reload = %s, want 1", got)
	}
	if !regexp.MustCompile(`configuration reloaded.*"service_providers": ?3`).MatchString(out.String()) {
		t.Errorf("the reload's log line does not count the SPs:\n%s", out)
	}

	// A broken file (which would allow the IdP again were it read) leaves
	// the last good configuration serving.
	write(original + "\nservice_providers: [\n")
	hup()
	eventually(t, "the failed reload's log line", out, func() bool { return failures() == 1 })
	login(demosp.ResultFailed, "RequestDenied")
	if got := reloadMetric(); got != "0" {
		t.Errorf("reload metric after a broken file = %s, want 0", got)
	}
	if line := lineWith(out.String(), "configuration reload failed"); !strings.Contains(line, "reason") {
		t.Errorf("the failed reload's line gives no reason: %s", line)
	}

	// Fixed again: applied, and the metric is back at 1.
	write(original)
	hup()
	eventually(t, "the second reload's log line", out, func() bool { return reloads() == 2 })
	login(demosp.ResultOK, "SEGSOC")
	if got := reloadMetric(); got != "1" {
		t.Errorf("reload metric after a good reload = %s, want 1", got)
	}

	if testing.Verbose() {
		t.Logf("the bridge wrote:\n%s", out)
	}

	// SIGTERM still stops it.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("the bridge exited with %v after SIGTERM", err)
		}
	case <-ctx.Done():
		t.Error("the bridge did not stop after SIGTERM")
	}
}

// lineWith is the last line of text containing s.
func lineWith(text, s string) string {
	lines := strings.Split(text, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}
