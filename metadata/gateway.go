package metadata

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
)

// The gateway's certificates: Cl@ve 2.0 publishes its signing and
// encryption certificates at /Proxy2/Certificates, and the Java kit's
// daemon fetches that document daily as its trust store. GatewaySource
// does the same for the bridge's connector.

// Defaults of a GatewaySource.
const (
	DefaultGatewayRefresh = 24 * time.Hour
	// gatewayRetryMin is the wait after a first failed refresh; it doubles
	// with each further failure up to gatewayRetryMax (or the refresh
	// period, if shorter).
	gatewayRetryMin = time.Minute
	gatewayRetryMax = time.Hour
)

// LogLevel is the weight of a GatewaySource's log line.
type LogLevel int

// The levels of a GatewaySource's log lines.
const (
	LogDebug LogLevel = iota
	LogInfo
	LogWarn
)

// GatewayCert is a certificate of the gateway's document the bridge trusts.
type GatewayCert struct {
	Name  string // ds:KeyName, or the serial number when it has none
	State string // active, inactive or ""
	Cert  *x509.Certificate
}

// ReadGatewayCertificates reads the gateway's certificates document (see
// clave2msg.ParseCertificates) and returns the certificates to trust: those
// for signing (use="signing" or no use), active and inactive alike. An
// inactive one is the seal the gateway has announced it will sign with
// next; trusting it before the switch, as the kit does, is what lets the
// switch happen without a failed login, and it is as trustworthy as the
// active one: both come in the same document over the same TLS. Expired
// certificates are left out and named in skipped. A document with no
// signing certificate left is refused.
func ReadGatewayCertificates(data []byte, now time.Time) (trusted []GatewayCert, skipped []string, err error) {
	entries, err := clave2msg.ParseCertificates(data)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if e.Use != "" && e.Use != clave2msg.UseSigning {
			continue
		}
		name := e.Name
		if name == "" {
			name = fmt.Sprintf("serial %X", e.Cert.SerialNumber)
		}
		if now.After(e.Cert.NotAfter) {
			skipped = append(skipped, fmt.Sprintf("%s (expired %s)", name, e.Cert.NotAfter.UTC().Format(time.RFC3339)))
			continue
		}
		if slices.ContainsFunc(trusted, func(g GatewayCert) bool { return g.Cert.Equal(e.Cert) }) {
			continue
		}
		trusted = append(trusted, GatewayCert{Name: name, State: e.State, Cert: e.Cert})
	}
	if len(trusted) == 0 {
		if len(skipped) > 0 {
			return nil, skipped, fmt.Errorf("certificates document: no signing certificate that has not expired (%s)", strings.Join(skipped, ", "))
		}
		return nil, nil, errors.New("certificates document: no signing certificate")
	}
	return trusted, skipped, nil
}

// GatewayMeter is what a GatewaySource reports: the age of the trusted
// list, each failed refresh, and the certificates trusted after a change.
type GatewayMeter interface {
	GatewayCertificatesAge(age time.Duration)
	GatewayCertificatesRefreshFailed()
	GatewayCertificates(certs []*x509.Certificate)
}

// GatewaySource trusts the gateway's certificates document fetched from
// URL (under the fetch guard) beside the Static certificates: the union of
// both (a static certificate is an operator's pin, which no document can
// remove). It is fetched again Every period (default 24h); a failed fetch
// or a refused document keeps the last good list and is retried sooner (1
// minute, doubling up to an hour). Each good document is written to
// CacheFile, the last good copy read at Start when the fetch fails. The
// trusted set never becomes empty: a document with no signing certificate
// is refused, and Start fails rather than trust nothing.
type GatewaySource struct {
	URL    string
	Policy FetchPolicy
	Fetch  *Fetcher // nil: the zero Fetcher
	Static []*x509.Certificate
	// CacheFile keeps the last good copy ("": none is kept).
	CacheFile string
	// Every is the refresh period (default 24h).
	Every time.Duration
	// Seed, when set, gives Start the document in process instead of
	// fetching it (the simulator of this same process, which is not
	// listening yet at start); later refreshes fetch URL.
	Seed  func() ([]byte, error)
	Now   func() time.Time
	Meter GatewayMeter // may be nil
	// Log receives the first list (LogDebug: a start is no change), every
	// change (LogInfo: the KeyNames added and removed) and every failure
	// and skipped certificate (LogWarn); may be nil.
	Log func(level LogLevel, msg string)

	mu        sync.RWMutex
	fetched   []GatewayCert
	fetchedAt time.Time // of the list in use; zero: none
	next      time.Time // when to fetch again
	failures  int
}

