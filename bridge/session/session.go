// Package session keeps citizens' single sign-on sessions in the store:
// the upstream authentication and the SPs that received an assertion from
// it, and the rules for reusing one. It knows no cookies: callers bring the
// session id the browser presented.
//
// A session is stored sealed (authenticated encryption under the bridge's
// state keys, bound to the session's id) and holds only what reusing it
// and single logout need; see record. Its participants are a set, one
// record per SP, bounded by MaxParticipants, and every change to a stored
// session is an atomic read-modify-write, so concurrent reuses of one
// session all count.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/seal"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

// MaxParticipants bounds the SPs one session records (each SP once,
// however often it is answered). A session that has reached it answers no
// further SP: that SP's login authenticates anew and goes on without single
// sign-on, and the session keeps the SPs it has, so single logout still
// tells every one of them.
const MaxParticipants = 64

var (
	// ErrEnded: the session is gone (ended, expired, or unreadable), so
	// there is nothing to join or take over.
	ErrEnded = errors.New("session: the session has ended")
	// ErrFull: the session already records MaxParticipants SPs and the SP
	// is not one of them.
	ErrFull = fmt.Errorf("session: the session already records %d services, the most one may", MaxParticipants)
	// ErrNoSeal: Sessions has no sealing keys, so it keeps no session
	// (never one in clear).
	ErrNoSeal = errors.New("session: no state keys to seal sessions with: no session is kept")
)

// Session is a citizen's single sign-on session at the bridge: the upstream
// authentication and the SPs that received an assertion from it. It is
// never stored as it is: see record.
type Session struct {
	ID           string
	Result       bridge.Result // what another SP may be answered with
	Created      time.Time
	Expires      time.Time
	Participants []bridge.Participant // one per SP (dialect and id), the latest answered last
}

// record is what the store keeps of a session, sealed: what reusing it
// needs (the result's level, IdP, legal-person flag, authentication
// instant, subject and attributes, which another SP may ask for; the
// session's age) and what single logout needs (the participants). Not
// kept: the id (it is the key, and the seal binds the record to it), the
// status (a session only ever holds a success) and the session index and
// NameIDs the first SP got (its participant record has them).
type record struct {
	LoA          bridge.LoA           `json:"loa,omitempty"`
	IdP          bridge.IdP           `json:"idp,omitempty"`
	Subject      string               `json:"subject,omitempty"`
	LegalPerson  bool                 `json:"legal_person,omitempty"`
	AuthnInstant time.Time            `json:"authn_instant,omitzero"`
	Attributes   []bridge.Attribute   `json:"attributes,omitempty"`
	Created      time.Time            `json:"created"`
	Expires      time.Time            `json:"expires"`
	Participants []bridge.Participant `json:"participants,omitempty"`
}

func toRecord(sess *Session) record {
	r := sess.Result
	return record{
		LoA: r.LoA, IdP: r.IdP, Subject: r.Subject, LegalPerson: r.LegalPerson, AuthnInstant: r.AuthnInstant,
		Attributes: r.Attributes, Created: sess.Created, Expires: sess.Expires, Participants: sess.Participants,
	}
}

func fromRecord(id string, r record) *Session {
	return &Session{
		ID: id,
		Result: bridge.Result{
			Status: bridge.Status{Code: bridge.StatusSuccess}, LoA: r.LoA, IdP: r.IdP, Subject: r.Subject,
			LegalPerson: r.LegalPerson, AuthnInstant: r.AuthnInstant, Attributes: r.Attributes,
		},
		Created: r.Created, Expires: r.Expires, Participants: r.Participants,
	}
}

// Sessions keeps SSO sessions in the store, each under a random id that
// the browser presents.
type Sessions struct {
	Store    store.Store
	Lifetime time.Duration // 0: no SSO at all
	Now      func() time.Time
	Rand     io.Reader
	// Seal seals session records at rest, for the purpose "session:<id>";
	// nil keeps no session at all.
	Seal *seal.Keys
	// Log gets the sessions that cannot be read (nil: not logged).
	Log *zap.Logger
}

// purpose binds a sealed record to its session id: a record copied under
// another id does not open.
func purpose(id string) string { return "session:" + id }

// seal encodes and seals sess for the store.
func (s *Sessions) seal(sess *Session) ([]byte, error) {
	if s.Seal == nil {
		return nil, ErrNoSeal
	}
	data, err := json.Marshal(toRecord(sess))
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	sealed, err := s.Seal.Seal(purpose(sess.ID), data)
	if err != nil {
		return nil, fmt.Errorf("seal session: %w", err)
	}
	return []byte(sealed), nil
}

