package server

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/endpoints/saml2"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/metadata"
)

const urlSP = "https://urlsp.example/metadata"

// urlSPMetadata is a SAML2 SP's metadata, signed by the federation key.
func urlSPMetadata(t *testing.T, signing samlxmltest.Pair, validUntil time.Time, by samlxmltest.Pair) []byte {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString(signing.Cert.Raw)
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_md" entityID="` + urlSP +
		`" validUntil="` + samlxml.FormatTime(validUntil) + `"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true">` +
		`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64 + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
		`<md:AssertionConsumerService Binding="` + samlxml.BindingPOST + `" Location="https://urlsp.example/acs" index="0"/>` +
		`</md:SPSSODescriptor></md:EntityDescriptor>`); err != nil {
		t.Fatal(err)
	}
	ed := doc.Root()
	if err := by.Signer(samlxml.RSASHA256).Sign(ed); err != nil {
		t.Fatal(err)
	}
	out, err := samlxml.Serialize(ed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMetadataRefreshServer: the bridge refreshes an SP's metadata given
// by an https URL on a ticker the test drives, counts into its metrics,
// refuses that SP only once its metadata's validUntil has passed without
// a fresh copy, and a restart with the SP's server down serves the copy
// kept on disk.
func TestMetadataRefreshServer(t *testing.T) {
	fed := samlxmltest.NewRSA(t, "federation")
	first, rotated := samlxmltest.NewRSA(t, "sp-first"), samlxmltest.NewRSA(t, "sp-rotated")
	clock := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	start := clock.Now()
	valid := start.Add(48 * time.Hour)

	var mu sync.Mutex
	body, down := urlSPMetadata(t, first, valid, fed), false
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	serve := func(b []byte, d bool) { mu.Lock(); body, down = b, d; mu.Unlock() }

	dir := t.TempDir()
	fedFile := filepath.Join(dir, "federation.crt")
	if err := os.WriteFile(fedFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(dir, "cache")
	edit := func(cfg *config.Config) {
		cfg.MetadataCacheDir = cacheDir
		cfg.MetadataRefresh = config.MetadataRefreshConfig{Min: config.Duration(time.Hour), Max: config.Duration(24 * time.Hour)}
		cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{ID: urlSP, Dialect: "saml2",
			Metadata: srv.URL + "/metadata", MetadataSigningCert: fedFile, MetadataAllowPrivate: true, MinLoA: "low"})
	}
	fetcher := &metadata.Fetcher{TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	opts := Options{Now: clock.Now, MetadataFetcher: fetcher}
	core, logs := observer.New(zap.InfoLevel)
	rl, err := NewReloadable(exampleConfig(t, "http://127.0.0.1:1", edit), zap.New(core), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rl.Close() })
	ticks, refreshed := make(chan time.Time), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rl.RunMetadataRefresh(ctx, ticks, func() { refreshed <- struct{}{} }); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	tick := func(d time.Duration) { clock.Advance(d); ticks <- clock.Now(); <-refreshed }
	others := func(t *testing.T) {
		t.Helper()
		for _, sp := range rl.Current().Registry.All() {
			if sp.ID == urlSP {
				continue
			}
			if _, err := rl.Current().Registry.Lookup(sp.Dialect, sp.ID); err != nil {
				t.Errorf("other SP %s: %v", sp.ID, err)
			}
		}
	}
	metric := func(family string) float64 {
		t.Helper()
		if v, ok := series(t, rl.Current().Metrics, family)["sp="+urlSP]; ok {
			return v
		}
		return -1
	}
	signingCert := func(t *testing.T) samlxmltest.Pair {
		t.Helper()
		sp, err := rl.Current().Registry.Lookup("saml2", urlSP)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []samlxmltest.Pair{first, rotated} {
			if len(sp.SigningCerts) == 1 && sp.SigningCerts[0].Equal(p.Cert) {
				return p
			}
		}
		t.Fatal("unknown signing certificate")
		return samlxmltest.Pair{}
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"a rotated key is picked up without restart", func(t *testing.T) {
			serve(urlSPMetadata(t, rotated, valid, fed), false)
			tick(2 * time.Hour)
			if signingCert(t).Cert != rotated.Cert {
				t.Error("the rotated key was not picked up")
			}
			if got := metric("clavebridge_metadata_age_seconds"); got != 0 {
				t.Errorf("age = %v, want 0", got)
			}
		}},
		{"a bad signature is refused, the last good copy kept", func(t *testing.T) {
			serve(urlSPMetadata(t, first, valid, samlxmltest.NewRSA(t, "intruder")), false)
			tick(2 * time.Hour)
			if signingCert(t).Cert != rotated.Cert {
				t.Error("a badly signed copy was used")
			}
			if got := metric("clavebridge_metadata_refresh_failures_total"); got != 1 {
				t.Errorf("failures = %v, want 1", got)
			}
			if got := metric("clavebridge_metadata_age_seconds"); got != (2 * time.Hour).Seconds() {
				t.Errorf("age = %v, want 7200", got)
			}
			if n := logs.FilterMessage("SP metadata").FilterField(zap.String("sp", urlSP)).Len(); n != 1 {
				t.Errorf("%d log lines, want 1", n)
			}
		}},
		{"a restart with the server down uses the kept copy", func(t *testing.T) {
			serve(nil, true)
			rl2, err := NewReloadable(exampleConfig(t, "http://127.0.0.1:1", edit), zap.NewNop(), opts, nil)
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			defer func() { _ = rl2.Close() }()
			if _, err := rl2.Current().Registry.Lookup("saml2", urlSP); err != nil {
				t.Error(err)
			}
		}},
		{"an unwritable cache costs the offline restart, not the start", func(t *testing.T) {
			serve(urlSPMetadata(t, rotated, valid, fed), false)
			notADir := filepath.Join(t.TempDir(), "cache")
			if err := os.WriteFile(notADir, []byte("a file where the directory should be"), 0o600); err != nil {
				t.Fatal(err)
			}
			core, logs := observer.New(zap.InfoLevel)
			rl3, err := NewReloadable(exampleConfig(t, "http://127.0.0.1:1", func(cfg *config.Config) {
				edit(cfg)
				cfg.MetadataCacheDir = notADir
			}), zap.New(core), opts, nil)
			if err != nil {
				t.Fatalf("start with an unwritable metadata cache: %v", err)
			}
			defer func() { _ = rl3.Close() }()
			if _, err := rl3.Current().Registry.Lookup("saml2", urlSP); err != nil {
				t.Error(err)
			}
			lines := logs.FilterMessage("SP metadata").FilterField(zap.String("sp", urlSP)).All()
			if len(lines) != 1 || !strings.Contains(lines[0].ContextMap()["reason"].(string), "offline restart") {
				t.Errorf("log lines = %v, want one warning about the cache", lines)
			}
			if v := series(t, rl3.Current().Metrics, "clavebridge_metadata_cache_write_failures_total")["sp="+urlSP]; v != 1 {
				t.Errorf("clavebridge_metadata_cache_write_failures_total for the SP = %v, want the failed write counted", v)
			}
		}},
		{"past validUntil the SP is refused, the others go on", func(t *testing.T) {
			serve(nil, true)
			tick(48 * time.Hour)
			_, err := rl.Current().Registry.Lookup("saml2", urlSP)
			if err == nil || !strings.Contains(err.Error(), "validUntil") {
				t.Fatalf("error = %v, want the expired metadata named", err)
			}
			found := false
			for _, e := range logs.FilterMessage("SP metadata").FilterField(zap.String("sp", urlSP)).All() {
				found = found || strings.Contains(e.ContextMap()["reason"].(string), "requests refused")
			}
			if !found {
				t.Error("no log line says the SP's requests are refused")
			}
			if got := metric("clavebridge_metadata_refresh_failures_total"); got < 2 {
				t.Errorf("failures = %v", got)
			}
			others(t)
			// The SP's request itself: refused with the bridge's page, the
			// reason in the log.
			authn := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="` +
				samlxml.FormatTime(clock.Now()) + `"><saml:Issuer>` + urlSP + `</saml:Issuer></samlp:AuthnRequest>`
			form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(authn))}}
			req := httptest.NewRequest(http.MethodPost, saml2.SSOPath, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			rl.ServeHTTP(rec, req)
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `class="cb-support"`) {
				t.Errorf("status %d, page %q; want 503 and the bridge's page", rec.Code, rec.Body.String())
			}
			var logged bool
			for _, e := range logs.FilterMessage("request refused").All() {
				reason, _ := e.ContextMap()["error"].(string)
				trace, _ := e.ContextMap()["trace_id"].(string)
				logged = logged || (strings.Contains(reason, "metadata expired") && trace != "" && strings.Contains(rec.Body.String(), trace))
			}
			if !logged {
				t.Error("no log line with the page's trace id names the expired metadata")
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
