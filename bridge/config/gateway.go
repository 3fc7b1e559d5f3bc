package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// minGatewayCertificatesRefresh bounds upstream.gateway_certificates_refresh
// from below: the gateway publishes a document that changes a few times a
// year.
const minGatewayCertificatesRefresh = time.Minute

// GatewayCertificatesAllowHTTP reports whether the gateway's certificates
// document may come over plain http: only from this machine (a loopback
// address or localhost), and only with the simulator or in development
// mode. Everywhere else the document's trust is TLS's.
func (c *Config) GatewayCertificatesAllowHTTP() bool {
	u, err := url.Parse(c.Upstream.GatewayCertificatesURL)
	if err != nil || u.Scheme != "http" {
		return false
	}
	return (c.Upstream.Mode == "simulated" || c.Mode == ModeDevelopment) && isLoopbackHost(u.Hostname())
}

func isLoopbackHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateGatewayCertificates checks the upstream.gateway_certificates_*
// keys.
func (c *Config) validateGatewayCertificates() []error {
	u := c.Upstream
	var errs []error
	if raw := u.GatewayCertificatesURL; raw != "" {
		if err := checkURL("upstream.gateway_certificates_url", raw); err != nil {
			errs = append(errs, err)
		} else if pu, _ := url.Parse(raw); pu.Scheme == "http" && !c.GatewayCertificatesAllowHTTP() {
			errs = append(errs, fieldErr("upstream.gateway_certificates_url",
				"%q is plain http: the document is not signed, its trust comes from TLS; use https (http is allowed only to this machine, with the simulator or in development mode)", raw))
		}
	} else {
		for _, k := range []struct{ path, v string }{
			{"upstream.gateway_certificates_ca", u.GatewayCertificatesCA},
			{"upstream.gateway_certificates_cache", u.GatewayCertificatesCache},
		} {
			if k.v != "" {
				errs = append(errs, fieldErr(k.path, "set without upstream.gateway_certificates_url"))
			}
		}
	}
	if d := u.GatewayCertificatesRefresh.D(); d != 0 && d < minGatewayCertificatesRefresh {
		errs = append(errs, fieldErr("upstream.gateway_certificates_refresh", "%s is shorter than %s", d, minGatewayCertificatesRefresh))
	}
	if u.GatewayCertificatesCA != "" {
		if err := c.checkFile("upstream.gateway_certificates_ca", u.GatewayCertificatesCA); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// gatewayCertificates: how the gateway's certificates document is
// kept, for `check`: no copy on disk for an offline restart. (A static list alone stays a valid choice, without a finding.)
func (r *reviewer) gatewayCertificates() {
	u := r.c.Upstream
	if u.Mode != "clave2" {
		return
	}
	if u.GatewayCertificatesURL == "" {
		return // a static list: the operator updates it when Cl@ve rotates (docs/operations.md)
	}
	// Plain http is a validation error here (validateGatewayCertificates).
	if u.GatewayCertificatesCache == "" {
		r.add(Warning, "upstream.gateway_certificates_url", "no last good copy of the gateway's certificates is kept on disk: a restart while the gateway is unreachable fails unless gateway_certs lists them",
			"set upstream.gateway_certificates_cache or metadata_cache_dir")
	}
}
