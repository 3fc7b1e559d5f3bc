package server

// Bridge-side benchmarks (issue 17, point 1): the bridge's HTTP handlers
// alone, called in process through Server.ServeHTTP with requests built
// beforehand. The demo SP's and the simulator's hops are served with the
// timer stopped: logins advance in lockstep in batches of benchBatch, every
// hop of the batch that is the SP's or the gateway's is served untimed (the
// gateway answers are thus built ahead, signed with the simulator's key),
// then every hop that is the bridge's is served timed. Each login is fresh
// (replay protection and single-use pending logins refuse a message twice).
//
// Every benchmark here with Login in its name counts the bridge only; the
// ones that include the simulator are in bench_test.go (RoundTrip...).
//
// Beside ns, B and allocs per op, the login benchmarks report
//   cpu-ns/login: process CPU (getrusage user+system, GC included) spent in
//                 the timed hops, per login;
//   cpu-ratio:    that over the CPU of the same private-key operations with
//                 the same keys (crypto/rsa, as the bridge uses), timed in a
//                 loop right after each batch (as many rounds as the batch
//                 has logins), so both see the same machine.
// `make bench` prints the ratios as `CPU ratio <dialect>: <x>` lines.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	benchBase  = "http://127.0.0.1:8080"
	benchBatch = 32 // logins advanced in lockstep between timer stops
)

// benchKeys are the bridge's keys for one benchmark with what the floor
// loop needs: the signing and the encryption private keys.
type benchKeys struct {
	name      string
	sign, enc *rsa.PrivateKey
	edit      func(*config.Config)
}

// benchKeySets: RSA-2048 made for the run (the bridge's signing and
// encryption keys, the simulator's and the demo SPs'), then the committed
// RSA-3072 TEST keys of config.example.yaml.
func benchKeySets(b *testing.B) []benchKeys {
	b.Helper()
	dir := b.TempDir()
	write := func(name string) (config.KeyPair, *rsa.PrivateKey) {
		p := samlxmltest.NewRSA(b, "clavebridge bench "+name)
		der, err := x509.MarshalPKCS8PrivateKey(p.Key)
		if err != nil {
			b.Fatal(err)
		}
		kp := config.KeyPair{Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key")}
		if err := os.WriteFile(kp.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw}), 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(kp.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			b.Fatal(err)
		}
		return kp, p.Key.(*rsa.PrivateKey)
	}
	signKP, sign := write("bridge-sign")
	encKP, enc := write("bridge-enc")
	simKP, _ := write("simulator-sign")
	spKP, _ := write("demo-sp")
	return []benchKeys{
		{name: "rsa2048", sign: sign, enc: enc, edit: func(cfg *config.Config) {
			cfg.Keys.Signing, cfg.Keys.Encryption, cfg.Simulator.Signing = signKP, encKP, simKP
			// The demo SPs too: the bridge verifies their requests and
			// encrypts to them with their public keys.
			cfg.Demo.Keys = spKP
			for i := range cfg.ServiceProviders {
				sp := &cfg.ServiceProviders[i]
				for j, c := range sp.Certs {
					if strings.HasSuffix(c, "/keys/demo-sp.crt") {
						sp.Certs[j] = spKP.Cert
					}
				}
			}
		}},
		{name: "rsa3072", sign: samlxmltest.Committed(b, "bridge-sign").Key.(*rsa.PrivateKey),
			enc: samlxmltest.Committed(b, "bridge-enc").Key.(*rsa.PrivateKey)},
	}
}

