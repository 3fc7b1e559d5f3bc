package web

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
)

// TestCookieNames: over https the bridge's cookies take the __Host- prefix
// (no sibling subdomain can plant them); every one is Secure, HttpOnly,
// SameSite=None, host-only, path /; and the browser's cookies come back to
// the flow by those names only.
func TestCookieNames(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := New(Options{Log: zap.NewNop(), Rand: rand.Reader, Secure: secure})
		prefix := map[bool]string{true: "__Host-"}[secure]
		var got flow.Browser
		s.Mount(Route{Method: http.MethodPost, Path: "/x", Handle: func(_ context.Context, in *Input) (flow.Reply, error) {
			got = in.Browser
			return flow.Reply{
				Out:     bridge.Outgoing{URL: "https://sp.example/acs"},
				Session: &flow.Cookie{Value: "sess", TTL: time.Hour},
				Logins:  map[string]*flow.Cookie{"0123456789abcdef": {Value: "sealed", TTL: time.Minute}, "fedcba9876543210": {}},
			}, nil
		}})
		req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: prefix + "clavebridge_session", Value: "old"})
		req.AddCookie(&http.Cookie{Name: prefix + "clavebridge_login_aaaaaaaaaaaaaaaa", Value: "kept"})
		req.AddCookie(&http.Cookie{Name: map[bool]string{true: "clavebridge_login_bbbbbbbbbbbbbbbb", false: "__Host-clavebridge_login_bbbbbbbbbbbbbbbb"}[secure], Value: "other name"})
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if got.Session != "old" || len(got.Logins) != 1 || got.Logins["aaaaaaaaaaaaaaaa"] != "kept" {
			t.Fatalf("secure %v: the flow got %+v", secure, got)
		}
		cookies := map[string]*http.Cookie{}
		for _, c := range rec.Result().Cookies() {
			cookies[c.Name] = c
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteNoneMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("secure %v: cookie %+v", secure, c)
			}
		}
		for name, maxAge := range map[string]int{"clavebridge_session": 3600, "clavebridge_login_0123456789abcdef": 60, "clavebridge_login_fedcba9876543210": -1} {
			c := cookies[prefix+name]
			if c == nil || c.MaxAge != maxAge {
				t.Errorf("secure %v: %s%s = %+v, want Max-Age %d", secure, prefix, name, c, maxAge)
			}
		}
	}
}
