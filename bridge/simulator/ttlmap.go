package simulator

import (
	"errors"
	"sync"
	"time"
)

// Errors of ttlMap.put.
var (
	errFull   = errors.New("too many entries in flight")
	errExists = errors.New("entry exists")
)

// ttlMap is a bounded in-memory map whose entries expire. Expired entries are
// invisible and are swept when the map is full.
type ttlMap[V any] struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	items map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	value   V
	expires time.Time
}

func newTTLMap[V any](ttl time.Duration, max int) *ttlMap[V] {
	return &ttlMap[V]{ttl: ttl, max: max, items: map[string]ttlEntry[V]{}}
}

// put adds key, refusing a live duplicate (errExists) and a full map (errFull).
func (m *ttlMap[V]) put(key string, v V, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok && now.Before(e.expires) {
		return errExists
	}
	if len(m.items) >= m.max {
		m.sweep(now)
		if len(m.items) >= m.max {
			return errFull
		}
	}
	m.items[key] = ttlEntry[V]{value: v, expires: now.Add(m.ttl)}
	return nil
}

// get returns the live value of key.
func (m *ttlMap[V]) get(key string, now time.Time) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live(key, now)
}

// update replaces the live value of key, keeping its expiry.
func (m *ttlMap[V]) update(key string, v V, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[key]
	if !ok || !now.Before(e.expires) {
		return false
	}
	m.items[key] = ttlEntry[V]{value: v, expires: e.expires}
	return true
}

// take removes key and returns its live value: one use only.
func (m *ttlMap[V]) take(key string, now time.Time) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.live(key, now)
	delete(m.items, key)
	return v, ok
}

func (m *ttlMap[V]) live(key string, now time.Time) (V, bool) {
	e, ok := m.items[key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (m *ttlMap[V]) sweep(now time.Time) {
	for k, e := range m.items {
		if !now.Before(e.expires) {
			delete(m.items, k)
		}
	}
}
