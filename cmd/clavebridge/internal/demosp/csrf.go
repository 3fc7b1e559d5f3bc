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
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/web"
)

const (
	csrfCookie = "demo_csrf"
	csrfField  = "csrf"
)

// errCSRF is why a demo button POST is refused.
var errCSRF = errors.New("demo form posted without a matching csrf token or from another site")

// guard is the demo's CSRF token cookie and origin check.
func (d *DemoSP) guard() web.CSRF {
	return web.CSRF{Cookie: csrfCookie, Path: cookiePath, Secure: true, Base: d.cfg.BaseURL, Rand: d.cfg.Rand}
}

// csrfToken returns the browser's token, setting a new cookie when the
// request carries none.
func (d *DemoSP) csrfToken(c echo.Context) (string, error) { return d.guard().Token(c) }

// checkCSRF applies the rules above to a button POST.
func (d *DemoSP) checkCSRF(c echo.Context) error {
	g := d.guard()
	fromBrowser, sameSite := g.Origin(c.Request())
	switch {
	case !sameSite:
		return errCSRF
	case !fromBrowser:
		return nil
	}
	if _, equal := g.Carries(c.Request(), c.FormValue(csrfField)); !equal {
		return errCSRF
	}
	return nil
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
			return d.refuseWith(c, http.StatusForbidden, bridge.ReasonCrossSite, fmt.Errorf("demo form: %w", err))
		}
		return next(c)
	}
}