// newBenchServer is the example configuration's bridge with keys, the
// simulator logging in on its own, served in process (no listener).
func newBenchServer(b *testing.B, keys benchKeys) *Server {
	b.Helper()
	cfg := exampleConfig(b, benchBase, func(cfg *config.Config) {
		autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
		if keys.edit != nil {
			keys.edit(cfg)
		}
	})
	srv, err := New(cfg, zap.NewNop(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	return srv
}

// benchWriter is a ResponseWriter whose buffer is grown outside the timer.
type benchWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *benchWriter) Header() http.Header { return w.header }
func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// benchFlow is one browser's login or logout: its cookies and next request.
type benchFlow struct {
	jar   http.CookieJar
	next  *http.Request
	w     benchWriter
	hops  int
	final *browser.Page
}

func newBenchFlow(b *testing.B) *benchFlow {
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	return &benchFlow{jar: jar}
}

// startFlows is n fresh browsers, each about to post form to path.
func startFlows(b *testing.B, n int, path string, form url.Values) []*benchFlow {
	b.Helper()
	flows := make([]*benchFlow, n)
	for i := range flows {
		flows[i] = newBenchFlow(b)
		flows[i].start(b, path, form)
	}
	return flows
}

// start sets the flow's first request: a form posted to the demo SP.
func (f *benchFlow) start(b *testing.B, path string, form url.Values) {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, benchBase+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	f.prepare(req)
}

// prepare adds the jar's cookies and readies the writer (untimed).
func (f *benchFlow) prepare(req *http.Request) {
	req.RemoteAddr = "127.0.0.1:40000"
	for _, c := range f.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	f.next, f.final = req, nil
	f.w.header, f.w.status = http.Header{}, 0
	f.w.body.Reset()
	f.w.body.Grow(256 << 10)
}

// bridgeHop reports whether the next request is the bridge's to serve.
func (f *benchFlow) bridgeHop() bool {
	p := f.next.URL.Path
	return !strings.HasPrefix(p, "/demo/") && !strings.HasPrefix(p, "/sim/")
}

// advance reads the answer (untimed): cookies, then a redirect or an
// auto-posted form becomes the next request; any other page ends the flow.
func (f *benchFlow) advance(b *testing.B) {
	b.Helper()
	req := f.next
	f.hops++
	if f.hops > 20 {
		b.Fatalf("more than 20 hops, at %s", req.URL)
	}
	resp := &http.Response{Header: f.w.header, StatusCode: f.w.status, Request: req}
	f.jar.SetCookies(req.URL, resp.Cookies())
	if f.w.status >= 300 && f.w.status < 400 {
		loc, err := resp.Location()
		if err != nil {
			b.Fatalf("%d from %s without Location", f.w.status, req.URL)
		}
		next, err := http.NewRequest(http.MethodGet, loc.String(), nil)
		if err != nil {
			b.Fatal(err)
		}
		f.prepare(next)
		return
	}
	page := &browser.Page{URL: req.URL, Status: f.w.status, Body: f.w.body.String()}
	if page.Status != http.StatusOK || !page.IsAutoPost() {
		f.next, f.final = nil, page
		return
	}
	form := page.Forms()[0]
	action, err := req.URL.Parse(form.Action)
	if err != nil {
		b.Fatal(err)
	}
	next, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Fields.Encode()))
	if err != nil {
		b.Fatal(err)
	}
	next.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	f.prepare(next)
}

// benchCPU accumulates the process CPU of the timed hops and, measured
// right after each batch of them, of the RSA floor: the same private-key
// operations as the batch's logins, in a loop. Pairing batch by batch puts
// both under the same conditions of a shared, noisy machine.
type benchCPU struct {
	total, floor time.Duration
	floorSets    int
	wrapped      []byte // a content key wrapped to the encryption key
}

