package main

import (
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/web/metrics"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
)

func serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the bridge (with the embedded Cl@ve 2.0 simulator when upstream.mode is simulated)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			// load is what startup and every reload (SIGHUP) read the
			// configuration with: a reload refuses what startup would.
			// Both pass the gate `check` is (serveGate): findings printed
			// to stderr, refused on any error.
			load := func() (*config.Config, error) {
				file, _ := cmd.Flags().GetString("config")
				return serveGate(cmd.ErrOrStderr(), file, time.Now())
			}
			cfg, err := load()
			if err != nil {
				return err
			}
			log, err := newLogger(cfg)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			file, _ := cmd.Flags().GetString("config")
			logStartup(log, file, cfg)
			meter := metrics.New() // one registry for the process: reloads count on into it
			rl, err := server.NewReloadable(cfg, log, server.Options{Metrics: meter}, meter)
			if err != nil {
				return err
			}
			defer func() { _ = rl.Close() }()
			srv := rl.Current()
			logServiceProviders(log, srv.Registry.All())
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if cfg.Metrics.Listen != "" {
				if _, _, err := serveMetrics(ctx, cfg.Metrics.Listen, meter, log); err != nil {
					return err
				}
			}
			hs := srv.Web.HTTPServer()
			hs.Addr = cfg.Server.Listen
			hs.Handler = rl // each request is served by the assembly current when it arrives
			path, _ := cmd.Flags().GetString("config")
			reloadOnHUP(ctx, rl, load, path, log)
			refresh := time.NewTicker(server.MetadataRefreshTick) // SP metadata given by URL
			defer refresh.Stop()
			go rl.RunMetadataRefresh(ctx, refresh.C, nil)
			ln, err := listen(log, cfg.Server.Listen) // bound, then logged, then served
			if err != nil {
				return err
			}
			return serveUntil(ctx, hs, ln, cfg.Server.ShutdownTimeout.D(), log, rl.Drain) // /readyz 503, then drain
		},
	}
}
