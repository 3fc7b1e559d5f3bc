package server

// When the store fails (Redis down, a failover under way, a write no
// replica acknowledged), the login core sees the error wrapped in a
// Refusal of reason "unavailable": the citizen gets the 503 page with its
// trace id ("try again in a few minutes") instead of a page blaming the
// service's request or a 500. What the store answers by design (absent,
// a bad ttl) and what an UpdateSession callback itself returned pass
// through unchanged.

import (
	"context"
	"errors"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/store"
)

// faultStore is the store as the core uses it (flow, sessions, replay
// checks); Server.Store stays the store itself (its Ping, Close, metrics).
// It embeds the store, so a method the interface gains passes through
// until it is wrapped here.
type faultStore struct{ store.Store }

// withFaults wraps st (once).
func withFaults(st store.Store) store.Store {
	if _, ok := st.(faultStore); ok {
		return st
	}
	return faultStore{st}
}

// unavailable marks a failure of the store itself.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidTTL) {
		return err
	}
	return bridge.Refuse(bridge.ReasonUnavailable, "", "store unavailable", err)
}

func (f faultStore) PutPending(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	return unavailable(f.Store.PutPending(ctx, id, value, ttl))
}

func (f faultStore) TakePending(ctx context.Context, id string) ([]byte, error) {
	v, err := f.Store.TakePending(ctx, id)
	return v, unavailable(err)
}

func (f faultStore) MarkSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	first, err := f.Store.MarkSeen(ctx, key, ttl)
	return first, unavailable(err)
}

func (f faultStore) PutSession(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	return unavailable(f.Store.PutSession(ctx, id, value, ttl))
}

func (f faultStore) GetSession(ctx context.Context, id string) ([]byte, error) {
	v, err := f.Store.GetSession(ctx, id)
	return v, unavailable(err)
}

func (f faultStore) DeleteSession(ctx context.Context, id string) error {
	return unavailable(f.Store.DeleteSession(ctx, id))
}

// UpdateSession passes the callback's own error through as it is.
func (f faultStore) UpdateSession(ctx context.Context, id string, update func(old []byte) ([]byte, error), ttl time.Duration) error {
	var mine error
	err := f.Store.UpdateSession(ctx, id, func(old []byte) ([]byte, error) {
		v, err := update(old)
		mine = err
		return v, err
	}, ttl)
	if err == nil || (mine != nil && errors.Is(err, mine)) {
		return err
	}
	return unavailable(err)
}
