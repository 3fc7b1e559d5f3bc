package bridgetest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/web"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// IsConfirmation reports whether rec is the bridge's logout confirmation
// page: its own form, no script, nothing posted onward.
func IsConfirmation(rec *httptest.ResponseRecorder) bool {
	body := rec.Body.String()
	return rec.Code == http.StatusOK && strings.Contains(body, `name="answer" value="logout"`) &&
		strings.Contains(body, `action="`+web.LogoutConfirmPath+`"`) && !strings.Contains(body, "<script")
}

// AnswerConfirmation answers the logout confirmation page in rec as the
// page's form does in the browser that got it: answer ("logout" or
// "stay") posted to h at web.LogoutConfirmPath with Origin "null" (the
// bridge's pages send no referrer), the token cookie the page set, and
// cookies (the session's).
func AnswerConfirmation(t testing.TB, h http.Handler, rec *httptest.ResponseRecorder, answer string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	if !IsConfirmation(rec) {
		t.Fatalf("not the confirmation page: status %d: %.600s", rec.Code, rec.Body)
	}
	form := url.Values{"answer": {answer}}
	for _, m := range hiddenInput.FindAllStringSubmatch(rec.Body.String(), -1) {
		form.Set(m[1], m[2])
	}
	req := httptest.NewRequest(http.MethodPost, web.LogoutConfirmPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "null")
	for _, c := range rec.Result().Cookies() {
		if strings.HasSuffix(c.Name, "clavebridge_confirm") {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	out := httptest.NewRecorder()
	h.ServeHTTP(out, req)
	return out
}

// PostForm posts form to path on h as a browser would: form-encoded, with
// cookies and, when origin is not "", that Origin header.
func PostForm(h http.Handler, path string, form url.Values, origin string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
