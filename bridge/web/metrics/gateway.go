package metrics

import (
	"crypto/x509"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gatewayMetrics are the families of the gateway's certificates document
// (upstream.gateway_certificates_url).
type gatewayMetrics struct {
	age   prometheus.Gauge
	fails prometheus.Counter
}

func newGatewayMetrics(reg *prometheus.Registry) gatewayMetrics {
	g := gatewayMetrics{
		age: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "gateway_certificates_age_seconds",
			Help: "Age of the gateway's certificates list in use (seconds since its document was fetched); absent without upstream.gateway_certificates_url.",
		}),
		fails: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "gateway_certificates_refresh_failures_total",
			Help: "Failed fetches of the gateway's certificates document (fetch or content refused); the last good list stays trusted.",
		}),
	}
	reg.MustRegister(g.age, g.fails)
	return g
}

// GatewayCertificatesAge sets the age of the gateway's certificates list.
func (m *Metrics) GatewayCertificatesAge(age time.Duration) { m.gateway.age.Set(age.Seconds()) }

// GatewayCertificatesRefreshFailed counts a failed fetch of the gateway's
// certificates document.
func (m *Metrics) GatewayCertificatesRefreshFailed() { m.gateway.fails.Inc() }

// GatewayCertificates replaces the gateway certificates of
// clavebridge_certificate_not_after_timestamp_seconds (role gateway) after
// the trusted list changed.
func (m *Metrics) GatewayCertificates(certs []*x509.Certificate) {
	m.certs.DeletePartialMatch(prometheus.Labels{"role": RoleGateway})
	for _, c := range certs {
		if c != nil {
			m.certs.WithLabelValues(RoleGateway, "", Serial(c)).Set(float64(c.NotAfter.Unix()))
		}
	}
}
