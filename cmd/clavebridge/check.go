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
	var strict bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check a configuration (every finding with its YAML path and line) and print the effective policy of every SP",
		Long: `Check a configuration as serve would: every finding is printed as
  <file>:<line>: <severity>: <path>: <message> (<advice>)
and the exit status is 1 on any error (with --strict, on any warning too), 0 otherwise.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("config")
			return runCheck(cmd.OutOrStdout(), path, checkOptions{Now: time.Now(), Strict: strict})
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "count warnings as errors")
	return cmd
}

// checkOptions are what a check depends on besides the file.
type checkOptions struct {
	Now    time.Time         // the clock certificates' ends are judged by
	Strict bool              // warnings count as errors
	Fetch  *metadata.Fetcher // fetches SP metadata URLs (nil: the default)
}

// runCheck prints every finding of the gate, a summary and, when the
// configuration passes, each SP's effective policy. It fails (exit status
// 1) on any error, and under Strict on any warning.
func runCheck(w io.Writer, path string, opts checkOptions) error {
	rep, reg := gate(path, opts)
	if rep.Config != nil { // what the keys in a token can do, tried through the token
		rep.Add(server.KeyProbeFindings(rep.Config)...)
	}
	rep.Write(w)
	fmt.Fprintln(w, rep.Summary(opts.Strict))
	if rep.Failed(opts.Strict) {
		return errors.New("the configuration did not pass the check")
	}
	cfg := rep.Config
	fmt.Fprintf(w, "upstream %s (%s), store %s\n", cfg.Upstream.Mode, cfg.Upstream.SSOURL, cfg.Store.Type)
	for _, sp := range reg.All() {
		printPolicy(w, sp)
	}
	return nil
}

// gate runs every check `check` and `serve` run: the configuration read,
// validated and reviewed under the rules of its mode, and every SP
// resolved. The registry is nil when the configuration is not valid.
func gate(path string, opts checkOptions) (*config.Report, *metadata.Registry) {
	return metadata.Check(path, server.DialectRules(), opts.Now, opts.Fetch)
}

// serveGate is the gate before serve starts: it prints every finding to w
// and refuses on an error; warnings are printed and let it start.
func serveGate(w io.Writer, path string, now time.Time) (*config.Config, error) {
	rep, _ := gate(path, checkOptions{Now: now})
	rep.Write(w)
	if rep.Failed(false) {
		var errs []string
		for _, f := range rep.Sorted() {
			if f.Severity == config.Error {
				errs = append(errs, f.Format(path))
			}
		}
		return nil, &startRefusal{fmt.Errorf("%s: %s (clavebridge check -c %s explains each finding)", rep.Summary(false), strings.Join(errs, "; "), path)}
	}
	return rep.Config, nil
}

// startRefusal is the gate's error at startup; a reload (which refuses the
// new configuration, not the start) reports what it wraps.
type startRefusal struct{ err error }

func (e *startRefusal) Error() string { return "refusing to start: " + e.err.Error() }
func (e *startRefusal) Unwrap() error { return e.err }

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
