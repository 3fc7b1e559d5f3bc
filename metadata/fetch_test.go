package metadata

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests never send a packet off loopback. Names resolve through
// fakeNet's table, never through DNS; fakeNet's dial routes the few
// "public" addresses of the table to loopback test servers, and fails the
// test if it is asked for any other address that is not loopback, or for a
// name. A broken guard shows as a failed test, not as traffic.

// Addresses of the fake network. publicIP stands for a public SP; the
// others are what the guard must refuse.
var (
	publicIP  = netip.MustParseAddr("203.0.113.10")
	publicIP2 = netip.MustParseAddr("198.51.100.7")
)

// fakeNames is the fake DNS. The httptest TLS certificate is valid for
// example.com and *.example.com, so https works for every name here.
var fakeNames = map[string][]netip.Addr{
	"sp.example.com":       {publicIP},
	"sp2.example.com":      {publicIP2},
	"internal.example.com": {netip.MustParseAddr("10.1.2.3")},
	"home.example.com":     {netip.MustParseAddr("192.168.0.1")},
	"corp.example.com":     {netip.MustParseAddr("172.16.5.4")},
	"imds.example.com":     {netip.MustParseAddr("169.254.169.254")},
	"ll6.example.com":      {netip.MustParseAddr("fe80::1")},
	"ula.example.com":      {netip.MustParseAddr("fd00::1")},
	"cgnat.example.com":    {netip.MustParseAddr("100.64.0.1")},
	"mapped.example.com":   {netip.MustParseAddr("::ffff:10.0.0.1")},
	"loop.example.com":     {netip.MustParseAddr("127.0.0.1")},
	"loop6.example.com":    {netip.MustParseAddr("::1")},
	"zero.example.com":     {netip.MustParseAddr("0.0.0.0")},
	"mcast.example.com":    {netip.MustParseAddr("239.1.2.3")},
	"nat64.example.com":    {netip.MustParseAddr("64:ff9b::a01:203")}, // 10.1.2.3
	"mixed.example.com":    {publicIP, netip.MustParseAddr("10.1.2.3")},
	"mixed2.example.com":   {netip.MustParseAddr("169.254.169.254"), publicIP},
	"empty.example.com":    {},
}

// fakeNet is the network of one test.
type fakeNet struct {
	t *testing.T
	// routes sends a public address's port to a loopback listener.
	routes map[netip.AddrPort]string
	// answers, when set for a name, replace the table: call i gets
	// answers[min(i, len-1)] (DNS rebinding).
	answers map[string][][]netip.Addr

	mu      sync.Mutex
	dialled []string
	lookups map[string]int
}

func newFakeNet(t *testing.T) *fakeNet {
	return &fakeNet{t: t, routes: map[netip.AddrPort]string{}, answers: map[string][][]netip.Addr{}, lookups: map[string]int{}}
}

// route makes ip:port reach srv's loopback listener.
func (n *fakeNet) route(ip netip.Addr, port uint16, srv *httptest.Server) {
	n.routes[netip.AddrPortFrom(ip, port)] = srv.Listener.Addr().String()
}

func (n *fakeNet) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := n.lookups[host]
	n.lookups[host]++
	if seq, ok := n.answers[host]; ok {
		return seq[min(i, len(seq)-1)], nil
	}
	addrs, ok := fakeNames[host]
	if !ok {
		n.t.Errorf("resolver asked for %q, which is not in the fake DNS", host)
		return nil, fmt.Errorf("fake DNS: no %s", host)
	}
	return addrs, nil
}

func (n *fakeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		n.t.Errorf("dial asked for %q, not a checked IP address", addr)
		return nil, errors.New("fake net: not an IP")
	}
	n.mu.Lock()
	n.dialled = append(n.dialled, addr)
	n.mu.Unlock()
	to, ok := n.routes[ap]
	if !ok {
		if !ap.Addr().Unmap().IsLoopback() {
			n.t.Errorf("dial asked for %s, off loopback: the guard let it through", addr)
			return nil, errors.New("fake net: off loopback")
		}
		to = addr
	}
	var d net.Dialer
	return d.DialContext(ctx, network, to)
}

func (n *fakeNet) dials() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.dialled...)
}

// fetcher is a Fetcher on the fake network trusting srv's certificate.
func (n *fakeNet) fetcher(srv *httptest.Server) *Fetcher {
	f := &Fetcher{Resolve: n.resolve, Dial: n.dial}
	if srv != nil {
		f.TLS = srv.Client().Transport.(*http.Transport).TLSClientConfig
	}
	return f
}

