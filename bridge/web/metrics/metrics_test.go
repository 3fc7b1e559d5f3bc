package metrics_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/web/metrics"
)

// scrape GETs path from h and returns the families it served.
func scrape(t *testing.T, h http.Handler, path string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		return rec.Code, nil
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return rec.Code, fams
}

// series flattens a family into "label=value,…" → value (a histogram's
// value is its count).
func series(f *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(labels)
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue() + float64(m.GetHistogram().GetSampleCount())
		out[strings.Join(labels, ",")] = v
	}
	return out
}

// labelValues are every label value of every family.
func labelValues(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// newCert makes a certificate with this subject, serial and expiry.
func newCert(t *testing.T, subject pkix.Name, serial int64, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subject,
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var expiry = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

// configured is a registry configured with two SPs, our keys, a gateway
// certificate and a store.
func configured(t *testing.T) (*metrics.Metrics, metrics.Configuration) {
	t.Helper()
	m := metrics.New()
	c := metrics.Configuration{
		SPs: []metrics.SP{{ID: "https://sp.example/metadata", Dialect: "saml2"}, {ID: "S2800000X_E00000001", Dialect: "eidas"}},
		Certificates: []metrics.Certificate{
			{Role: metrics.RoleSigning, Cert: newCert(t, pkix.Name{CommonName: "bridge"}, 0x1a2b, expiry)},
			{Role: metrics.RoleEncryption, Cert: newCert(t, pkix.Name{CommonName: "bridge enc"}, 0x1a2c, expiry.Add(time.Hour))},
			{Role: metrics.RoleGateway, Cert: newCert(t, pkix.Name{CommonName: "gateway"}, 7, expiry.Add(2*time.Hour))},
			{Role: metrics.RoleSPSigning, SP: "S2800000X_E00000001", Cert: newCert(t, pkix.Name{CommonName: "kit"}, 255, expiry.Add(3*time.Hour))},
		},
	}
	m.Configure(c)
	m.WatchStore(func() map[string]int { return map[string]int{"pending": 1, "replay": 2, "sessions": 3} })
	return m, c
}

// TestFamiliesFromStartup: before anything happens, every family is
// there, and every label set the configuration names is at 0.
func TestFamiliesFromStartup(t *testing.T) {
	m, c := configured(t)
	code, fams := scrape(t, m.Handler(), metrics.Path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", metrics.Path, code)
	}
	for name := range fams {
		if !strings.HasPrefix(name, "clavebridge_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("family %s is not clavebridge_, go_ or process_", name)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("the %s collector is missing", name)
		}
	}
	want := map[string]map[string]float64{
		"clavebridge_logins_total":                  {},
		"clavebridge_upstream_requests_total":       {},
		"clavebridge_login_duration_seconds":        {},
		"clavebridge_config_last_reload_successful": {"": 1},
		"clavebridge_store_entries":                 {"kind=pending": 1, "kind=replay": 2, "kind=sessions": 3},
		"clavebridge_certificate_not_after_timestamp_seconds": {
			"role=signing,serial=1A2B,sp=":                     float64(expiry.Unix()),
			"role=encryption,serial=1A2C,sp=":                  float64(expiry.Add(time.Hour).Unix()),
			"role=gateway,serial=7,sp=":                        float64(expiry.Add(2 * time.Hour).Unix()),
			"role=sp_signing,serial=FF,sp=S2800000X_E00000001": float64(expiry.Add(3 * time.Hour).Unix()),
		},
	}
	for _, sp := range c.SPs {
		for _, r := range flow.LoginResults() {
			want["clavebridge_logins_total"][fmt.Sprintf("dialect=%s,result=%s,sp=%s", sp.Dialect, r, sp.ID)] = 0
		}
	}
	for _, r := range flow.UpstreamResults() {
		want["clavebridge_upstream_requests_total"]["result="+string(r)] = 0
	}
	for _, h := range flow.Hops() {
		want["clavebridge_login_duration_seconds"]["hop="+string(h)] = 0
	}
	for name, w := range want {
		got := series(fams[name])
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, w)
		}
	}
	if got := len(want["clavebridge_logins_total"]); got != 2*11 {
		t.Errorf("%d login series, want 2 SPs × 11 results", got)
	}
}

