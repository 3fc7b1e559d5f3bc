// Package bridgetest has test doubles for the bridge's interfaces, shared by
// the endpoints' and the flow's tests.
package bridgetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/seal"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// Upstream records the logins a Flow sends upstream; Finish hands back the
// last pending login (taken from the store) with Result.
type Upstream struct {
	URL    string // where Begin's form goes
	Begun  []*flow.Pending
	Result bridge.Result
}

// Begin records p and returns a form to URL.
func (u *Upstream) Begin(_ context.Context, p *flow.Pending) (bridge.Outgoing, error) {
	u.Begun = append(u.Begun, p)
	return bridge.Outgoing{URL: u.URL, Fields: []samlxml.Field{
		{Name: "SAMLRequest", Value: "upstream"}, {Name: "RelayState", Value: p.RelayState},
	}}, nil
}

// Finish takes the last pending login and answers it with Result.
func (u *Upstream) Finish(ctx context.Context, _ url.Values, take flow.TakeFunc) (*flow.Pending, bridge.Result, error) {
	if len(u.Begun) == 0 {
		return nil, bridge.Result{}, errors.New("nothing pending")
	}
	p, err := take(ctx, u.Begun[len(u.Begun)-1].ID)
	if err != nil {
		return nil, bridge.Result{}, err
	}
	return p, u.Result, nil
}

// Registry is an in-memory bridge.Registry keyed by "dialect id".
type Registry map[string]*bridge.ServiceProvider

// Lookup finds a registered SP.
func (r Registry) Lookup(dialect, id string) (*bridge.ServiceProvider, error) {
	if sp, ok := r[dialect+" "+id]; ok {
		return sp, nil
	}
	return nil, bridge.ErrUnknownSP
}

// Seal returns state keys for tests (a fixed test secret).
func Seal(t testing.TB) *seal.Keys {
	t.Helper()
	k, err := seal.New(rand.Reader, seal.Key{ID: "test", Secret: bytes.Repeat([]byte("test-secret-"), 3)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Logins are the pending-login cookies an answer set, by handle, as a
// browser would send them back.
func Logins(rec *httptest.ResponseRecorder) map[string]string {
	out := map[string]string{}
	for _, c := range rec.Result().Cookies() {
		if handle, ok := strings.CutPrefix(c.Name, web.LoginCookie); ok && c.MaxAge >= 0 && c.Value != "" {
			out[handle] = c.Value
		}
	}
	return out
}
