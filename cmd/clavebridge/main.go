// Command clavebridge runs the Cl@ve identity bridge: `serve` starts it,
// `keys` makes test keys, `metadata` prints the bridge's IdP metadata,
// `check` validates a configuration and `version` prints the version.
package main

import (
	"fmt"
	"os"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := rootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "clavebridge",
		Short:         "A SAML bridge between Cl@ve 1, Cl@ve 2 and plain SAML2 service providers and Cl@ve 2.0",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.PersistentFlags().StringP("config", "c", "config.example.yaml", "configuration file")
	root.AddCommand(serveCommand(), keysCommand(), metadataCommand(), checkCommand(), loadCommand(), versionCommand())
	return root
}

func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	return config.Load(path, server.DialectRules())
}

func newLogger(cfg *config.Config) (*zap.Logger, error) {
	if cfg.Log.Development {
		return zap.NewDevelopment()
	}
	return productionLogConfig().Build()
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "clavebridge", version)
		},
	}
}
