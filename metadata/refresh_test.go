package metadata

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// mdServer is an SP's https metadata server: it serves body, or 503 when
// down.
type mdServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
	down bool
	hits int
}

func newMDServer(t *testing.T, body []byte) *mdServer {
	s := &mdServer{body: body}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hits++
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *mdServer) set(body []byte, down bool) {
	s.mu.Lock()
	s.body, s.down = body, down
	s.mu.Unlock()
}

// fetcher trusts only the server's certificate; it dials loopback, which
// the test SP's metadata_allow_private allows.
func (s *mdServer) fetcher() *Fetcher {
	return &Fetcher{TLS: s.Client().Transport.(*http.Transport).TLSClientConfig}
}

// fakeMeter records what the refresher reports.
type fakeMeter struct {
	age         map[string]time.Duration
	failures    map[string]int
	cacheFailed map[string]int
}

func (m *fakeMeter) MetadataAge(sp string, age time.Duration) { m.age[sp] = age }
func (m *fakeMeter) MetadataRefreshFailed(sp string)          { m.failures[sp]++ }
func (m *fakeMeter) MetadataCacheWriteFailed(sp string)       { m.cacheFailed[sp]++ }

const otherSP = "https://other.example/metadata"

// refreshWorld is a configuration with the URL SP spEntity (served by srv,
// cached in cacheDir) and otherSP, whose metadata is a file.
type refreshWorld struct {
	k        mdKeys
	cfg      *config.Config
	cacheDir string
	clock    time.Time
	meter    *fakeMeter
	logs     []string
}

func (w *refreshWorld) now() time.Time { return w.clock }

