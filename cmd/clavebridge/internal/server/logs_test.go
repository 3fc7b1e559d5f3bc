package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/browser"
)

// demoAccess: an access line of a request to the demo SP, which shares the
// bridge's HTTP server but is not the bridge: its requests start no login
// of the bridge's and carry trace ids of their own.
func demoAccess(e observer.LoggedEntry) bool {
	path, _ := e.ContextMap()["path"].(string)
	return e.LoggerName == web.AccessLoggerName && strings.HasPrefix(path, "/demo/")
}

// syncBuffer is a buffer the bridge's goroutines log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startJSONHarness is startHarness with the bridge logging JSON lines, as
// in production, into a buffer as well.
func startJSONHarness(t *testing.T, edit func(*config.Config)) (*harness, *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := exampleConfig(t, base, edit)
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	out := &syncBuffer{}
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(zapcore.NewTee(core, zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(out), zap.InfoLevel)))
	srv, err := New(cfg, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv}}
	hs.Start()
	t.Cleanup(hs.Close)
	return &harness{URL: base, Server: srv, Browser: browser.New(http.DefaultTransport), Logs: logs}, out
}

// logLine is one JSON log line.
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

// parseLines reads the JSON lines the bridge wrote, leaving out the demo
// SP's (its own logger, and the access lines of its pages).
func parseLines(t *testing.T, out string) (bridgeLines, access, auditLines []logLine) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON line: %s", sc.Text())
		}
		switch {
		case l.str("logger") == "demo" || l.str("logger") == web.AccessLoggerName && strings.HasPrefix(l.str("path"), "/demo/"):
			continue
		case l.str("logger") == web.AccessLoggerName:
			access = append(access, l)
		case l.str("logger") == audit.LoggerName:
			auditLines = append(auditLines, l)
		}
		bridgeLines = append(bridgeLines, l)
	}
	return bridgeLines, access, auditLines
}

