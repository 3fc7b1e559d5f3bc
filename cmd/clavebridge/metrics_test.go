package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/web/metrics"
)

// TestServeMetrics: the metrics listener binds its own address, logs it,
// serves GET /metrics there and nothing else, and stops with its context;
// an address already taken stops the start with an error naming
// metrics.listen.
func TestServeMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	core, logs := observer.New(zap.InfoLevel)
	addr, stopped, err := serveMetrics(ctx, "127.0.0.1:0", metrics.New(), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	lines := logs.FilterMessage("listening").FilterField(zap.String("listener", "metrics")).All()
	if len(lines) != 1 || lines[0].ContextMap()["listen"] != addr.String() {
		t.Fatalf("the metrics listener is logged as %v, want its bound address %s", lines, addr)
	}
	for _, tt := range []struct {
		path string
		want int
		body string
	}{
		{"/metrics", http.StatusOK, "clavebridge_config_last_reload_successful 1"},
		{"/", http.StatusNotFound, ""},
		{"/healthz", http.StatusNotFound, ""},
		{"/saml2/metadata", http.StatusNotFound, ""},
	} {
		resp, err := http.Get("http://" + addr.String() + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.body) {
			t.Errorf("GET %s: %d, want %d with %q", tt.path, resp.StatusCode, tt.want, tt.body)
		}
	}

	if _, _, err := serveMetrics(ctx, addr.String(), metrics.New(), zap.NewNop()); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("binding a taken address: %v, want an error naming metrics.listen", err)
	}

	cancel()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second): // a guard, not a wait: Shutdown closes the listener at once
		t.Fatal("the metrics listener did not stop with its context")
	}
	if resp, err := http.Get("http://" + addr.String() + "/metrics"); err == nil {
		resp.Body.Close()
		t.Errorf("the metrics listener still answers after its context ended")
	}
}