const fetchBody = "<metadata/>"

// metadataMux serves the fetch tests' paths; hits counts the requests.
func metadataMux(hits *int, mu *sync.Mutex) http.Handler {
	mux := http.NewServeMux()
	count := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			*hits++
			mu.Unlock()
			h(w, r)
		}
	}
	mux.HandleFunc("/metadata", count(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(fetchBody)) }))
	mux.HandleFunc("/redirect", count(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	mux.HandleFunc("/hops/{n}", count(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			_, _ = w.Write([]byte(fetchBody))
			return
		}
		http.Redirect(w, r, "/hops/"+strconv.Itoa(n-1), http.StatusMovedPermanently)
	}))
	mux.HandleFunc("/size/{n}", count(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if r.URL.Query().Get("chunked") != "" {
			// Written in pieces and flushed: no Content-Length.
			for i := 0; i < n; i += 4096 {
				_, _ = w.Write([]byte(strings.Repeat(" ", min(4096, n-i))))
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write([]byte(strings.Repeat(" ", n)))
	}))
	mux.HandleFunc("/missing", count(http.NotFound))
	return mux
}

// fetchWorld is the fake network with a TLS and a plain metadata server
// behind the public addresses.
type fetchWorld struct {
	net              *fakeNet
	tlsSrv, plainSrv *httptest.Server
	mu               sync.Mutex
	tlsHits          int
	plainHits        int
}

func newFetchWorld(t *testing.T) *fetchWorld {
	w := &fetchWorld{net: newFakeNet(t)}
	w.tlsSrv = httptest.NewTLSServer(metadataMux(&w.tlsHits, &w.mu))
	t.Cleanup(w.tlsSrv.Close)
	w.plainSrv = httptest.NewServer(metadataMux(&w.plainHits, &w.mu))
	t.Cleanup(w.plainSrv.Close)
	for _, ip := range []netip.Addr{publicIP, publicIP2} {
		w.net.route(ip, 443, w.tlsSrv)
		w.net.route(ip, 80, w.plainSrv)
	}
	return w
}

func (w *fetchWorld) hits() (tlsHits, plainHits int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tlsHits, w.plainHits
}

