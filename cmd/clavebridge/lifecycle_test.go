package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestDrain: told to stop, the bridge first turns not ready (stopping,
// while the listener still accepts), then a request in flight finishes
// with its answer; the stop is logged with its cause; serveUntil then
// returns nil (exit 0). With a request that outlives the shutdown timeout,
// its connection is closed at the timeout and serveUntil still returns.
func TestDrain(t *testing.T) {
	tests := []struct {
		name string
		// release: the handler finishes once the shutdown has begun
		// (false: only when the test ends, after the timeout).
		release  bool
		drain    time.Duration
		wantBody bool
		wantLine string
	}{
		{"in flight completes", true, 5 * time.Second, true, "clavebridge stopped"},
		{"timeout closes", false, 20 * time.Millisecond, false, "shutdown timeout reached: closing the connections still open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			defer close(release)
			hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				close(entered)
				select {
				case <-release:
				case <-time.After(10 * time.Second): // a safety net only
				}
				_, _ = io.WriteString(w, "done")
			})}
			// Shutdown closes the listeners, then calls this.
			shuttingDown := make(chan struct{})
			hs.RegisterOnShutdown(func() { close(shuttingDown) })
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			core, logs := observer.New(zap.InfoLevel)
			ctx, stop := context.WithCancelCause(context.Background())
			served := make(chan error, 1)
			// stopping (readiness to 503) runs before the listener closes:
			// it still accepts then, and the shutdown has not begun.
			acceptedWhenStopping := make(chan bool, 1)
			stopping := func() {
				select {
				case <-shuttingDown:
					acceptedWhenStopping <- false
					return
				default:
				}
				c, err := net.Dial("tcp", ln.Addr().String())
				if err == nil {
					c.Close()
				}
				acceptedWhenStopping <- err == nil
			}
			go func() { served <- serveUntil(ctx, hs, ln, tt.drain, zap.New(core), stopping) }()

			type answer struct {
				body string
				err  error
			}
			answered := make(chan answer, 1)
			go func() {
				resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
				if err != nil {
					answered <- answer{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				answered <- answer{string(b), err}
			}()
			<-entered // the request is in flight
			stop(errors.New("terminated signal received"))
			<-shuttingDown
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil { // no new connection once the drain began
				c.Close()
				t.Error("the listener still accepts during the drain")
			}
			if tt.release {
				release <- struct{}{}
			}
			if err := <-served; err != nil {
				t.Fatalf("serveUntil = %v, want nil (exit 0)", err)
			}
			select {
			case ok := <-acceptedWhenStopping:
				if !ok {
					t.Error("stopping (readiness false) ran after the listener closed")
				}
			default:
				t.Error("stopping was not called")
			}
			a := <-answered
			if got := a.err == nil && a.body == "done"; got != tt.wantBody {
				t.Fatalf("the request in flight got %q, %v", a.body, a.err)
			}
			line := logs.FilterMessage("shutting down: draining requests in flight").All()[0].ContextMap()
			if line["cause"] != "terminated signal received" || line["shutdown_timeout"] != tt.drain {
				t.Errorf("shutdown line %v", line)
			}
			if logs.FilterMessage(tt.wantLine).Len() != 1 {
				t.Errorf("no line %q", tt.wantLine)
			}
		})
	}
}

// TestListenLogsTheBoundAddress: the listener is bound before it is
// logged, so a port 0 is logged resolved; a port in use is an error that
// names server.listen.
func TestListenLogsTheBoundAddress(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	ln, err := listen(zap.New(core), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := logs.FilterMessage("listening").All()
	if len(got) != 1 || got[0].ContextMap()["listen"] != ln.Addr().String() || strings.HasSuffix(ln.Addr().String(), ":0") {
		t.Fatalf("logged %v for %s", got, ln.Addr())
	}
	if _, err := listen(zap.New(core), ln.Addr().String()); err == nil || !strings.Contains(err.Error(), "server.listen") {
		t.Fatalf("a port in use: %v", err)
	}
}

// TestProductionLogFormat: production lines are JSON with ISO-8601
// timestamps, and are never sampled (zap's default would drop the access
// and audit lines past 100 a second).
func TestProductionLogFormat(t *testing.T) {
	c := productionLogConfig()
	if c.Sampling != nil {
		t.Fatal("production logs are sampled")
	}
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(c.EncoderConfig), zapcore.AddSync(&buf), c.Level))
	for range 300 {
		log.Info("http request")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 300 {
		t.Fatalf("%d lines of 300", len(lines))
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	ts, _ := line["ts"].(string)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$|^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts) {
		t.Fatalf("ts = %v, want ISO-8601", line["ts"])
	}
}