// open reads a stored record of the session id; its error says why it
// cannot.
func (s *Sessions) open(id string, data []byte) (*Session, error) {
	if s.Seal == nil {
		return nil, ErrNoSeal
	}
	plain, err := s.Seal.Open(purpose(id), string(data))
	if err != nil {
		return nil, errors.New("the record does not open: not sealed, tampered with, sealed for another session, or under a key no longer configured")
	}
	var r record
	if err := json.Unmarshal(plain, &r); err != nil {
		return nil, fmt.Errorf("the record does not decode: %w", err)
	}
	return fromRecord(id, r), nil
}

// unreadable logs a stored session that cannot be read, which counts as
// none. The id is a bearer secret and is not logged.
func (s *Sessions) unreadable(ctx context.Context, err error) {
	if s.Log != nil {
		trace.Logger(ctx, s.Log).Warn("SSO session unreadable", zap.String("reason", err.Error()),
			zap.String("outcome", "treated as no session"))
	}
}

// Load returns the session named id, or nil when there is none (no id,
// unknown, expired, unreadable, or single sign-on is off). Only a store
// failure is an error.
func (s *Sessions) Load(ctx context.Context, id string) (*Session, error) {
	if s == nil || id == "" || s.Lifetime <= 0 {
		return nil, nil
	}
	data, err := s.Store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	sess, err := s.open(id, data)
	if err != nil {
		s.unreadable(ctx, err)
		return nil, nil
	}
	if !s.Now().Before(sess.Expires) {
		return nil, nil
	}
	return sess, nil
}

// New starts a session for a fresh upstream authentication.
func (s *Sessions) New(res bridge.Result) (*Session, error) {
	id, err := samlxml.NewID(s.Rand)
	if err != nil {
		return nil, fmt.Errorf("new session id: %w", err)
	}
	now := s.Now()
	return &Session{ID: id, Result: res, Created: now, Expires: now.Add(s.Lifetime)}, nil
}

// Save stores sess, sealed, until it expires and returns how long that is;
// 0 when it is not kept (expired, or single sign-on is off). Without
// sealing keys it keeps nothing and fails with ErrNoSeal.
func (s *Sessions) Save(ctx context.Context, sess *Session) (time.Duration, error) {
	ttl := sess.Expires.Sub(s.Now())
	if ttl <= 0 || s.Lifetime <= 0 {
		return 0, nil
	}
	data, err := s.seal(sess)
	if err != nil {
		return 0, err
	}
	if err := s.Store.PutSession(ctx, sess.ID, data, ttl); err != nil {
		return 0, fmt.Errorf("store session: %w", err)
	}
	return ttl, nil
}

// Join records p in the stored session sess (loaded earlier) atomically:
// however many SPs join one session at once, each is recorded. sess
// becomes the session as stored, and Join returns how long it has left. It
// fails with ErrEnded when the session is gone meanwhile (never bringing
// it back), and ErrFull when p's SP would be one more than
// MaxParticipants; then nothing changes.
func (s *Sessions) Join(ctx context.Context, sess *Session, p bridge.Participant) (time.Duration, error) {
	ttl := sess.Expires.Sub(s.Now())
	if ttl <= 0 || s.Lifetime <= 0 {
		return 0, ErrEnded
	}
	var joined *Session
	err := s.Store.UpdateSession(ctx, sess.ID, func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, ErrEnded
		}
		cur, err := s.open(sess.ID, old)
		if err != nil {
			s.unreadable(ctx, err)
			return nil, ErrEnded
		}
		if err := cur.Add(p); err != nil {
			return nil, err
		}
		joined = cur
		return s.seal(cur)
	}, ttl)
	switch {
	case errors.Is(err, ErrEnded):
		return 0, ErrEnded
	case errors.Is(err, ErrFull):
		return 0, ErrFull
	case err != nil:
		return 0, fmt.Errorf("store session: %w", err)
	}
	*sess = *joined
	return ttl, nil
}

