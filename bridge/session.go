package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
)

// SessionCookie names the bridge's SSO session cookie. Its value is a
// random id; everything else stays in the store.
const SessionCookie = "clavebridge_session"

// Session is a citizen's single sign-on session at the bridge: the upstream
// authentication and the SPs that received an assertion from it.
type Session struct {
	ID           string        `json:"id"`
	Result       Result        `json:"result"` // every attribute upstream gave
	Created      time.Time     `json:"created"`
	Expires      time.Time     `json:"expires"`
	Participants []Participant `json:"participants,omitempty"`
}

// Participant is an SP that received an assertion from the session.
type Participant struct {
	SP              string `json:"sp"`
	Dialect         string `json:"dialect"`
	SessionIndex    string `json:"session_index,omitempty"`
	TransientNameID string `json:"transient_name_id,omitempty"`
	Subject         string `json:"subject,omitempty"` // the persistent NameID, if it got that
	// NameIDFormat is the format the SP asked for (Request.Extra
	// "nameid_format"): it got Subject for a persistent or unspecified
	// format, TransientNameID for a transient one (per its dialect).
	NameIDFormat string    `json:"nameid_format,omitempty"`
	At           time.Time `json:"at"`
}

// Sessions keeps SSO sessions in the store behind a cookie.
type Sessions struct {
	Store    store.Store
	Lifetime time.Duration // 0: no SSO at all
	Now      func() time.Time
	Rand     io.Reader
}

// Load returns the session the request's cookie names, or nil when there
// is none (no cookie, unknown, expired).
func (s *Sessions) Load(c echo.Context) (*Session, error) {
	if s == nil {
		return nil, nil // single sign-on is off
	}
	cookie, err := c.Cookie(SessionCookie)
	if err != nil || cookie.Value == "" || s.Lifetime <= 0 {
		return nil, nil
	}
	data, err := s.Store.GetSession(c.Request().Context(), cookie.Value)
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
	if sess.ID != cookie.Value || !s.Now().Before(sess.Expires) {
		return nil, nil
	}
	return &sess, nil
}

// New starts a session for a fresh upstream authentication.
func (s *Sessions) New(res Result) (*Session, error) {
	id, err := samlxml.NewID(s.Rand)
	if err != nil {
		return nil, fmt.Errorf("new session id: %w", err)
	}
	now := s.Now()
	return &Session{ID: id, Result: res, Created: now, Expires: now.Add(s.Lifetime)}, nil
}

// Save stores sess until it expires and sets the cookie: Secure, HttpOnly,
// SameSite=None (the gateway's cross-site POST back must carry it),
// host-only, path /.
func (s *Sessions) Save(ctx context.Context, c echo.Context, sess *Session) error {
	ttl := sess.Expires.Sub(s.Now())
	if ttl <= 0 || s.Lifetime <= 0 {
		return nil
	}
	data, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	if err := s.Store.PutSession(ctx, sess.ID, data, ttl); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: sess.ID, Path: "/", MaxAge: int(math.Ceil(ttl.Seconds())),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode,
	})
	return nil
}

// Reusable reports whether sess may answer req for sp without a new
// authentication, and why not.
func (sess *Session) Reusable(sp *ServiceProvider, req *Request, now time.Time, lifetime time.Duration) (bool, string) {
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
	if a, missing := MissingRequired(req, res); missing {
		return false, fmt.Sprintf("the session lacks the required attribute %s", a)
	}
	return true, ""
}

// Joined records that req's SP received an assertion from the session.
func (sess *Session) Joined(req *Request, res *Result, now time.Time) {
	sess.Participants = append(sess.Participants, Participant{
		SP: req.SP, Dialect: req.Dialect, SessionIndex: res.SessionIndex,
		TransientNameID: res.TransientNameID, Subject: res.Subject, At: now,
		NameIDFormat: req.Extra["nameid_format"],
	})
}
