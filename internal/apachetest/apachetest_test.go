package apachetest_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/internal/apachetest"
)

// TestServeAndStop starts an Apache with a page and a CGI script of the
// test, reads both, and checks that Stop ends it.
func TestServeAndStop(t *testing.T) {
	s := apachetest.New(t)
	s.WriteFile("htdocs/index.html", []byte("hello from apache\n"))
	script := s.WriteFile("cgi/env.sh", []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"MARK=$MARK\"\n"))
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	s.Start(apachetest.Config{
		Conf: "ScriptAlias /cgi/ " + s.Path("cgi") + "/\nSetEnv MARK set-by-test\n",
	})

	for _, tc := range []struct{ path, want string }{
		{"/", "hello from apache"},
		{"/cgi/env.sh", "MARK=set-by-test"},
	} {
		resp, err := http.Get(s.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s: %d %q, want 200 with %q", tc.path, resp.StatusCode, body, tc.want)
		}
	}
	// The worker logs a request once it has answered it: wait a moment.
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(s.AccessLog(), "GET /cgi/env.sh"); {
		if time.Now().After(deadline) {
			t.Fatalf("access log misses the request:\n%s", s.AccessLog())
		}
		time.Sleep(10 * time.Millisecond)
	}

	s.Stop()
	if _, err := http.Get(s.URL + "/"); err == nil {
		t.Error("apache still answers after Stop")
	}
}
