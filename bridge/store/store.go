// Package store keeps the bridge's short-lived state — pending logins, the
// replay cache and SSO sessions — behind one small interface with
// interchangeable backends.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors shared by all implementations; test with errors.Is.
var (
	// ErrNotFound: the key is absent or expired.
	ErrNotFound = errors.New("store: not found")
	// ErrFull: a bounded store has no room left, even after dropping
	// expired entries.
	ErrFull = errors.New("store: full")
	// ErrInvalidTTL: a ttl was zero or negative.
	ErrInvalidTTL = errors.New("store: ttl must be positive")
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("store: closed")
	// ErrConflict: UpdateSession gave up because the session kept changing
	// under it (a shared store under heavy contention for one session).
	ErrConflict = errors.New("store: the value kept changing under the update")
)

// Store keeps the bridge's short-lived state. Values are opaque bytes
// (callers JSON-encode).
//
// Pending logins, replay keys and sessions live in three separate key
// spaces: the same id in two spaces never collides. An entry written with
// ttl stays visible until ttl has elapsed and is gone from then on. A ttl <= 0
// is rejected with an error wrapping ErrInvalidTTL. Every method taking a
// context fails with an error wrapping ctx.Err() when ctx is already done.
type Store interface {
	// PutPending saves a pending login under id for ttl (overwrites).
	PutPending(ctx context.Context, id string, value []byte, ttl time.Duration) error
	// TakePending returns and deletes the pending login atomically: a second
	// call gets ErrNotFound.
	TakePending(ctx context.Context, id string) ([]byte, error)
	// MarkSeen records key in the replay cache for ttl; first is false when
	// key was already there (a replay).
	MarkSeen(ctx context.Context, key string, ttl time.Duration) (first bool, err error)
	// PutSession, GetSession, DeleteSession manage SSO sessions.
	PutSession(ctx context.Context, id string, value []byte, ttl time.Duration) error
	GetSession(ctx context.Context, id string) ([]byte, error)
	DeleteSession(ctx context.Context, id string) error
	// UpdateSession is an atomic read-modify-write of the session id:
	// update gets its current value (nil when there is none: absent or
	// expired; never nil for a value that exists) and returns the value to
	// store for ttl, or nil to delete the session (nothing when there is
	// none), or an error to leave it as it is (UpdateSession returns that
	// error, wrapped). The write happens only if the session still holds
	// what update saw: concurrent updates of one session are serialised and
	// none is lost. update may run more than once (once per attempt) and
	// must not use the store; old is the caller's to keep. A shared store
	// that keeps losing the race gives up with ErrConflict.
	UpdateSession(ctx context.Context, id string, update func(old []byte) ([]byte, error), ttl time.Duration) error
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// CheckTTL returns an error wrapping ErrInvalidTTL unless ttl > 0.
// Implementations call it before writing.
func CheckTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w (got %v)", ErrInvalidTTL, ttl)
	}
	return nil
}
