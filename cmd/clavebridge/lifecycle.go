package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
)

// productionLogConfig is zap's production configuration (JSON on stderr,
// info and above) with ISO-8601 timestamps instead of epoch seconds, and
// without sampling: zap's default drops repeated messages past 100 a
// second, and every access and audit line repeats its message.
func productionLogConfig() zap.Config {
	c := zap.NewProductionConfig()
	c.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	c.Sampling = nil
	return c
}

// logStartup logs what is starting: the version, the configuration file
// and the mode.
func logStartup(log *zap.Logger, file string, cfg *config.Config) {
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	build := thisBuild()
	log.Info("clavebridge starting", zap.String("version", build.Version), zap.String("commit", build.Commit),
		zap.Bool("modified", build.Modified), zap.String("go", runtime.Version()),
		zap.String("config", file), zap.String("mode", cfg.Mode), zap.String("base_url", cfg.Server.BaseURL),
		zap.String("upstream", cfg.Upstream.Mode))
}

// logServiceProviders logs the SPs loaded, one line each (id, dialect),
// then their count.
func logServiceProviders(log *zap.Logger, sps []*bridge.ServiceProvider) {
	for _, sp := range sps {
		log.Info("service provider loaded", zap.String("sp", sp.ID), zap.String("dialect", sp.Dialect))
	}
	log.Info("service providers loaded", zap.Int("count", len(sps)))
}

// listen binds the public listener (server.listen) before anything is
// served, so that the address logged is the one bound (a port 0 resolved).
func listen(log *zap.Logger, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server.listen: %w", err)
	}
	log.Info("listening", zap.String("listener", "public"), zap.String("listen", ln.Addr().String()))
	return ln, nil
}

// serveUntil serves hs on ln until ctx ends (SIGTERM or SIGINT), then
// calls stopping (when not nil: /readyz turns to 503 "draining") and
// drains: no new connection is accepted, and the requests in flight have
// up to drain (server.shutdown_timeout) to finish before their connections
// are closed. It returns nil after a stop, however the drain ended, and an
// error only when serving fails.
func serveUntil(ctx context.Context, hs *http.Server, ln net.Listener, drain time.Duration, log *zap.Logger, stopping func()) error {
	if hs.ErrorLog == nil { // net/http's own complaints (a failed accept, a bad handshake) as JSON lines too
		if std, err := zap.NewStdLogAt(log.Named("http"), zapcore.WarnLevel); err == nil {
			hs.ErrorLog = std
		}
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("server.listen: %w", err)
	case <-ctx.Done():
	}
	cause := "stopped"
	if err := context.Cause(ctx); err != nil {
		cause = err.Error() // "terminated signal received" for SIGTERM
	}
	if stopping != nil { // not ready first, then stop accepting
		stopping()
	}
	log.Info("shutting down: draining requests in flight", zap.String("cause", cause), zap.Duration("shutdown_timeout", drain))
	start := time.Now()
	shutdown, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := hs.Shutdown(shutdown)
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("listener stopped with an error", zap.Error(serr))
	}
	if err != nil {
		log.Warn("shutdown timeout reached: closing the connections still open", zap.Duration("shutdown_timeout", drain), zap.Error(err))
		_ = hs.Close()
	}
	log.Info("clavebridge stopped", zap.Duration("drained_in", time.Since(start)))
	return nil
}
