package session

import (
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/translate"
)

// TestReusableFailsClosedOnUnknownIdP: a session whose identity provider
// nobody can name serves no request that restricts providers.
func TestReusableFailsClosedOnUnknownIdP(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		idp      bridge.IdP
		disabled []bridge.IdP
		reusable bool
	}{
		{"", nil, true},
		{"", []bridge.IdP{translate.IdPPin24H}, false},
		{"MYSTERY", []bridge.IdP{translate.IdPPin24H}, false},
		{translate.IdPAfirma, []bridge.IdP{translate.IdPPin24H}, true},
	} {
		sess := &Session{Created: t0, Expires: t0.Add(time.Hour), Result: bridge.Result{
			Status: bridge.Status{Code: bridge.StatusSuccess}, LoA: translate.LoAHigh, IdP: tt.idp}}
		ok, why := sess.Reusable(&bridge.ServiceProvider{}, &bridge.Request{DisabledIdPs: tt.disabled}, t0, time.Hour)
		if ok != tt.reusable {
			t.Errorf("IdP %q, disabled %v: reusable %v (%s), want %v", tt.idp, tt.disabled, ok, why, tt.reusable)
		}
	}
}