// Start loads the first list: Seed, or a fetch, or else the last good copy
// on disk, or else the static certificates alone; with none of them it
// fails.
func (s *GatewaySource) Start(ctx context.Context) error {
	now := s.Now()
	var err error
	if s.Seed != nil {
		var data []byte
		if data, err = s.Seed(); err == nil {
			if err = s.adopt(data, now, now); err == nil {
				return nil
			}
		}
	} else if err = s.fetchAndAdopt(ctx, now); err == nil {
		return nil
	}
	err = fmt.Errorf("gateway certificates %s: %w", s.URL, err)
	s.failed(now, err)
	if s.CacheFile != "" {
		data, rerr := os.ReadFile(s.CacheFile)
		if rerr == nil {
			fetched := now
			if st, serr := os.Stat(s.CacheFile); serr == nil && st.ModTime().Before(now) {
				fetched = st.ModTime()
			}
			if rerr = s.adopt(data, fetched, now); rerr == nil {
				s.log(LogWarn, fmt.Sprintf("gateway certificates: the last good copy %s (of %s) serves until a fetch succeeds",
					s.CacheFile, fetched.UTC().Format(time.RFC3339)))
				return nil
			}
		}
		err = fmt.Errorf("%w; the last good copy %s: %v", err, s.CacheFile, rerr)
	}
	if len(s.Static) > 0 {
		s.log(LogWarn, "gateway certificates: only upstream.gateway_certs is trusted until a fetch succeeds")
		return nil
	}
	return fmt.Errorf("no trusted gateway certificate: %w", err)
}

// Refresh fetches the document again when it is due, and reports the
// list's age.
func (s *GatewaySource) Refresh(ctx context.Context) {
	now := s.Now()
	s.mu.RLock()
	due := !now.Before(s.next)
	s.mu.RUnlock()
	if due {
		_ = s.Update(ctx)
	}
	s.age(now)
}

// Update fetches the document now; on failure the list in use stays and
// the error is returned (and logged and counted).
func (s *GatewaySource) Update(ctx context.Context) error {
	now := s.Now()
	if err := s.fetchAndAdopt(ctx, now); err != nil {
		err = fmt.Errorf("gateway certificates %s: refresh failed, the last good list stays trusted: %w", s.URL, err)
		s.failed(now, err)
		return err
	}
	return nil
}

// Certificates are the certificates trusted now: the static ones and those
// of the document in use that have not expired.
func (s *GatewaySource) Certificates() []*x509.Certificate {
	now := s.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := slices.Clone(s.Static)
	for _, g := range s.fetched {
		if now.After(g.Cert.NotAfter) || slices.ContainsFunc(out, g.Cert.Equal) {
			continue
		}
		out = append(out, g.Cert)
	}
	return out
}

// Fetched is the document's list in use and when it was fetched.
func (s *GatewaySource) Fetched() ([]GatewayCert, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.fetched), s.fetchedAt
}

