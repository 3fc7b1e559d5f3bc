package flow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/translate"
)

// meter records what the flow counts.
type meter struct {
	logins   []string // "sp dialect result"
	upstream []flow.UpstreamResult
	hops     map[flow.Hop][]time.Duration
}

func (m *meter) Login(sp, dialect string, r flow.LoginResult) {
	m.logins = append(m.logins, fmt.Sprintf("%s %s %s", sp, dialect, r))
}
func (m *meter) Upstream(r flow.UpstreamResult) { m.upstream = append(m.upstream, r) }
func (m *meter) Hop(h flow.Hop, d time.Duration) {
	if m.hops == nil {
		m.hops = map[flow.Hop][]time.Duration{}
	}
	m.hops[h] = append(m.hops[h], d)
}

// TestMeterLogins: every way a login of an identified SP ends is counted
// once, with its result, and every answer of the gateway with its own.
func TestMeterLogins(t *testing.T) {
	tests := []struct {
		name     string
		policy   func(*bridge.Policy)
		req      func(*bridge.Request)
		readErr  error
		prep     func(*fixture) // before Start
		setup    func(*fixture) // before Complete
		login    flow.LoginResult
		upstream []flow.UpstreamResult
	}{
		{name: "success", login: flow.LoginSuccess, upstream: []flow.UpstreamResult{flow.UpstreamSuccess}},
		{name: "policy refuses legal persons", req: func(r *bridge.Request) { r.LegalPerson = true }, login: flow.LoginDeniedPolicy},
		{name: "policy cannot release a required attribute", policy: func(p *bridge.Policy) { p.Attributes = []bridge.Attr{translate.AttrGivenName} },
			req: func(r *bridge.Request) {
				r.Attributes = []bridge.RequestedAttr{{Name: translate.AttrDateOfBirth, Required: true}}
			}, login: flow.LoginDeniedPolicy},
		{name: "the dialect refused the request", readErr: bridge.Deny(bridge.StatusRequestDenied, "stale"), login: flow.LoginInvalidRequest},
		{name: "the dialect could not read the request", readErr: errors.New("replayed"), login: flow.LoginInvalidRequest},
		{name: "request too large to keep", req: func(r *bridge.Request) { r.State = []byte(`"` + strings.Repeat("x", flow.MaxPendingBytes) + `"`) }, login: flow.LoginInvalidRequest},
		{name: "LoA below the request", req: func(r *bridge.Request) { r.MinLoA = translate.LoAHigh }, login: flow.LoginLoA,
			upstream: []flow.UpstreamResult{flow.UpstreamSuccess}},
		{name: "disabled IdP", req: func(r *bridge.Request) { r.DisabledIdPs = []bridge.IdP{translate.IdPPin24H} }, login: flow.LoginIdP,
			upstream: []flow.UpstreamResult{flow.UpstreamSuccess}},
		{name: "unknown IdP where IdPs are restricted", req: func(r *bridge.Request) { r.DisabledIdPs = []bridge.IdP{translate.IdPAfirma} },
			setup: func(f *fixture) { f.up.result.IdP = "" }, login: flow.LoginIdP, upstream: []flow.UpstreamResult{flow.UpstreamSuccess}},
		{name: "legal person", setup: func(f *fixture) { f.up.result.LegalPerson = true }, login: flow.LoginLegalPerson,
			upstream: []flow.UpstreamResult{flow.UpstreamSuccess}},
		{name: "required attribute missing", req: func(r *bridge.Request) {
			r.Attributes = []bridge.RequestedAttr{{Name: translate.AttrDateOfBirth, Required: true}}
		}, login: flow.LoginAttribute, upstream: []flow.UpstreamResult{flow.UpstreamSuccess}},
		{name: "cancelled at the gateway", setup: func(f *fixture) { f.up.result = bridge.Failure(bridge.StatusAuthnFailed, "cancelled") },
			login: flow.LoginCancelled, upstream: []flow.UpstreamResult{flow.UpstreamCancelled}},
		{name: "the gateway failed", setup: func(f *fixture) { f.up.result = bridge.Failure(bridge.StatusResponder, "down") },
			login: flow.LoginUpstreamError, upstream: []flow.UpstreamResult{flow.UpstreamFailure}},
		{name: "the gateway's answer refused", setup: func(f *fixture) { f.up.finishErr = errors.New("bad signature") },
			login: flow.LoginUpstreamError, upstream: []flow.UpstreamResult{flow.UpstreamRefused}},
		{name: "the upstream request could not be built", prep: func(f *fixture) { f.up.beginErr = errDown }, login: flow.LoginInternalError,
			upstream: []flow.UpstreamResult{flow.UpstreamError}},
		{name: "the answer could not be rendered", setup: func(f *fixture) { f.d.renderErr = errDown }, login: flow.LoginInternalError,
			upstream: []flow.UpstreamResult{flow.UpstreamSuccess}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			m := &meter{}
			f.flow.Meter = m
			if tt.policy != nil {
				tt.policy(&f.sp("sp1").Policy)
			}
			if tt.prep != nil {
				tt.prep(f)
			}
			req := request("sp1")
			if tt.req != nil {
				tt.req(req)
			}
			ctx := context.Background()
			reply, _ := f.flow.Start(ctx, flow.Browser{}, f.sp("sp1"), req, tt.readErr)
			if reply.Out.URL == "gateway" {
				if tt.setup != nil {
					tt.setup(f)
				}
				_, _ = f.flow.Complete(ctx, apply(flow.Browser{}, reply), nil)
			}
			if want := []string{"sp1 fake " + string(tt.login)}; !slices.Equal(m.logins, want) {
				t.Errorf("logins %q, want %q", m.logins, want)
			}
			if !slices.Equal(m.upstream, tt.upstream) {
				t.Errorf("upstream %q, want %q", m.upstream, tt.upstream)
			}
			if got := len(m.hops[flow.HopSPRequest]); got != 1 {
				t.Errorf("%d sp_request hops, want 1", got)
			}
		})
	}
}

