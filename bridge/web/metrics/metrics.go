// Package metrics is the bridge's Prometheus registry and its /metrics
// handler, served on a listener of its own (metrics.listen), never on the
// public one. Each bridge instance has its own registry (nothing is
// registered globally). Every family is named clavebridge_ (besides the Go
// runtime's go_ and the process's process_) and is present from startup:
// the label sets the configuration names start at 0.
//
// No label carries personal data: SP label values come only from the
// configuration, results and hops from closed sets (flow.LoginResult,
// flow.UpstreamResult, flow.Hop), certificates are named by role, SP and
// serial number, never by subject (a subject can hold a name and a DNI).
package metrics

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clavebridge/clavebridge/bridge/flow"
)

// Path is where the metrics listener serves the metrics.
const Path = "/metrics"

// The certificate roles.
const (
	RoleSigning      = "signing"         // our signing key
	RoleEncryption   = "encryption"      // our encryption key
	RoleNextSigning  = "next_signing"    // our next signing key (keys.next_signing)
	RoleNextEnc      = "next_encryption" // our next encryption key (keys.next_encryption)
	RoleGateway      = "gateway"         // a gateway certificate we trust
	RoleSPSigning    = "sp_signing"      // an SP's request-signing certificate
	RoleSPEncryption = "sp_encryption"   // an SP's encryption certificate
)

const (
	namespace = "clavebridge" // every family's prefix
	// unconfigured is the sp and dialect of a login of an SP no
	// configuration named.
	unconfigured = ""
)

// StoreKinds are the kinds of clavebridge_store_entries: the memory
// store's key spaces (pending: logouts under way and their confirmations;
// pending logins live in the browser).
var StoreKinds = []string{"pending", "replay", "sessions"}

// durationBuckets span a hop of the bridge (milliseconds) and a citizen at
// the gateway (minutes).
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900}

// SP is a configured service provider, as the logins counter names it.
type SP struct{ ID, Dialect string }

// Certificate is a certificate whose expiry is exported: its role, the SP
// it belongs to ("" for ours and the gateway's) and the certificate.
type Certificate struct {
	Role string
	SP   string
	Cert *x509.Certificate
}

// Configuration is what the metrics learn from one configuration.
type Configuration struct {
	SPs          []SP
	Certificates []Certificate
}

// Metrics is one bridge instance's registry. It implements flow.Meter.
type Metrics struct {
	reg      *prometheus.Registry
	logins   *prometheus.CounterVec
	hops     *prometheus.HistogramVec
	upstream *prometheus.CounterVec
	certs    *prometheus.GaugeVec
	reload   prometheus.Gauge
	mdAge    *prometheus.GaugeVec
	mdFails  *prometheus.CounterVec
	gateway  gatewayMetrics // gateway.go
	// mdCacheFails counts good metadata copies not kept on disk.
	mdCacheFails *prometheus.CounterVec

	mu    sync.RWMutex
	sps   map[SP]bool // every SP a configuration has named
	store *storeCollector
}

var _ flow.Meter = (*Metrics)(nil)

