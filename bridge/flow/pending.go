package flow

// Pending logins live in the browser, not on the server: a login nobody
// has authenticated yet (an SP's request may be unsigned) must not consume
// state shared with other citizens. Each pending login is sealed (AES-GCM
// under the bridge's state keys, bound to its handle) into a cookie of its
// own, so that several logins in several tabs do not overwrite each other.
// The gateway's answer names the login by InResponseTo, which gives the
// handle; the login is taken once: the first verified answer records the
// login's ID in the replay cache (state created only for an answer the
// gateway signed), and a second is refused.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

// MaxPendingBytes bounds what one pending login holds, whatever the
// request: larger requests are refused with the dialect's error status.
const MaxPendingBytes = 2048

// MaxLogins is how many pending logins one browser keeps at once; starting
// another drops the oldest.
const MaxLogins = 3

// handleLen is the length of a handle: 16 hex digits of the upstream
// request's ID.
const handleLen = 16

var errPendingTooLarge = errors.New("the pending login is larger than the bridge keeps")

// Pending is a login waiting for the gateway's answer, sealed into the
// browser under its handle and taken exactly once.
type Pending struct {
	ID         string         `json:"id"`
	RelayState string         `json:"relay_state"` // what we sent upstream as RelayState
	Request    bridge.Request `json:"request"`
	Created    time.Time      `json:"created"`
	// Trace is the login's trace id, adopted by every later hop.
	Trace string `json:"trace,omitempty"`
	// Policy is the SP's release policy when the login started (nil in a
	// login sealed before it was kept): the answer releases what the SP
	// was allowed then, whatever a reload has changed since.
	Policy *ReleasePolicy `json:"policy,omitempty"`
}

// ReleasePolicy is what of an SP's bridge.Policy the answer to a login
// needs and its Request does not already carry (the floor LoA and the
// hidden IdPs are applied into the Request when the login starts). A
// login in flight finishes under the policy it started with: a reload
// applies to logins started after it.
type ReleasePolicy struct {
	Attributes   []bridge.Attr `json:"attributes,omitempty"`
	LegalPersons bool          `json:"legal_persons,omitempty"`
}

// releasePolicyOf is the part of p a pending login keeps.
func releasePolicyOf(p bridge.Policy) *ReleasePolicy {
	return &ReleasePolicy{Attributes: slices.Clone(p.Attributes), LegalPersons: p.LegalPersons}
}

// underStartPolicy is sp (as the registry has it now) with the release
// policy the login started under.
func (p *Pending) underStartPolicy(sp *bridge.ServiceProvider) *bridge.ServiceProvider {
	if p.Policy == nil {
		return sp
	}
	at := *sp
	at.Policy.Attributes, at.Policy.LegalPersons = slices.Clone(p.Policy.Attributes), p.Policy.LegalPersons
	return &at
}

// handleOf is the handle of the pending login with this upstream request
// ID ("_" and 40 hex digits, as samlxml.NewID draws them); "" for anything
// else.
func handleOf(id string) string {
	if len(id) != 41 || id[0] != '_' {
		return ""
	}
	for _, c := range id[1 : 1+handleLen] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	return id[1 : 1+handleLen]
}

func pendingPurpose(handle string) string { return "pending-login:" + handle }

// sealPending seals p for the browser.
func (f *Flow) sealPending(p *Pending) (handle, sealed string, err error) {
	if f.Seal == nil {
		return "", "", errors.New("no state key to seal the pending login with")
	}
	data, err := json.Marshal(p)
	if err != nil {
		return "", "", fmt.Errorf("encode pending login: %w", err)
	}
	if len(data) > MaxPendingBytes {
		return "", "", fmt.Errorf("%w (%d bytes, at most %d)", errPendingTooLarge, len(data), MaxPendingBytes)
	}
	handle = handleOf(p.ID)
	if handle == "" {
		return "", "", fmt.Errorf("upstream request id %q has no handle", p.ID)
	}
	sealed, err = f.Seal.Seal(pendingPurpose(handle), data)
	if err != nil {
		return "", "", fmt.Errorf("seal pending login: %w", err)
	}
	return handle, sealed, nil
}

// openPending opens the pending login the browser keeps under handle.
func (f *Flow) openPending(handle, sealed string) (*Pending, error) {
	if f.Seal == nil {
		return nil, errors.New("no state key to open pending logins with")
	}
	data, err := f.Seal.Open(pendingPurpose(handle), sealed)
	if err != nil {
		return nil, fmt.Errorf("pending login %s: %w", handle, err)
	}
	var p Pending
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode pending login: %w", err)
	}
	if handleOf(p.ID) != handle {
		return nil, fmt.Errorf("pending login %s names another login", handle)
	}
	return &p, nil
}

// pruneLogins makes room for one more pending login in the browser: it
// forgets cookies that do not open (foreign, expired keys, tampered) and,
// past MaxLogins-1, the oldest logins.
func (f *Flow) pruneLogins(br Browser) map[string]*Cookie {
	drop := map[string]*Cookie{}
	type kept struct {
		handle  string
		created time.Time
	}
	var live []kept
	for handle, sealed := range br.Logins {
		p, err := f.openPending(handle, sealed)
		if err != nil || !f.Now().Before(p.Created.Add(f.PendingTTL)) {
			drop[handle] = &Cookie{}
			continue
		}
		live = append(live, kept{handle, p.Created})
	}
	slices.SortFunc(live, func(a, b kept) int { return b.created.Compare(a.created) })
	for i := MaxLogins - 1; i < len(live); i++ {
		drop[live[i].handle] = &Cookie{}
	}
	return drop
}

// takeIn consumes a pending login that the browser keeps: it opens, is
// still within its lifetime, and is taken for the first time. In another
// browser nothing is found.
func (f *Flow) takeIn(br Browser) TakeFunc {
	return func(ctx context.Context, id string) (*Pending, error) {
		handle := handleOf(id)
		sealed, ok := br.Logins[handle]
		if handle == "" || !ok {
			return nil, bridge.Refuse(bridge.ReasonOtherBrowser, "", "no pending login in this browser",
				fmt.Errorf("pending login %q: not kept by this browser (the answer arrived in another browser than the login's, or after it ended)", id))
		}
		p, err := f.openPending(handle, sealed)
		if err != nil {
			return nil, err
		}
		switch {
		case p.ID != id:
			return nil, fmt.Errorf("pending login %s is not %q", handle, id)
		case !f.Now().Before(p.Created.Add(f.PendingTTL)):
			return nil, bridge.Refuse(bridge.ReasonLoginExpired, p.Request.SP, "pending login expired",
				fmt.Errorf("pending login %q expired at %s", id, p.Created.Add(f.PendingTTL).Format(time.RFC3339)))
		}
		first, err := f.Store.MarkSeen(ctx, "login:"+id, f.PendingTTL+time.Second)
		if err != nil {
			return nil, fmt.Errorf("pending login %q: replay cache: %w", id, err)
		}
		if !first {
			return nil, bridge.Refuse(bridge.ReasonLoginUsed, p.Request.SP, "pending login already answered",
				fmt.Errorf("pending login %q was already answered", id))
		}
		trace.Adopt(ctx, p.Trace)
		return p, nil
	}
}
