// Package session keeps citizens' single sign-on sessions in the store:
// the upstream authentication and the SPs that received an assertion from
// it, and the rules for reusing one. It knows no cookies: callers bring the
// session id the browser presented.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/seal"
	"github.com/clavebridge/clavebridge/bridge/store"
)

// Session is a citizen's single sign-on session at the bridge: the upstream
// authentication and the SPs that received an assertion from it.
type Session struct {
	ID           string               `json:"id"`
	Result       bridge.Result        `json:"result"` // every attribute upstream gave
	Created      time.Time            `json:"created"`
	Expires      time.Time            `json:"expires"`
	Participants []bridge.Participant `json:"participants,omitempty"`
}

// Sessions keeps SSO sessions in the store, each under a random id that
// the browser presents.
type Sessions struct {
	Store    store.Store
	Lifetime time.Duration // 0: no SSO at all
	Now      func() time.Time
	Rand     io.Reader
	// Seal seals session records at rest.
	Seal *seal.Keys
}

// Load returns the session named id, or nil when there is none (no id,
// unknown, expired, or single sign-on is off).
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
	var sess Session
	if err := json.Unmarshal(data, &sess); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	if sess.ID != id || !s.Now().Before(sess.Expires) {
		return nil, nil
	}
	return &sess, nil
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

// Save stores sess until it expires and returns how long that is; 0 when
// it is not kept (expired, or single sign-on is off).
func (s *Sessions) Save(ctx context.Context, sess *Session) (time.Duration, error) {
	ttl := sess.Expires.Sub(s.Now())
	if ttl <= 0 || s.Lifetime <= 0 {
		return 0, nil
	}
	data, err := json.Marshal(sess)
	if err != nil {
		return 0, fmt.Errorf("encode session: %w", err)
	}
	if err := s.Store.PutSession(ctx, sess.ID, data, ttl); err != nil {
		return 0, fmt.Errorf("store session: %w", err)
	}
	return ttl, nil
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
	case res.LegalPerson && !req.LegalPerson:
		return false, "the session is a legal person's and the request admits none"
	}
	if a, missing := bridge.MissingRequired(req, res); missing {
		return false, fmt.Sprintf("the session lacks the required attribute %s", a)
	}
	return true, ""
}

// Joined records that req's SP received an assertion from the session.
func (sess *Session) Joined(req *bridge.Request, res *bridge.Result, now time.Time) {
	sess.Participants = append(sess.Participants, bridge.Participant{
		SP: req.SP, Dialect: req.Dialect, SessionIndex: res.SessionIndex,
		TransientNameID: res.TransientNameID, Subject: res.Subject, At: now,
		State: req.State,
	})
}