// TestLoginLogs parses the log of one login per dialect, as an operator's
// tools would read it: every line the bridge writes for the login (access,
// audit and the rest) carries its one trace id; there is one access line
// per request (method, path without query, status, duration, SP), and the
// audit lines are the login's four SAML messages, linked by their IDs: the
// SP's AuthnRequest in, ours out to the gateway, the gateway's Response
// in, ours out to the SP. No line carries the citizen's DNI or name, and
// the access and audit lines carry no field beyond their own.
func TestLoginLogs(t *testing.T) {
	tests := []struct {
		dialect, login, ssoPath string
		sp                      func(base string) string
		options                 url.Values
		loa                     string // the level the SP asks for
	}{
		{"saml2", "/demo/saml2/login", "/saml2/sso", func(base string) string { return base + "/demo/saml2/metadata" },
			url.Values{"loa": {"substantial"}, "binding": {"post"}}, "substantial"},
		{"eidas", "/demo/clave2/login", "/Proxy2/ServiceProvider", func(string) string { return "S2800000X_E00000001" },
			url.Values{"loa": {"substantial"}}, "substantial"},
		{"stork", "/demo/stork/login", "/Proxy/ServiceProvider", func(string) string { return "demo_stork_sp" },
			url.Values{"qaa": {"3"}}, "substantial"},
	}
	personal := []string{"99999999R", "JUAN", "ESPAÑOL", "PRUEBAS"}
	accessFields := map[string]bool{"level": true, "ts": true, "logger": true, "caller": true, "msg": true,
		"method": true, "path": true, "status": true, "duration": true, "bytes": true, trace.Field: true, "sp": true}
	auditFields := map[string]bool{"level": true, "ts": true, "logger": true, "caller": true, "msg": true, trace.Field: true,
		audit.FieldDirection: true, audit.FieldDialect: true, audit.FieldKind: true, audit.FieldSP: true, audit.FieldID: true,
		audit.FieldInResponseTo: true, audit.FieldStatus: true, audit.FieldLoA: true, audit.FieldIdP: true}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			h, out := startJSONHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
			sp := tt.sp(h.URL)
			page, err := h.Browser.Post(h.URL+tt.login, tt.options)
			if err == nil {
				page, _, err = h.Browser.FollowPosts(page, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(page.Body, "99999999R") { // the SP got the citizen: the login succeeded
				t.Fatalf("login failed: %.800s", page.Body)
			}
			text := out.String()
			for _, p := range personal {
				if strings.Contains(text, p) {
					t.Errorf("the log carries %q", p)
				}
			}
			lines, access, audited := parseLines(t, text)

			// One trace id for every line of the login.
			id := ""
			for _, l := range lines {
				got := l.str(trace.Field)
				if id == "" {
					id = got
				}
				if got == "" || got != id {
					t.Errorf("line %q (%s) has trace id %q, the login's is %q", l.str("msg"), l.str("logger"), got, id)
				}
			}

			// Access: the SP's request, the gateway's pages, its answer.
			paths := map[string]logLine{}
			for _, l := range access {
				paths[l.str("method")+" "+l.str("path")] = l
				if l["status"] != float64(http.StatusOK) || l["duration"] == nil || strings.Contains(l.str("path"), "?") {
					t.Errorf("access line %v", l)
				}
				for k := range l {
					if !accessFields[k] {
						t.Errorf("access line with field %s=%v", k, l[k])
					}
				}
			}
			for _, p := range []string{"POST " + tt.ssoPath, "POST " + web.UpstreamACSPath} {
				if l, ok := paths[p]; !ok || l.str("sp") != sp {
					t.Errorf("access line for %s: %v (want sp %s); lines: %v", p, l, sp, access)
				}
			}

			// Audit: four messages, in order, linked by their IDs.
			want := []struct {
				dir, dialect, kind string
			}{
				{"in", tt.dialect, "AuthnRequest"},
				{"out", audit.Upstream, "AuthnRequest"},
				{"in", audit.Upstream, "Response"},
				{"out", tt.dialect, "Response"},
			}
			if len(audited) != len(want) {
				t.Fatalf("%d audit lines, want %d: %v", len(audited), len(want), audited)
			}
			ids := map[string]bool{}
			for i, w := range want {
				a := audited[i]
				if a.str(audit.FieldDirection) != w.dir || a.str(audit.FieldDialect) != w.dialect || a.str(audit.FieldKind) != w.kind ||
					a.str(audit.FieldSP) != sp || a.str(audit.FieldID) == "" || ids[a.str(audit.FieldID)] {
					t.Errorf("audit line %d = %v, want %s %s %s for %s with an ID of its own", i, a, w.dir, w.dialect, w.kind, sp)
				}
				ids[a.str(audit.FieldID)] = true
				for k := range a {
					if !auditFields[k] {
						t.Errorf("audit line with field %s=%v", k, a[k])
					}
				}
			}
			spRequest, upRequest, upResponse, spResponse := audited[0], audited[1], audited[2], audited[3]
			if upResponse.str(audit.FieldInResponseTo) != upRequest.str(audit.FieldID) ||
				spResponse.str(audit.FieldInResponseTo) != spRequest.str(audit.FieldID) ||
				spRequest.str(audit.FieldInResponseTo) != "" || upRequest.str(audit.FieldInResponseTo) != "" {
				t.Errorf("the messages are not linked by their IDs: %v", audited)
			}
			if spRequest.str(audit.FieldLoA) != tt.loa || upRequest.str(audit.FieldLoA) == "" {
				t.Errorf("requested levels: %v, %v", spRequest, upRequest)
			}
			for _, r := range []logLine{upResponse, spResponse} {
				if r.str(audit.FieldStatus) != "Success" || r.str(audit.FieldIdP) != "AFIRMA" || r.str(audit.FieldLoA) != "high" {
					t.Errorf("response %v: want Success, AFIRMA, high", r)
				}
			}
			for _, r := range []logLine{spRequest, upRequest} {
				if r.str(audit.FieldStatus) != "" || r.str(audit.FieldIdP) != "" {
					t.Errorf("a request with a status or IdP: %v", r)
				}
			}
		})
	}
}

