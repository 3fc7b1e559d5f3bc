// Command hapeers is the test-only process the replica tests
// (internal/hatest) run beside the bridge's replicas: the peers of the
// bridge that are not the bridge, in ONE process all replicas share, as
// in production. It serves the simulated Cl@ve 2.0 gateway (under /sim/,
// with auto-login) and the demo SP (under /demo/), both named by the load
// balancer's URL (-base), which routes /sim/ and /demo/ here and every
// other path to the replicas. Their in-memory state (the gateway's logins
// and replay cache, the demo SP's outstanding requests) is the peers'
// own, which is why this process is never one of the replicas.
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/simulator"
	"github.com/clavebridge/clavebridge/cmd/clavebridge/internal/demosp"
	"github.com/clavebridge/clavebridge/translate"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hapeers:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("hapeers", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	base := fs.String("base", "", "the load balancer's URL, which routes /sim/ and /demo/ here")
	root := fs.String("root", ".", "the repository root (its testdata/ holds the keys and citizens)")
	auto := fs.String("auto", "AFIRMA:99999999R:dnie", "auto-login IdP:citizen:method (\"\": the simulator's pages)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		return errors.New("-base is required")
	}
	file := func(name string) string { return filepath.Join(*root, "testdata", name) }
	simKey, simCert, err := pair(file("keys/simulator-sign.key"), file("keys/simulator-sign.crt"))
	if err != nil {
		return err
	}
	demoKey, demoCert, err := pair(file("keys/demo-sp.key"), file("keys/demo-sp.crt"))
	if err != nil {
		return err
	}
	bridgeCert, err := cert(file("keys/bridge-sign.crt"))
	if err != nil {
		return err
	}
	citizens, err := simulator.LoadCitizens(file("citizens.yaml"))
	if err != nil {
		return err
	}
	log, err := zap.NewProduction()
	if err != nil {
		return err
	}
	sc := simulator.Config{
		BaseURL: *base, Signer: samlxml.Signer{Key: simKey, Cert: simCert, Method: samlxml.RSASHA512, IncludeCert: true},
		BridgeCerts: []*x509.Certificate{bridgeCert}, Citizens: citizens, BridgeLogoutURL: *base + "/upstream/slo",
		Now: time.Now, Rand: rand.Reader, Log: log.Named("simulator"),
	}
	if *auto != "" {
		parts := strings.SplitN(*auto, ":", 3)
		if len(parts) != 3 {
			return fmt.Errorf("-auto %q is not IdP:citizen:method", *auto)
		}
		sc.AutoLogin = &simulator.AutoLogin{IdP: translate.IdP(parts[0]), Citizen: parts[1], Method: parts[2]}
	}
	sim, err := simulator.New(sc)
	if err != nil {
		return err
	}
	demo, err := demosp.New(demosp.Config{
		BaseURL: *base, Signer: samlxml.Signer{Key: demoKey, Cert: demoCert, Method: samlxml.RSASHA256},
		ProviderName: "S2800000X_E00000001", Application: "demo-sp", StorkProvider: "demo_stork_sp",
		BridgeCert: bridgeCert, Now: time.Now, Rand: rand.Reader, Log: log.Named("demo"),
	})
	if err != nil {
		return err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	sim.Mount(e)
	demo.Mount(e)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log.Info("listening", zap.String("listener", "public"), zap.String("listen", ln.Addr().String()))
	hs := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	return hs.Serve(ln)
}

func pair(keyFile, certFile string) (crypto.Signer, *x509.Certificate, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := samlxml.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	c, err := cert(certFile)
	return key, c, err
}

func cert(file string) (*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	c, err := samlxml.ParseCertificatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}
