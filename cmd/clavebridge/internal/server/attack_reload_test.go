package server

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/internal/browser"
)

func init() { registerClass("Reload", attackReload) }

// attackReload: a reload changes who the bridge serves at once and only
// when it succeeds. An SP a reload removes is refused from its next
// request on (an operator cuts a compromised SP off without a restart),
// and an SP that a failed reload would have added is refused (a broken
// file changes nothing). The requests are the demo SPs' own, validly
// signed; each variant follows a positive control with the same request.
func attackReload(t *testing.T, res *results) {
	for _, ep := range []struct {
		name, demo, dialect string
		options             url.Values
	}{
		{"saml2-post", "saml2", "saml2", url.Values{"loa": {"low"}, "binding": {"post"}}},
		{"saml2-redirect", "saml2", "saml2", url.Values{"loa": {"low"}, "binding": {"redirect"}}},
		{"clave2-post", "clave2", "eidas", url.Values{"loa": {"low"}}},
		{"stork-post", "stork", "stork", url.Values{"qaa": {"2"}}},
	} {
		t.Run(ep.name, func(t *testing.T) {
			h, rec, rl := reloadAttackHarness(t)
			e := &entry{name: ep.name, h: h, rec: rec, res: res, returnURLs: []string{h.URL + "/demo/" + ep.demo + "/acs"}}
			// send is the demo SP's login request, answered by the bridge:
			// onward to the gateway, or refused.
			send := func() (*browser.Page, error) {
				b := browser.New(http.DefaultTransport)
				page, err := b.Post(h.URL+"/demo/"+ep.demo+"/login", ep.options)
				if err != nil {
					return nil, err
				}
				page, _, err = b.FollowPosts(page, func(f browser.Form) bool { return strings.HasPrefix(f.Action, h.URL+"/sim/") })
				return page, err
			}
			load := func(edits ...func(*config.Config)) func() (*config.Config, error) {
				return func() (*config.Config, error) {
					return exampleConfig(t, h.URL, func(cfg *config.Config) {
						for _, e := range edits {
							e(cfg)
						}
					}), nil
				}
			}
			brokenKeys := func(cfg *config.Config) { cfg.Keys.Encryption.Key = "testdata/keys/absent.key" }

			page, err := send()
			e.expectSuccess(t, "the SP's request before the reload", page, err)
			if err := rl.Reload(load(removeSP(ep.dialect))); err != nil {
				t.Fatal(err)
			}
			e.attack(t, "Reload", "the request of an SP a reload removed", send, nil)

			if err := rl.Reload(load()); err != nil {
				t.Fatal(err)
			}
			page, err = send()
			e.expectSuccess(t, "the SP's request once a reload restored it", page, err)
			if err := rl.Reload(load(removeSP(ep.dialect))); err != nil {
				t.Fatal(err)
			}
			if rl.Reload(load(brokenKeys)) == nil {
				t.Fatal("a reload with an absent key file succeeded")
			}
			e.attack(t, "Reload", "the request of an SP only a failed reload would have added", send, nil)
		})
	}
}

// reloadAttackHarness is attackHarness for a Reloadable bridge.
func reloadAttackHarness(t *testing.T) (*harness, *recordingStore, *Reloadable) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	core, logs := observer.New(zap.InfoLevel)
	rec := &recordingStore{Memory: store.NewMemory(time.Now, 0)}
	rl, err := NewReloadable(exampleConfig(t, base, nil), zap.New(core), Options{Store: rec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: rl}}
	hs.Start()
	t.Cleanup(hs.Close)
	return &harness{URL: base, Server: rl.Current(), Browser: browser.New(http.DefaultTransport), Logs: logs}, rec, rl
}
