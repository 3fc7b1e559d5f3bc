package server

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/trace"
)

// TestOneTraceIDPerLogin: every log line of a login, on every hop (the
// SP's request, the gateway, the gateway's answer, the answer to the SP)
// and success included, carries the same trace id; and an error page shows
// the id its log line carries.
func TestOneTraceIDPerLogin(t *testing.T) {
	h := startHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	page := h.demoLogin(t, url.Values{"loa": {"low"}, "binding": {"post"}})
	if !strings.Contains(page.Body, demoLoggedIn) {
		t.Fatalf("login failed: %.500s", page.Body)
	}
	var id string
	messages := map[string]bool{}
	for _, e := range h.Logs.All() {
		if e.LoggerName == "demo" || demoAccess(e) { // the SP is not the bridge: its lines are its own
			continue
		}
		got, _ := e.ContextMap()[trace.Field].(string)
		if got == "" {
			t.Errorf("log line %q has no trace id", e.Message)
			continue
		}
		if id == "" {
			id = got
		}
		if got != id {
			t.Errorf("log line %q has trace id %s, the login's is %s", e.Message, got, id)
		}
		messages[e.Message] = true
	}
	for _, want := range []string{
		"login sent upstream",             // the SP's request
		"authentication request accepted", // the gateway
		"authentication completed",
		"login succeeded", // the gateway's answer
		"SSO session started",
		"answer sent to the SP",
	} {
		if !messages[want] {
			t.Errorf("no line %q carries the login's trace id (lines: %v)", want, messages)
		}
	}

	// An error page shows the id of its log line.
	page, err := h.Browser.Post(h.URL+"/saml2/sso", url.Values{"SAMLRequest": {"not a request"}})
	if err != nil {
		t.Fatal(err)
	}
	if page.Status != http.StatusBadRequest {
		t.Fatalf("status %d", page.Status)
	}
	shown := regexp.MustCompile(`<code[^>]*>([0-9a-f]{16})</code>`).FindStringSubmatch(page.Body)
	if shown == nil {
		t.Fatalf("the error page shows no trace id: %.500s", page.Body)
	}
	refused := h.Logs.FilterMessage("request refused").All()
	if len(refused) == 0 || refused[len(refused)-1].ContextMap()[trace.Field] != shown[1] {
		t.Fatalf("the page shows %s; the refusal's log lines: %v", shown[1], refused)
	}
	if shown[1] == id {
		t.Error("an unrelated request reused the login's trace id")
	}
}
