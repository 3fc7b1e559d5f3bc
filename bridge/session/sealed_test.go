package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/seal"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/translate"
)

// citizen is a result full of personal data, none of which may be found in
// clear in the store.
func citizen() bridge.Result {
	return bridge.Result{
		Status: bridge.Status{Code: bridge.StatusSuccess, Message: "ok"}, LoA: translate.LoAHigh, IdP: translate.IdPAfirma,
		Subject: "ES/ES/99999999R", AuthnInstant: t0, SessionIndex: "_first-index", TransientNameID: "_first-transient",
		PersistentNameID: "ES/ES/99999999R",
		Attributes: []bridge.Attribute{
			{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/99999999R"}},
			{Name: translate.AttrGivenName, Values: []string{"JUAN"}},
			{Name: translate.AttrFamilyName, Values: []string{"ESPAÑOL ESPAÑOL"}},
			{Name: translate.AttrDateOfBirth, Values: []string{"1965-01-01"}},
		},
	}
}

// personal are the values of citizen() that must never be stored in clear.
var personal = []string{"99999999R", "JUAN", "ESPAÑOL", "ESPA", "1965-01-01", "Afirma", "ES/ES"}

// TestSessionAtRest: what the store holds of a session is sealed under the
// current key (its id first), names nothing personal in clear, and opens
// to the minimum a session needs.
func TestSessionAtRest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(time.Hour)
	sess, err := f.s.New(citizen())
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Joined(&bridge.Request{SP: "sp1", Dialect: "saml2", State: json.RawMessage(`{"f":1}`)},
		&bridge.Result{SessionIndex: "_idx", TransientNameID: "_tn", Subject: "pairwise-1"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Save(ctx, sess); err != nil {
		t.Fatal(err)
	}
	raw, err := f.store.GetSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "k1.") {
		t.Fatalf("stored %.20q…, want it sealed under key k1", raw)
	}
	for _, v := range append(personal, "subject", "attributes", "pairwise-1") {
		if strings.Contains(strings.ToUpper(string(raw)), strings.ToUpper(v)) {
			t.Fatalf("the stored session holds %q in clear: %s", v, raw)
		}
	}

	// The record holds the minimum: no id, status, or first SP's NameIDs.
	plain, err := f.s.Seal.Open(purpose(sess.ID), string(raw))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(plain, &fields); err != nil {
		t.Fatal(err)
	}
	want := []string{"attributes", "authn_instant", "created", "expires", "idp", "loa", "participants", "subject"}
	if got := slices.Sorted(maps.Keys(fields)); !slices.Equal(got, want) {
		t.Fatalf("record fields %q, want %q", got, want)
	}

	got, err := f.s.Load(ctx, sess.ID)
	if err != nil || got == nil {
		t.Fatalf("Load = %v, %v", got, err)
	}
	res := got.Result
	wantRes := citizen()
	if !res.Status.OK() || res.Status.Message != "" || res.LoA != wantRes.LoA || res.IdP != wantRes.IdP || res.Subject != wantRes.Subject ||
		!res.AuthnInstant.Equal(t0) || res.SessionIndex != "" || res.TransientNameID != "" || res.PersistentNameID != "" ||
		fmt.Sprint(res.Attributes) != fmt.Sprint(wantRes.Attributes) {
		t.Fatalf("loaded result %+v", res)
	}
	if got.ID != sess.ID || !got.Created.Equal(sess.Created) || !got.Expires.Equal(sess.Expires) ||
		len(got.Participants) != 1 || !participantEqual(got.Participants[0], sess.Participants[0]) {
		t.Fatalf("loaded %+v, saved %+v", got, sess)
	}

	// A legal person's flag is kept too.
	legal := citizen()
	legal.LegalPerson = true
	ls, _ := f.s.New(legal)
	if _, err := f.s.Save(ctx, ls); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.Load(ctx, ls.ID); got == nil || !got.Result.LegalPerson {
		t.Fatalf("legal person's session loaded as %+v", got)
	}
}

// TestSessionKeyRotation: a session sealed under the old key opens once a
// new key is put first, and is sealed under the new key at its next write;
// once the old key is dropped, what only it sealed is no session.
func TestSessionKeyRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(time.Hour)
	sess, _ := f.s.New(citizen())
	if _, err := f.s.Save(ctx, sess); err != nil {
		t.Fatal(err)
	}
	other, _ := f.s.New(citizen())
	if _, err := f.s.Save(ctx, other); err != nil {
		t.Fatal(err)
	}

	f.s.Seal = keys("k2", "k1") // rotated: k2 seals, both open
	got, err := f.s.Load(ctx, sess.ID)
	if err != nil || got == nil || got.Result.Subject != "ES/ES/99999999R" {
		t.Fatalf("after rotation the session sealed under the old key loads as %+v, %v", got, err)
	}
	if _, err := f.s.Join(ctx, got, bridge.Participant{SP: "sp2", Dialect: "saml2"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := f.store.GetSession(ctx, sess.ID)
	if !strings.HasPrefix(string(raw), "k2.") {
		t.Fatalf("rewritten as %.10q…, want it sealed under the new key k2", raw)
	}

	f.s.Seal = keys("k2") // the old key dropped
	if got, err := f.s.Load(ctx, sess.ID); err != nil || got == nil || len(got.Participants) != 1 {
		t.Fatalf("the session rewritten under k2 loads as %+v, %v", got, err)
	}
	if got, err := f.s.Load(ctx, other.ID); got != nil || err != nil {
		t.Fatalf("a session only the dropped key sealed loads as %+v, %v", got, err)
	}
	if !f.unreadableLogged("does not open") {
		t.Fatal("the session the dropped key sealed was not logged as unreadable")
	}
}

// TestSessionsJoin: Join records the SP in the stored session (not in the
// caller's copy only), and refuses, changing nothing, when the session is
// gone or full.
func TestSessionsJoin(t *testing.T) {
	ctx := context.Background()
	sp := func(i int) bridge.Participant {
		return bridge.Participant{SP: fmt.Sprint("sp", i), Dialect: "saml2", At: t0}
	}
	tests := []struct {
		name    string
		setup   func(f *fixture, sess *Session)
		want    error  // nil: joined
		wantMsg string // for other errors
	}{
		{"joins", func(*fixture, *Session) {}, nil, ""},
		{"ended meanwhile", func(f *fixture, sess *Session) { _ = f.s.Delete(ctx, sess.ID) }, ErrEnded, ""},
		{"expired", func(f *fixture, _ *Session) { f.clock.t = t0.Add(time.Hour) }, ErrEnded, ""},
		{"unreadable", func(f *fixture, _ *Session) { f.s.Seal = keys("k2") }, ErrEnded, ""},
		{"no state keys", func(f *fixture, _ *Session) { f.s.Seal = nil }, ErrEnded, ""},
		{"SSO turned off", func(f *fixture, _ *Session) { f.s.Lifetime = 0 }, ErrEnded, ""},
		{"full", func(f *fixture, sess *Session) {
			for i := 1; i < MaxParticipants; i++ { // sp0 is there already
				if _, err := f.s.Join(ctx, sess, sp(i)); err != nil {
					t.Fatal(err)
				}
			}
		}, ErrFull, ""},
		{"store failure", func(f *fixture, _ *Session) { _ = f.store.Close() }, store.ErrClosed, "store session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(time.Hour)
			sess, _ := f.s.New(citizen())
			if err := sess.Add(sp(0)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.Save(ctx, sess); err != nil {
				t.Fatal(err)
			}
			stale := *sess // what a caller loaded before the others joined
			tt.setup(f, sess)
			before, _ := f.store.GetSession(ctx, sess.ID)
			if f.clock.t.Before(t0.Add(10 * time.Minute)) {
				f.clock.t = t0.Add(10 * time.Minute)
			}
			ttl, err := f.s.Join(ctx, &stale, sp(999))
			if tt.want != nil {
				if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) || ttl != 0 {
					t.Fatalf("Join = %v, %v; want %v", ttl, err, tt.want)
				}
				if after, _ := f.store.GetSession(ctx, sess.ID); string(after) != string(before) {
					t.Fatal("a refused Join changed the stored session")
				}
				return
			}
			if err != nil || ttl != 50*time.Minute {
				t.Fatalf("Join = %v, %v; want the 50m the session has left", ttl, err)
			}
			got, _ := f.s.Load(ctx, sess.ID)
			if len(got.Participants) != 2 || got.Participants[1].SP != "sp999" || len(stale.Participants) != 2 {
				t.Fatalf("stored %+v, caller's copy %+v", got.Participants, stale.Participants)
			}
		})
	}
}

// stores are the backends the concurrency tests run on.
var stores = []struct {
	name string
	make func(t *testing.T, c *clock) store.Store
}{
	{"memory", func(t *testing.T, c *clock) store.Store { return store.NewMemory(c.now, 0) }},
	{"redis", func(t *testing.T, c *clock) store.Store {
		mr := miniredis.RunT(t)
		mr.SetTime(c.t)
		r := store.NewRedis(redis.NewClient(&redis.Options{Addr: mr.Addr()}), "")
		t.Cleanup(func() { _ = r.Close() })
		return r
	}},
}

// TestSessionsJoinConcurrent: SPs joining one session at once are all
// recorded, up to MaxParticipants; past it the others are refused, and
// none is recorded without being told so.
func TestSessionsJoinConcurrent(t *testing.T) {
	for _, st := range stores {
		for _, n := range []int{60, MaxParticipants + 10} {
			t.Run(fmt.Sprint(st.name, "/", n), func(t *testing.T) {
				ctx := context.Background()
				f := newFixture(time.Hour)
				f.s.Store = st.make(t, f.clock)
				sess, _ := f.s.New(citizen())
				if _, err := f.s.Save(ctx, sess); err != nil {
					t.Fatal(err)
				}
				var (
					wg             sync.WaitGroup
					mu             sync.Mutex
					joined, full   []string
					unexpectedErrs []error
				)
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						mine := *sess // each loaded the session before any joined
						<-start
						p := bridge.Participant{SP: fmt.Sprint("sp", i), Dialect: "saml2", SessionIndex: fmt.Sprint("_i", i)}
						_, err := f.s.Join(ctx, &mine, p)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							joined = append(joined, p.SP)
						case errors.Is(err, ErrFull):
							full = append(full, p.SP)
						default:
							unexpectedErrs = append(unexpectedErrs, err)
						}
					})
				}
				close(start)
				wg.Wait()
				if len(unexpectedErrs) > 0 {
					t.Fatalf("errors: %v", unexpectedErrs)
				}
				got, _ := f.s.Load(ctx, sess.ID)
				var recorded []string
				for _, p := range got.Participants {
					recorded = append(recorded, p.SP)
				}
				slices.Sort(recorded)
				slices.Sort(joined)
				wantJoined := min(n, MaxParticipants)
				if !slices.Equal(recorded, joined) || len(joined) != wantJoined || len(full) != n-wantJoined {
					t.Fatalf("%d joined at once: %d recorded, %d told they joined, %d refused as full; want %d recorded, the same told",
						n, len(recorded), len(joined), len(full), wantJoined)
				}
			})
		}
	}
}