// floorBatch times sets rounds of the private-key operations of a login.
func (c *benchCPU) floorBatch(b *testing.B, keys benchKeys, signatures, unwraps, sets int) {
	b.Helper()
	digest := sha256.Sum256([]byte("clavebridge"))
	if c.wrapped == nil {
		var err error
		if c.wrapped, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, &keys.enc.PublicKey, make([]byte, 32), nil); err != nil {
			b.Fatal(err)
		}
	}
	before := processCPU(b)
	for range sets {
		for range signatures {
			if _, err := keys.sign.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
		for range unwraps {
			if _, err := keys.enc.Decrypt(rand.Reader, c.wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256}); err != nil {
				b.Fatal(err)
			}
		}
	}
	c.floor += processCPU(b) - before
	c.floorSets += sets
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runFlows drives flows to their final pages. With timed, the bridge's
// hops are served with the benchmark timer running (and their process CPU
// added to cpu); the SP's and the gateway's hops never are.
func runFlows(b *testing.B, srv *Server, flows []*benchFlow, timed bool, cpu *benchCPU) {
	b.Helper()
	for _, f := range flows {
		f.hops = 0
	}
	for {
		var bridgeHops, otherHops []*benchFlow
		for _, f := range flows {
			switch {
			case f.next == nil:
			case f.bridgeHop():
				bridgeHops = append(bridgeHops, f)
			default:
				otherHops = append(otherHops, f)
			}
		}
		if len(bridgeHops) == 0 && len(otherHops) == 0 {
			return
		}
		for _, f := range otherHops {
			srv.ServeHTTP(&f.w, f.next)
		}
		if len(bridgeHops) > 0 && timed {
			b.StartTimer()
			before := processCPU(b)
			for _, f := range bridgeHops {
				srv.ServeHTTP(&f.w, f.next)
			}
			cpu.total += processCPU(b) - before
			b.StopTimer()
		} else {
			for _, f := range bridgeHops {
				srv.ServeHTTP(&f.w, f.next)
			}
		}
		for _, f := range otherHops {
			f.advance(b)
		}
		for _, f := range bridgeHops {
			f.advance(b)
		}
	}
}

// expectFinal fails unless every flow ended on a page holding want.
func expectFinal(b *testing.B, flows []*benchFlow, want string) {
	b.Helper()
	for _, f := range flows {
		if f.final == nil || !strings.Contains(f.final.Body, want) {
			var body string
			if f.final != nil {
				body = f.final.Body
			}
			b.Fatalf("flow did not end on %q: %.800s", want, body)
		}
	}
}

