package server

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

// reloads records what a Reloadable reports to its ReloadObserver.
type reloads struct {
	mu  sync.Mutex
	got []bool
}

func (r *reloads) SetReloadSuccessful(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ok)
}

func (r *reloads) all() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// reloadHarness is a reloadable bridge on a loopback port, built from
// config.example.yaml with an edit.
type reloadHarness struct {
	URL      string
	rl       *Reloadable
	logs     *observer.ObservedLogs
	observed *reloads
	edit     func(*config.Config) // the edit it started with
}

func startReloadable(t *testing.T, edit func(*config.Config)) *reloadHarness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &reloadHarness{URL: "http://" + ln.Addr().String(), observed: &reloads{}, edit: edit}
	core, logs := observer.New(zap.InfoLevel)
	h.logs = logs
	h.rl, err = NewReloadable(exampleConfig(t, h.URL, edit), zap.New(core), Options{}, h.observed)
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h.rl}}
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = h.rl.Close() })
	return h
}

// configWith loads config.example.yaml for this harness with the edit it
// started with and then edits applied, in order.
func (h *reloadHarness) configWith(t *testing.T, edits ...func(*config.Config)) func() (*config.Config, error) {
	edits = append([]func(*config.Config){h.edit}, edits...)
	return func() (*config.Config, error) {
		return exampleConfig(t, h.URL, func(cfg *config.Config) {
			for _, e := range edits {
				if e == nil {
					continue
				}
				e(cfg)
			}
		}), nil
	}
}

// startLogin runs a demo SP's login in b up to the gateway's answer, which
// it returns unsent.
func (h *reloadHarness) startLogin(t *testing.T, b *browser.Browser, demo string, options url.Values) *browser.Form {
	t.Helper()
	page, err := b.Post(h.URL+"/demo/"+demo+"/login", options)
	if err != nil {
		t.Fatal(err)
	}
	acs := h.URL + web.UpstreamACSPath
	_, form, err := b.FollowPosts(page, func(f browser.Form) bool { return f.Action == acs })
	if err != nil {
		t.Fatal(err)
	}
	if form == nil {
		t.Fatalf("the login never reached the gateway's answer")
	}
	return form
}

// finish posts the gateway's answer and follows the login to its end.
func finish(t *testing.T, b *browser.Browser, form *browser.Form) *browser.Page {
	t.Helper()
	page, err := b.Post(form.Action, form.Fields)
	if err != nil {
		t.Fatal(err)
	}
	if page, _, err = b.FollowPosts(page, nil); err != nil {
		t.Fatal(err)
	}
	return page
}

// login runs a whole demo login in a fresh browser.
func (h *reloadHarness) login(t *testing.T, demo string, options url.Values) *browser.Page {
	t.Helper()
	b := browser.New(http.DefaultTransport)
	page, err := b.Post(h.URL+"/demo/"+demo+"/login", options)
	if err != nil {
		t.Fatal(err)
	}
	if page, _, err = b.FollowPosts(page, nil); err != nil {
		t.Fatal(err)
	}
	return page
}

// editSP applies f to the example's SP of dialect.
func editSP(dialect string, f func(*config.SPConfig)) func(*config.Config) {
	return func(cfg *config.Config) {
		for i := range cfg.ServiceProviders {
			if cfg.ServiceProviders[i].Dialect == dialect {
				f(&cfg.ServiceProviders[i])
			}
		}
	}
}

func removeSP(dialect string) func(*config.Config) {
	return func(cfg *config.Config) {
		cfg.ServiceProviders = slices.DeleteFunc(cfg.ServiceProviders, func(sp config.SPConfig) bool { return sp.Dialect == dialect })
	}
}

func denySEGSOC(sp *config.SPConfig) { sp.DenyIdPs = append(sp.DenyIdPs, "SEGSOC") }