// TestMeterHops: a login through the gateway records each hop once, with
// the time the flow's clock says it took; a login answered from the
// session records only the SP's request.
func TestMeterHops(t *testing.T) {
	f := newFixture(t)
	m := &meter{}
	f.flow.Meter = m
	ctx := context.Background()
	reply := f.start(ctx, flow.Browser{}, "sp1")
	f.clock.advance(90 * time.Second) // the citizen at the gateway
	br := apply(flow.Browser{}, reply)
	reply, err := f.flow.Complete(ctx, br, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[flow.Hop][]time.Duration{
		flow.HopSPRequest: {0}, flow.HopGateway: {90 * time.Second}, flow.HopGatewayAnswer: {0}, flow.HopLogin: {90 * time.Second},
	}
	if fmt.Sprint(m.hops) != fmt.Sprint(want) {
		t.Errorf("hops %v, want %v", m.hops, want)
	}
	br = apply(br, reply)
	f.start(ctx, br, "sp2") // single sign-on
	if got := len(m.hops[flow.HopSPRequest]); got != 2 || len(m.hops[flow.HopGateway]) != 1 {
		t.Errorf("hops after SSO %v", m.hops)
	}
	if want := []string{"sp1 fake success", "sp2 fake sso"}; !slices.Equal(m.logins, want) {
		t.Errorf("logins %q, want %q", m.logins, want)
	}
}

// TestMeterUnknownAnswer: an answer that names no pending login of this
// browser counts as refused upstream and as no SP's login.
func TestMeterUnknownAnswer(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(*fixture)
	}{
		{"no pending login", func(f *fixture) { f.up.noPending = true }},
		{"another browser's login", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			m := &meter{}
			f.flow.Meter = m
			f.start(context.Background(), flow.Browser{}, "sp1")
			if tt.setup != nil {
				tt.setup(f)
			}
			if _, err := f.flow.Complete(context.Background(), flow.Browser{}, nil); err == nil {
				t.Fatal("an answer to no login of this browser was accepted")
			}
			if len(m.logins) != 0 || !slices.Equal(m.upstream, []flow.UpstreamResult{flow.UpstreamRefused}) {
				t.Errorf("logins %q, upstream %q", m.logins, m.upstream)
			}
		})
	}
}
