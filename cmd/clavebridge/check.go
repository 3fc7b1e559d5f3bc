package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/server"
	"github.com/clavebridge/clavebridge/metadata"
	"github.com/clavebridge/clavebridge/translate"
)

func checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate a configuration and print the effective policy of every SP",
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("config")
			return runCheck(cmd.OutOrStdout(), path)
		},
	}
}

func runCheck(w io.Writer, path string) error {
	cfg, err := config.Load(path, server.DialectRules())
	if err != nil {
		for _, e := range flatten(err) {
			fmt.Fprintln(w, "error:", e)
		}
		return errors.New("configuration is not valid")
	}
	reg, err := metadata.NewRegistry(cfg, time.Now())
	if err != nil {
		fmt.Fprintln(w, "error:", err)
		return errors.New("configuration is not valid")
	}
	fmt.Fprintf(w, "%s: valid; upstream %s (%s), store %s\n", path, cfg.Upstream.Mode, cfg.Upstream.SSOURL, cfg.Store.Type)
	for _, sp := range reg.All() {
		printPolicy(w, sp)
	}
	return nil
}

// flatten lists the errors joined by errors.Join one per line.
func flatten(err error) []error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return joined.Unwrap()
	}
	return []error{err}
}

func printPolicy(w io.Writer, sp *bridge.ServiceProvider) {
	p := sp.Policy
	dialect := sp.Dialect
	if sp.Profile != "" {
		dialect += "/" + sp.Profile
	}
	fmt.Fprintf(w, "\n%s (%s, %s)\n", sp.ID, dialect, sp.Name)
	fmt.Fprintf(w, "  minimum LoA:        %s\n", p.MinLoA)
	fmt.Fprintf(w, "  identity providers: %s\n", idpSummary(p))
	fmt.Fprintf(w, "  attributes:         %s\n", attrSummary(p))
	fmt.Fprintf(w, "  legal persons:      %t\n", p.LegalPersons)
	fmt.Fprintf(w, "  signed requests:    %t (%d certificates)\n", sp.RequireSignedRequests, len(sp.SigningCerts))
	fmt.Fprintf(w, "  encrypt assertions: %t\n", sp.EncryptAssertions)
	fmt.Fprintf(w, "  signature:          %s\n", sp.SignatureAlgorithm)
	if sp.EncryptAssertions {
		fmt.Fprintf(w, "  encryption:         %s, %s\n", sp.KeyTransport, sp.DataEncryption)
	}
	for _, acs := range sp.ACS {
		fmt.Fprintf(w, "  return URL:         %s\n", acs.URL)
	}
	for _, lo := range sp.Logout {
		fmt.Fprintf(w, "  logout URL:         %s\n", lo.URL)
	}
	if sp.SSOLifetime != nil {
		fmt.Fprintf(w, "  SSO lifetime:       %s\n", *sp.SSOLifetime)
	}
}

func idpSummary(p bridge.Policy) string {
	var allowed []string
	for _, idp := range translate.AllIdPs() {
		if (len(p.AllowIdPs) == 0 || slices.Contains(p.AllowIdPs, idp)) && !slices.Contains(p.DenyIdPs, idp) {
			allowed = append(allowed, string(idp))
		}
	}
	return strings.Join(allowed, ", ")
}

func attrSummary(p bridge.Policy) string {
	if len(p.Attributes) == 0 {
		return "all"
	}
	var names []string
	for _, a := range p.Attributes {
		names = append(names, string(a))
	}
	return strings.Join(names, ", ")
}