// Replace hands the participants of the session named old (the one the
// browser had) on to sess, which replaces it after a new authentication,
// and deletes old, atomically: an SP that joins old meanwhile is either
// handed on or refused (ErrEnded), never lost. It reports whether there
// was a session to replace. When sess would record more than
// MaxParticipants SPs it fails with ErrFull and changes nothing. sess is
// not saved: Save it next.
func (s *Sessions) Replace(ctx context.Context, old string, sess *Session) (bool, error) {
	if old == "" || s.Lifetime <= 0 {
		return false, nil
	}
	var (
		handed   []bridge.Participant
		replaced bool
	)
	err := s.Store.UpdateSession(ctx, old, func(data []byte) ([]byte, error) {
		handed, replaced = nil, false
		if data == nil {
			return nil, nil
		}
		prev, err := s.open(old, data)
		if err != nil {
			s.unreadable(ctx, err)
			return nil, nil // unreadable: deleted, nothing handed on
		}
		for _, p := range sess.Participants { // the new session's own come last
			if err := prev.Add(p); err != nil {
				return nil, err
			}
		}
		handed, replaced = prev.Participants, true
		return nil, nil // delete the session replaced
	}, s.Lifetime)
	switch {
	case errors.Is(err, ErrFull):
		return false, ErrFull
	case err != nil:
		return false, fmt.Errorf("replace session: %w", err)
	case !replaced:
		return false, nil
	}
	sess.Participants = handed
	return true, nil
}

// Take ends the session named id and returns it as it was at that moment
// (nil when there was none): an SP joining it at the same time is either in
// what Take returns or refused (ErrEnded), so single logout misses no one.
func (s *Sessions) Take(ctx context.Context, id string) (*Session, error) {
	if s == nil || id == "" || s.Lifetime <= 0 {
		return nil, nil
	}
	var taken *Session
	err := s.Store.UpdateSession(ctx, id, func(data []byte) ([]byte, error) {
		taken = nil
		if data == nil {
			return nil, nil
		}
		sess, err := s.open(id, data)
		if err != nil {
			s.unreadable(ctx, err)
			return nil, nil
		}
		if s.Now().Before(sess.Expires) {
			taken = sess
		}
		return nil, nil
	}, s.Lifetime)
	if err != nil {
		return nil, fmt.Errorf("take session: %w", err)
	}
	return taken, nil
}

// Delete ends the session named id.
func (s *Sessions) Delete(ctx context.Context, id string) error {
	if err := s.Store.DeleteSession(ctx, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Reusable reports whether sess may answer req for sp without a new
// authentication, and why not.
func (sess *Session) Reusable(sp *bridge.ServiceProvider, req *bridge.Request, now time.Time, lifetime time.Duration) (bool, string) {
	spLifetime := lifetime
	if sp.SSOLifetime != nil {
		spLifetime = *sp.SSOLifetime
	}
	res := &sess.Result
	switch {
	case spLifetime <= 0:
		return false, "the SP's policy forbids single sign-on"
	case !now.Before(sess.Created.Add(spLifetime)):
		return false, "the session is older than the SP allows"
	case req.ForceAuthn:
		return false, "the request forces authentication"
	case res.LoA < req.MinLoA:
		return false, "the request asks for a higher level of assurance"
	case req.IdPDisabled(res.IdP):
		return false, "the request excludes the identity provider used, or forces another"
	case !res.IdP.Known() && len(req.DisabledIdPs) > 0:
		return false, "the identity provider used is not known and the request restricts them"
	case res.LegalPerson && !req.LegalPerson:
		return false, "the session is a legal person's and the request admits none"
	}
	if a, missing := bridge.MissingRequired(req, res); missing {
		return false, fmt.Sprintf("the session lacks the required attribute %s", a)
	}
	return true, ""
}

// Participant is the record of req's SP having received res (its session
// index, transient NameID and persistent NameID in Subject) at now.
func Participant(req *bridge.Request, res *bridge.Result, now time.Time) bridge.Participant {
	return bridge.Participant{
		SP: req.SP, Dialect: req.Dialect, SessionIndex: res.SessionIndex,
		TransientNameID: res.TransientNameID, Subject: res.Subject, At: now,
		State: req.State,
	}
}

// Add records p: one record per SP (dialect and SP id), the latest
// replacing the one before and moving last. A new SP when the session
// already records MaxParticipants is refused with ErrFull.
func (sess *Session) Add(p bridge.Participant) error {
	i := slices.IndexFunc(sess.Participants, func(q bridge.Participant) bool { return q.SP == p.SP && q.Dialect == p.Dialect })
	if i >= 0 {
		sess.Participants = slices.Delete(sess.Participants, i, i+1)
	} else if len(sess.Participants) >= MaxParticipants {
		return ErrFull
	}
	sess.Participants = append(sess.Participants, p)
	return nil
}

// Joined records that req's SP received res from the session at now
// (Add of its Participant).
func (sess *Session) Joined(req *bridge.Request, res *bridge.Result, now time.Time) error {
	return sess.Add(Participant(req, res, now))
}
