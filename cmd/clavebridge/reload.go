package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
)

// reloadOnHUP reloads the bridge from load at every SIGHUP until ctx ends
// (then SIGHUP is ignored, so that it cannot cut the drain short); a
// configuration that fails to load leaves the running one serving (the
// reload logs why). It returns once the signal is being watched.
func reloadOnHUP(ctx context.Context, rl *server.Reloadable, load func() (*config.Config, error), path string, log *zap.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				signal.Ignore(syscall.SIGHUP)
				signal.Stop(hup)
				return
			case <-hup:
				log.Info("SIGHUP: reloading the configuration", zap.String("config", path))
				_ = rl.Reload(func() (*config.Config, error) {
					cfg, err := load()
					if refused, ok := errors.AsType[*startRefusal](err); ok {
						err = refused.err // the reason, without "refusing to start"
					}
					return cfg, err
				}) // logged by Reload
			}
		}
	}()
}
