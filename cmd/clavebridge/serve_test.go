package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeLifecycleLogs runs the clavebridge binary with production logs
// (JSON, ISO-8601 timestamps) on port 0 and reads its lines: the version
// and the configuration file at startup, each SP loaded and their count,
// the public listener's bound address (port 0 resolved, so the test finds
// the bridge by it), an access line per request (its path without the
// query), and, after SIGTERM, the stop with its cause; the exit status
// is 0.
func TestServeLifecycleLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "clavebridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	example, err := os.ReadFile(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(
		"127.0.0.1:8080", "127.0.0.1:0",
		"127.0.0.1:9464", "127.0.0.1:0",
		"testdata/", filepath.Join(root, "testdata")+"/",
	).Replace(string(example))
	const devLogs = "log:\n  development: true"
	if !strings.Contains(text, devLogs) || !strings.Contains(text, "listen: 127.0.0.1:0") {
		t.Fatal("config.example.yaml no longer has the lines this test edits")
	}
	text = strings.Replace(text, devLogs, "log:\n  development: false", 1)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "serve", "-c", cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 256)
	var other []string // what is not a log line (check's findings on stderr)
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				other = append(other, sc.Text())
				continue
			}
			lines <- line
		}
	}()
	exited := make(chan error, 1)
	// Wait closes the pipe: only once everything written to it was read,
	// or the last lines could be lost.
	go func() { <-read; exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()

	var seen []map[string]any
	next := func(msg string) map[string]any {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("the bridge ended before logging %q; it logged %v", msg, seen)
				}
				seen = append(seen, line)
				if line["msg"] == msg {
					return line
				}
			case <-timeout:
				t.Fatalf("no line %q; the bridge logged %v", msg, seen)
			}
		}
	}

	start := next("clavebridge starting")
	if start["version"] != "dev" || start["config"] != cfgPath || start["mode"] != "development" {
		t.Errorf("start line %v", start)
	}
	loaded := next("service providers loaded")
	sps := map[string]string{}
	for _, l := range seen {
		if l["msg"] == "service provider loaded" {
			sps[l["sp"].(string)] = l["dialect"].(string)
		}
	}
	if n, _ := loaded["count"].(float64); int(n) != len(sps) || len(sps) < 3 {
		t.Errorf("count %v for the SPs logged %v", loaded["count"], sps)
	}
	for _, dialect := range []string{"saml2", "eidas", "stork"} {
		found := false
		for _, d := range sps {
			found = found || d == dialect
		}
		if !found {
			t.Errorf("no %s SP among those logged: %v", dialect, sps)
		}
	}
	var public map[string]any
	for public == nil {
		if l := next("listening"); l["listener"] == "public" {
			public = l
		}
	}
	addr, _ := public["listen"].(string)
	if !regexp.MustCompile(`^127\.0\.0\.1:[1-9][0-9]*$`).MatchString(addr) {
		t.Fatalf("the public listener is logged as %q, not its bound address", addr)
	}

	resp, err := http.Get("http://" + addr + "/healthz?probe=12345678Z")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	access := next("http request")
	if access["logger"] != "access" || access["method"] != "GET" || access["path"] != "/healthz" || access["status"] != float64(http.StatusOK) {
		t.Errorf("access line %v", access)
	}
	if resp, err := http.Get("http://" + addr + "/readyz"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ready\n" {
			t.Errorf("/readyz of a serving bridge: %d %q, want 200 ready", resp.StatusCode, body)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopping := next("shutting down: draining requests in flight")
	if stopping["cause"] != "terminated signal received" {
		t.Errorf("the stop's cause is %v", stopping["cause"])
	}
	next("clavebridge stopped")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the bridge did not exit after SIGTERM")
	}
	for l := range lines { // the rest, to the end of the output
		seen = append(seen, l)
	}
	iso := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d{4})$`)
	for _, l := range seen {
		if ts, _ := l["ts"].(string); !iso.MatchString(ts) {
			t.Errorf("line %q: ts %v is not ISO-8601", l["msg"], l["ts"])
		}
		if b, _ := json.Marshal(l); strings.Contains(string(b), "12345678Z") {
			t.Errorf("the query reached a log line: %s", b)
		}
	}
	if strings.Contains(strings.Join(other, "\n"), "12345678Z") {
		t.Error("the query reached the output")
	}
}
