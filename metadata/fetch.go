package metadata

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/clavebridge/clavebridge/bridge/config"
)

// Bounds of a metadata fetch.
const (
	// maxMetadataBytes caps an SP's metadata document.
	maxMetadataBytes = 1 << 20
	// maxMetadataRedirects is how many redirects one fetch follows.
	maxMetadataRedirects = 3
	// maxMetadataHeaderBytes caps the response headers.
	maxMetadataHeaderBytes = 64 << 10

	defaultFetchTimeout        = 15 * time.Second
	defaultFetchDialTimeout    = 5 * time.Second
	defaultFetchTLSHandshake   = 5 * time.Second
	defaultFetchResponseHeader = 10 * time.Second
)

// FetchPolicy is what one SP's configuration allows its metadata fetch.
type FetchPolicy struct {
	// AllowHTTP lets the metadata come over plain http (metadata_allow_http).
	AllowHTTP bool
	// AllowPrivate lets the fetch connect to loopback, private, link-local,
	// CGNAT-shared and other non-public addresses (metadata_allow_private).
	AllowPrivate bool
}

// PolicyOf reads an SP's fetch policy from its configuration.
func PolicyOf(c config.SPConfig) FetchPolicy {
	return FetchPolicy{AllowHTTP: c.MetadataAllowHTTP, AllowPrivate: c.MetadataAllowPrivate}
}

// Fetcher reads SP metadata from a file or a URL. A URL must be https
// unless the policy allows http; a redirect may not change the scheme and
// at most three are followed; every connection, the first and each
// redirect's, goes to an address checked when it is dialled: the host's
// every resolved address must be public unless the policy allows private
// ones, and only a checked IP is dialled, so a DNS answer that changes
// between a check and the connection cannot pass. Size and time are
// bounded and no proxy from the environment is used. The zero Fetcher is
// ready to use.
type Fetcher struct {
	// Resolve looks a host name up; nil: the system resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Dial connects to addr, always an IP:port already checked; nil: a
	// net.Dialer whose Control checks the address again.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS is the client's TLS configuration; nil: the system's roots.
	// Tests inject the pool of an httptest TLS server here.
	TLS *tls.Config
	// Timeout bounds the whole fetch, redirects and body included (15 s);
	// DialTimeout each connection attempt (5 s), TLSHandshakeTimeout each
	// handshake (5 s).
	Timeout, DialTimeout, TLSHandshakeTimeout time.Duration
}

// Fetch reads metadata from source, a file or an http(s) URL.
func (f *Fetcher) Fetch(ctx context.Context, source string, p FetchPolicy) ([]byte, error) {
	if !config.IsURL(source) {
		data, err := os.ReadFile(source)
		if err != nil {
			return nil, fmt.Errorf("read metadata: %w", err)
		}
		return data, nil
	}
	u, err := url.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("metadata URL: %w", err)
	}
	if err := checkMetadataURL(u, p); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(f.Timeout, defaultFetchTimeout))
	defer cancel()
	transport := f.transport(p)
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		Timeout:   orDefault(f.Timeout, defaultFetchTimeout),
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) > maxMetadataRedirects {
				return fmt.Errorf("more than %d redirects", maxMetadataRedirects)
			}
			if r.URL.Scheme != via[0].URL.Scheme {
				return fmt.Errorf("redirect from %s to %s: a redirect may not change the scheme", via[0].URL.Scheme, r.URL.Redacted())
			}
			return checkMetadataURL(r.URL, p)
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch metadata %s: HTTP %d", u.Redacted(), resp.StatusCode)
	}
	if resp.ContentLength > maxMetadataBytes {
		return nil, fmt.Errorf("metadata %s is larger than %d bytes", u.Redacted(), maxMetadataBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch metadata: %w", err)
	}
	if len(data) > maxMetadataBytes {
		return nil, fmt.Errorf("metadata %s is larger than %d bytes", u.Redacted(), maxMetadataBytes)
	}
	return data, nil
}

