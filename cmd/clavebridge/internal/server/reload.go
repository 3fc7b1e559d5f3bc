package server

// Reload without restart. The process keeps its listener, its store and its
// metrics; everything the configuration and the key files say (the SP
// registry, the bridge's keys and secrets, the connector, the flow, the
// dialects, the HTTP routes, the simulator and the demo SP) is built anew
// from the re-read file and swapped in at once. A new configuration that
// does not parse, validate or load leaves the old one serving.
//
// A login in flight finishes under the configuration it started with: its
// pending login, sealed in the browser, carries the request as the SP's
// policy shaped it (floor LoA, hidden IdPs, the attributes it may ask for)
// and the SP's release policy (flow.ReleasePolicy), so whichever assembly
// (or, behind a load balancer, whichever bridge) takes the gateway's answer
// releases what the SP was allowed when the login started. An SP removed
// by a reload gets no more answers, not even to logins it had started.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/hsm"
)

// ReloadObserver is told how each load of the configuration ended: the
// first at startup, then every reload. *metrics.Metrics is one: it sets
// clavebridge_config_last_reload_successful.
type ReloadObserver interface {
	SetReloadSuccessful(ok bool)
}

// Reloadable is the bridge a process serves: the current assembly, which
// Reload replaces whole while the store (and whatever Options carries, such
// as the metrics) stays. It is an http.Handler: each request is served
// entirely by the assembly current when it arrived.
type Reloadable struct {
	log      *zap.Logger // the bridge's
	note     *zap.Logger // the reloads' own lines: one line each, no stack trace
	opts     Options     // its Store is the one store of every assembly
	observer ReloadObserver

	// replica is this process's replica id (replica.go), fixed at start.
	replica string

	mu  sync.Mutex // one reload at a time
	cur atomic.Pointer[generation]
}

// generation is one assembly and the configuration it was built from.
type generation struct {
	srv *Server
	cfg *config.Config
	// pairwise is a digest of the pairwise secret, which a reload must not
	// change.
	pairwise [sha256.Size]byte
	// certs are the bridge's own signing and encryption certificates.
	certs [2]string
	// use is what it takes of the process's token contexts.
	use *hsm.Use
}

// NewReloadable builds the bridge from cfg (as New does) and reports the
// first load to observer (nil: none).
func NewReloadable(cfg *config.Config, log *zap.Logger, opts Options, observer ReloadObserver) (*Reloadable, error) {
	pw, err := pairwiseDigest(cfg)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults() // one clock and one randomness for every assembly
	if opts.Tokens == nil {
		opts.Tokens = hsm.NewTokens() // one set of token contexts for every assembly
	}
	srv, err := New(cfg, log, opts)
	if err != nil {
		_ = opts.Tokens.Close()
		return nil, err
	}
	opts.Store = srv.Store
	replica, err := replicaID(cfg, opts.Rand)
	if err != nil {
		_ = srv.Close()
		_ = opts.Tokens.Close()
		return nil, err
	}
	r := &Reloadable{log: log, note: log.WithOptions(zap.AddStacktrace(zapcore.FatalLevel)), opts: opts, observer: observer, replica: replica}
	log.Info("replica", zap.String("replica_id", replica))
	r.cur.Store(&generation{srv: srv, cfg: cfg, pairwise: pw, certs: ownCerts(srv)})
	r.observe(true)
	return r, nil
}

// ServeHTTP serves one request with the current assembly.
func (r *Reloadable) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set(ReplicaHeader, r.replica)
	r.cur.Load().srv.ServeHTTP(w, req)
}

// Current is the assembly serving now.
func (r *Reloadable) Current() *Server { return r.cur.Load().srv }

// Close releases the store, which every assembly shares, and the token
// contexts.
func (r *Reloadable) Close() error {
	return errors.Join(r.Current().Close(), r.opts.Tokens.Close())
}

