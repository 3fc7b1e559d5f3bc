package main

import (
	"context"
	"errors"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
)

func serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the bridge (with the embedded Cl@ve 2.0 simulator when upstream.mode is simulated)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log, err := newLogger(cfg)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			srv, err := server.New(cfg, log, server.Options{})
			if err != nil {
				return err
			}
			defer func() { _ = srv.Close() }()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			hs := srv.Web.HTTPServer()
			hs.Addr = cfg.Server.Listen
			go func() {
				<-ctx.Done()
				shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = hs.Shutdown(shutdown)
			}()
			log.Info("clavebridge listening", zap.String("listen", cfg.Server.Listen),
				zap.String("base_url", cfg.Server.BaseURL), zap.String("upstream", cfg.Upstream.Mode))
			if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}