// TestCounting: the flow's reports land on their series, and only there.
func TestCounting(t *testing.T) {
	m, _ := configured(t)
	m.Login("S2800000X_E00000001", "eidas", flow.LoginSuccess)
	m.Login("S2800000X_E00000001", "eidas", flow.LoginSuccess)
	m.Login("https://sp.example/metadata", "saml2", flow.LoginCancelled)
	m.Upstream(flow.UpstreamRefused)
	m.Hop(flow.HopGateway, 42*time.Second)
	m.Hop(flow.HopGateway, -time.Second) // a clock stepping back counts as 0
	m.SetReloadSuccessful(false)
	_, fams := scrape(t, m.Handler(), metrics.Path)
	for _, tt := range []struct {
		family, series string
		want           float64
	}{
		{"clavebridge_logins_total", "dialect=eidas,result=success,sp=S2800000X_E00000001", 2},
		{"clavebridge_logins_total", "dialect=saml2,result=cancelled,sp=https://sp.example/metadata", 1},
		{"clavebridge_logins_total", "dialect=saml2,result=success,sp=https://sp.example/metadata", 0},
		{"clavebridge_upstream_requests_total", "result=refused", 1},
		{"clavebridge_upstream_requests_total", "result=success", 0},
		{"clavebridge_login_duration_seconds", "hop=gateway", 2},
		{"clavebridge_login_duration_seconds", "hop=login", 0},
		{"clavebridge_config_last_reload_successful", "", 0},
	} {
		if got, ok := series(fams[tt.family])[tt.series]; !ok || got != tt.want {
			t.Errorf("%s{%s} = %v (present: %v), want %v", tt.family, tt.series, got, ok, tt.want)
		}
	}
	h := fams["clavebridge_login_duration_seconds"]
	for _, s := range h.GetMetric() {
		if s.GetLabel()[0].GetValue() == "gateway" && s.GetHistogram().GetSampleSum() != 42 {
			t.Errorf("gateway hop sum %v, want 42", s.GetHistogram().GetSampleSum())
		}
	}
	m.SetReloadSuccessful(true)
	_, fams = scrape(t, m.Handler(), metrics.Path)
	if got := series(fams["clavebridge_config_last_reload_successful"])[""]; got != 1 {
		t.Errorf("reload gauge %v after a successful reload, want 1", got)
	}
}

// TestUnconfiguredSP: an SP no configuration named never becomes a label
// value; its login is counted with an empty sp and dialect.
func TestUnconfiguredSP(t *testing.T) {
	m, _ := configured(t)
	m.Login("https://attacker.example/ES/ES/99999999R", "saml2", flow.LoginInvalidRequest)
	_, fams := scrape(t, m.Handler(), metrics.Path)
	for _, v := range labelValues(fams) {
		if strings.Contains(v, "attacker") {
			t.Fatalf("label value %q comes from outside the configuration", v)
		}
	}
	if got := series(fams["clavebridge_logins_total"])["dialect=,result=invalid_request,sp="]; got != 1 {
		t.Errorf("unconfigured login counted %v times under the empty SP, want 1", got)
	}
}

// TestReconfigure: a new configuration adds its SPs at 0, keeps what was
// counted, and replaces the certificates.
func TestReconfigure(t *testing.T) {
	m, c := configured(t)
	m.Login("S2800000X_E00000001", "eidas", flow.LoginSSO)
	next := metrics.Configuration{
		SPs:          []metrics.SP{c.SPs[1], {ID: "demo_stork_sp", Dialect: "stork"}},
		Certificates: []metrics.Certificate{{Role: metrics.RoleSigning, Cert: newCert(t, pkix.Name{CommonName: "new"}, 99, expiry)}},
	}
	m.Configure(next)
	_, fams := scrape(t, m.Handler(), metrics.Path)
	logins := series(fams["clavebridge_logins_total"])
	for key, want := range map[string]float64{
		"dialect=eidas,result=sso,sp=S2800000X_E00000001":             1,
		"dialect=stork,result=success,sp=demo_stork_sp":               0,
		"dialect=saml2,result=success,sp=https://sp.example/metadata": 0, // dropped SPs keep their series
	} {
		if got, ok := logins[key]; !ok || got != want {
			t.Errorf("logins{%s} = %v (present: %v), want %v", key, got, ok, want)
		}
	}
	certs := series(fams["clavebridge_certificate_not_after_timestamp_seconds"])
	if len(certs) != 1 || certs["role=signing,serial=63,sp="] != float64(expiry.Unix()) {
		t.Errorf("certificates after the reload: %v", certs)
	}
}