// TestLogoutAuditTrail: a single logout across the three demo SPs and the
// gateway, started by the saml2 demo or by the gateway, leaves one audit
// line per message, all under the logout's trace id: the initiator's
// LogoutRequest in and our LogoutResponse to it, and for every other party
// our LogoutRequest out and its LogoutResponse in, linked by InResponseTo.
// Each request's access line names the SP it came from.
func TestLogoutAuditTrail(t *testing.T) {
	type party struct{ dialect, sp string }
	gateway := party{audit.Upstream, ""}
	tests := []struct {
		name string
		// start posts the initiator's LogoutRequest and returns the page.
		start     func(t *testing.T, h *harness) *browser.Page
		initiator func(base string) party
		accessSP  func(base string) map[string]string
	}{
		{"saml2 SP", func(t *testing.T, h *harness) *browser.Page {
			page, err := h.Browser.Post(h.URL+"/demo/saml2/logout", url.Values{})
			if err != nil {
				t.Fatal(err)
			}
			return page
		}, func(base string) party { return party{"saml2", base + "/demo/saml2/metadata"} },
			func(base string) map[string]string {
				return map[string]string{"/saml2/slo": base + "/demo/saml2/metadata", "/Proxy/LogoutAction": "demo_stork_sp",
					"/Proxy2/ServiceProvider": "S2800000X_E00000001"}
			}},
		{"gateway", func(t *testing.T, h *harness) *browser.Page {
			out, _, err := h.Server.Simulator.InitiateLogout("relay")
			if err != nil {
				t.Fatal(err)
			}
			fields := url.Values{}
			for _, f := range out.Fields {
				fields.Add(f.Name, f.Value)
			}
			page, err := h.Browser.Post(out.URL, fields)
			if err != nil {
				t.Fatal(err)
			}
			return page
		}, func(string) party { return gateway },
			func(base string) map[string]string {
				return map[string]string{"/Proxy/LogoutAction": "demo_stork_sp", "/Proxy2/ServiceProvider": "S2800000X_E00000001"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
			demoLoginAll(t, h)
			before := h.Logs.Len()
			followRecording(t, h.Browser, tt.start(t, h))
			if n := h.Logs.FilterMessage("single logout finished").FilterField(zap.Bool("partial", false)).Len(); n != 1 {
				t.Fatalf("%d complete logouts, want 1", n)
			}
			type msg struct{ dir, dialect, kind, sp, id, inResponseTo, status string }
			var got []msg
			traces := map[string]bool{}
			accessSP := map[string]string{} // path → the SP its access line names
			for _, e := range h.Logs.All()[before:] {
				m := e.ContextMap()
				// The demo SPs and the simulated gateway are not the bridge.
				path, _ := m["path"].(string)
				if e.LoggerName == "demo" || e.LoggerName == "simulator" || demoAccess(e) ||
					e.LoggerName == web.AccessLoggerName && strings.HasPrefix(path, "/sim/") {
					continue
				}
				if e.LoggerName == web.AccessLoggerName {
					accessSP[path], _ = m["sp"].(string)
				}
				traces[m[trace.Field].(string)] = true
				if e.LoggerName != audit.LoggerName {
					continue
				}
				s := func(k string) string { v, _ := m[k].(string); return v }
				got = append(got, msg{s(audit.FieldDirection), s(audit.FieldDialect), s(audit.FieldKind), s(audit.FieldSP), s(audit.FieldID),
					s(audit.FieldInResponseTo), s(audit.FieldStatus)})
			}
			if len(traces) != 1 {
				t.Errorf("the logout's lines carry %d trace ids, want 1: %v", len(traces), traces)
			}
			find := func(dir, kind string, p party) []msg {
				var out []msg
				for _, m := range got {
					if m.dir == dir && m.dialect == p.dialect && m.kind == kind && m.sp == p.sp {
						out = append(out, m)
					}
				}
				return out
			}
			initiator := tt.initiator(h.URL)
			start, end := find("in", "LogoutRequest", initiator), find("out", "LogoutResponse", initiator)
			if len(start) != 1 || len(end) != 1 || start[0].id == "" || end[0].inResponseTo != start[0].id || end[0].status != "Success" {
				t.Fatalf("the initiator's request and answer: %v, %v (all: %v)", start, end, got)
			}
			var others []party
			for _, p := range []party{{"saml2", h.URL + "/demo/saml2/metadata"}, {"eidas", "S2800000X_E00000001"}, {"stork", "demo_stork_sp"}, gateway} {
				if p != initiator {
					others = append(others, p)
				}
			}
			for _, p := range others {
				req, resp := find("out", "LogoutRequest", p), find("in", "LogoutResponse", p)
				if len(req) != 1 || len(resp) != 1 || req[0].id == "" || resp[0].inResponseTo != req[0].id || resp[0].status != "Success" {
					t.Errorf("%s %s: our request %v, its answer %v", p.dialect, p.sp, req, resp)
				}
			}
			if len(got) != 2+2*len(others) {
				t.Errorf("%d audit lines, want %d: %v", len(got), 2+2*len(others), got)
			}
			for path, sp := range tt.accessSP(h.URL) {
				if accessSP[path] != sp {
					t.Errorf("access line of %s names SP %q, want %q", path, accessSP[path], sp)
				}
			}
		})
	}
}
