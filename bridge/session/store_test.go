package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
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
}

func newFixture(lifetime time.Duration) *fixture {
	c := &clock{t0}
	m := store.NewMemory(c.now, 0)
	return &fixture{clock: c, store: m, s: &Sessions{Store: m, Lifetime: lifetime, Now: c.now, Rand: &counter{}}}
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

// TestSessionsLoadNothing: every way there is no session to load.
func TestSessionsLoadNothing(t *testing.T) {
	ctx := context.Background()
	put := func(f *fixture, id string, v any) {
		data, ok := v.([]byte)
		if !ok {
			var err error
			if data, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.store.PutSession(ctx, id, data, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		setup   func(f *fixture) (*Sessions, string)
		wantErr string // "" = nil, nil
	}{
		{"nil receiver", func(f *fixture) (*Sessions, string) { return nil, "_s" }, ""},
		{"empty id", func(f *fixture) (*Sessions, string) {
			put(f, "", Session{ID: "", Expires: t0.Add(time.Hour)})
			return f.s, ""
		}, ""},
		{"lifetime 0", func(f *fixture) (*Sessions, string) {
			put(f, "_s", Session{ID: "_s", Expires: t0.Add(time.Hour)})
			f.s.Lifetime = 0
			return f.s, "_s"
		}, ""},
		{"unknown", func(f *fixture) (*Sessions, string) { return f.s, "_s" }, ""},
		{"expired", func(f *fixture) (*Sessions, string) {
			put(f, "_s", Session{ID: "_s", Expires: t0}) // stored longer than it lives
			return f.s, "_s"
		}, ""},
		{"id mismatch", func(f *fixture) (*Sessions, string) {
			put(f, "_s", Session{ID: "_other", Expires: t0.Add(time.Hour)})
			return f.s, "_s"
		}, ""},
		{"corrupt data", func(f *fixture) (*Sessions, string) {
			put(f, "_s", []byte(`{"id":"_s","expires":`))
			return f.s, "_s"
		}, "decode session"},
		{"store failure", func(f *fixture) (*Sessions, string) {
			_ = f.store.Close()
			return f.s, "_s"
		}, "load session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, id := tt.setup(newFixture(time.Hour))
			got, err := s.Load(ctx, id)
			if got != nil {
				t.Fatalf("Load = %+v, want none", got)
			}
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
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
	sess.Joined(req, res, at)
	sess.Joined(&bridge.Request{SP: "sp2", Dialect: "stork"}, &bridge.Result{SessionIndex: "_idx2"}, at.Add(time.Minute))
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
