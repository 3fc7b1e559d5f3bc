package server

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/metadata"
	"github.com/clavebridge/clavebridge/translate"
)

func init() { registerClass("MetadataCopies", attackMetadataCopies) }

// attackMetadataCopies: whoever controls what an SP's metadata URL serves
// (or the copy kept on disk) cannot make the bridge trust a key the
// federation did not sign for that SP, nor keep serving an SP past its
// metadata's validUntil. Each forged copy is served to a refresh; then a
// login request signed by the attacker's key must be refused, and the SP's
// own key must still work (the last good copy serves). Two copies are
// planted in metadata_cache_dir for a restart with the SP's server down.
func attackMetadataCopies(t *testing.T, res *results) {
	fed := samlxmltest.NewRSA(t, "federation")
	sp := samlxmltest.NewRSA(t, "url-sp")
	attacker := samlxmltest.NewRSA(t, "attacker")
	start := time.Now().UTC().Truncate(time.Second)
	valid := start.Add(48 * time.Hour)
	w := newMetadataWorld(t, fed, signedSPMetadata(t, urlSP, sp, valid, fed))
	b := w.start(t)
	e := &entry{name: "saml2-post", h: b.h, rec: b.rec, res: res, returnURLs: []string{"https://urlsp.example/acs"}}
	page, err := b.send(sp)()
	e.expectSuccess(t, "the SP's request signed by its own key", page, err)
	if page, err := b.send(attacker)(); err == nil {
		if v, _ := judge(page, e.returnURLs...); v == vSuccess {
			t.Fatal("control: the attacker's key is trusted before any forged copy")
		}
	}

	forged := func(by samlxmltest.Pair, entity string, until time.Time) []byte {
		return signedSPMetadata(t, entity, attacker, until, by)
	}
	tampered := func() []byte {
		// The federation's signature over the SP's copy, then the
		// attacker's key added beside the SP's.
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(signedSPMetadata(t, urlSP, sp, valid, fed)); err != nil {
			t.Fatal(err)
		}
		ssod := doc.Root().SelectElement("SPSSODescriptor")
		kd := keyDescriptor(attacker)
		ssod.InsertChildAt(0, kd)
		out, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	wrapped := func() []byte {
		// A forged root listing the attacker's key, carrying the SP's
		// genuine signed copy in its Extensions.
		genuine := etree.NewDocument()
		if err := genuine.ReadFromBytes(signedSPMetadata(t, urlSP, sp, valid, fed)); err != nil {
			t.Fatal(err)
		}
		root := spMetadataElement(urlSP, attacker, valid)
		ext := root.CreateElement("md:Extensions")
		root.RemoveChild(ext)
		root.InsertChildAt(0, ext)
		ext.AddChild(genuine.Root().Copy())
		out, err := samlxml.Serialize(root)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	refreshVariants := []struct {
		name string
		body []byte
	}{
		{"attacker's key, signed by the attacker", forged(attacker, urlSP, valid)},
		{"attacker's key, unsigned", forged(samlxmltest.Pair{}, urlSP, valid)},
		{"attacker's key added after the federation signed", tampered()},
		{"forged root wrapping the genuine signed copy", wrapped()},
		{"federation-signed copy of another entity at this SP's URL", forged(fed, "https://attacker.example/metadata", valid)},
		{"federation-signed copy already past its validUntil", forged(fed, urlSP, start.Add(-time.Hour))},
		{"copy with a DTD", append([]byte(`<!DOCTYPE md [<!ENTITY k "x">]>`), forged(fed, urlSP, valid)...)},
		{"copy over the size bound", append(forged(fed, urlSP, valid), []byte("<!--"+strings.Repeat("x", 1<<20)+"-->")...)},
	}
	for _, v := range refreshVariants {
		w.serve(v.body, false)
		b.tick(2 * time.Hour)
		e.attack(t, "MetadataCopies", "refresh: "+v.name, b.send(attacker), nil)
		page, err := b.send(sp)()
		e.expectSuccess(t, "the SP's own key after "+v.name, page, err)
	}
	b.stop()

	// Copies planted on disk, read at a restart while the SP's server is
	// down: the bridge starts (other SPs serve) and refuses this SP.
	w.serve(nil, true)
	cached := w.cachedCopy(t)
	restartVariants := []struct {
		name  string
		plant []byte
		key   samlxmltest.Pair
		after time.Duration
	}{
		{"forged copy planted in the cache", forged(attacker, urlSP, valid), attacker, 0},
		{"tampered copy planted in the cache", tampered(), attacker, 0},
		{"the SP's genuine copy kept past its validUntil", signedSPMetadata(t, urlSP, sp, start.Add(time.Hour), fed), sp, 2 * time.Hour},
	}
	for _, v := range restartVariants {
		if err := os.WriteFile(cached, v.plant, 0o600); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(v.after)
		b := w.start(t)
		e := &entry{name: "saml2-post", h: b.h, rec: b.rec, res: res, returnURLs: []string{"https://urlsp.example/acs"}}
		e.attack(t, "MetadataCopies", "restart: "+v.name, b.send(v.key), nil)
		b.stop()
	}
}

// metadataWorld is an SP whose metadata is served over https by a server
// the test controls, a federation key that signs it, and the cache dir
// and clock the bridges started on it share.
type metadataWorld struct {
	mu       sync.Mutex
	body     []byte
	down     bool
	srv      *httptest.Server
	fedFile  string
	cacheDir string
	clock    *testClock
}

func newMetadataWorld(t *testing.T, fed samlxmltest.Pair, body []byte) *metadataWorld {
	t.Helper()
	w := &metadataWorld{body: body, clock: &testClock{now: time.Now().UTC().Truncate(time.Second)}}
	w.srv = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.down {
			http.Error(rw, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = rw.Write(w.body)
	}))
	t.Cleanup(w.srv.Close)
	dir := t.TempDir()
	w.fedFile, w.cacheDir = filepath.Join(dir, "federation.crt"), filepath.Join(dir, "cache")
	if err := os.WriteFile(w.fedFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *metadataWorld) serve(body []byte, down bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.body, w.down = body, down
}

// cachedCopy is the one file the bridges kept in the cache dir.
func (w *metadataWorld) cachedCopy(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(w.cacheDir, "*.xml"))
	if err != nil || len(files) != 1 {
		t.Fatalf("cache dir holds %v (%v), want one copy", files, err)
	}
	return files[0]
}

// metadataBridge is one bridge started on a metadataWorld, with its
// refresher driven by the test.
type metadataBridge struct {
	h     *harness
	rec   *recordingStore
	clock *testClock
	tick  func(time.Duration)
	stop  func()
	send  func(key samlxmltest.Pair) func() (*browser.Page, error)
}

func (w *metadataWorld) start(t *testing.T) *metadataBridge {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	core, logs := observer.New(zap.InfoLevel)
	rec := &recordingStore{Memory: store.NewMemory(w.clock.Now, 0)}
	opts := Options{Now: w.clock.Now, Store: rec,
		MetadataFetcher: &metadata.Fetcher{TLS: w.srv.Client().Transport.(*http.Transport).TLSClientConfig}}
	rl, err := NewReloadable(exampleConfig(t, base, func(cfg *config.Config) {
		cfg.MetadataCacheDir = w.cacheDir
		cfg.MetadataRefresh = config.MetadataRefreshConfig{Min: config.Duration(time.Hour), Max: config.Duration(24 * time.Hour)}
		cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{ID: urlSP, Dialect: "saml2",
			Metadata: w.srv.URL + "/metadata", MetadataSigningCert: w.fedFile, MetadataAllowPrivate: true, MinLoA: "low"})
	}), zap.New(core), opts, nil)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: rl}}
	hs.Start()
	ticks, refreshed := make(chan time.Time), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rl.RunMetadataRefresh(ctx, ticks, func() { refreshed <- struct{}{} }); close(done) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			hs.Close()
			_ = rl.Close()
		})
	}
	t.Cleanup(stop)
	sso := base + "/saml2/sso"
	return &metadataBridge{
		h:     &harness{URL: base, Server: rl.Current(), Browser: browser.New(http.DefaultTransport), Logs: logs},
		rec:   rec,
		clock: w.clock,
		tick:  func(d time.Duration) { w.clock.Advance(d); ticks <- w.clock.Now(); <-refreshed },
		stop:  stop,
		send: func(key samlxmltest.Pair) func() (*browser.Page, error) {
			return func() (*browser.Page, error) {
				ar := &clave2msg.AuthnRequest{
					ID: freshID(), IssueInstant: w.clock.Now(), Destination: sso, ACS: "https://urlsp.example/acs",
					Issuer: urlSP, Comparison: "minimum", LoAs: []string{translate.LoALow.EIDAS()},
				}
				return browser.New(http.DefaultTransport).Post(sso, b64Form(signEl(t, ar.Element(), key, samlxml.RSASHA256), ""))
			}
		},
	}
}