func TestFetchGuards(t *testing.T) {
	var (
		plain   = FetchPolicy{AllowHTTP: true}
		private = FetchPolicy{AllowPrivate: true}
		both    = FetchPolicy{AllowHTTP: true, AllowPrivate: true}
	)
	const pub, pub80 = "203.0.113.10:443", "203.0.113.10:80"
	tests := []struct {
		name   string
		url    func(w *fetchWorld) string
		policy FetchPolicy
		// want is the error's text; "" expects fetchBody.
		want string
		// dials are every address dialled, in order.
		dials func(w *fetchWorld) []string
		// plainHits: requests the plain server may see (the https→http
		// redirect cases must not reach it).
		plainHits int
	}{
		{name: "https to a public name", url: fixed("https://sp.example.com/metadata"), dials: addrs(pub)},
		{name: "http refused without metadata_allow_http", url: fixed("http://sp.example.com/metadata"), want: "https is required"},
		{name: "http refused with only metadata_allow_private", url: fixed("http://sp.example.com/metadata"), policy: private, want: "https is required"},
		{name: "http allowed with metadata_allow_http", url: fixed("http://sp.example.com/metadata"), policy: plain, dials: addrs(pub80), plainHits: 1},
		{name: "https to loopback refused", url: func(w *fetchWorld) string { return w.tlsSrv.URL + "/metadata" }, want: "metadata_allow_private"},
		{name: "https to loopback allowed with metadata_allow_private", url: func(w *fetchWorld) string { return w.tlsSrv.URL + "/metadata" }, policy: private,
			dials: func(w *fetchWorld) []string { return []string{w.tlsSrv.Listener.Addr().String()} }},
		{name: "http to loopback needs both keys", url: func(w *fetchWorld) string { return w.plainSrv.URL + "/metadata" }, policy: plain, want: "metadata_allow_private"},
		{name: "http to loopback with both keys", url: func(w *fetchWorld) string { return w.plainSrv.URL + "/metadata" }, policy: both,
			dials: func(w *fetchWorld) []string { return []string{w.plainSrv.Listener.Addr().String()} }, plainHits: 1},
		{name: "name resolving to loopback", url: fixed("https://loop.example.com/metadata"), want: "127.0.0.1 is loopback"},
		{name: "name resolving to IPv6 loopback", url: fixed("https://loop6.example.com/metadata"), want: "::1 is loopback"},
		{name: "RFC 1918 10/8", url: fixed("https://internal.example.com/metadata"), want: "10.1.2.3 is loopback, private"},
		{name: "RFC 1918 192.168/16, http allowed", url: fixed("http://home.example.com/metadata"), policy: plain, want: "192.168.0.1 is loopback, private"},
		{name: "RFC 1918 172.16/12", url: fixed("https://corp.example.com/metadata"), want: "172.16.5.4 is"},
		{name: "link-local: cloud instance metadata", url: fixed("https://imds.example.com/metadata"), want: "169.254.169.254 is"},
		{name: "IPv6 link-local", url: fixed("https://ll6.example.com/metadata"), want: "fe80::1 is"},
		{name: "IPv6 unique local", url: fixed("https://ula.example.com/metadata"), want: "fd00::1 is"},
		{name: "CGNAT shared", url: fixed("https://cgnat.example.com/metadata"), want: "100.64.0.1 is"},
		{name: "IPv4-mapped private", url: fixed("https://mapped.example.com/metadata"), want: "10.0.0.1 is"},
		{name: "unspecified", url: fixed("https://zero.example.com/metadata"), want: "0.0.0.0 is"},
		{name: "multicast", url: fixed("https://mcast.example.com/metadata"), want: "239.1.2.3 is"},
		{name: "NAT64 of a private address", url: fixed("https://nat64.example.com/metadata"), want: "64:ff9b::a01:203 is"},
		{name: "public and private answers refused, public first", url: fixed("https://mixed.example.com/metadata"), want: "10.1.2.3 is"},
		{name: "public and private answers refused, private first", url: fixed("https://mixed2.example.com/metadata"), want: "169.254.169.254 is"},
		{name: "no address", url: fixed("https://empty.example.com/metadata"), want: "has no address"},
		{name: "private IP literal", url: fixed("https://10.1.2.3/metadata"), want: "10.1.2.3 is"},
		{name: "link-local IP literal", url: fixed("http://169.254.169.254/latest/meta-data/"), policy: plain, want: "169.254.169.254 is"},
		{name: "IPv6 link-local literal with zone", url: fixed("https://[fe80::1%25eth0]/metadata"), want: "fe80::1 is"},
		{name: "IPv4-mapped loopback literal", url: fixed("https://[::ffff:127.0.0.1]/metadata"), want: "127.0.0.1 is"},
		{name: "unspecified IPv6 literal", url: fixed("https://[::]/metadata"), want: ":: is"},
		{name: "redirect https to http refused", url: fixed("https://sp.example.com/redirect?to=http://sp.example.com/metadata"), policy: plain,
			want: "may not change the scheme", dials: addrs(pub)},
		{name: "redirect https to http refused with both keys", url: fixed("https://sp.example.com/redirect?to=http://sp2.example.com/metadata"), policy: both,
			want: "may not change the scheme", dials: addrs(pub)},
		{name: "redirect http to https refused", url: fixed("http://sp.example.com/redirect?to=https://sp2.example.com/metadata"), policy: plain,
			want: "may not change the scheme", dials: addrs(pub80), plainHits: 1},
		{name: "redirect to another public host", url: fixed("https://sp.example.com/redirect?to=https://sp2.example.com/metadata"),
			dials: addrs(pub, "198.51.100.7:443")},
		{name: "redirect to a private name refused at dial time", url: fixed("https://sp.example.com/redirect?to=https://internal.example.com/metadata"),
			want: "10.1.2.3 is", dials: addrs(pub)},
		{name: "redirect to link-local literal refused at dial time", url: fixed("https://sp.example.com/redirect?to=https://169.254.169.254/metadata"),
			want: "169.254.169.254 is", dials: addrs(pub)},
		{name: "redirect to loopback refused at dial time", url: func(w *fetchWorld) string {
			return "https://sp.example.com/redirect?to=" + w.tlsSrv.URL + "/metadata"
		}, want: "127.0.0.1 is", dials: addrs(pub)},
		{name: "three redirects followed", url: fixed("https://sp.example.com/hops/3"), dials: addrs(pub, pub, pub, pub)},
		{name: "four redirects refused", url: fixed("https://sp.example.com/hops/4"), want: "more than 3 redirects", dials: addrs(pub, pub, pub, pub)},
		{name: "body of 1 MiB", url: fixed("https://sp.example.com/size/1048576"), dials: addrs(pub)},
		{name: "body over 1 MiB, with Content-Length", url: fixed("https://sp.example.com/size/1048577"), want: "larger than 1048576 bytes", dials: addrs(pub)},
		{name: "body over 1 MiB, chunked", url: fixed("https://sp.example.com/size/1048577?chunked=1"), want: "larger than 1048576 bytes", dials: addrs(pub)},
		{name: "HTTP 404", url: fixed("https://sp.example.com/missing"), want: "HTTP 404", dials: addrs(pub)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFetchWorld(t)
			data, err := w.net.fetcher(w.tlsSrv).Fetch(context.Background(), tt.url(w), tt.policy)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("fetch: %v", err)
			case tt.want == "" && !strings.HasPrefix(tt.url(w), "https://sp.example.com/size/") && string(data) != fetchBody:
				t.Fatalf("body %.100q, want %q", data, fetchBody)
			case tt.want == "" && strings.HasPrefix(tt.url(w), "https://sp.example.com/size/") && len(data) != maxMetadataBytes:
				t.Fatalf("body of %d bytes, want %d", len(data), maxMetadataBytes)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
			var want []string
			if tt.dials != nil {
				want = tt.dials(w)
			}
			if got := w.net.dials(); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("dialled %q, want %q", got, want)
			}
			if _, plain := w.hits(); plain != tt.plainHits {
				t.Errorf("the plain http server had %d requests, want %d", plain, tt.plainHits)
			}
		})
	}
}

