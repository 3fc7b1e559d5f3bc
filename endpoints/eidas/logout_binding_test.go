package eidas

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
)

var sloSessionCookie = &http.Cookie{Name: web.SessionCookie, Value: sloSession}

// newBindingFixture is the SLO fixture with the confirmation page served.
func newBindingFixture(t *testing.T) *sloFixture {
	f := newSLOFixture(t)
	f.web.MountLogoutConfirmation(f.flow)
	return f
}

// postFrom sends form to the SSO URL with the session cookie and the
// Origin header a browser would send ("": none).
func (f *sloFixture) postFrom(form url.Values, origin string) *httptest.ResponseRecorder {
	return bridgetest.PostForm(f.web, SSOPath, form, origin, sloSessionCookie)
}

// TestClave2LogoutNotParticipant: a Cl@ve 2.0 LogoutRequest names only its
// kit. Brought by a browser whose session the kit is not part of (a request
// replayed in another browser), it ends nothing and asks the citizen;
// declined, the kit gets RequestDenied; confirmed, the session ends and its
// SPs are told.
func TestClave2LogoutNotParticipant(t *testing.T) {
	for _, answer := range []string{"stay", "logout"} {
		t.Run(answer, func(t *testing.T) {
			f := newBindingFixture(t)
			f.putSession(t, kit2Part)
			rec := f.postFrom(f.kitLogoutForm(t, kitLogoutRequest("_lo1")), "")
			if !bridgetest.IsConfirmation(rec) || !f.sessionKept(t) || cookieCleared(rec) {
				t.Fatalf("status %d, session kept %v: %.500s", rec.Code, f.sessionKept(t), rec.Body)
			}
			ans := bridgetest.AnswerConfirmation(t, f.web, rec, answer, sloSessionCookie)
			if answer == "stay" {
				lr := f.kitAnswer(t, ans)
				if lr.InResponseTo != "_lo1" || lr.Status.Code != clave2msg.StatusRequester || lr.Status.SubCode != clave2msg.StatusRequestDenied {
					t.Fatalf("LogoutResponse %+v", lr)
				}
				if !f.sessionKept(t) || cookieCleared(ans) {
					t.Fatal("a declined logout ended the session")
				}
				return
			}
			f.posted(t, ans, kit2Logout, fieldLogoutRequest) // kit2, the session's SP, is told
			if f.sessionKept(t) || !cookieCleared(ans) {
				t.Fatal("the confirmed logout left the session")
			}
		})
	}
}

// TestClave2LogoutOrigin: the kit's request ends the session at once when
// the browser sends no Origin or the kit's (the origin of its registered
// URLs); from anywhere else ("null" included) it waits for the citizen,
// whose confirmation ends it.
func TestClave2LogoutOrigin(t *testing.T) {
	tests := []struct {
		origin  string
		confirm bool
	}{
		{"", false},
		{"https://kit.example", false},
		{"https://evil.example", true},
		{"null", true},
		{"https://kit2.example", true}, // another kit's
		{base, true},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			f := newBindingFixture(t)
			f.putSession(t, kitPart)
			rec := f.postFrom(f.kitLogoutForm(t, kitLogoutRequest("_lo1")), tt.origin)
			if tt.confirm {
				if !bridgetest.IsConfirmation(rec) || !f.sessionKept(t) {
					t.Fatalf("status %d, session kept %v: %.500s", rec.Code, f.sessionKept(t), rec.Body)
				}
				rec = bridgetest.AnswerConfirmation(t, f.web, rec, "logout", sloSessionCookie)
			}
			if lr := f.kitAnswer(t, rec); lr.InResponseTo != "_lo1" || lr.Status.Code != clave2msg.StatusSuccess {
				t.Fatalf("LogoutResponse %+v", lr)
			}
			if f.sessionKept(t) || !cookieCleared(rec) {
				t.Fatal("the session outlived the logout")
			}
		})
	}
}
