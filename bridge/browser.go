package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// LoginCookie names the cookie that binds pending logins to the browser
// that started them, so that a gateway answer carried to another browser
// (stolen, or planted by a login CSRF) is refused there.
const LoginCookie = "clavebridge_login"

// BrowserBinding is what a pending login stores of the login cookie: a
// hash, so the store never holds a value that would let its reader pose as
// the browser.
func BrowserBinding(cookie string) string {
	if cookie == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// browserCookie returns the browser's login cookie, setting a fresh one
// when it has none: Secure, HttpOnly, SameSite=None (the gateway's answer
// comes back by a cross-site POST), limited to /upstream/.
func (f *Flow) browserCookie(c echo.Context) (string, error) {
	if ck, err := c.Cookie(LoginCookie); err == nil && ck.Value != "" {
		return ck.Value, nil
	}
	v, err := samlxml.NewID(f.Rand)
	if err != nil {
		return "", err
	}
	c.SetCookie(&http.Cookie{
		Name: LoginCookie, Value: v, Path: "/upstream/", MaxAge: int(f.PendingTTL.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode,
	})
	return v, nil
}

// cookieValue reads a cookie's value, "" when absent.
func cookieValue(c echo.Context, name string) string {
	if ck, err := c.Cookie(name); err == nil {
		return ck.Value
	}
	return ""
}