func fixed(u string) func(*fetchWorld) string { return func(*fetchWorld) string { return u } }

func addrs(a ...string) func(*fetchWorld) []string { return func(*fetchWorld) []string { return a } }

// TestFetchRebinding: a name whose DNS answer turns private after a first,
// public answer cannot reach the private address. The check is made on the
// address actually dialled, resolved once per connection; the next
// connection (a redirect to the same name, no connection is kept) is
// checked again.
func TestFetchRebinding(t *testing.T) {
	private := netip.MustParseAddr("10.1.2.3")
	tests := []struct {
		name, url string
		want      string
		dials     []string
		lookups   int
	}{
		{name: "answer changes after the check", url: "https://rebind.example.com/metadata",
			dials: []string{"203.0.113.10:443"}, lookups: 1},
		{name: "answer changes before the redirect's connection", url: "https://rebind.example.com/redirect?to=/metadata",
			want: "10.1.2.3 is", dials: []string{"203.0.113.10:443"}, lookups: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFetchWorld(t)
			w.net.answers["rebind.example.com"] = [][]netip.Addr{{publicIP}, {private}}
			data, err := w.net.fetcher(w.tlsSrv).Fetch(context.Background(), tt.url, FetchPolicy{})
			if tt.want == "" && (err != nil || string(data) != fetchBody) {
				t.Fatalf("fetch = %q, %v", data, err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
			if got := w.net.dials(); strings.Join(got, " ") != strings.Join(tt.dials, " ") {
				t.Errorf("dialled %q, want %q", got, tt.dials)
			}
			if got := w.net.lookups["rebind.example.com"]; got != tt.lookups {
				t.Errorf("%d lookups, want %d (one per connection)", got, tt.lookups)
			}
		})
	}
}

// TestFetchTimeouts: a server that never answers, a body that stalls, a
// connection that never completes and a TLS handshake that never starts
// end at the injected bounds.
func TestFetchTimeouts(t *testing.T) {
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte("<md"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-stall:
		}
	})
	slowSrv := httptest.NewTLSServer(slow)
	t.Cleanup(slowSrv.Close)
	// silent accepts connections and never speaks.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	const short, long = 100 * time.Millisecond, time.Minute
	tests := []struct {
		name string
		url  string
		edit func(f *Fetcher)
		want string
	}{
		{name: "no answer: total timeout", url: slowSrv.URL + "/headers", edit: func(f *Fetcher) { f.Timeout = short }, want: "deadline exceeded"},
		{name: "stalled body: total timeout", url: slowSrv.URL + "/body", edit: func(f *Fetcher) { f.Timeout = short }, want: "deadline exceeded"},
		{name: "connection never made: dial timeout", url: "https://sp.example.com/metadata", edit: func(f *Fetcher) {
			f.Timeout, f.DialTimeout = long, short
			f.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) { <-ctx.Done(); return nil, ctx.Err() }
		}, want: "deadline exceeded"},
		{name: "TLS handshake never starts: handshake timeout", url: "https://" + silent.Addr().String() + "/metadata", edit: func(f *Fetcher) {
			f.Timeout, f.TLSHandshakeTimeout = long, short
		}, want: "TLS handshake timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t)
			f := n.fetcher(slowSrv)
			tt.edit(f)
			done := make(chan error, 1)
			go func() {
				_, err := f.Fetch(context.Background(), tt.url, FetchPolicy{AllowPrivate: true})
				done <- err
			}()
			select {
			case err := <-done:
				var ne net.Error
				if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("error = %v, want a timeout mentioning %q", err, tt.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("fetch still running after 30 s: the bound did not apply")
			}
		})
	}
}