// benchDialects are the demo SPs' logins, one per dialect, with the private
// key operations the bridge does per login: the upstream AuthnRequest's
// signature and the gateway assertion's key unwrap, then saml2 signs the
// assertion and the response, clave2 (eIDAS) only the response (its
// assertion is encrypted, not signed), stork the assertion and the response.
var benchDialects = []struct {
	name       string
	path       string
	form       url.Values
	signatures int
	unwraps    int
}{
	{"saml2", "/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}}, 3, 1},
	{"clave2", "/demo/clave2/login", url.Values{"loa": {"high"}}, 2, 1},
	{"stork", "/demo/stork/login", url.Values{"qaa": {"4"}}, 3, 1},
}

// BenchmarkBridgeLogin is a full login in each dialect, the bridge's hops
// only: the SP's request in, the upstream request out, the gateway's
// encrypted answer in, the signed answer to the SP out.
func BenchmarkBridgeLogin(b *testing.B) {
	for _, keys := range benchKeySets(b) {
		for _, d := range benchDialects {
			b.Run(d.name+"/"+keys.name, func(b *testing.B) {
				srv := newBenchServer(b, keys)
				var cpu benchCPU
				b.StopTimer()
				b.ResetTimer()
				for done := 0; done < b.N; done += benchBatch {
					flows := startFlows(b, min(benchBatch, b.N-done), d.path, d.form)
					runFlows(b, srv, flows, true, &cpu)
					expectFinal(b, flows, demoLoggedIn)
					cpu.floorBatch(b, keys, d.signatures, d.unwraps, len(flows))
				}
				reportCPURatio(b, cpu)
			})
		}
	}
}

// BenchmarkBridgeSSOLogin is a saml2 login answered from the browser's SSO
// session (two signatures, no upstream hop): each browser logged in once
// before the timer, untimed.
func BenchmarkBridgeSSOLogin(b *testing.B) {
	for _, keys := range benchKeySets(b) {
		b.Run(keys.name, func(b *testing.B) {
			srv := newBenchServer(b, keys)
			d := benchDialects[0]
			flows := startFlows(b, benchBatch, d.path, d.form)
			runFlows(b, srv, flows, false, nil)
			expectFinal(b, flows, demoLoggedIn)
			upstream := srv.Simulator.Logins()
			var cpu benchCPU
			b.StopTimer()
			b.ResetTimer()
			for done := 0; done < b.N; done += benchBatch {
				batch := flows[:min(benchBatch, b.N-done)]
				for _, f := range batch {
					f.start(b, d.path, d.form)
				}
				runFlows(b, srv, batch, true, &cpu)
				expectFinal(b, batch, demoLoggedIn)
				cpu.floorBatch(b, keys, 2, 0, len(batch))
			}
			if n := srv.Simulator.Logins(); n != upstream {
				b.Fatalf("the simulator saw %d logins during SSO reuse, want none", n-upstream)
			}
			reportCPURatio(b, cpu)
		})
	}
}

// BenchmarkBridgeLogout is the saml2 demo SP's single logout of a full
// login (made untimed before): the bridge's hops of the logout only,
// the gateway leg included.
func BenchmarkBridgeLogout(b *testing.B) {
	for _, keys := range benchKeySets(b) {
		b.Run(keys.name, func(b *testing.B) {
			srv := newBenchServer(b, keys)
			d := benchDialects[0]
			var cpu benchCPU
			b.StopTimer()
			b.ResetTimer()
			for done := 0; done < b.N; done += benchBatch {
				flows := startFlows(b, min(benchBatch, b.N-done), d.path, d.form)
				runFlows(b, srv, flows, false, nil)
				expectFinal(b, flows, demoLoggedIn)
				for _, f := range flows {
					f.start(b, "/demo/saml2/logout", url.Values{})
				}
				runFlows(b, srv, flows, true, &cpu)
				expectFinal(b, flows, demoLoggedOut)
			}
			b.ReportMetric(float64(cpu.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// reportCPURatio reports the CPU per login and its ratio to the floor
// measured beside it (benchCPU.floorBatch).
func reportCPURatio(b *testing.B, cpu benchCPU) {
	b.Helper()
	if cpu.floorSets == 0 {
		b.Fatal("no RSA floor measured")
	}
	floor := float64(cpu.floor.Nanoseconds()) / float64(cpu.floorSets)
	perLogin := float64(cpu.total.Nanoseconds()) / float64(b.N)
	b.ReportMetric(perLogin, "cpu-ns/login")
	b.ReportMetric(floor, "rsa-ns/login")
	b.ReportMetric(perLogin/floor, "cpu-ratio")
}

// BenchmarkRSAPrivateKeyOps is crypto/rsa alone with the benchmark's keys:
// a PKCS#1 v1.5 SHA-256 signature and an RSA-OAEP key unwrap, per key size
// (the figures compared with `openssl speed rsa2048 rsa3072`).
func BenchmarkRSAPrivateKeyOps(b *testing.B) {
	digest := sha256.Sum256([]byte("clavebridge"))
	for _, keys := range benchKeySets(b) {
		b.Run("sign/"+keys.name, func(b *testing.B) {
			before := processCPU(b)
			for b.Loop() {
				if _, err := keys.sign.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			reportCPUPerOp(b, processCPU(b)-before)
		})
		b.Run("decrypt/"+keys.name, func(b *testing.B) {
			wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &keys.enc.PublicKey, make([]byte, 32), nil)
			if err != nil {
				b.Fatal(err)
			}
			before := processCPU(b)
			for b.Loop() {
				if _, err := keys.enc.Decrypt(rand.Reader, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPUPerOp(b, processCPU(b)-before)
		})
	}
}

// reportCPUPerOp reports process CPU per operation and operations per CPU
// second (what `openssl speed` divides by unless told -elapsed).
func reportCPUPerOp(b *testing.B, cpu time.Duration) {
	perOp := float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	b.ReportMetric(1e9/perOp, "ops/cpu-s")
}