func wantPage(t *testing.T, page *browser.Page, status int, want, not []string) {
	t.Helper()
	if page.Status != status {
		t.Errorf("status %d, want %d:\n%.1500s", page.Status, status, page.Body)
	}
	for _, w := range want {
		if !strings.Contains(page.Body, w) {
			t.Errorf("page lacks %q:\n%.2000s", w, page.Body)
		}
	}
	for _, n := range not {
		if strings.Contains(page.Body, n) {
			t.Errorf("page shows %q:\n%.2000s", n, page.Body)
		}
	}
}

// lastEntry is the last log entry with this message.
func lastEntry(logs *observer.ObservedLogs, msg string) (observer.LoggedEntry, bool) {
	entries := logs.FilterMessage(msg).All()
	if len(entries) == 0 {
		return observer.LoggedEntry{}, false
	}
	return entries[len(entries)-1], true
}

var (
	saml2Plain = url.Values{"loa": {"low"}, "binding": {"post"}}
	storkLegal = url.Values{"qaa": {"3"}, "legal": {"true"}}
)

// TestReloadSwapsOrKeeps: a configuration that loads is swapped in (and
// logged with what changed); one that does not parse, validate or load
// its keys and secrets leaves the old one serving, logs why on one line
// and reports the reload failed.
func TestReloadSwapsOrKeeps(t *testing.T) {
	tests := []struct {
		name string
		// load builds the new configuration; dir is a scratch folder.
		load func(t *testing.T, h *reloadHarness, dir string) func() (*config.Config, error)
		ok   bool
		// reason is in the failure's log line; fields are in the success's.
		reason string
		fields func(base string) map[string]any
		// then is what a SEGSOC login through the plain SAML2 demo SP gets.
		then []string
	}{
		{"an SP's policy changed", func(t *testing.T, h *reloadHarness, _ string) func() (*config.Config, error) {
			return h.configWith(t, editSP("saml2", denySEGSOC))
		}, true, "", func(base string) map[string]any {
			return map[string]any{"service_providers": int64(3), "sp_changed": []any{base + "/demo/saml2/metadata"}, "sp_added": []any{}, "sp_removed": []any{}}
		},
			[]string{demoLoginFailed, "RequestDenied"}},
		{"an SP removed, another added", func(t *testing.T, h *reloadHarness, _ string) func() (*config.Config, error) {
			return h.configWith(t, removeSP("stork"), func(cfg *config.Config) {
				sp := cfg.ServiceProviders[0]
				sp.ID, sp.ReturnURLs, sp.LogoutURLs = cfg.Server.BaseURL+"/other/metadata", []string{cfg.Server.BaseURL + "/other/acs"}, nil
				cfg.ServiceProviders = append(cfg.ServiceProviders, sp)
			})
		}, true, "", func(base string) map[string]any {
			return map[string]any{"service_providers": int64(3), "sp_added": []any{base + "/other/metadata"}, "sp_removed": []any{"demo_stork_sp"}, "sp_changed": []any{}}
		},
			[]string{demoLoggedIn, "SEGSOC"}},
		{"does not parse", func(t *testing.T, h *reloadHarness, _ string) func() (*config.Config, error) {
			return func() (*config.Config, error) {
				return config.Parse([]byte("service_providers: [\n  - id: x\n"), samlxmltest.RepoRoot(), DialectRules())
			}
		}, false, "decode config", nil, []string{demoLoggedIn, "SEGSOC"}},
		{"does not validate", func(t *testing.T, h *reloadHarness, _ string) func() (*config.Config, error) {
			return func() (*config.Config, error) {
				data, err := os.ReadFile(filepath.Join(samlxmltest.RepoRoot(), "config.example.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				text := strings.Replace(string(data), "min_loa: low", "min_loa: lowest", 1)
				return config.Parse([]byte(text), samlxmltest.RepoRoot(), DialectRules())
			}
		}, false, "service_providers[0].min_loa", nil, []string{demoLoggedIn, "SEGSOC"}},
		{"the signing key does not load", func(t *testing.T, h *reloadHarness, _ string) func() (*config.Config, error) {
			return h.configWith(t, editSP("saml2", denySEGSOC), func(cfg *config.Config) { cfg.Keys.Signing.Key = "testdata/keys/absent.key" })
		}, false, "keys.signing", nil, []string{demoLoggedIn, "SEGSOC"}},
		{"the signing key is not a key", func(t *testing.T, h *reloadHarness, dir string) func() (*config.Config, error) {
			bad := filepath.Join(dir, "bad.key")
			if err := os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return h.configWith(t, editSP("saml2", denySEGSOC), func(cfg *config.Config) { cfg.Keys.Signing.Key = bad })
		}, false, "keys.signing", nil, []string{demoLoggedIn, "SEGSOC"}},
		{"a state key does not load", func(t *testing.T, h *reloadHarness, _ string) func() (*config.Config, error) {
			return h.configWith(t, editSP("saml2", denySEGSOC), func(cfg *config.Config) {
				cfg.Secrets.StateKeys = append([]config.StateKey{{ID: "new", Secret: config.Secret{Env: "CLAVEBRIDGE_TEST_UNSET_SECRET"}}}, cfg.Secrets.StateKeys...)
			})
		}, false, "secrets.state_keys[0]", nil, []string{demoLoggedIn, "SEGSOC"}},
		{"the pairwise secret changed", func(t *testing.T, h *reloadHarness, _ string) func() (*config.Config, error) {
			return h.configWith(t, editSP("saml2", denySEGSOC), func(cfg *config.Config) { cfg.Secrets.Pairwise.File = "testdata/secrets/state-test-1.key" })
		}, false, "secrets.pairwise", nil, []string{demoLoggedIn, "SEGSOC"}},
		{"an SP's metadata does not load", func(t *testing.T, h *reloadHarness, _ string) func() (*config.Config, error) {
			return h.configWith(t, editSP("saml2", func(sp *config.SPConfig) { denySEGSOC(sp); sp.Metadata = "testdata/absent-metadata.xml" }))
		}, false, "absent-metadata.xml", nil, []string{demoLoggedIn, "SEGSOC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startReloadable(t, autoLogin("SEGSOC", "00000000T", ""))
			wantPage(t, h.login(t, "saml2", saml2Plain), http.StatusOK, []string{demoLoggedIn, "SEGSOC"}, nil)
			before := h.rl.Current()
			err := h.rl.Reload(tt.load(t, h, t.TempDir()))
			if (err == nil) != tt.ok {
				t.Fatalf("reload error %v, want ok=%v", err, tt.ok)
			}
			if got := h.observed.all(); !slices.Equal(got, []bool{true, tt.ok}) {
				t.Errorf("observer saw %v, want [true %v] (startup, then this reload)", got, tt.ok)
			}
			if tt.ok {
				if h.rl.Current() == before || h.rl.Current().Store != before.Store {
					t.Error("a good reload must swap the assembly and keep the store")
				}
				e, found := lastEntry(h.logs, "configuration reloaded")
				if !found {
					t.Fatal("no log line for the reload")
				}
				for k, want := range tt.fields(h.URL) {
					if got := e.ContextMap()[k]; !sameField(got, want) {
						t.Errorf("reload log %s = %#v, want %#v", k, got, want)
					}
				}
			} else {
				if h.rl.Current() != before {
					t.Error("a failed reload swapped the assembly")
				}
				e, found := lastEntry(h.logs, "configuration reload failed; the previous configuration keeps serving")
				if !found {
					t.Fatal("no log line for the failed reload")
				}
				reason, _ := e.ContextMap()["reason"].(string)
				if !strings.Contains(reason, tt.reason) || strings.Contains(reason, "\n") {
					t.Errorf("reason %q: want %q on one line", reason, tt.reason)
				}
			}
			wantPage(t, h.login(t, "saml2", saml2Plain), http.StatusOK, tt.then, nil)
		})
	}
}

// sameField compares a logged field with the expected value (string
// slices are logged as []any; nil and empty are the same).
func sameField(got, want any) bool {
	if w, ok := want.([]any); ok {
		g, _ := got.([]any)
		return len(g) == len(w) && slices.Equal(g, w)
	}
	return got == want
}

// TestReloadLoginInFlight: a login started before a reload finishes under
// the configuration it started with, whichever way the reload changed its
// SP's policy; a login started after it gets the new policy. An SP removed
// by the reload gets no answer at all.
func TestReloadLoginInFlight(t *testing.T) {
	tests := []struct {
		name     string
		auto     func(*config.Config)
		demo     string
		options  url.Values
		reload   func(*config.Config)
		inFlight []string // what the login started before the reload ends with
		status   int
		after    []string // what a login started after the reload ends with
		notAfter []string
		// afterStatus is the status of the last page of the login after.
		afterStatus int
	}{
		{"IdP denied since", autoLogin("SEGSOC", "00000000T", ""), "saml2", saml2Plain,
			editSP("saml2", denySEGSOC),
			[]string{demoLoggedIn, "SEGSOC", "ES/ES/00000000T"}, http.StatusOK,
			[]string{demoLoginFailed, "RequestDenied"}, nil, http.StatusOK},
		{"PersonIdentifier withheld since", autoLogin("SEGSOC", "00000000T", ""), "saml2", saml2Plain,
			editSP("saml2", func(sp *config.SPConfig) { sp.Attributes = []string{string(translate.AttrGivenName)} }),
			[]string{demoLoggedIn, "ES/ES/00000000T"}, http.StatusOK,
			[]string{demoLoggedIn}, []string{"00000000T"}, http.StatusOK},
		{"legal persons refused since", autoLogin("AFIRMA", "11111111H", "legal"), "stork", storkLegal,
			editSP("stork", func(sp *config.SPConfig) { sp.LegalPersons = false }),
			[]string{demoLoggedIn, "ES/ES/B00000000", "EMPRESA DE PRUEBAS SL"}, http.StatusOK,
			[]string{demoLoginFailed}, []string{"B00000000"}, http.StatusOK},
		{"LoA floor raised since", autoLogin("SEGSOC", "00000000T", ""), "saml2", saml2Plain,
			editSP("saml2", func(sp *config.SPConfig) { sp.MinLoA = "high" }),
			[]string{demoLoggedIn, "SEGSOC"}, http.StatusOK,
			[]string{demoLoginFailed}, nil, http.StatusOK},
		{"SP removed since", autoLogin("SEGSOC", "00000000T", ""), "saml2", saml2Plain,
			removeSP("saml2"),
			[]string{"Servicio no reconocido"}, http.StatusBadRequest,
			[]string{"Servicio no reconocido"}, []string{demoLoggedIn}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startReloadable(t, tt.auto)
			before := h.rl.Current()
			b := browser.New(http.DefaultTransport)
			answer := h.startLogin(t, b, tt.demo, tt.options)
			if err := h.rl.Reload(h.configWith(t, tt.reload)); err != nil {
				t.Fatal(err)
			}
			now := h.rl.Current()
			if now == before || now.Simulator != before.Simulator || now.demo != before.demo {
				t.Fatal("the reload must swap the assembly and keep the unchanged simulator and demo SP")
			}
			wantPage(t, finish(t, b, answer), tt.status, tt.inFlight, nil)
			wantPage(t, h.login(t, tt.demo, tt.options), tt.afterStatus, tt.after, tt.notAfter)
		})
	}
}

// TestReloadKeepsStoreAndRebuildsWhatChanged: an SSO session made before
// a reload serves after it (the store stays); the simulator is rebuilt
// when its configuration changes, and kept otherwise.
func TestReloadKeepsStoreAndRebuildsWhatChanged(t *testing.T) {
	h := startReloadable(t, autoLogin("SEGSOC", "00000000T", ""))
	b := browser.New(http.DefaultTransport)
	wantPage(t, finish(t, b, h.startLogin(t, b, "saml2", saml2Plain)), http.StatusOK, []string{demoLoggedIn, "SEGSOC"}, nil)
	sim := h.rl.Current().Simulator
	if err := h.rl.Reload(h.configWith(t, editSP("eidas", func(sp *config.SPConfig) { sp.Name = "renamed" }))); err != nil {
		t.Fatal(err)
	}
	if h.rl.Current().Simulator != sim {
		t.Fatal("an unchanged simulator was rebuilt")
	}
	page, err := b.Post(h.URL+"/demo/clave2/login", url.Values{"loa": {"low"}})
	if err != nil {
		t.Fatal(err)
	}
	if page, _, err = b.FollowPosts(page, nil); err != nil {
		t.Fatal(err)
	}
	wantPage(t, page, http.StatusOK, []string{demoLoggedIn, "ES/ES/00000000T"}, nil)
	if n := sim.Logins(); n != 1 {
		t.Errorf("the gateway saw %d logins, want 1: the SSO session made before the reload must serve after it", n)
	}

	if err := h.rl.Reload(h.configWith(t, autoLogin("AFIRMA", "99999999R", "dnie"))); err != nil {
		t.Fatal(err)
	}
	if h.rl.Current().Simulator == sim {
		t.Fatal("a changed simulator was kept")
	}
	wantPage(t, h.login(t, "saml2", saml2Plain), http.StatusOK, []string{demoLoggedIn, "AFIRMA", "ES/ES/99999999R"}, nil)
}

// TestReloadRestartOnlySettings: settings a running process cannot change
// are named in a warning; the reload still applies the rest.
func TestReloadRestartOnlySettings(t *testing.T) {
	h := startReloadable(t, autoLogin("SEGSOC", "00000000T", ""))
	err := h.rl.Reload(h.configWith(t, editSP("saml2", denySEGSOC), func(cfg *config.Config) {
		cfg.Server.Listen = "127.0.0.1:1"
		cfg.Store.Budgets.Sessions = 7
	}))
	if err != nil {
		t.Fatal(err)
	}
	e, found := lastEntry(h.logs, "configuration reloaded, but these settings take effect only at the next restart")
	if !found {
		t.Fatal("no warning for the settings that need a restart")
	}
	if got := e.ContextMap()["settings"]; !sameField(got, []any{"server.listen", "store"}) {
		t.Errorf("settings %#v", got)
	}
	wantPage(t, h.login(t, "saml2", saml2Plain), http.StatusOK, []string{demoLoginFailed, "RequestDenied"}, nil)
}

// TestReloadConcurrentWithLogins: reloads while logins run serve every
// request with one whole assembly (run with -race).
func TestReloadConcurrentWithLogins(t *testing.T) {
	h := startReloadable(t, autoLogin("SEGSOC", "00000000T", ""))
	good := h.configWith(t)
	bad := func() (*config.Config, error) { return nil, errors.New("broken on purpose") }
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				b := browser.New(http.DefaultTransport)
				page, err := b.Post(h.URL+"/demo/saml2/login", saml2Plain)
				if err == nil {
					page, _, err = b.FollowPosts(page, nil)
				}
				if err != nil || !strings.Contains(page.Body, demoLoggedIn) {
					t.Errorf("a login during reloads failed: %v", err)
				}
			}
		})
	}
	for i := range 6 {
		load := good
		if i%2 == 1 {
			load = bad
		}
		_ = h.rl.Reload(load)
	}
	wg.Wait()
	if got := h.observed.all(); len(got) != 7 || got[6] != false {
		t.Errorf("observer saw %v", got)
	}
}
