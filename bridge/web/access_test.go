package web

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

// TestAccessLog: one line per request, whatever its answer (a reply, a
// refusal, an unknown path, a body over the limit, a panic), with the
// method, the path without query, the status, the duration, the bytes, the
// trace id the request ended with (the login's it adopted) and the SP it
// noted; and nothing of the query, the form, the cookies, the client's
// address or its User-Agent.
func TestAccessLog(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	// A fixed random source: every request's own trace id is 0101…01.
	s := New(Options{Log: zap.New(core), Rand: bytes.NewReader(bytes.Repeat([]byte{1}, 8*16)), MaxBodyBytes: 1 << 10})
	const own = "0101010101010101"
	s.Mount(
		Route{Method: http.MethodPost, Path: "/login", Handle: func(ctx context.Context, _ *Input) (flow.Reply, error) {
			trace.Adopt(ctx, "10be10be10be10be") // the request continues a login
			trace.NoteSP(ctx, "https://sp.example/metadata")
			return flow.Reply{Out: bridge.Outgoing{URL: "https://sp.example/acs"}}, nil
		}},
		Route{Method: http.MethodGet, Path: "/refused", Handle: func(context.Context, *Input) (flow.Reply, error) {
			return flow.Reply{}, bridge.Invalid("No.", nil)
		}},
	)
	s.Echo().GET("/panic", func(echo.Context) error { panic("boom") })

	const secret = "12345678Z"
	tests := []struct {
		name, method, target, body string
		status                     int
		path, traceID, sp          string
	}{
		{"a login's hop", http.MethodPost, "/login?dni=" + secret, "name=" + secret, http.StatusOK, "/login", "10be10be10be10be", "https://sp.example/metadata"},
		{"refused", http.MethodGet, "/refused?SAMLRequest=" + secret, "", http.StatusBadRequest, "/refused", own, ""},
		{"unknown path", http.MethodGet, "/nowhere/" + "x?q=" + secret, "", http.StatusNotFound, "/nowhere/x", own, ""},
		{"body over the limit", http.MethodPost, "/login", "f=" + strings.Repeat("A", 2<<10), http.StatusRequestEntityTooLarge, "/login", own, ""},
		{"panic", http.MethodGet, "/panic", "", http.StatusInternalServerError, "/panic", own, ""},
		{"long path", http.MethodGet, "/" + strings.Repeat("p", 1000), "", http.StatusNotFound, "/" + strings.Repeat("p", maxLoggedPath-1), own, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := logs.Len()
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("User-Agent", "agent-"+secret)
			req.RemoteAddr = "192.0.2.7:4242"
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: secret})
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			var access []observer.LoggedEntry
			for _, e := range logs.All()[before:] {
				if e.LoggerName == AccessLoggerName {
					access = append(access, e)
				}
			}
			if len(access) != 1 {
				t.Fatalf("%d access lines, want 1", len(access))
			}
			e := access[0]
			m := e.ContextMap()
			if e.Message != AccessMessage || m["method"] != tt.method || m["path"] != tt.path || m["status"] != int64(tt.status) ||
				m[trace.Field] != tt.traceID || m["bytes"] != int64(rec.Body.Len()) {
				t.Errorf("line %q %v", e.Message, m)
			}
			if _, ok := m["duration"]; !ok {
				t.Error("no duration")
			}
			if sp, _ := m["sp"].(string); sp != tt.sp {
				t.Errorf("sp %q, want %q", sp, tt.sp)
			}
			if got := rec.Header().Get("X-Trace-Id"); got != tt.traceID {
				t.Errorf("the line's trace id %v is not the page's %q", m[trace.Field], got)
			}
			for k, v := range m {
				if s, _ := v.(string); strings.Contains(s, secret) || strings.Contains(s, "192.0.2.7") || strings.Contains(k, "agent") {
					t.Errorf("the access line carries %s=%v", k, v)
				}
			}
			if tt.name == "panic" && logs.FilterMessage("panic recovered").FilterField(zap.String(trace.Field, own)).Len() != 1 {
				t.Error("the panic was not logged through the bridge's logger with its trace id")
			}
			want := map[string]bool{"method": true, "path": true, "status": true, "duration": true, "bytes": true, trace.Field: true, "sp": tt.sp != ""}
			for k := range m {
				if !want[k] {
					t.Errorf("unexpected field %s=%v", k, m[k])
				}
			}
		})
	}
}
