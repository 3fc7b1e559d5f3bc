package server

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/translate"
)

// floodRequests is how many unauthenticated requests the flood sends.
const floodRequests = 10000

// TestUnauthenticatedFlood sends 10 000 worst-case unauthenticated login
// requests (unsigned, every field at its bound, each one a login the bridge
// starts) and measures what they leave behind: the store must not grow at
// all (pending logins live in the browsers that asked for them, and an
// unsigned request's ID is not remembered), the heap at most a few KB per
// request, and a citizen's login must succeed during the flood and after.
func TestUnauthenticatedFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood takes about 20 s")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	const openSP = "https://open-sp.example/metadata"
	cfg := exampleConfig(t, base, func(c *config.Config) {
		autoLogin("AFIRMA", "99999999R", "dnie")(c)
		unsigned := false
		c.ServiceProviders = append(c.ServiceProviders, config.SPConfig{
			ID: openSP, Name: "An SP that does not sign", Dialect: "saml2", MinLoA: "low", AttributeNames: "friendly",
			ReturnURLs: []string{"https://open-sp.example/acs"}, RequireSigned: &unsigned,
		})
	})
	mem := store.NewMemory(time.Now, 0)
	srv, err := New(cfg, zap.NewNop(), Options{Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv}}
	hs.Start()
	t.Cleanup(hs.Close)

	worst := func(n int) string {
		ar := &clave2msg.AuthnRequest{
			ID: fmt.Sprintf("_%0*d", clave2msg.MaxIDBytes-1, n), IssueInstant: time.Now().UTC(),
			Destination: base + "/saml2/sso", ACS: "https://open-sp.example/acs", Issuer: openSP,
			NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", HasNameIDPolicy: true,
			Comparison: "minimum", LoAs: []string{translate.LoALow.EIDAS()},
		}
		xml, err := samlxml.Serialize(ar.Element())
		if err != nil {
			t.Fatal(err)
		}
		loc, err := samlxml.EncodeRedirect(base+"/saml2/sso", "SAMLRequest", xml, strings.Repeat("r", 80), nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(loc)
		return "/saml2/sso?" + u.RawQuery
	}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, worst(i), nil))
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "SAMLRequest") {
				t.Errorf("request %d: status %d, not sent upstream: %.300s", i, rec.Code, rec.Body.String())
				return
			}
		}
	}
	citizen := func(when string) {
		b := browser.New(http.DefaultTransport)
		page, err := b.Post(base+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
		if err == nil {
			page, _, err = b.FollowPosts(page, nil)
		}
		if err != nil || !strings.Contains(page.Body, demoLoggedIn) {
			t.Errorf("a citizen's login %s the flood failed: %v", when, err)
		}
	}

	// What one citizen's login leaves in the store (its request's replay
	// mark, the login taken, the gateway's answer seen, the session).
	citizen("before")
	perLogin := mem.Len()
	heapBefore, entriesBefore := heapInUse(), mem.Len()
	start := time.Now()
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(w*floodRequests/workers, (w+1)*floodRequests/workers)
		}()
	}
	citizen("during")
	wg.Wait()
	elapsed := time.Since(start)
	heapAfter, entriesAfter := heapInUse(), mem.Len()
	citizen("after")

	growth := float64(int64(heapAfter)-int64(heapBefore)) / floodRequests
	t.Logf("flood: %d unauthenticated requests in %v; store entries %d → %d; heap %d → %d bytes (%.0f bytes a request)",
		floodRequests, elapsed.Round(time.Millisecond), entriesBefore, entriesAfter, heapBefore, heapAfter, growth)
	// The citizen's login during the flood is the only state it left.
	if grew := entriesAfter - entriesBefore; grew != perLogin {
		t.Errorf("the store grew by %d entries during an unauthenticated flood; one citizen's login leaves %d", grew, perLogin)
	}
	if growth > 4096 {
		t.Errorf("the heap grew by %.0f bytes a request, more than 4 KB", growth)
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
