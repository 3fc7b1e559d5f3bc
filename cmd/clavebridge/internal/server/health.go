package server

// Health endpoints for the load balancer or orchestrator in front of the
// bridge. /healthz says the process answers; /readyz says this replica can
// take logins. Readiness looks at local state only (its keys, its store,
// whether it is stopping): never at an SP's metadata or the gateway, so
// one SP's trouble never takes every replica out of the load balancer.

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// readyTimeout bounds the store check of one /readyz request.
const readyTimeout = 2 * time.Second

// The /readyz answers: 200 "ready", or 503 with the reason.
const (
	readyOK       = "ready"
	notReadyDrain = "draining"        // the process was told to stop
	notReadyKeys  = "keys not loaded" // no signing or decryption key
	notReadyStore = "store unreachable"
)

// mountHealth mounts /healthz and /readyz. The draining flag is the
// process's: an assembly a reload builds shares prev's.
func (s *Server) mountHealth(keys *keySet, prev *Server) {
	s.keys = keys
	s.draining = new(atomic.Bool)
	if prev != nil {
		s.draining = prev.draining
	}
	e := s.Web.Echo()
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", func(c echo.Context) error {
		if reason := s.notReady(c.Request().Context()); reason != "" {
			return c.String(http.StatusServiceUnavailable, reason+"\n")
		}
		return c.String(http.StatusOK, readyOK+"\n")
	})
}

// notReady is why this replica should take no new logins ("" when it is
// ready).
func (s *Server) notReady(ctx context.Context) string {
	if s.draining.Load() {
		return notReadyDrain
	}
	if k := s.keys; k == nil || k.signer.Key == nil || k.signer.Cert == nil || k.encCert == nil || len(k.decrypters) == 0 {
		return notReadyKeys
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		return notReadyStore
	}
	return ""
}

// Drain makes /readyz answer 503 "draining" from now on, in this assembly
// and every one a reload builds after it. The process calls it when told
// to stop, before it stops accepting connections, so that the load
// balancer sends new logins elsewhere while requests in flight finish.
func (s *Server) Drain() { s.draining.Store(true) }

// Drain is Drain of the assembly serving now (the flag is shared).
func (r *Reloadable) Drain() { r.Current().Drain() }