// transport is a one-fetch transport: no proxy, no kept connections, every
// connection through the guarded dialer.
func (f *Fetcher) transport(p FetchPolicy) *http.Transport {
	var tlsConfig *tls.Config
	if f.TLS != nil {
		tlsConfig = f.TLS.Clone()
	} else {
		tlsConfig = &tls.Config{}
	}
	if tlsConfig.MinVersion < tls.VersionTLS12 {
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            f.guardedDial(p),
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    orDefault(f.TLSHandshakeTimeout, defaultFetchTLSHandshake),
		ResponseHeaderTimeout:  defaultFetchResponseHeader,
		MaxResponseHeaderBytes: maxMetadataHeaderBytes,
		DisableKeepAlives:      true,
	}
}

// guardedDial resolves the host, refuses it unless every address it
// resolves to is allowed, and dials only those checked IPs.
func (f *Fetcher) guardedDial(p FetchPolicy) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, portText, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		port, err := strconv.ParseUint(portText, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("metadata fetch: bad port in %q", addr)
		}
		ips, err := f.resolve(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("metadata fetch: resolve %s: %w", host, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("metadata fetch: %s has no address", host)
		}
		for _, ip := range ips {
			if err := checkDestination(ip, p); err != nil {
				return nil, fmt.Errorf("metadata fetch: %s: %w", host, err)
			}
		}
		dial := f.Dial
		if dial == nil {
			dial = defaultDial(p)
		}
		var errs []error
		for _, ip := range ips {
			dctx, cancel := context.WithTimeout(ctx, orDefault(f.DialTimeout, defaultFetchDialTimeout))
			conn, err := dial(dctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
			cancel()
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		if len(errs) == 1 {
			return nil, errs[0] // keeps a timeout a timeout
		}
		return nil, errors.Join(errs...)
	}
}

func (f *Fetcher) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	if f.Resolve != nil {
		return f.Resolve(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// defaultDial is a net.Dialer that checks, through its Control function,
// the address of the socket about to connect: the second line behind
// guardedDial's check, should a name ever reach it.
func defaultDial(p FetchPolicy) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return (&net.Dialer{Control: controlDestination(p)}).DialContext
}

// controlDestination checks, on the socket about to connect, the address
// it connects to.
func controlDestination(p FetchPolicy) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("metadata fetch: dialling %q, not an IP address", address)
		}
		return checkDestination(ap.Addr(), p)
	}
}

// Address blocks a metadata fetch may not reach without AllowPrivate,
// beyond loopback, RFC 1918 / fc00::/7, link-local, multicast and
// unspecified addresses, which netip classifies.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // CGNAT shared address space
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("2001::/32"),      // Teredo: carries an IPv4 address
	netip.MustParsePrefix("2002::/16"),      // 6to4: carries an IPv4 address
}

// nat64 addresses (RFC 6052's well-known prefix) are checked by the IPv4
// address they carry.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// checkDestination refuses an address that is not public, unless p allows
// private destinations.
func checkDestination(ip netip.Addr, p FetchPolicy) error {
	if p.AllowPrivate {
		return nil
	}
	if !ip.IsValid() {
		return errors.New("no valid address")
	}
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) {
		b := ip.As16()
		if v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}); isNonPublic(v4) {
			return refused(ip)
		}
		return nil
	}
	if isNonPublic(ip) {
		return refused(ip)
	}
	return nil
}

func isNonPublic(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, block := range nonPublic {
		if block.Contains(ip) {
			return true
		}
	}
	return false
}

func refused(ip netip.Addr) error {
	return fmt.Errorf("address %s is loopback, private, link-local or otherwise not public (set metadata_allow_private to allow it)", ip)
}

// checkMetadataURL requires https, or http when the policy allows it.
func checkMetadataURL(u *url.URL, p FetchPolicy) error {
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	case u.Scheme == "http":
		return fmt.Errorf("metadata URL %s: https is required (set metadata_allow_http to allow plain http)", u.Redacted())
	default:
		return fmt.Errorf("metadata URL %s: https is required", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("metadata URL %s has no host", u.Redacted())
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
