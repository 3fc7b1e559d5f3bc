package upstream

import (
	"context"
	"net/url"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/flow"
)

// FuzzFinish: any SAMLResponse form value is refused or accepted without a
// panic, and nothing unsigned by the gateway ever reaches take.
func FuzzFinish(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.form(f, fx.goodAnswer()).Get("SAMLResponse"))
	f.Add("PHg+PC94Pg==")
	f.Fuzz(func(t *testing.T, value string) {
		take := func(context.Context, string) (*flow.Pending, error) { return pending(), nil }
		p, _, err := fx.conn.Finish(context.Background(), url.Values{"SAMLResponse": {value}, "RelayState": {"Xy7pQ2aZ"}}, take)
		if p == nil && err == nil {
			t.Fatal("no pending and no error")
		}
	})
}