// New returns a registry with every family registered, the Go runtime and
// process collectors, and the reload gauge at 1.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		sps: map[SP]bool{},
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "logins_total",
			Help: "Logins answered to or refused for a configured SP, by SP, dialect and result " +
				"(success, sso, denied_policy, invalid_request, loa, idp, legal_person, attribute, cancelled, upstream_error, internal_error).",
		}, []string{"sp", "dialect", "result"}),
		hops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "login_duration_seconds",
			Help: "Duration of each hop of a login: sp_request (the SP's request until sent upstream or answered), " +
				"gateway (the citizen at the gateway), gateway_answer (the gateway's answer until the SP's answer is ready), " +
				"login (a login through the gateway, whole).",
			Buckets: durationBuckets,
		}, []string{"hop"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "upstream_requests_total",
			Help: "Answers of the gateway to our login requests by result (success, cancelled, failure, refused: not accepted), " +
				"and requests we could not build (error).",
		}, []string{"result"}),
		certs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "certificate_not_after_timestamp_seconds",
			Help: "Expiry (NotAfter, Unix seconds) of each certificate in use, by role (signing, encryption, next_signing, next_encryption, gateway, " +
				"sp_signing, sp_encryption), SP (empty for ours and the gateway's) and serial number (hex).",
		}, []string{"role", "sp", "serial"}),
		reload: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_successful",
			Help: "1 when the last (re)load of the configuration succeeded, 0 when it failed and the previous one still serves.",
		}),
		mdAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "metadata_age_seconds",
			Help: "Age of the metadata copy in use of each SP whose metadata is given by URL (seconds since it was fetched).",
		}, []string{"sp"}),
		mdFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "metadata_refresh_failures_total",
			Help: "Failed refreshes of the metadata of each SP given by URL (fetch, signature or content refused); the last good copy serves until its validUntil.",
		}, []string{"sp"}),
		mdCacheFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "metadata_cache_write_failures_total",
			Help: "Good metadata copies of each SP given by URL that could not be written to metadata_cache_dir; they serve, but a restart while the URL is unreachable finds no copy.",
		}, []string{"sp"}),
	}
	for _, r := range flow.UpstreamResults() {
		m.upstream.WithLabelValues(string(r))
	}
	for _, h := range flow.Hops() {
		m.hops.WithLabelValues(string(h))
	}
	m.reload.Set(1)
	m.gateway = newGatewayMetrics(m.reg)
	m.reg.MustRegister(m.logins, m.hops, m.upstream, m.certs, m.reload, m.mdAge, m.mdFails, m.mdCacheFails,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Configure makes the label sets of c present: every result of every SP
// at 0 (counts already made are kept; an SP a later configuration drops
// keeps its series), and the certificates of c replace those of the
// previous configuration.
func (m *Metrics) Configure(c Configuration) {
	m.mu.Lock()
	for _, sp := range c.SPs {
		m.sps[sp] = true
		for _, r := range flow.LoginResults() {
			m.logins.WithLabelValues(sp.ID, sp.Dialect, string(r))
		}
	}
	m.mu.Unlock()
	m.certs.Reset()
	for _, c := range c.Certificates {
		if c.Cert == nil {
			continue
		}
		m.certs.WithLabelValues(c.Role, c.SP, Serial(c.Cert)).Set(float64(c.Cert.NotAfter.Unix()))
	}
}

// MetadataAge sets the age of an SP's metadata copy in use (sp: a
// configured entity ID).
func (m *Metrics) MetadataAge(sp string, age time.Duration) {
	m.mdAge.WithLabelValues(sp).Set(age.Seconds())
}

// MetadataRefreshFailed counts a failed refresh of an SP's metadata.
func (m *Metrics) MetadataRefreshFailed(sp string) { m.mdFails.WithLabelValues(sp).Inc() }

// MetadataCacheWriteFailed counts a good copy of an SP's metadata that
// could not be written to metadata_cache_dir.
func (m *Metrics) MetadataCacheWriteFailed(sp string) { m.mdCacheFails.WithLabelValues(sp).Inc() }

// Serial is a certificate's serial number as the metrics name it:
// uppercase hex, as openssl x509 -serial prints it.
func Serial(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return ""
	}
	return fmt.Sprintf("%X", c.SerialNumber)
}

// SetReloadSuccessful sets clavebridge_config_last_reload_successful.
func (m *Metrics) SetReloadSuccessful(ok bool) {
	if ok {
		m.reload.Set(1)
	} else {
		m.reload.Set(0)
	}
}

// WatchStore exports clavebridge_store_entries{kind} from counts (called
// at every scrape; it returns the entries of each of StoreKinds); a later
// call replaces counts. Without it the family is absent (a Redis store:
// watch Redis itself).
func (m *Metrics) WatchStore(counts func() map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.store == nil {
		m.store = &storeCollector{desc: prometheus.NewDesc(
			prometheus.BuildFQName(namespace, "store", "entries"),
			"Entries the memory store holds, by kind (pending, replay, sessions), expired ones not yet swept included.",
			[]string{"kind"}, nil)}
		m.reg.MustRegister(m.store)
	}
	m.store.counts.Store(&counts)
}

// Login implements flow.Meter. An SP no configuration named (which the
// flow never reports) is counted with an empty sp and dialect, so that no
// value from outside the configuration becomes a label.
func (m *Metrics) Login(sp, dialect string, result flow.LoginResult) {
	m.mu.RLock()
	known := m.sps[SP{sp, dialect}]
	m.mu.RUnlock()
	if !known {
		sp, dialect = unconfigured, unconfigured
	}
	m.logins.WithLabelValues(sp, dialect, string(result)).Inc()
}

// Upstream implements flow.Meter.
func (m *Metrics) Upstream(result flow.UpstreamResult) {
	m.upstream.WithLabelValues(string(result)).Inc()
}

// Hop implements flow.Meter.
func (m *Metrics) Hop(hop flow.Hop, d time.Duration) {
	m.hops.WithLabelValues(string(hop)).Observe(max(d, 0).Seconds())
}

// Gatherer is the registry, for tests and tools that read it directly.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the Prometheus text at Path, and 404 elsewhere.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}

// HTTPServer is the metrics listener's server (Handler, with timeouts).
func (m *Metrics) HTTPServer() *http.Server {
	return &http.Server{
		Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10,
	}
}

// storeCollector reads the store's counts at each scrape.
type storeCollector struct {
	counts atomic.Pointer[func() map[string]int]
	desc   *prometheus.Desc
}

func (s *storeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

func (s *storeCollector) Collect(ch chan<- prometheus.Metric) {
	counts := (*s.counts.Load())()
	for _, kind := range StoreKinds {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(counts[kind]), kind)
	}
}
