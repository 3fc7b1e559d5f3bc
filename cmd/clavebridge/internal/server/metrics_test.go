package server

// Metrics end to end: a bridge with the simulator and the demo SPs logs
// citizens in through all three dialects and refuses one request; its
// metrics listener's /metrics then counts exactly that, names nobody, and
// the public listener has no /metrics at all.
//
// Run it with: go test ./cmd/clavebridge/internal/server -run Metrics

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/web/metrics"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/translate"
)

// The demo SPs as config.example.yaml registers them (base is the bridge's URL).
func demoSPs(base string) map[string]string {
	return map[string]string{
		"saml2": base + "/demo/saml2/metadata",
		"eidas": "S2800000X_E00000001",
		"stork": "demo_stork_sp",
	}
}

// scrapeMetrics serves the bridge's metrics handler on a loopback port of
// its own, as the metrics listener does, and GETs /metrics there: the
// text and its families.
func scrapeMetrics(t *testing.T, h *harness) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	ms := httptest.NewServer(h.Server.Metrics.Handler())
	defer ms.Close()
	resp, err := http.Get(ms.URL + metrics.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return string(body), fams
}

// flat is a family's series: "label=value,…" (sorted) → value; a
// histogram's value is its count.
func flat(f *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(labels)
		out[strings.Join(labels, ",")] = m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return out
}

// registrySeries is a family's series as m's registry holds them now, in
// flat's form (nil when the family has none).
func registrySeries(m *metrics.Metrics, family string) (map[string]float64, error) {
	fams, err := m.Gatherer().Gather()
	if err != nil {
		return nil, err
	}
	for _, f := range fams {
		if f.GetName() == family {
			return flat(f), nil
		}
	}
	return nil, nil
}

// series is registrySeries for a test: an unreadable registry fails it.
func series(t *testing.T, m *metrics.Metrics, family string) map[string]float64 {
	t.Helper()
	s, err := registrySeries(m, family)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loginSeries is every clavebridge_logins_total series of the demo SPs
// at 0, with the given counts.
func loginSeries(base string, counts map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for d, sp := range demoSPs(base) {
		for _, r := range flow.LoginResults() {
			out[fmt.Sprintf("dialect=%s,result=%s,sp=%s", d, r, sp)] = 0
		}
	}
	for k, v := range counts {
		out[k] = v
	}
	return out
}

// checkFamily compares a family's series with want, exactly.
func checkFamily(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]float64) {
	t.Helper()
	got := flat(fams[name])
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s{%s} = %v (present: %v), want %v", name, k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s{%s} = %v is not expected", name, k, g)
		}
	}
}

// demoLoginIn runs a demo SP's login in browser b to its result page.
func demoLoginIn(t *testing.T, h *harness, b *browser.Browser, d string, options url.Values) string {
	t.Helper()
	page, err := b.Post(h.URL+"/demo/"+d+"/login", options)
	if err == nil {
		page, _, err = b.FollowPosts(page, nil)
	}
	if err != nil {
		t.Fatalf("%s login: %v", d, err)
	}
	return page.Body
}