// TestSessionsReplace: a new session takes over the participants of the
// one it replaces, which is deleted; a full one is left as it is.
func TestSessionsReplace(t *testing.T) {
	ctx := context.Background()
	p := func(sp, idx string) bridge.Participant {
		return bridge.Participant{SP: sp, Dialect: "saml2", SessionIndex: idx}
	}
	var fullOld []bridge.Participant
	for i := range MaxParticipants {
		fullOld = append(fullOld, p(fmt.Sprint("sp", i), "x"))
	}
	tests := []struct {
		name     string
		old      []bridge.Participant // nil: no old session
		oldID    string               // "": the old session's; "-": none asked
		unread   bool                 // the old session does not open
		own      bridge.Participant
		replaced bool
		err      error
		want     []string // the new session's participants (SP index); nil: fullOld's with own last
	}{
		{"hands on", []bridge.Participant{p("a", "1"), p("b", "2")}, "", false, p("c", "3"), true, nil, []string{"a 1", "b 2", "c 3"}},
		{"the SP again", []bridge.Participant{p("a", "1"), p("b", "2")}, "", false, p("a", "3"), true, nil, []string{"b 2", "a 3"}},
		{"no old session", nil, "", false, p("c", "3"), false, nil, []string{"c 3"}},
		{"no cookie", []bridge.Participant{p("a", "1")}, "-", false, p("c", "3"), false, nil, []string{"c 3"}},
		{"unknown id", []bridge.Participant{p("a", "1")}, "_unknown", false, p("c", "3"), false, nil, []string{"c 3"}},
		{"unreadable", []bridge.Participant{p("a", "1")}, "", true, p("c", "3"), false, nil, []string{"c 3"}},
		{"full, a new SP", fullOld, "", false, p("new", "y"), false, ErrFull, []string{"new y"}},
		{"full, an SP of it", fullOld, "", false, p("sp0", "y"), true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(time.Hour)
			oldID := ""
			if tt.old != nil {
				old, _ := f.s.New(citizen())
				old.Participants = tt.old
				if _, err := f.s.Save(ctx, old); err != nil {
					t.Fatal(err)
				}
				oldID = old.ID
			}
			if tt.unread {
				f.s.Seal = keys("k2", "k1")
				raw, _ := f.store.GetSession(ctx, oldID)
				_ = f.store.PutSession(ctx, oldID, append(raw[:len(raw)-4:len(raw)-4], "AAAA"...), time.Hour)
			}
			asked := oldID
			switch tt.oldID {
			case "":
			case "-":
				asked = ""
			default:
				asked = tt.oldID
			}
			sess, _ := f.s.New(citizen())
			if err := sess.Add(tt.own); err != nil {
				t.Fatal(err)
			}
			replaced, err := f.s.Replace(ctx, asked, sess)
			if replaced != tt.replaced || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Replace = %v, %v; want %v, %v", replaced, err, tt.replaced, tt.err)
			}
			var got []string
			for _, q := range sess.Participants {
				got = append(got, q.SP+" "+q.SessionIndex)
			}
			want := tt.want
			if want == nil { // the full session's SPs, sp0 last with its new record
				for _, q := range fullOld[1:] {
					want = append(want, q.SP+" x")
				}
				want = append(want, "sp0 y")
			}
			if !slices.Equal(got, want) {
				t.Fatalf("new session's participants = %q, want %q", got, want)
			}
			if oldID == "" {
				return
			}
			_, err = f.store.GetSession(ctx, oldID)
			kept := err == nil
			if wantKept := asked != oldID || tt.err != nil; kept != wantKept {
				t.Fatalf("old session kept: %v, want %v", kept, wantKept)
			}
		})
	}
}

