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
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge/web"
)

// browserCookie names the cookie that binds a login to one browser.
const browserCookie = "sim_browser"

// errCrossSite and errOtherBrowser are the reasons a login POST is refused.
var (
	errCrossSite    = errors.New("login page posted from another site")
	errOtherBrowser = errors.New("login page posted from another browser")
)

// guard is the simulator's browser cookie and origin check.
func (s *Simulator) guard() web.CSRF {
	return web.CSRF{
		Cookie: browserCookie, Path: loginPath, Secure: strings.HasPrefix(s.base, "https://"),
		Base: s.base, Rand: s.rand,
	}
}

// browserToken returns the browser's sim_browser token, drawing and setting
// a new one when the request carries none.
func (s *Simulator) browserToken(c echo.Context) (string, error) { return s.guard().Token(c) }

// checkLoginPost refuses a login page POST from another site or from a
// browser other than the one the login (bound to browser) started in.
func (s *Simulator) checkLoginPost(r *http.Request, browser string) error {
	g := s.guard()
	fromBrowser, sameSite := g.Origin(r)
	if !sameSite {
		return errCrossSite
	}
	switch present, equal := g.Carries(r, browser); {
	case !present && fromBrowser, present && !equal:
		return errOtherBrowser
	}
	return nil
}