func TestMetricsEndToEnd(t *testing.T) {
	h := startHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	base := h.URL
	sp := demoSPs(base)

	// From startup: every family, the configured label sets at 0.
	_, fams := scrapeMetrics(t, h)
	checkFamily(t, fams, "clavebridge_logins_total", loginSeries(base, nil))
	checkFamily(t, fams, "clavebridge_upstream_requests_total", map[string]float64{
		"result=success": 0, "result=cancelled": 0, "result=failure": 0, "result=refused": 0, "result=error": 0})
	checkFamily(t, fams, "clavebridge_login_duration_seconds", map[string]float64{
		"hop=sp_request": 0, "hop=gateway": 0, "hop=gateway_answer": 0, "hop=login": 0})
	checkFamily(t, fams, "clavebridge_config_last_reload_successful", map[string]float64{"": 1})
	checkFamily(t, fams, "clavebridge_store_entries", map[string]float64{"kind=pending": 0, "kind=replay": 0, "kind=sessions": 0})

	// Three browsers log in through the gateway, one in each dialect; the
	// first then reaches the Cl@ve 2.0 kit by single sign-on; a fourth
	// asks the kit for a login with every identity provider disabled,
	// which the policy refuses before the gateway.
	b1, b2, b3, b4 := h.Browser, browser.New(http.DefaultTransport), browser.New(http.DefaultTransport), browser.New(http.DefaultTransport)
	allIdPs := url.Values{"loa": {"low"}}
	for _, idp := range translate.AllIdPs() {
		allIdPs.Add("disable", string(idp))
	}
	for _, l := range []struct {
		b       *browser.Browser
		dialect string
		options url.Values
		want    string
	}{
		{b1, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}}, demoLoggedIn},
		{b1, "clave2", url.Values{"loa": {"low"}}, demoLoggedIn},
		{b2, "clave2", url.Values{"loa": {"low"}}, demoLoggedIn},
		{b3, "stork", url.Values{"qaa": {"2"}}, demoLoggedIn},
		{b4, "clave2", allIdPs, "RequestDenied"},
	} {
		if body := demoLoginIn(t, h, l.b, l.dialect, l.options); !strings.Contains(body, l.want) {
			t.Fatalf("%s login: want %q in %.1500s", l.dialect, l.want, body)
		}
	}
	if got := h.Server.Simulator.Logins(); got != 3 {
		t.Fatalf("the simulator saw %d logins, want 3", got)
	}

	text, fams := scrapeMetrics(t, h)
	checkFamily(t, fams, "clavebridge_logins_total", loginSeries(base, map[string]float64{
		"dialect=saml2,result=success,sp=" + sp["saml2"]:       1,
		"dialect=eidas,result=sso,sp=" + sp["eidas"]:           1,
		"dialect=eidas,result=success,sp=" + sp["eidas"]:       1,
		"dialect=stork,result=success,sp=" + sp["stork"]:       1,
		"dialect=eidas,result=denied_policy,sp=" + sp["eidas"]: 1,
	}))
	checkFamily(t, fams, "clavebridge_upstream_requests_total", map[string]float64{
		"result=success": 3, "result=cancelled": 0, "result=failure": 0, "result=refused": 0, "result=error": 0})
	checkFamily(t, fams, "clavebridge_login_duration_seconds", map[string]float64{
		"hop=sp_request": 5, "hop=gateway": 3, "hop=gateway_answer": 3, "hop=login": 3})
	checkFamily(t, fams, "clavebridge_config_last_reload_successful", map[string]float64{"": 1})
	entries := flat(fams["clavebridge_store_entries"])
	if entries["kind=sessions"] != 3 || entries["kind=pending"] != 0 || entries["kind=replay"] == 0 || len(entries) != 3 {
		t.Errorf("store entries %v: want the three browsers' sessions, the replay marks, no pending entry", entries)
	}
	checkCertificates(t, h, fams)
	checkNobody(t, text)

	// The public listener has no /metrics.
	resp, err := http.Get(h.URL + metrics.Path)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %d, want 404", resp.StatusCode)
	}
}

