package stork

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

// postFrom sends form to /Proxy/LogoutAction with the session cookie and
// the Origin header a browser would send ("": none).
func (f *sloFixture) postFrom(form url.Values, origin string) *httptest.ResponseRecorder {
	return bridgetest.PostForm(f.web, LogoutPath, form, origin, sloSessionCookie)
}

// TestStorkLogoutNotParticipant: a Cl@ve 1 LogoutRequest names only its
// SP. Brought by a browser whose session the SP is not part of (a request
// replayed in another browser), it ends nothing and asks the citizen;
// declined, the SP gets RequestDenied; confirmed, the session ends and its
// SPs are told.
func TestStorkLogoutNotParticipant(t *testing.T) {
	for _, answer := range []string{"stay", "logout"} {
		t.Run(answer, func(t *testing.T) {
			f := newBindingFixture(t)
			f.putSession(t, kitParticipant)
			rec := f.postFrom(f.signedLogout(t, "_lo1"), "")
			if !bridgetest.IsConfirmation(rec) || !f.sessionKept(t) || cookieCleared(rec) {
				t.Fatalf("status %d, session kept %v: %.500s", rec.Code, f.sessionKept(t), rec.Body)
			}
			ans := bridgetest.AnswerConfirmation(t, f.web, rec, answer, sloSessionCookie)
			if answer == "stay" {
				raw, resp, _ := f.storkAnswer(t, ans)
				checkStorkRoot(t, raw)
				code, sub, msg := statusOf(resp)
				if code != clave2msg.StatusRequester || sub != clave2msg.StatusRequestDenied || msg == "" {
					t.Fatalf("status %q %q %q", code, sub, msg)
				}
				if !f.sessionKept(t) || cookieCleared(ans) {
					t.Fatal("a declined logout ended the session")
				}
				return
			}
			if action, _ := stPosted(t, ans.Body.String()); action != sloKitLogout {
				t.Fatalf("the confirmed logout posted to %q, want the kit told", action)
			}
			if f.sessionKept(t) || !cookieCleared(ans) {
				t.Fatal("the confirmed logout left the session")
			}
		})
	}
}

// TestStorkLogoutOrigin: the SP's request ends the session at once when
// the browser sends no Origin or the SP's (the origin of its registered
// URLs); from anywhere else ("null" included) it waits for the citizen,
// whose confirmation ends it.
func TestStorkLogoutOrigin(t *testing.T) {
	tests := []struct {
		origin  string
		confirm bool
	}{
		{"", false},
		{"https://sp.example.es", false},
		{"https://evil.example", true},
		{"null", true},
		{"https://kit.example", true}, // another SP's
		{stBase, true},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			f := newBindingFixture(t)
			f.putSession(t, storkParticipant)
			rec := f.postFrom(f.signedLogout(t, "_lo1"), tt.origin)
			if tt.confirm {
				if !bridgetest.IsConfirmation(rec) || !f.sessionKept(t) {
					t.Fatalf("status %d, session kept %v: %.500s", rec.Code, f.sessionKept(t), rec.Body)
				}
				rec = bridgetest.AnswerConfirmation(t, f.web, rec, "logout", sloSessionCookie)
			}
			_, resp, _ := f.storkAnswer(t, rec)
			if code, _, _ := statusOf(resp); code != statusSuccess {
				t.Fatalf("status %q", code)
			}
			if f.sessionKept(t) || !cookieCleared(rec) {
				t.Fatal("the session outlived the logout")
			}
		})
	}
}