func newRefreshWorld(t *testing.T, k mdKeys, srv *mdServer, cacheDir string) *refreshWorld {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("federation.crt", certPEM(k.federation.Cert))
	write("other.xml", signedMetadata(t, eidasSPMetadata(otherSP, mdNow.Add(365*24*time.Hour), k.spSign.Cert, k.spEnc.Cert), k.federation))
	for _, f := range []string{"c.yaml", "k.crt", "k.key"} {
		write(f, []byte("x"))
	}
	text := "simulator: {citizens: c.yaml}\nkeys: {signing: {cert: k.crt, key: k.key}}\n" +
		"secrets: {state_keys: [{id: t, file: k.key}], pairwise: {file: k.key}}\n" +
		"metadata_refresh: {min: 1h, max: 24h}\nmetadata_cache_dir: " + cacheDir + "\n" +
		"service_providers:\n" + eidasEntry(srv.URL+"/metadata") + "    metadata_allow_private: true\n" +
		"  - id: " + otherSP + "\n    dialect: eidas\n    profile: eidas\n    metadata: other.xml\n    metadata_signing_cert: federation.crt\n"
	cfg, err := config.Parse([]byte(text), dir, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	return &refreshWorld{k: k, cfg: cfg, cacheDir: cacheDir, clock: mdNow,
		meter: &fakeMeter{age: map[string]time.Duration{}, failures: map[string]int{}, cacheFailed: map[string]int{}}}
}

func (w *refreshWorld) start(t *testing.T, srv *mdServer) (*Registry, *Refresher) {
	t.Helper()
	reg, err := NewRegistryWith(w.cfg, w.clock, srv.fetcher())
	if err != nil {
		t.Fatal(err)
	}
	reg.UseClock(w.now)
	return reg, &Refresher{Registry: reg, Config: w.cfg, Fetch: srv.fetcher(), Now: w.now, Meter: w.meter,
		Log: func(sp string, err error) { w.logs = append(w.logs, sp+": "+err.Error()) }}
}

func spMD(t *testing.T, k mdKeys, signing samlxmltest.Pair, validUntil time.Time, by samlxmltest.Pair) []byte {
	return signedMetadata(t, eidasSPMetadata(spEntity, validUntil, signing.Cert, k.spEnc.Cert), by)
}

func signer(t *testing.T, reg *Registry) *bridge.ServiceProvider {
	t.Helper()
	sp, err := reg.Lookup("eidas", spEntity)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestMetadataRefresh drives the refresher by its clock, through Run's
// ticker, against a local https server.
func TestMetadataRefresh(t *testing.T) {
	k := newMDKeys(t)
	rotated := samlxmltest.NewRSA(t, "rotated")
	valid := mdNow.Add(48 * time.Hour)
	tests := []struct {
		name string
		run  func(t *testing.T, w *refreshWorld, srv *mdServer, reg *Registry, tick func())
	}{
		{"a rotated SP key is picked up without restart", func(t *testing.T, w *refreshWorld, srv *mdServer, reg *Registry, tick func()) {
			srv.set(spMD(t, k, rotated, valid, k.federation), false)
			w.clock = mdNow.Add(30 * time.Minute) // not yet due (min 1h)
			tick()
			if !signer(t, reg).SigningCerts[0].Equal(k.spSign.Cert) {
				t.Fatal("refreshed before the minimum interval")
			}
			w.clock = mdNow.Add(2 * time.Hour)
			tick()
			if sp := signer(t, reg); len(sp.SigningCerts) != 1 || !sp.SigningCerts[0].Equal(rotated.Cert) {
				t.Fatal("the rotated key was not picked up")
			}
			if w.meter.age[spEntity] != 0 || w.meter.failures[spEntity] != 0 {
				t.Errorf("age %v, failures %d", w.meter.age[spEntity], w.meter.failures[spEntity])
			}
		}},
		{"a bad signature is refused and the last good copy kept", func(t *testing.T, w *refreshWorld, srv *mdServer, reg *Registry, tick func()) {
			srv.set(spMD(t, k, rotated, valid, k.other), false) // signed by a key that is not the federation's
			w.clock = mdNow.Add(2 * time.Hour)
			tick()
			if !signer(t, reg).SigningCerts[0].Equal(k.spSign.Cert) {
				t.Fatal("a badly signed copy replaced the good one")
			}
			if w.meter.failures[spEntity] != 1 || w.meter.age[spEntity] != 2*time.Hour {
				t.Errorf("failures %d, age %v; want 1, 2h", w.meter.failures[spEntity], w.meter.age[spEntity])
			}
			if len(w.logs) != 1 || !strings.Contains(w.logs[0], "metadata signature") {
				t.Errorf("logs = %q", w.logs)
			}
			cached, err := os.ReadFile(cachePath(w.cacheDir, spEntity))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseSPMetadata(cached, []*x509.Certificate{k.federation.Cert}, mdNow); err != nil {
				t.Errorf("the cached copy is no longer the good one: %v", err)
			}
		}},
		{"past validUntil that SP is refused, other SPs go on", func(t *testing.T, w *refreshWorld, srv *mdServer, reg *Registry, tick func()) {
			srv.set(nil, true)
			w.clock = valid.Add(time.Minute)
			if _, err := reg.Lookup("eidas", spEntity); err == nil || !strings.Contains(err.Error(), "expired") {
				t.Errorf("between refreshes: error = %v, want it expired", err)
			}
			tick()
			_, err := reg.Lookup("eidas", spEntity)
			if err == nil || !strings.Contains(err.Error(), "validUntil") || !strings.Contains(err.Error(), "HTTP 503") {
				t.Fatalf("error = %v, want expired metadata and the failed fetch", err)
			}
			if w.meter.failures[spEntity] == 0 || w.meter.age[spEntity] < 48*time.Hour {
				t.Errorf("failures %d, age %v", w.meter.failures[spEntity], w.meter.age[spEntity])
			}
			if _, err := reg.Lookup("eidas", otherSP); err != nil {
				t.Errorf("the other SP: %v", err)
			}
			srv.set(spMD(t, k, rotated, valid.Add(48*time.Hour), k.federation), false)
			w.clock = w.clock.Add(2 * time.Hour)
			tick()
			if sp := signer(t, reg); !sp.SigningCerts[0].Equal(rotated.Cert) {
				t.Error("a fresh copy did not lift the refusal")
			}
		}},
		{"a restart with the server down uses the cached copy", func(t *testing.T, w *refreshWorld, srv *mdServer, reg *Registry, tick func()) {
			srv.set(nil, true)
			w.clock = mdNow.Add(time.Hour)
			reg2, err := NewRegistryWith(w.cfg, w.clock, srv.fetcher())
			if err != nil {
				t.Fatalf("restart with the server down: %v", err)
			}
			if sp, err := reg2.Lookup("eidas", spEntity); err != nil || !sp.SigningCerts[0].Equal(k.spSign.Cert) {
				t.Fatalf("cached copy not used: %v", err)
			}
			fi, err := os.Stat(cachePath(w.cacheDir, spEntity))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("cache file: %v, mode %v", err, fi.Mode().Perm())
			}
			w.clock = valid.Add(time.Second) // the copy's own validUntil bounds it
			if _, err := NewRegistryWith(w.cfg, w.clock, srv.fetcher()); err == nil || !strings.Contains(err.Error(), "validUntil") {
				t.Errorf("an expired cached copy: error = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newMDServer(t, spMD(t, k, k.spSign, valid, k.federation))
			w := newRefreshWorld(t, k, srv, t.TempDir())
			reg, ref := w.start(t, srv)
			ticks := make(chan time.Time)
			ctx, cancel := context.WithCancel(context.Background())
			done, refreshed := make(chan struct{}), make(chan struct{})
			ref.AfterRefresh = func() { refreshed <- struct{}{} }
			go func() { ref.Run(ctx, ticks); close(done) }()
			t.Cleanup(func() { cancel(); <-done })
			tick := func() { ticks <- w.clock; <-refreshed }
			tt.run(t, w, srv, reg, tick)
		})
	}
}

// TestMetadataCacheUnwritable: a metadata_cache_dir that cannot be written
// (here a file stands where the directory should be) costs the offline
// restart, not the SP: the good copy fetched serves, at start and at each
// refresh, with a warning and a metric.
func TestMetadataCacheUnwritable(t *testing.T) {
	k := newMDKeys(t)
	valid := mdNow.Add(48 * time.Hour)
	srv := newMDServer(t, spMD(t, k, k.spSign, valid, k.federation))
	notADir := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(notADir, []byte("a file, not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newRefreshWorld(t, k, srv, notADir)
	reg, ref := w.start(t, srv)
	if sp := signer(t, reg); !sp.SigningCerts[0].Equal(k.spSign.Cert) {
		t.Fatal("the SP does not serve from the copy fetched")
	}
	warnings := reg.CacheWarnings()
	if len(warnings) != 1 || !strings.Contains(warnings[0].Error(), spEntity) || !strings.Contains(warnings[0].Error(), "metadata cache") {
		t.Fatalf("CacheWarnings() = %v, want one for %s", warnings, spEntity)
	}

	rotated := samlxmltest.NewRSA(t, "rotated")
	srv.set(spMD(t, k, rotated, valid, k.federation), false)
	w.clock = mdNow.Add(2 * time.Hour)
	ref.Refresh(context.Background())
	if sp := signer(t, reg); !sp.SigningCerts[0].Equal(rotated.Cert) {
		t.Fatal("a refreshed copy that could not be cached was not used")
	}
	if w.meter.cacheFailed[spEntity] != 1 || w.meter.failures[spEntity] != 0 {
		t.Errorf("cache write failures %d, refresh failures %d; want 1, 0", w.meter.cacheFailed[spEntity], w.meter.failures[spEntity])
	}
	if len(w.logs) != 1 || !strings.Contains(w.logs[0], "offline restart") {
		t.Errorf("logs = %q", w.logs)
	}
}

// TestServingRegistryUnavailableSP: a bridge starting while an SP's
// metadata URL is down and its kept copy has expired (or was never kept)
// starts: that SP alone is refused, with the reason, until a refresh
// gets a good copy. The strict registry (check) still fails.
func TestServingRegistryUnavailableSP(t *testing.T) {
	k := newMDKeys(t)
	valid := mdNow.Add(48 * time.Hour)
	srv := newMDServer(t, spMD(t, k, k.spSign, valid, k.federation))
	w := newRefreshWorld(t, k, srv, t.TempDir())
	srv.set(nil, true)
	w.clock = mdNow.Add(time.Hour)
	if _, err := NewRegistryWith(w.cfg, w.clock, srv.fetcher()); err == nil {
		t.Fatal("the strict registry accepted an SP whose metadata cannot be had")
	}
	reg, err := NewServingRegistry(w.cfg, w.clock, srv.fetcher())
	if err != nil {
		t.Fatalf("a serving registry stopped on one SP's metadata: %v", err)
	}
	_, err = reg.Lookup("eidas", spEntity)
	var refusal *bridge.Refusal
	if !errors.As(err, &refusal) || refusal.Reason != bridge.ReasonMetadataExpired || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("Lookup: %v, want a metadata refusal naming the failed fetch", err)
	}
	if u := reg.Unavailable(); len(u) != 1 || !strings.Contains(u[0].Error(), spEntity) {
		t.Errorf("Unavailable() = %v", u)
	}
	if _, err := reg.Lookup("eidas", otherSP); err != nil {
		t.Errorf("the other SP: %v", err)
	}
	ref := &Refresher{Registry: reg, Config: w.cfg, Fetch: srv.fetcher(), Now: w.now, Meter: w.meter,
		Log: func(sp string, err error) { w.logs = append(w.logs, sp+": "+err.Error()) }}
	ref.Refresh(context.Background())
	if len(w.logs) != 1 || !strings.Contains(w.logs[0], "no good copy") {
		t.Errorf("logs = %q", w.logs)
	}
	srv.set(spMD(t, k, k.spSign, valid, k.federation), false)
	w.clock = w.clock.Add(2 * time.Hour)
	ref.Refresh(context.Background())
	if sp := signer(t, reg); !sp.SigningCerts[0].Equal(k.spSign.Cert) {
		t.Error("a good copy did not lift the refusal")
	}
}

func TestParseXSDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT1H", time.Hour, true},
		{"P1D", 24 * time.Hour, true},
		{"P1DT30M", 24*time.Hour + 30*time.Minute, true},
		{"PT90.5S", 90*time.Second + 500*time.Millisecond, true},
		{"P", 0, false},
		{"PT", 0, false},
		{"1H", 0, false},
		{"-PT1H", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseXSDuration(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q: %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRefreshDue(t *testing.T) {
	at := mdNow
	tests := []struct {
		name string
		c    copyInfo
		want time.Time
	}{
		{"no cacheDuration: min", copyInfo{fetched: at}, at.Add(time.Hour)},
		{"cacheDuration within bounds", copyInfo{fetched: at, cacheDuration: 6 * time.Hour}, at.Add(6 * time.Hour)},
		{"cacheDuration above max", copyInfo{fetched: at, cacheDuration: 72 * time.Hour}, at.Add(24 * time.Hour)},
		{"validUntil first", copyInfo{fetched: at, cacheDuration: 6 * time.Hour, validUntil: at.Add(2 * time.Hour)}, at.Add(2 * time.Hour)},
	}
	for _, tt := range tests {
		if got := due(tt.c, time.Hour, 24*time.Hour); !got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
