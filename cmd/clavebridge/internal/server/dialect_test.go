package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
	"github.com/clavebridge/clavebridge/internal/testdialect"
)

// TestFourthDialect: a new dialect is a package plus one line of wiring.
// The test-only "plain" dialect is added to the list, one SP of it is
// registered, and a login through the simulator reaches that SP's return
// URL rendered by the new dialect, with the SP's policy applied.
func TestFourthDialect(t *testing.T) {
	var got url.Values
	sp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		got = r.PostForm
		_, _ = w.Write([]byte("received"))
	}))
	t.Cleanup(sp.Close)

	dialects := append(Dialects(), testdialect.Plugin) // the one line of wiring
	h := startHarnessWith(t, Options{Dialects: dialects}, func(cfg *config.Config) {
		autoLogin("SEGSOC", "00000000T", "")(cfg)
		cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{
			ID: "plain-sp", Name: "Plain SP", Dialect: testdialect.Name, MinLoA: "substantial",
			ReturnURLs: []string{sp.URL + "/acs"}, Attributes: []string{"PersonIdentifier", "FirstName"},
			AttributeNames: "friendly",
		})
	})
	if _, err := h.Server.Registry.Lookup(testdialect.Name, "plain-sp"); err != nil {
		t.Fatalf("the new dialect's SP is not registered: %v", err)
	}
	page, err := h.Browser.Get(h.URL + testdialect.LoginPath + "?sp=plain-sp&id=req-1&loa=low&echo=kept")
	if err != nil {
		t.Fatal(err)
	}
	page, _, err = h.Browser.FollowPosts(page, nil)
	if err != nil {
		t.Fatal(err)
	}
	if page.Status != http.StatusOK || page.Body != "received" {
		t.Fatalf("the SP got nothing: %d %.300s", page.Status, page.Body)
	}
	want := map[string]string{
		"in_response_to": "req-1", "status": "Success", "loa": "substantial", "echo": "kept",
		"attr:PersonIdentifier": "ES/ES/00000000T",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q (form %v)", k, got.Get(k), v, got)
		}
	}
	if _, leaked := got["attr:DateOfBirth"]; leaked {
		t.Error("an attribute outside the SP's policy was released")
	}
	if n := h.Server.Simulator.Logins(); n != 1 {
		t.Errorf("simulator saw %d logins, want 1", n)
	}

	// Without the line, the dialect is unknown to the configuration.
	_, err = config.Parse([]byte("service_providers: [{id: x, name: X, dialect: plain, return_urls: ['https://sp/acs']}]\n"), t.TempDir(), dialect.Set(Dialects()))
	if err == nil || !strings.Contains(err.Error(), `service_providers[0].dialect: "plain" is not one of eidas, saml2, stork`) {
		t.Fatalf("config without the dialect: %v", err)
	}
}
