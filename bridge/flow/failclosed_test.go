package flow_test

import (
	"context"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/translate"
)

// TestUnknownIdPFailsClosed: a gateway answer naming no identity provider,
// or one nobody knows, is refused for an SP or a request that restricts
// providers, and never satisfies such a request from the SSO session.
func TestUnknownIdPFailsClosed(t *testing.T) {
	tests := []struct {
		name     string
		idp      bridge.IdP
		restrict func(*bridge.ServiceProvider)
		want     bridge.StatusCode
	}{
		{"no IdP, no restriction", "", func(*bridge.ServiceProvider) {}, bridge.StatusSuccess},
		{"no IdP, the SP allows some", "", func(sp *bridge.ServiceProvider) { sp.Policy.AllowIdPs = []bridge.IdP{translate.IdPAfirma} }, bridge.StatusRequestDenied},
		{"unknown IdP, the SP denies one", "MYSTERY", func(sp *bridge.ServiceProvider) { sp.Policy.DenyIdPs = []bridge.IdP{translate.IdPPin24H} }, bridge.StatusRequestDenied},
		{"known IdP, the SP denies another", translate.IdPSegSoc, func(sp *bridge.ServiceProvider) { sp.Policy.DenyIdPs = []bridge.IdP{translate.IdPPin24H} }, bridge.StatusSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.restrict(f.sp("sp1"))
			f.up.result.IdP = tt.idp
			_, out := f.login(flow.Browser{}, "sp1")
			if got := field(out, "status"); got != string(tt.want) {
				t.Fatalf("status %s, want %s", got, tt.want)
			}
		})
	}

	// A session whose IdP is unknown does not serve a restricting request.
	f := newFixture(t)
	f.up.result.IdP = ""
	br, _ := f.login(flow.Browser{}, "sp1") // sp1 restricts nothing: the session starts
	f.sp("sp2").Policy.AllowIdPs = []bridge.IdP{translate.IdPAfirma}
	reply := f.start(context.Background(), br, "sp2")
	if reply.Out.URL != "gateway" || !f.logged("SSO session not reused", "reason", "the identity provider used is not known and the request restricts them") {
		t.Fatalf("the session served a restricting request: %+v", reply.Out)
	}
}