// spMetadataElement is an unsigned SAML2 SP's metadata for entity, with
// key's certificate for signing.
func spMetadataElement(entity string, key samlxmltest.Pair, validUntil time.Time) *etree.Element {
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", samlxml.NSMetadata)
	ed.CreateAttr("ID", "_md")
	ed.CreateAttr("entityID", entity)
	ed.CreateAttr("validUntil", samlxml.FormatTime(validUntil))
	ssod := ed.CreateElement("md:SPSSODescriptor")
	ssod.CreateAttr("protocolSupportEnumeration", samlxml.NSProtocol)
	ssod.CreateAttr("AuthnRequestsSigned", "true")
	ssod.AddChild(keyDescriptor(key))
	acs := ssod.CreateElement("md:AssertionConsumerService")
	acs.CreateAttr("Binding", samlxml.BindingPOST)
	acs.CreateAttr("Location", "https://urlsp.example/acs")
	acs.CreateAttr("index", "0")
	return ed
}

func keyDescriptor(key samlxmltest.Pair) *etree.Element {
	kd := etree.NewElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	ki := kd.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", samlxml.NSDSig)
	ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(key.Cert.Raw))
	return kd
}

// signedSPMetadata is spMetadataElement signed by by (unsigned when by has
// no key).
func signedSPMetadata(t *testing.T, entity string, key samlxmltest.Pair, validUntil time.Time, by samlxmltest.Pair) []byte {
	t.Helper()
	return signEl(t, spMetadataElement(entity, key, validUntil), by, samlxml.RSASHA256)
}
