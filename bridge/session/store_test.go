package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/seal"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/translate"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

// clock is a settable time source shared by Sessions and the store.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type fixture struct {
	clock *clock
	store *store.Memory
	s     *Sessions
	logs  *observer.ObservedLogs
}

func newFixture(lifetime time.Duration) *fixture {
	c := &clock{t0}
	m := store.NewMemory(c.now, 0)
	core, logs := observer.New(zap.InfoLevel)
	return &fixture{clock: c, store: m, logs: logs, s: &Sessions{
		Store: m, Lifetime: lifetime, Now: c.now, Rand: &counter{}, Seal: keys("k1"), Log: zap.New(core),
	}}
}

// secrets are the test state keys by id.
var secrets = map[string][]byte{
	"k1": bytes.Repeat([]byte("session-test-key-one-"), 2),
	"k2": bytes.Repeat([]byte("session-test-key-two-"), 2),
}

// keys returns state keys sealing with the first id and opening with all.
func keys(ids ...string) *seal.Keys {
	var ks []seal.Key
	for _, id := range ids {
		ks = append(ks, seal.Key{ID: id, Secret: secrets[id]})
	}
	k, err := seal.New(rand.Reader, ks...)
	if err != nil {
		panic(err)
	}
	return k
}

// unreadableLogged reports whether a stored session was logged as
// unreadable with a reason containing reason.
func (f *fixture) unreadableLogged(reason string) bool {
	for _, e := range f.logs.FilterMessage("SSO session unreadable").All() {
		if r, _ := e.ContextMap()["reason"].(string); strings.Contains(r, reason) {
			return true
		}
	}
	return false
}

// counter is a deterministic Rand: each read of 20 bytes (one ID) is
// filled with the next byte value, so IDs are _0101…, _0202…
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	c.n++
	for i := range p {
		p[i] = c.n
	}
	return len(p), nil
}

