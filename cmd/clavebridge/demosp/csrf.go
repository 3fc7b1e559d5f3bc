package demosp

// Cross-site request forgery on the demo SP's buttons.
//
// The demo's own forms (the three logins and the Log out buttons) carry a
// double-submit token: a random value in the demo_csrf cookie (HttpOnly,
// SameSite=Strict, Path=/demo/, Secure) and the same value in the hidden
// csrf field of every form on the home page.
//
// The check is keyed on the Origin header rather than on the cookie alone,
// because scripts and the project's tests post to the login and logout URLs
// directly (their cookie jars may hold demo_csrf from an earlier visit to
// the home page, yet they never send the field). A POST is refused (403)
// when
//
//   - its Origin, or without one its Referer, names a host other than the
//     bridge's: that is what a forged form on another site sends; or
//   - it has an Origin (a browser form: browsers send Origin with every
//     POST, and "null" for our own forms, since every page is sent with
//     Referrer-Policy no-referrer) and lacks the demo_csrf cookie or the
//     matching csrf field. A forged form cannot know the token, and the
//     SameSite=Strict cookie is not sent with a cross-site POST anyway.
//
// A POST with neither Origin nor Referer is not a browser form and is
// served without a token (a browser too old to send Origin is out of scope).
//
// The ACS and SLO endpoints (/demo/*/acs, /demo/saml2/slo, and the Cl@ve
// logout URLs when they carry a logout message) are not checked: the bridge
// posts to them from its own pages, the SAML HTTP-POST binding.

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

	"github.com/clavebridge/clavebridge/bridge"
)

const (
	csrfCookie = "demo_csrf"
	csrfField  = "csrf"
)

// errCSRF is why a demo button POST is refused.
var errCSRF = errors.New("demo form posted without a matching csrf token or from another site")

// csrfToken returns the browser's token, setting a new cookie when the
// request carries none.
func (d *DemoSP) csrfToken(c echo.Context) (string, error) {
	if ck, err := c.Cookie(csrfCookie); err == nil && ck.Value != "" {
		return ck.Value, nil
	}
	var b [16]byte
	if _, err := io.ReadFull(d.cfg.Rand, b[:]); err != nil {
		return "", fmt.Errorf("draw csrf token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: token, Path: cookiePath,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return token, nil
}

// checkCSRF applies the rules above to a button POST.
func (d *DemoSP) checkCSRF(c echo.Context) error {
	r := c.Request()
	fromBrowser, sameSite := d.origin(r)
	switch {
	case !sameSite:
		return errCSRF
	case !fromBrowser:
		return nil
	}
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" ||
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(c.FormValue(csrfField))) != 1 {
		return errCSRF
	}
	return nil
}

// origin reads Origin, or without it Referer: fromBrowser is whether there
// was one ("null" included), sameSite is false when it names a host other
// than the bridge's base URL.
func (d *DemoSP) origin(r *http.Request) (fromBrowser, sameSite bool) {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	switch from {
	case "":
		return false, true
	case "null":
		return true, true // opaque: the token decides
	}
	base, err := url.Parse(d.cfg.BaseURL)
	if err != nil {
		return true, false
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" {
		return true, false
	}
	return true, strings.EqualFold(u.Host, base.Host)
}

// csrf guards a button handler. With messageFields, a POST carrying any of
// them is a SAML message from the bridge and is passed on unchecked.
func (d *DemoSP) csrf(next echo.HandlerFunc, messageFields ...string) echo.HandlerFunc {
	return func(c echo.Context) error {
		for _, f := range messageFields {
			if c.FormValue(f) != "" {
				return next(c)
			}
		}
		if err := d.checkCSRF(c); err != nil {
			return bridge.ErrorPage(c, d.cfg.Log, http.StatusForbidden,
				"This form was not sent from the demo's own page. Go back to the demo and try again.", err)
		}
		return next(c)
	}
}
