package main

import (
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
)

func metadataCommand() *cobra.Command {
	var upstreamSide bool
	cmd := &cobra.Command{
		Use:   "metadata",
		Short: "Print the bridge's signed SAML2 IdP metadata (or, with --upstream, its SP metadata)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			srv, err := server.New(cfg, zap.NewNop(), server.Options{})
			if err != nil {
				return err
			}
			md, err := srv.Metadata(upstreamSide)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(md)
			return err
		},
	}
	cmd.Flags().BoolVar(&upstreamSide, "upstream", false, "print the SP metadata the bridge shows the gateway")
	return cmd
}