// TestSessionsTake: Take ends a session and returns it as it was.
func TestSessionsTake(t *testing.T) {
	ctx := context.Background()
	f := newFixture(time.Hour)
	sess, _ := f.s.New(citizen())
	_ = sess.Add(bridge.Participant{SP: "a", Dialect: "saml2"})
	if _, err := f.s.Save(ctx, sess); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.Take(ctx, sess.ID)
	if err != nil || got == nil || got.ID != sess.ID || len(got.Participants) != 1 {
		t.Fatalf("Take = %+v, %v", got, err)
	}
	for _, id := range []string{sess.ID, "_unknown", ""} {
		if got, err := f.s.Take(ctx, id); got != nil || err != nil {
			t.Fatalf("Take(%q) = %+v, %v; want none", id, got, err)
		}
	}
	if _, err := f.s.Join(ctx, sess, bridge.Participant{SP: "b", Dialect: "saml2"}); !errors.Is(err, ErrEnded) {
		t.Fatalf("Join after Take: %v, want ErrEnded", err)
	}
	var nilSessions *Sessions
	if got, err := nilSessions.Take(ctx, "_s"); got != nil || err != nil {
		t.Fatalf("Take on nil Sessions = %v, %v", got, err)
	}
	_ = f.store.Close()
	if _, err := f.s.Take(ctx, "_s"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Take in a closed store: %v", err)
	}
}