// Reload builds a new assembly from load's configuration and the key and
// secret files it names, and swaps it in; requests under way finish on the
// old one. On any error the old assembly keeps serving, and the error
// (one line) is logged and returned. Settings that only a restart can
// apply (the listeners, the store, the log format, the HTTP timeouts) keep
// their old values, with a warning naming them.
func (r *Reloadable) Reload(load func() (*config.Config, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	next, err := r.build(old, load)
	if err != nil {
		r.note.Error("configuration reload failed; the previous configuration keeps serving", zap.String("reason", oneLine(err)))
		r.observe(false)
		return err
	}
	r.cur.Store(next)
	if err := r.opts.Tokens.Keep(next.use); err != nil { // the tokens no longer named are closed
		r.note.Warn("closing unused token contexts", zap.String("reason", oneLine(err)))
	}
	logKeyWarnings(r.log, next.srv.keys)
	added, removed, changed := spChanges(old.cfg, next.cfg)
	sections := changedSections(old.cfg, next.cfg)
	if old.certs != next.certs {
		sections = append(sections, "keys (files)")
	}
	r.note.Info("configuration reloaded", zap.Int("service_providers", len(next.cfg.ServiceProviders)),
		zap.Strings("sp_added", added), zap.Strings("sp_removed", removed), zap.Strings("sp_changed", changed),
		zap.Strings("sections_changed", sections))
	if stay := restartOnly(old.cfg, next.cfg); len(stay) > 0 {
		r.note.Warn("configuration reloaded, but these settings take effect only at the next restart", zap.Strings("settings", stay))
	}
	r.observe(true)
	return nil
}

func (r *Reloadable) build(old *generation, load func() (*config.Config, error)) (*generation, error) {
	cfg, err := load()
	if err != nil {
		return nil, err
	}
	pw, err := pairwiseDigest(cfg)
	if err != nil {
		return nil, err
	}
	if pw != old.pairwise {
		return nil, errors.New("secrets.pairwise: the pairwise secret changed, which would change every persistent NameID SPs know their users by; it never changes on a reload (restart to change it deliberately)")
	}
	use := r.opts.Tokens.Begin()
	keys, err := loadKeys(cfg, use, r.opts.Rand)
	if err != nil {
		_ = r.opts.Tokens.Discard(use)
		return nil, err
	}
	srv, err := assemble(cfg, r.log, r.opts, keys, r.opts.Store, old.srv)
	if err != nil {
		_ = r.opts.Tokens.Discard(use)
		return nil, err
	}
	return &generation{srv: srv, cfg: cfg, pairwise: pw, certs: ownCerts(srv), use: use}, nil
}

func (r *Reloadable) observe(ok bool) {
	if r.observer != nil {
		r.observer.SetReloadSuccessful(ok)
	}
}

// pairwiseDigest is a digest of the configured pairwise secret.
func pairwiseDigest(cfg *config.Config) ([sha256.Size]byte, error) {
	secret, err := cfg.ReadSecret(cfg.Secrets.Pairwise)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("secrets.pairwise: %w", err)
	}
	return sha256.Sum256(secret), nil
}

// ownCerts are the bridge's own certificates in s.
func ownCerts(s *Server) [2]string {
	var out [2]string
	if c := s.publisher.Signer.Cert; c != nil {
		out[0] = string(c.Raw)
	}
	if c := s.publisher.EncryptionCert; c != nil {
		out[1] = string(c.Raw)
	}
	return out
}

// oneLine is err's text on one line (a validation error joins one line per
// finding).
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// spChanges lists the SP ids a reload adds, removes, and whose entry it
// changes.
func spChanges(old, next *config.Config) (added, removed, changed []string) {
	before := map[string]config.SPConfig{}
	for _, sp := range old.ServiceProviders {
		before[sp.ID] = sp
	}
	after := map[string]bool{}
	for _, sp := range next.ServiceProviders {
		after[sp.ID] = true
		prev, ok := before[sp.ID]
		switch {
		case !ok:
			added = append(added, sp.ID)
		case !reflect.DeepEqual(prev, sp):
			changed = append(changed, sp.ID)
		}
	}
	for _, sp := range old.ServiceProviders {
		if !after[sp.ID] {
			removed = append(removed, sp.ID)
		}
	}
	return added, removed, changed
}

// changedSections lists the top-level keys whose values differ.
func changedSections(old, next *config.Config) []string {
	var out []string
	a, b := reflect.ValueOf(*old), reflect.ValueOf(*next)
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			out = append(out, strings.Split(f.Tag.Get("yaml"), ",")[0])
		}
	}
	return out
}

// restartOnly lists the settings a reload changed that the running process
// keeps: the listeners, the store, the log format, the HTTP server's
// timeouts.
func restartOnly(old, next *config.Config) []string {
	var out []string
	for _, s := range []struct {
		path      string
		was, will any
	}{
		{"server.listen", old.Server.Listen, next.Server.Listen},
		{"server.read_timeout", old.Server.ReadTimeout, next.Server.ReadTimeout},
		{"server.write_timeout", old.Server.WriteTimeout, next.Server.WriteTimeout},
		{"server.shutdown_timeout", old.Server.ShutdownTimeout, next.Server.ShutdownTimeout},
		{"server.replica_id", old.Server.ReplicaID, next.Server.ReplicaID},
		{"metrics.listen", old.Metrics.Listen, next.Metrics.Listen},
		{"store", old.Store, next.Store},
		{"log", old.Log, next.Log},
	} {
		if !reflect.DeepEqual(s.was, s.will) {
			out = append(out, s.path)
		}
	}
	return out
}

// simulatorKey identifies what the simulator is built from ("" when a file
// does not read: then it is built anew, which reports the error).
func simulatorKey(cfg *config.Config, k *keySet) string {
	return fingerprint([]any{cfg.Server.BaseURL, cfg.Simulator, k.signer.Cert.Raw},
		cfg, cfg.Simulator.Citizens, cfg.Simulator.Signing.Cert, cfg.Simulator.Signing.Key)
}

// demoKey identifies what the demo SP is built from.
func demoKey(cfg *config.Config, k *keySet) string {
	return fingerprint([]any{cfg.Server.BaseURL, cfg.Demo, k.signer.Cert.Raw},
		cfg, cfg.Demo.Keys.Cert, cfg.Demo.Keys.Key)
}

func fingerprint(values any, cfg *config.Config, files ...string) string {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(values); err != nil {
		return ""
	}
	for _, f := range files {
		data, err := os.ReadFile(cfg.Path(f))
		if err != nil {
			return ""
		}
		sum := sha256.Sum256(data)
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
