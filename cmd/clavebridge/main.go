// Command clavebridge runs the Cl@ve identity bridge: `serve` starts it,
// `keys` makes test keys, `metadata` prints the bridge's IdP metadata,
// `check` validates a configuration and `version` prints the version.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

// version and commit are set at build time with
// -ldflags "-X main.version=... -X main.commit=..."; left empty, they come
// from the build's module and VCS information (a plain `go build` in a clone
// records the commit).
var (
	version = ""
	commit  = ""
)

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
		Short: "Print the version and the commit it was built from",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), versionLine(thisBuild()))
		},
	}
}

// buildID is what `version` prints and the start-up log line carries.
type buildID struct {
	Version, Commit string
	Modified        bool // the commit's tree had uncommitted changes
	Go              string
}

// thisBuild is this binary's buildID.
func thisBuild() buildID {
	info, _ := debug.ReadBuildInfo()
	return readBuild(version, commit, info)
}

// readBuild takes the version from -X main.version, else the module's
// (go install ...@vX, or the pseudo-version go build stamps), else "dev";
// the commit from -X main.commit, else the build's vcs.revision (with
// vcs.modified), else "unknown".
func readBuild(ver, rev string, info *debug.BuildInfo) buildID {
	b := buildID{Version: ver, Commit: rev, Go: runtime.Version()}
	if info != nil {
		b.Go = info.GoVersion
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		if b.Commit == "" {
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					b.Commit = s.Value
				case "vcs.modified":
					b.Modified = s.Value == "true"
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit, b.Modified = "unknown", false
	}
	return b
}

// versionLine is "clavebridge VERSION commit COMMIT[ (modified)] GOVERSION".
func versionLine(b buildID) string {
	line := "clavebridge " + b.Version + " commit " + b.Commit
	if b.Modified {
		line += " (modified)"
	}
	return line + " " + b.Go
}