func (s *GatewaySource) fetchAndAdopt(ctx context.Context, now time.Time) error {
	f := s.Fetch
	if f == nil {
		f = &Fetcher{}
	}
	data, err := f.Fetch(ctx, s.URL, s.Policy)
	if err != nil {
		return err
	}
	if err := s.adopt(data, now, now); err != nil {
		return err
	}
	if s.CacheFile != "" {
		if err := writeFileAtomic(s.CacheFile, data); err != nil {
			s.log(LogWarn, fmt.Sprintf("gateway certificates: the last good copy could not be kept: %v", err))
		}
	}
	return nil
}

// adopt makes data's certificates the list in use, fetched at fetchedAt,
// and logs what changed.
func (s *GatewaySource) adopt(data []byte, fetchedAt, now time.Time) error {
	trusted, skipped, err := ReadGatewayCertificates(data, now)
	for _, sk := range skipped {
		s.log(LogWarn, "gateway certificates: expired certificate not trusted: "+sk)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	old, first := s.fetched, s.fetchedAt.IsZero()
	s.fetched, s.fetchedAt = trusted, fetchedAt
	s.next, s.failures = now.Add(s.period()), 0
	s.mu.Unlock()
	added, removed := certChanges(old, trusted)
	switch {
	case first:
		s.log(LogDebug, "gateway certificates trusted: "+describe(trusted))
	case len(added) > 0 || len(removed) > 0:
		s.log(LogInfo, fmt.Sprintf("gateway certificates changed: added [%s], removed [%s]; trusted now: %s",
			strings.Join(added, ", "), strings.Join(removed, ", "), describe(trusted)))
	case statesChanged(old, trusted):
		s.log(LogInfo, "gateway certificates: states changed; trusted now: "+describe(trusted))
	}
	if s.Meter != nil {
		s.Meter.GatewayCertificates(s.Certificates())
	}
	return nil
}

func (s *GatewaySource) failed(now time.Time, err error) {
	s.mu.Lock()
	s.failures++
	wait := gatewayRetryMin << min(s.failures-1, 16)
	s.next = now.Add(min(wait, gatewayRetryMax, s.period()))
	s.mu.Unlock()
	if s.Meter != nil {
		s.Meter.GatewayCertificatesRefreshFailed()
	}
	s.log(LogWarn, err.Error())
}

func (s *GatewaySource) age(now time.Time) {
	s.mu.RLock()
	at := s.fetchedAt
	s.mu.RUnlock()
	if s.Meter != nil && !at.IsZero() {
		s.Meter.GatewayCertificatesAge(now.Sub(at))
	}
}

func (s *GatewaySource) period() time.Duration {
	if s.Every > 0 {
		return s.Every
	}
	return DefaultGatewayRefresh
}

func (s *GatewaySource) log(level LogLevel, msg string) {
	if s.Log != nil {
		s.Log(level, msg)
	}
}

// certChanges names the certificates of now not in old (added) and of old
// not in now (removed).
func certChanges(old, now []GatewayCert) (added, removed []string) {
	in := func(list []GatewayCert, c *x509.Certificate) bool {
		return slices.ContainsFunc(list, func(g GatewayCert) bool { return g.Cert.Equal(c) })
	}
	for _, g := range now {
		if !in(old, g.Cert) {
			added = append(added, g.Name)
		}
	}
	for _, g := range old {
		if !in(now, g.Cert) {
			removed = append(removed, g.Name)
		}
	}
	return added, removed
}

func statesChanged(old, now []GatewayCert) bool {
	for _, g := range now {
		for _, o := range old {
			if o.Cert.Equal(g.Cert) && o.State != g.State {
				return true
			}
		}
	}
	return false
}

func describe(list []GatewayCert) string {
	parts := make([]string, len(list))
	for i, g := range list {
		state := g.State
		if state == "" {
			state = clave2msg.KeyActive
		}
		parts[i] = fmt.Sprintf("%s (%s, until %s)", g.Name, state, g.Cert.NotAfter.UTC().Format("2006-01-02"))
	}
	return strings.Join(parts, ", ")
}
