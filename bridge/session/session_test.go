package session

import (
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/translate"
)

func TestSessionReusable(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	sess := &Session{Created: t0, Expires: t0.Add(time.Hour), Result: bridge.Result{
		Status: bridge.Status{Code: bridge.StatusSuccess}, LoA: translate.LoASubstantial, IdP: translate.IdPSegSoc,
		Attributes: []bridge.Attribute{{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/1"}}},
	}}
	legal := *sess
	legal.Result.LegalPerson = true
	half, zero := 30*time.Minute, time.Duration(0)
	tests := []struct {
		name   string
		sess   *Session
		sp     bridge.ServiceProvider
		req    bridge.Request
		now    time.Time
		reason string // "" = reusable
	}{
		{"same LoA", sess, bridge.ServiceProvider{}, bridge.Request{MinLoA: translate.LoASubstantial}, t0.Add(time.Minute), ""},
		{"lower LoA", sess, bridge.ServiceProvider{}, bridge.Request{MinLoA: translate.LoALow}, t0, ""},
		{"higher LoA", sess, bridge.ServiceProvider{}, bridge.Request{MinLoA: translate.LoAHigh}, t0, "higher level"},
		{"ForceAuthn", sess, bridge.ServiceProvider{}, bridge.Request{ForceAuthn: true}, t0, "forces"},
		{"bridge.IdP used excluded", sess, bridge.ServiceProvider{}, bridge.Request{DisabledIdPs: []bridge.IdP{translate.IdPSegSoc}}, t0, "excludes"},
		{"another bridge.IdP excluded", sess, bridge.ServiceProvider{}, bridge.Request{DisabledIdPs: []bridge.IdP{translate.IdPAfirma}}, t0, ""},
		{"SP forbids SSO", sess, bridge.ServiceProvider{SSOLifetime: &zero}, bridge.Request{}, t0, "forbids"},
		{"older than the SP allows", sess, bridge.ServiceProvider{SSOLifetime: &half}, bridge.Request{}, t0.Add(31 * time.Minute), "older"},
		{"young enough for the SP", sess, bridge.ServiceProvider{SSOLifetime: &half}, bridge.Request{}, t0.Add(29 * time.Minute), ""},
		{"required attribute missing", sess, bridge.ServiceProvider{}, bridge.Request{Attributes: []bridge.RequestedAttr{{Name: translate.AttrDateOfBirth, Required: true}}}, t0, "lacks"},
		{"optional attribute missing", sess, bridge.ServiceProvider{}, bridge.Request{Attributes: []bridge.RequestedAttr{{Name: translate.AttrDateOfBirth}}}, t0, ""},
		{"legal person session, natural request", &legal, bridge.ServiceProvider{}, bridge.Request{}, t0, "legal person"},
		{"legal person session, legal request", &legal, bridge.ServiceProvider{}, bridge.Request{LegalPerson: true}, t0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := tt.sess.Reusable(&tt.sp, &tt.req, tt.now, time.Hour)
			if ok != (tt.reason == "") || !strings.Contains(why, tt.reason) {
				t.Fatalf("Reusable = %v, %q; want reason %q", ok, why, tt.reason)
			}
		})
	}
}