// checkCertificates: our keys, the gateway's (here the simulator's) and
// every demo SP's certificate, each with its expiry, named by role, SP and
// serial.
func checkCertificates(t *testing.T, h *harness, fams map[string]*dto.MetricFamily) {
	t.Helper()
	cfg := exampleConfig(t, h.URL, nil)
	read := func(file string) *x509.Certificate {
		c, err := cfg.ReadCertificate(file)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	want := map[string]float64{}
	add := func(role, sp string, c *x509.Certificate) {
		want[fmt.Sprintf("role=%s,serial=%s,sp=%s", role, metrics.Serial(c), sp)] = float64(c.NotAfter.Unix())
	}
	add(metrics.RoleSigning, "", read(cfg.Keys.Signing.Cert))
	add(metrics.RoleEncryption, "", read(cfg.Keys.Encryption.Cert))
	add(metrics.RoleGateway, "", read(cfg.Simulator.Signing.Cert))
	for _, spc := range cfg.ServiceProviders {
		for _, f := range spc.Certs {
			add(metrics.RoleSPSigning, spc.ID, read(f))
		}
	}
	for _, sp := range h.Server.Registry.All() {
		if sp.EncryptionCert != nil {
			add(metrics.RoleSPEncryption, sp.ID, sp.EncryptionCert)
		}
	}
	checkFamily(t, fams, "clavebridge_certificate_not_after_timestamp_seconds", want)
}

// checkNobody: nothing the bridge serves as metrics names a test citizen:
// not their DNI, names or birth date; not in a label, not anywhere.
func checkNobody(t *testing.T, text string) {
	t.Helper()
	for _, personal := range []string{"99999999R", "JUAN", "ESPAÑOL", "PRUEBAS", "1980-01-01"} {
		if strings.Contains(strings.ToUpper(text), strings.ToUpper(personal)) {
			t.Errorf("/metrics holds %q", personal)
		}
	}
}

// TestMetricsLabelsFromConfiguration: the SP label values are exactly the
// configured SPs' ids, whatever SPs' messages claim: requests naming an
// unknown issuer, or carrying a DNI as their issuer, add no series.
func TestMetricsLabelsFromConfiguration(t *testing.T) {
	h := startHarness(t, func(cfg *config.Config) { cfg.Simulator.AutoLogin = nil })
	for _, issuer := range []string{"https://unknown.example/sp", "ES/ES/99999999R"} {
		req := fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>%s</saml:Issuer></samlp:AuthnRequest>`, issuer)
		page, err := h.Browser.Post(h.URL+"/saml2/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(req))}})
		if err != nil {
			t.Fatal(err)
		}
		if page.Status == http.StatusOK && strings.Contains(page.Body, "SAMLResponse") {
			t.Fatalf("a request from %s was answered", issuer)
		}
	}
	after, fams := scrapeMetrics(t, h)
	checkFamily(t, fams, "clavebridge_logins_total", loginSeries(h.URL, nil))
	checkNobody(t, after)
	if strings.Contains(after, "unknown.example") {
		t.Errorf("an unknown issuer became a label value")
	}
}

// TestMetricsCancelled: a citizen who cancels at the gateway counts as a
// cancelled login of its SP and a cancelled answer of the gateway.
func TestMetricsCancelled(t *testing.T) {
	h := startHarness(t, func(cfg *config.Config) { cfg.Simulator.AutoLogin = nil })
	page, err := h.Browser.Post(h.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
	if err == nil {
		page, _, err = h.Browser.FollowPosts(page, nil) // to the simulator's page
	}
	if err != nil {
		t.Fatal(err)
	}
	var cancel *browser.Form
	for _, f := range page.Forms() {
		if f.Fields.Get("login") != "" && !strings.Contains(f.Action, "lang=") { // not the language switch's
			cancel = &f
			break
		}
	}
	if cancel == nil {
		t.Fatalf("no login form on the gateway's page: %.1500s", page.Body)
	}
	cancel.Fields.Set("cancel", "1")
	if page, err = h.Browser.Post(cancel.Action, cancel.Fields); err == nil {
		page, _, err = h.Browser.FollowPosts(page, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.Body, demoLoginFailed) {
		t.Fatalf("the demo SP after the cancel: %.1500s", page.Body)
	}
	_, fams := scrapeMetrics(t, h)
	checkFamily(t, fams, "clavebridge_logins_total", loginSeries(h.URL, map[string]float64{
		"dialect=saml2,result=cancelled,sp=" + demoSPs(h.URL)["saml2"]: 1,
	}))
	checkFamily(t, fams, "clavebridge_upstream_requests_total", map[string]float64{
		"result=success": 0, "result=cancelled": 1, "result=failure": 0, "result=refused": 0, "result=error": 0})
}