func success() bridge.Result {
	return bridge.Result{Status: bridge.Status{Code: bridge.StatusSuccess}, LoA: translate.LoASubstantial, IdP: translate.IdPPin24H,
		Subject: "ES/ES/12345678Z", Attributes: []bridge.Attribute{{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/12345678Z"}}}}
}

func TestSessionsNew(t *testing.T) {
	f := newFixture(time.Hour)
	sess, err := f.s.New(success())
	if err != nil {
		t.Fatal(err)
	}
	if sess.ID != "_"+strings.Repeat("01", 20) {
		t.Errorf("ID = %q, want one read from Rand", sess.ID)
	}
	if !sess.Created.Equal(t0) || !sess.Expires.Equal(t0.Add(time.Hour)) {
		t.Errorf("Created %v, Expires %v", sess.Created, sess.Expires)
	}
	if sess.Result.Subject != "ES/ES/12345678Z" || len(sess.Participants) != 0 {
		t.Errorf("session = %+v", sess)
	}
	// New does not store anything: Save does.
	if got, err := f.s.Load(context.Background(), sess.ID); got != nil || err != nil {
		t.Errorf("a new session is loadable before Save: %v, %v", got, err)
	}
	f.s.Rand = bytes.NewReader(nil)
	if _, err := f.s.New(success()); err == nil || !strings.Contains(err.Error(), "new session id") {
		t.Errorf("New without randomness = %v", err)
	}
	f.s.Rand = nil // crypto/rand
	a, err1 := f.s.New(success())
	b, err2 := f.s.New(success())
	if err1 != nil || err2 != nil || a.ID == b.ID || !regexp.MustCompile(`^_[0-9a-f]{40}$`).MatchString(a.ID) {
		t.Errorf("ids from crypto/rand: %q %q (%v %v)", a.ID, b.ID, err1, err2)
	}
}

func TestSessionsSaveAndLoad(t *testing.T) {
	ctx := context.Background()
	f := newFixture(time.Hour)
	sess, err := f.s.New(success())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.t = t0.Add(10 * time.Minute)
	ttl, err := f.s.Save(ctx, sess)
	if err != nil || ttl != 50*time.Minute {
		t.Fatalf("Save = %v, %v; want the time left, 50m", ttl, err)
	}
	got, err := f.s.Load(ctx, sess.ID)
	if err != nil || got == nil {
		t.Fatalf("Load = %v, %v", got, err)
	}
	if got.ID != sess.ID || got.Result.Subject != sess.Result.Subject || !got.Expires.Equal(sess.Expires) {
		t.Fatalf("loaded %+v, saved %+v", got, sess)
	}
	// One nanosecond before it expires it is there; at Expires it is gone.
	f.clock.t = sess.Expires.Add(-time.Nanosecond)
	if got, _ := f.s.Load(ctx, sess.ID); got == nil {
		t.Fatal("session gone before it expires")
	}
	f.clock.t = sess.Expires
	if got, err := f.s.Load(ctx, sess.ID); got != nil || err != nil {
		t.Fatalf("expired session loaded: %v, %v", got, err)
	}
}

func TestSessionsSaveNotKept(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		lifetime time.Duration
		advance  time.Duration
	}{
		{"lifetime 0", 0, 0},
		{"expired", time.Hour, time.Hour},
		{"long expired", time.Hour, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(tt.lifetime)
			sess, err := f.s.New(success())
			if err != nil {
				t.Fatal(err)
			}
			f.clock.t = f.clock.t.Add(tt.advance)
			if ttl, err := f.s.Save(ctx, sess); ttl != 0 || err != nil {
				t.Fatalf("Save = %v, %v; want 0, nil", ttl, err)
			}
			if _, err := f.store.GetSession(ctx, sess.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the session was stored: %v", err)
			}
		})
	}
}

// TestSessionsLoadNothing: every way there is no session to load. A
// stored record that cannot be read counts as none, with a log line saying
// why; only a store failure is an error.
func TestSessionsLoadNothing(t *testing.T) {
	ctx := context.Background()
	put := func(f *fixture, id string, data []byte) {
		if err := f.store.PutSession(ctx, id, data, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// sealed is sess sealed by f's keys as if it were the session id.
	sealed := func(f *fixture, id string, sess Session) []byte {
		sess.ID = id
		data, err := f.s.seal(&sess)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	clear, _ := json.Marshal(record{Subject: "ES/ES/12345678Z", Expires: t0.Add(time.Hour)})
	tests := []struct {
		name     string
		setup    func(f *fixture) (*Sessions, string)
		wantErr  string // "" = nil, nil
		unreadOK string // the reason logged, "" = none logged
	}{
		{"nil receiver", func(f *fixture) (*Sessions, string) { return nil, "_s" }, "", ""},
		{"empty id", func(f *fixture) (*Sessions, string) {
			put(f, "", sealed(f, "", Session{Expires: t0.Add(time.Hour)}))
			return f.s, ""
		}, "", ""},
		{"lifetime 0", func(f *fixture) (*Sessions, string) {
			put(f, "_s", sealed(f, "_s", Session{Expires: t0.Add(time.Hour)}))
			f.s.Lifetime = 0
			return f.s, "_s"
		}, "", ""},
		{"unknown", func(f *fixture) (*Sessions, string) { return f.s, "_s" }, "", ""},
		{"expired", func(f *fixture) (*Sessions, string) {
			put(f, "_s", sealed(f, "_s", Session{Expires: t0})) // stored longer than it lives
			return f.s, "_s"
		}, "", ""},
		{"sealed for another session", func(f *fixture) (*Sessions, string) {
			put(f, "_s", sealed(f, "_other", Session{Expires: t0.Add(time.Hour)}))
			return f.s, "_s"
		}, "", "does not open"},
		{"stored in clear", func(f *fixture) (*Sessions, string) {
			put(f, "_s", clear)
			return f.s, "_s"
		}, "", "does not open"},
		{"tampered with", func(f *fixture) (*Sessions, string) {
			data := sealed(f, "_s", Session{Expires: t0.Add(time.Hour)})
			data[len(data)-2] ^= 1
			put(f, "_s", data)
			return f.s, "_s"
		}, "", "does not open"},
		{"sealed under a key no longer configured", func(f *fixture) (*Sessions, string) {
			put(f, "_s", sealed(f, "_s", Session{Expires: t0.Add(time.Hour)}))
			f.s.Seal = keys("k2")
			return f.s, "_s"
		}, "", "does not open"},
		{"sealed garbage", func(f *fixture) (*Sessions, string) {
			garbage, err := f.s.Seal.Seal(purpose("_s"), []byte(`{"expires":`))
			if err != nil {
				t.Fatal(err)
			}
			put(f, "_s", []byte(garbage))
			return f.s, "_s"
		}, "", "does not decode"},
		{"no state keys", func(f *fixture) (*Sessions, string) {
			put(f, "_s", sealed(f, "_s", Session{Expires: t0.Add(time.Hour)}))
			f.s.Seal = nil
			return f.s, "_s"
		}, "", "no state keys"},
		{"store failure", func(f *fixture) (*Sessions, string) {
			_ = f.store.Close()
			return f.s, "_s"
		}, "load session", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(time.Hour)
			s, id := tt.setup(f)
			got, err := s.Load(ctx, id)
			if got != nil {
				t.Fatalf("Load = %+v, want none", got)
			}
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
			}
			logged := f.logs.FilterMessage("SSO session unreadable").Len()
			if tt.unreadOK == "" && logged != 0 || tt.unreadOK != "" && !f.unreadableLogged(tt.unreadOK) {
				t.Fatalf("logged as unreadable: %v, want reason %q", f.logs.All(), tt.unreadOK)
			}
		})
	}
}

func TestSessionsStoreErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(time.Hour)
	sess, err := f.s.New(success())
	if err != nil {
		t.Fatal(err)
	}
	// A participant's state that is not JSON cannot be encoded.
	bad := *sess
	bad.Participants = []bridge.Participant{{SP: "sp", State: json.RawMessage("{")}}
	if ttl, err := f.s.Save(ctx, &bad); ttl != 0 || err == nil || !strings.Contains(err.Error(), "encode session") {
		t.Fatalf("Save of unencodable state = %v, %v", ttl, err)
	}
	// Without state keys nothing is kept, never a session in clear.
	unsealed := *f.s
	unsealed.Seal = nil
	if ttl, err := unsealed.Save(ctx, sess); ttl != 0 || !errors.Is(err, ErrNoSeal) {
		t.Fatalf("Save without state keys = %v, %v; want ErrNoSeal", ttl, err)
	}
	if _, err := f.store.GetSession(ctx, sess.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a session was stored without state keys: %v", err)
	}
	_ = f.store.Close()
	if ttl, err := f.s.Save(ctx, sess); ttl != 0 || !errors.Is(err, store.ErrClosed) || !strings.Contains(err.Error(), "store session") {
		t.Fatalf("Save to a closed store = %v, %v", ttl, err)
	}
	if err := f.s.Delete(ctx, sess.ID); !errors.Is(err, store.ErrClosed) || !strings.Contains(err.Error(), "delete session") {
		t.Fatalf("Delete in a closed store = %v", err)
	}
}

func TestSessionsDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(time.Hour)
	keep, _ := f.s.New(success())
	gone, _ := f.s.New(success())
	for _, s := range []*Session{keep, gone} {
		if _, err := f.s.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := f.s.Load(ctx, gone.ID); got != nil || err != nil {
		t.Fatalf("deleted session loaded: %v, %v", got, err)
	}
	if got, _ := f.s.Load(ctx, keep.ID); got == nil {
		t.Fatal("Delete removed another session")
	}
	if err := f.s.Delete(ctx, "_never"); err != nil {
		t.Fatalf("deleting an unknown session: %v", err)
	}
}

func TestSessionJoined(t *testing.T) {
	sess := &Session{ID: "_s", Result: success()}
	state := json.RawMessage(`{"format":"transient"}`)
	req := &bridge.Request{SP: "sp1", Dialect: "saml2", ID: "_req", State: state}
	res := &bridge.Result{Subject: "ES/ES/1", SessionIndex: "_idx1", TransientNameID: "_tr1"}
	at := t0.Add(time.Minute)
	if err := sess.Joined(req, res, at); err != nil {
		t.Fatal(err)
	}
	if err := sess.Joined(&bridge.Request{SP: "sp2", Dialect: "stork"}, &bridge.Result{SessionIndex: "_idx2"}, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(sess.Participants) != 2 {
		t.Fatalf("participants = %+v", sess.Participants)
	}
	p := sess.Participants[0]
	want := bridge.Participant{SP: "sp1", Dialect: "saml2", SessionIndex: "_idx1", TransientNameID: "_tr1", Subject: "ES/ES/1", At: at}
	if string(p.State) != string(state) {
		t.Errorf("State = %s, want the request's", p.State)
	}
	p.State = nil
	if !participantEqual(p, want) {
		t.Errorf("participant = %+v, want %+v", p, want)
	}
	q := sess.Participants[1]
	if q.SP != "sp2" || q.Dialect != "stork" || q.SessionIndex != "_idx2" || q.State != nil || !q.At.Equal(at.Add(time.Minute)) {
		t.Errorf("second participant = %+v", q)
	}
}

// TestSessionParticipantsAreASet: one record per SP (dialect and SP id),
// the latest replacing the one before and moving last; a new SP past
// MaxParticipants is refused and changes nothing, an SP already there is
// still answered.
func TestSessionParticipantsAreASet(t *testing.T) {
	p := func(sp, dialect, idx string) bridge.Participant {
		return bridge.Participant{SP: sp, Dialect: dialect, SessionIndex: idx, At: t0}
	}
	sess := &Session{}
	for _, q := range []bridge.Participant{p("a", "saml2", "1"), p("b", "saml2", "2"), p("a", "stork", "3"), p("a", "saml2", "4")} {
		if err := sess.Add(q); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, q := range sess.Participants {
		got = append(got, q.Dialect+" "+q.SP+" "+q.SessionIndex)
	}
	if want := []string{"saml2 b 2", "stork a 3", "saml2 a 4"}; !slices.Equal(got, want) {
		t.Fatalf("participants = %q, want %q", got, want)
	}

	full := &Session{}
	for i := range MaxParticipants {
		if err := full.Add(p(fmt.Sprint("sp", i), "saml2", "x")); err != nil {
			t.Fatalf("SP #%d refused: %v", i+1, err)
		}
	}
	if err := full.Add(p("one-more", "saml2", "x")); !errors.Is(err, ErrFull) {
		t.Fatalf("SP #%d: err = %v, want ErrFull", MaxParticipants+1, err)
	}
	if err := full.Add(p("sp0", "stork", "x")); !errors.Is(err, ErrFull) {
		t.Fatalf("the same SP id in another dialect is another SP: err = %v, want ErrFull", err)
	}
	if err := full.Add(p("sp0", "saml2", "again")); err != nil {
		t.Fatalf("an SP of a full session answered again: %v", err)
	}
	if n, last := len(full.Participants), full.Participants[MaxParticipants-1]; n != MaxParticipants || last.SP != "sp0" || last.SessionIndex != "again" {
		t.Fatalf("%d participants, last %+v", n, last)
	}
}

func participantEqual(a, b bridge.Participant) bool {
	return a.SP == b.SP && a.Dialect == b.Dialect && a.SessionIndex == b.SessionIndex &&
		a.TransientNameID == b.TransientNameID && a.Subject == b.Subject && a.At.Equal(b.At) && string(a.State) == string(b.State)
}

// TestSessionReusableLifetimeEdges: the SP's lifetime counts from Created,
// and a nil override means the global lifetime.
func TestSessionReusableLifetimeEdges(t *testing.T) {
	sess := &Session{Created: t0, Expires: t0.Add(time.Hour), Result: success()}
	long := 3 * time.Hour
	tests := []struct {
		name     string
		override *time.Duration
		lifetime time.Duration
		now      time.Time
		want     bool
	}{
		{"global, just before", nil, time.Hour, t0.Add(time.Hour - time.Nanosecond), true},
		{"global, at the edge", nil, time.Hour, t0.Add(time.Hour), false},
		{"global 0", nil, 0, t0, false},
		{"SP longer than global", &long, time.Minute, t0.Add(2 * time.Hour), true},
	}
	for _, tt := range tests {
		ok, why := sess.Reusable(&bridge.ServiceProvider{SSOLifetime: tt.override}, &bridge.Request{}, tt.now, tt.lifetime)
		if ok != tt.want || ok != (why == "") {
			t.Errorf("%s: Reusable = %v, %q", tt.name, ok, why)
		}
	}
}