// TestSessionsStoreFailures: a sealing or store failure keeps nothing and
// says so; an unreadable or expired session is taken as none.
func TestSessionsStoreFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("sealing fails", func(t *testing.T) {
		f := newFixture(time.Hour)
		broken, err := seal.New(strings.NewReader(""), seal.Key{ID: "k1", Secret: secrets["k1"]})
		if err != nil {
			t.Fatal(err)
		}
		f.s.Seal = broken // no randomness for the nonce
		sess, _ := f.s.New(citizen())
		if ttl, err := f.s.Save(ctx, sess); ttl != 0 || err == nil || !strings.Contains(err.Error(), "seal session") {
			t.Fatalf("Save = %v, %v; want a sealing error", ttl, err)
		}
		if _, err := f.store.GetSession(ctx, sess.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("a session was stored although it could not be sealed")
		}
	})
	t.Run("replace in a failing store", func(t *testing.T) {
		f := newFixture(time.Hour)
		_ = f.store.Close()
		sess, _ := f.s.New(citizen())
		if ok, err := f.s.Replace(ctx, "_old", sess); ok || !errors.Is(err, store.ErrClosed) || !strings.Contains(err.Error(), "replace session") {
			t.Fatalf("Replace = %v, %v", ok, err)
		}
	})
	t.Run("take an unreadable or expired session", func(t *testing.T) {
		f := newFixture(time.Hour)
		unreadable, _ := f.s.New(citizen())
		expired, _ := f.s.New(citizen())
		expired.Expires = t0.Add(time.Minute)
		for _, s := range []*Session{unreadable, expired} {
			if _, err := f.s.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.store.PutSession(ctx, unreadable.ID, []byte("k1.garbage"), time.Hour); err != nil {
			t.Fatal(err)
		}
		f.clock.t = t0.Add(time.Minute) // expired.Expires, while the store still holds it
		for _, s := range []*Session{unreadable, expired} {
			if got, err := f.s.Take(ctx, s.ID); got != nil || err != nil {
				t.Fatalf("Take = %+v, %v; want none", got, err)
			}
			if _, err := f.store.GetSession(ctx, s.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatal("Take left the session in the store")
			}
		}
		if !f.unreadableLogged("does not open") {
			t.Fatal("the unreadable session was not logged")
		}
	})
}