// TestNoSubjectInLabels: certificates are named by role, SP and serial
// only; a subject holding a citizen's name and DNI never shows.
func TestNoSubjectInLabels(t *testing.T) {
	m := metrics.New()
	subject := pkix.Name{CommonName: "ESPAÑOL ESPAÑOL JUAN - 99999999R", SerialNumber: "IDCES-99999999R",
		Organization: []string{"Ayuntamiento"}, ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: []int{2, 5, 4, 42}, Value: "JUAN"}, {Type: []int{2, 5, 4, 4}, Value: "ESPAÑOL ESPAÑOL"}}}
	m.Configure(metrics.Configuration{
		SPs:          []metrics.SP{{ID: "sp1", Dialect: "saml2"}},
		Certificates: []metrics.Certificate{{Role: metrics.RoleSPSigning, SP: "sp1", Cert: newCert(t, subject, 12345, expiry)}},
	})
	_, fams := scrape(t, m.Handler(), metrics.Path)
	values := labelValues(fams)
	if !slices.Contains(values, "3039") {
		t.Fatalf("the certificate's serial (3039) is not among the label values %v", values)
	}
	for _, v := range values {
		for _, personal := range []string{"99999999R", "JUAN", "ESPAÑOL", "Ayuntamiento"} {
			if strings.Contains(v, personal) {
				t.Errorf("label value %q holds %q from the certificate's subject", v, personal)
			}
		}
	}
}

// TestHandlerServesOnlyMetrics: the handler answers GET /metrics and
// nothing else.
func TestHandlerServesOnlyMetrics(t *testing.T) {
	h := metrics.New().Handler()
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/metrics", http.StatusOK},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/metrics/x", http.StatusNotFound},
		{http.MethodGet, "/healthz", http.StatusNotFound},
		{http.MethodPost, "/metrics", http.StatusMethodNotAllowed},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
	}
}

// TestRegistriesApart: two bridges in one process count apart, and
// nothing lands in the global registry.
func TestRegistriesApart(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	for _, m := range []*metrics.Metrics{a, b} {
		m.Configure(metrics.Configuration{SPs: []metrics.SP{{ID: "sp1", Dialect: "saml2"}}})
	}
	a.Login("sp1", "saml2", flow.LoginSuccess)
	_, fa := scrape(t, a.Handler(), metrics.Path)
	_, fb := scrape(t, b.Handler(), metrics.Path)
	key := "dialect=saml2,result=success,sp=sp1"
	if series(fa["clavebridge_logins_total"])[key] != 1 || series(fb["clavebridge_logins_total"])[key] != 0 {
		t.Errorf("a login on one bridge shows as %v and %v", series(fa["clavebridge_logins_total"])[key], series(fb["clavebridge_logins_total"])[key])
	}
	global, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range global {
		if strings.HasPrefix(f.GetName(), "clavebridge_") {
			t.Errorf("%s is in the global registry", f.GetName())
		}
	}
}

// TestMetadataRefreshMetrics: the refresher's age gauge and failure counter,
// by SP.
func TestMetadataRefreshMetrics(t *testing.T) {
	m := metrics.New()
	m.MetadataAge("https://sp.example/md", 90*time.Minute)
	m.MetadataRefreshFailed("https://sp.example/md")
	m.MetadataRefreshFailed("https://sp.example/md")
	m.MetadataAge("https://other.example/md", 0)
	m.MetadataCacheWriteFailed("https://other.example/md")
	_, fams := scrape(t, m.Handler(), "/metrics")
	tests := []struct {
		family, series string
		want           float64
	}{
		{"clavebridge_metadata_age_seconds", "sp=https://sp.example/md", 5400},
		{"clavebridge_metadata_age_seconds", "sp=https://other.example/md", 0},
		{"clavebridge_metadata_refresh_failures_total", "sp=https://sp.example/md", 2},
		{"clavebridge_metadata_cache_write_failures_total", "sp=https://other.example/md", 1},
	}
	for _, tt := range tests {
		got, ok := series(fams[tt.family])[tt.series]
		if !ok || got != tt.want {
			t.Errorf("%s{%s} = %v (present %v), want %v", tt.family, tt.series, got, ok, tt.want)
		}
	}
}