// TestFetchNoProxy: a proxy named in the environment is not used (it
// would be dialled instead of the SP, and is private besides).
func TestFetchNoProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://10.9.9.9:3128")
	t.Setenv("HTTP_PROXY", "http://10.9.9.9:3128")
	w := newFetchWorld(t)
	f := w.net.fetcher(w.tlsSrv)
	if tr := f.transport(FetchPolicy{}); tr.Proxy != nil {
		t.Fatal("the transport has a proxy function")
	}
	data, err := f.Fetch(context.Background(), "https://sp.example.com/metadata", FetchPolicy{})
	if err != nil || string(data) != fetchBody {
		t.Fatalf("fetch = %q, %v", data, err)
	}
	if got := w.net.dials(); len(got) != 1 || got[0] != "203.0.113.10:443" {
		t.Fatalf("dialled %q, want only the SP", got)
	}
}

// TestDefaultDialerControl: without an injected dial function, the
// net.Dialer's Control checks the socket's address again, so a name or an
// unchecked address that reached it could not connect. Only loopback is
// dialled for real.
func TestDefaultDialerControl(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	if _, err := defaultDial(FetchPolicy{})(context.Background(), "tcp", addr); err == nil || !strings.Contains(err.Error(), "127.0.0.1 is loopback") {
		t.Fatalf("dial %s without metadata_allow_private = %v, want refused", addr, err)
	}
	conn, err := defaultDial(FetchPolicy{AllowPrivate: true})(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s with metadata_allow_private: %v", addr, err)
	}
	_ = conn.Close()
	// The Control function alone (no socket): it is given what the socket
	// connects to.
	tests := []struct {
		address string
		policy  FetchPolicy
		want    string
	}{
		{"10.1.2.3:443", FetchPolicy{}, "10.1.2.3 is"},
		{"[fe80::1%eth0]:443", FetchPolicy{}, "fe80::1 is"},
		{"203.0.113.10:443", FetchPolicy{}, ""},
		{"10.1.2.3:443", FetchPolicy{AllowPrivate: true}, ""},
		{"sp.example.com:443", FetchPolicy{}, "not an IP address"},
	}
	for _, tt := range tests {
		err := controlDestination(tt.policy)("tcp4", tt.address, nil)
		if (tt.want == "" && err != nil) || (tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want))) {
			t.Errorf("control(%s, %+v) = %v, want %q", tt.address, tt.policy, err, tt.want)
		}
	}
	// And a full fetch through the real dialer, to loopback, allowed.
	f := &Fetcher{}
	data, err := f.Fetch(context.Background(), srv.URL+"/x", FetchPolicy{AllowHTTP: true, AllowPrivate: true})
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("fetch through the default dialer = %q, %v; want HTTP 404", data, err)
	}
}

// TestCheckDestination classifies addresses.
func TestCheckDestination(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.255.255.254", "::1", "0.0.0.0", "0.1.2.3", "::",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456::1",
		"169.254.0.1", "169.254.169.254", "fe80::1", "fe80::1%eth0", "febf::1",
		"100.64.0.1", "100.127.255.255", "224.0.0.1", "239.255.255.250", "ff02::1", "ff05::2", "ff0e::1", "ff01::1",
		"255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.0.8",
		"::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::10.0.0.1",
		"64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b:1::1", "fec0::1", "2001:0:4136:e378::1", "2002:a00:1::1",
	}
	allowed := []string{
		"203.0.113.10", "8.8.8.8", "100.63.255.255", "100.128.0.0", "172.32.0.1", "169.253.0.1", "11.0.0.1",
		"2a00:1450:4003:80e::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "198.20.0.1",
	}
	for _, s := range refused {
		ip := netip.MustParseAddr(s)
		if err := checkDestination(ip, FetchPolicy{}); err == nil {
			t.Errorf("%s allowed, want refused", s)
		}
		if err := checkDestination(ip, FetchPolicy{AllowPrivate: true}); err != nil {
			t.Errorf("%s refused with metadata_allow_private: %v", s, err)
		}
	}
	for _, s := range allowed {
		if err := checkDestination(netip.MustParseAddr(s), FetchPolicy{}); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
	if err := checkDestination(netip.Addr{}, FetchPolicy{}); err == nil {
		t.Error("the zero address allowed")
	}
}
