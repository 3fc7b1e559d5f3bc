package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/web/metrics"
)

// serveMetrics binds addr (metrics.listen) and serves m's GET /metrics
// there, apart from the public listener, until ctx is done; it returns the
// address bound and a channel closed once the listener has stopped. A bind
// that fails stops the start.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, log *zap.Logger) (net.Addr, <-chan struct{}, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics.listen: %w", err)
	}
	stopped := make(chan struct{})
	hs := m.HTTPServer()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	}()
	go func() {
		defer close(stopped)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", zap.Error(err))
		}
	}()
	log.Info("listening", zap.String("listener", "metrics"), zap.String("listen", ln.Addr().String()), zap.String("path", metrics.Path))
	return ln.Addr(), stopped, nil
}
