package hsm

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// token is one open token context: a login to one token of one module.
type token interface {
	// key finds the private key u names.
	key(u *URI) (crypto.Signer, error)
	close() error
}

// Tokens are the token contexts of one process: one per token (module,
// token, PIN), opened when a configuration first names a key in it and
// closed when the configuration in use no longer does, or at Close. There
// is no global state: the process owns its Tokens.
type Tokens struct {
	mu     sync.Mutex
	open   map[string]token
	kept   map[string]bool // the contexts the configuration in use needs
	closed bool
}

// NewTokens returns a set with no token open.
func NewTokens() *Tokens { return &Tokens{open: map[string]token{}, kept: map[string]bool{}} }

// Use is what one assembly of the bridge (one load of the configuration)
// takes from the tokens; Keep or Discard ends it.
type Use struct {
	t    *Tokens
	used map[string]bool
}

// Begin starts a load of the configuration.
func (t *Tokens) Begin() *Use { return &Use{t: t, used: map[string]bool{}} }

// Key reads the PIN where u says, opens u's token (or reuses the context
// already open for the same module, token and PIN) and finds the key.
// resolve resolves a relative PIN file name (nil: as given).
func (use *Use) Key(u *URI, resolve func(string) string) (crypto.Signer, error) {
	pin, err := u.ReadPIN(resolve)
	if err != nil {
		return nil, err
	}
	id := contextID(u, pin)
	t := use.t
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, errors.New("the token contexts are closed")
	}
	tok, ok := t.open[id]
	if !ok {
		if tok, err = openToken(u, pin); err != nil {
			t.mu.Unlock()
			return nil, fmt.Errorf("token %s: %w", tokenName(u), err)
		}
		t.open[id] = tok
	}
	use.used[id] = true
	t.mu.Unlock()
	key, err := tok.key(u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return key, nil
}

// Keep makes use's contexts the ones in use and closes every other: a
// reload that no longer names a token (or changed its PIN) lets go of it.
func (t *Tokens) Keep(use *Use) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for id, tok := range t.open {
		if !use.used[id] {
			errs = append(errs, tok.close())
			delete(t.open, id)
		}
	}
	t.kept = use.used
	return errors.Join(errs...)
}

// Discard ends a load that failed: the contexts it opened that the
// configuration in use does not need are closed.
func (t *Tokens) Discard(use *Use) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for id := range use.used {
		if tok, ok := t.open[id]; ok && !t.kept[id] {
			errs = append(errs, tok.close())
			delete(t.open, id)
		}
	}
	return errors.Join(errs...)
}

// Open is the number of token contexts open.
func (t *Tokens) Open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

// Close closes every context (at shutdown); the keys found through them
// stop working.
func (t *Tokens) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for id, tok := range t.open {
		errs = append(errs, tok.close())
		delete(t.open, id)
	}
	t.closed = true
	return errors.Join(errs...)
}

// contextID identifies a context: the module, the token and a digest of
// the PIN (a changed PIN is a new login).
func contextID(u *URI, pin []byte) string {
	sum := sha256.Sum256(pin)
	return u.ModulePath + "\x00" + u.Token + "\x00" + u.Serial + "\x00" + hex.EncodeToString(sum[:])
}

func tokenName(u *URI) string {
	if u.Token != "" {
		return fmt.Sprintf("%q", u.Token)
	}
	return "serial " + u.Serial
}
