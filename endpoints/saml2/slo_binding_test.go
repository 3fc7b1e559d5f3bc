package saml2

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
)

// newBindingFixture is the SLO fixture with the confirmation page served.
func newBindingFixture(t *testing.T) *sloFixture {
	f := newSLOFixture(t)
	f.web.MountLogoutConfirmation(f.ep.cfg.Flow)
	return f
}

// postSLOFrom posts a signed LogoutRequest with the session cookie and
// the Origin header a browser would send ("": none).
func (f *sloFixture) postSLOFrom(t *testing.T, lr *clave2msg.LogoutRequest, origin string) *httptest.ResponseRecorder {
	t.Helper()
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(signedEl(t, lr.Element(), &f.sp))}, "RelayState": {"r"}}
	req := httptest.NewRequest(http.MethodPost, "/saml2/slo", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return f.slo(req, true)
}

var sessionCookie = &http.Cookie{Name: web.SessionCookie, Value: sessID}

// TestLogoutNotNamed: a valid request that names another session of the
// browser (another SP's, another NameID, another SessionIndex) ends
// nothing and asks the citizen; declined, the SP gets RequestDenied and
// the session stays.
func TestLogoutNotNamed(t *testing.T) {
	tests := []struct {
		name    string
		session []bridge.Participant
		req     *clave2msg.LogoutRequest
	}{
		{"another SP's session", []bridge.Participant{participant(sp2ID, "1")}, logoutRequest("_tn1")},
		{"another NameID", []bridge.Participant{participant(spID, "1"), participant(sp2ID, "2")}, logoutRequest("_tn2")},
		{"another SessionIndex", []bridge.Participant{participant(spID, "1"), participant(sp2ID, "2")}, logoutRequest("_tn1", "_si2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBindingFixture(t)
			f.putSession(t, tt.session...)
			rec := f.postSLOFrom(t, tt.req, "")
			if !bridgetest.IsConfirmation(rec) || !f.sessionKept(t) || cookieCleared(rec) {
				t.Fatalf("status %d, session kept %v, cookie cleared %v: %.500s", rec.Code, f.sessionKept(t), cookieCleared(rec), rec.Body)
			}
			ans := bridgetest.AnswerConfirmation(t, f.web, rec, "stay", sessionCookie)
			lr, out := f.readLogoutResponse(t, ans, spSLO)
			wantStatus(t, lr, clave2msg.StatusRequester, clave2msg.StatusRequestDenied)
			if lr.InResponseTo != "_lo1" || out.Relay != "r" {
				t.Fatalf("InResponseTo %q, RelayState %q", lr.InResponseTo, out.Relay)
			}
			if !f.sessionKept(t) || cookieCleared(ans) {
				t.Fatal("a declined logout ended the session")
			}
		})
	}
}

// TestLogoutNotNamedConfirmed: confirmed, the logout of a request naming
// another session goes on: the session ends and the SP gets Success.
func TestLogoutNotNamedConfirmed(t *testing.T) {
	f := newBindingFixture(t)
	f.putSession(t, participant(spID, "1"))
	rec := f.postSLOFrom(t, logoutRequest("_tn1", "_si9"), "")
	ans := bridgetest.AnswerConfirmation(t, f.web, rec, "logout", sessionCookie)
	lr, out := f.readLogoutResponse(t, ans, spSLO)
	wantStatus(t, lr, clave2msg.StatusSuccess, "")
	if lr.InResponseTo != "_lo1" || out.Relay != "r" || f.sessionKept(t) || !cookieCleared(ans) {
		t.Fatalf("InResponseTo %q, RelayState %q, session kept %v, cookie cleared %v", lr.InResponseTo, out.Relay, f.sessionKept(t), cookieCleared(ans))
	}
}

// TestLogoutOrigin: a request naming the session ends it at once when the
// browser sends no Origin or the SP's (the origin of one of its registered
// URLs); from anywhere else ("null" included) it waits for the citizen.
func TestLogoutOrigin(t *testing.T) {
	tests := []struct {
		origin  string
		confirm bool
	}{
		{"", false},
		{"https://sp.example", false},
		{"https://SP.example:443", false},
		{"https://evil.example", true},
		{"null", true},
		{"https://sp2.example", true}, // another SP's
		{"https://bridge.example", true},
		{"http://sp.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			f := newBindingFixture(t)
			f.putSession(t, participant(spID, "1"))
			rec := f.postSLOFrom(t, logoutRequest("_tn1", "_si1"), tt.origin)
			if tt.confirm {
				if !bridgetest.IsConfirmation(rec) || !f.sessionKept(t) || cookieCleared(rec) {
					t.Fatalf("status %d, session kept %v: %.500s", rec.Code, f.sessionKept(t), rec.Body)
				}
				rec = bridgetest.AnswerConfirmation(t, f.web, rec, "logout", sessionCookie)
			}
			lr, _ := f.readLogoutResponse(t, rec, spSLO)
			wantStatus(t, lr, clave2msg.StatusSuccess, "")
			if f.sessionKept(t) || !cookieCleared(rec) {
				t.Fatal("the session outlived the logout")
			}
		})
	}
}
