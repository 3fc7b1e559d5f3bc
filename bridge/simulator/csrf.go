package simulator

// Cross-site request forgery on the gateway's own pages.
//
// The pages a citizen submits (identity provider selection, then each login
// step) all post to the login endpoint with the login id in a hidden field:
// 128 random bits drawn per login (newLoginID) that a forged form on another
// site cannot know. That id is the primary defence; checkLoginPost makes two
// more checks explicit:
//
//   - the origin: a POST whose Origin (or, without one, Referer) names a
//     host other than the gateway's is what a cross-site form sends, and is
//     refused.
//   - the browser: handleSSO binds the login to a random browser token kept
//     in the sim_browser cookie (HttpOnly, SameSite=Strict, path of the login
//     endpoint, Secure when the gateway is served over https). A POST that
//     carries another sim_browser cookie comes from a different browser and
//     is refused. A POST that comes from a browser form (it has an Origin
//     header, "null" included: every page here is sent with Referrer-Policy
//     no-referrer, so browsers send "Origin: null" even for our own forms)
//     must carry the cookie.
//
// A client that sends neither Origin nor cookie (a script, this package's
// tests) is not refused for that alone: it still needs the login id.
// Browsers send Origin with every POST, so a forged form is refused either
// for its Origin or for the missing SameSite=Strict cookie.
//
// The SSO endpoint itself (/sim/Proxy2/ServiceProvider) stays open to
// cross-site POSTs: that is the SAML HTTP-POST binding.

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// browserCookie names the cookie that binds a login to one browser.
const browserCookie = "sim_browser"

// errCrossSite and errOtherBrowser are the reasons a login POST is refused.
var (
	errCrossSite    = errors.New("login page posted from another site")
	errOtherBrowser = errors.New("login page posted from another browser")
)

// browserToken returns the browser's sim_browser token, drawing and setting
// a new one when the request carries none.
func (s *Simulator) browserToken(c echo.Context) (string, error) {
	if ck, err := c.Cookie(browserCookie); err == nil && validToken(ck.Value) {
		return ck.Value, nil
	}
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("draw browser token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	c.SetCookie(&http.Cookie{
		Name: browserCookie, Value: token, Path: loginPath, HttpOnly: true,
		Secure: strings.HasPrefix(s.base, "https://"), SameSite: http.SameSiteStrictMode,
	})
	return token, nil
}

// validToken is a token as browserToken draws them.
func validToken(v string) bool {
	if len(v) != 32 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

// checkLoginPost refuses a login page POST from another site or from a
// browser other than the one the login (bound to browser) started in.
func (s *Simulator) checkLoginPost(r *http.Request, browser string) error {
	fromBrowser, sameSite := origin(r, s.base)
	if !sameSite {
		return errCrossSite
	}
	ck, err := r.Cookie(browserCookie)
	switch {
	case err != nil && fromBrowser:
		return errOtherBrowser
	case err == nil && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(browser)) != 1:
		return errOtherBrowser
	}
	return nil
}

// origin reads the request's Origin, or without one its Referer. fromBrowser
// is whether there was one ("null" included); sameSite is false when it
// names a host other than base's.
func origin(r *http.Request, base string) (fromBrowser, sameSite bool) {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	switch from {
	case "":
		return false, true
	case "null":
		return true, true // opaque: the cookie decides
	}
	want, err := url.Parse(base)
	if err != nil {
		return true, false
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" {
		return true, false
	}
	return true, strings.EqualFold(u.Host, want.Host)
}
