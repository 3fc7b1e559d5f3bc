// Package demosp is the demo service provider served by `clavebridge serve`
// (like the Cl@ve kit's SP-DEMO): a page to pick login options, a plain
// SAML2 request through the bridge and the simulator, and a page showing
// the attributes that came back; then single logout in each dialect. It is
// a demonstration, not a library.
package demosp

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// Config is what the demo SP needs.
type Config struct {
	BaseURL string
	// ProviderName and Application form the Cl@ve 2.0 ProviderName
	// "<provider>;<application>" the kit-like demo sends.
	ProviderName string
	Application  string
	// StorkProvider is the ProviderName of the Cl@ve 1 (STORK) demo SP.
	StorkProvider string
	Signer        samlxml.Signer
	BridgeCert    *x509.Certificate
	Now           func() time.Time
	Rand          io.Reader
	Log           *zap.Logger
}

// DemoSP is the demo service provider.
type DemoSP struct {
	cfg         Config
	mu          sync.Mutex
	outstanding map[string]outstanding // request IDs awaiting an answer
}

// New returns the demo SP.
func New(cfg Config) (*DemoSP, error) {
	if cfg.Signer.Key == nil || cfg.BridgeCert == nil {
		return nil, errors.New("demo SP needs its key and the bridge certificate")
	}
	return &DemoSP{cfg: cfg, outstanding: map[string]outstanding{}}, nil
}

// EntityID is the demo SP's SAML2 entityID.
func (d *DemoSP) EntityID() string { return d.cfg.BaseURL + "/demo/saml2/metadata" }

func (d *DemoSP) acsURL() string { return d.cfg.BaseURL + "/demo/saml2/acs" }

// Mount registers the demo pages.
func (d *DemoSP) Mount(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/demo/") })
	e.GET("/demo/", d.home)
	e.POST("/demo/saml2/login", d.csrf(d.login))
	e.POST("/demo/saml2/acs", d.acs)
	e.POST("/demo/clave2/login", d.csrf(d.clave2Login))
	e.POST("/demo/clave2/acs", d.clave2ACS)
	e.POST("/demo/stork/login", d.csrf(d.storkLogin))
	e.POST("/demo/stork/acs", d.storkACS)
	e.POST("/demo/saml2/logout", d.csrf(d.saml2Logout))
	e.POST("/demo/saml2/slo", d.saml2SLO)
	e.POST("/demo/clave2/logout", d.csrf(d.claveLogout(d.clave2Dialect()), d.clave2Dialect().reqField, d.clave2Dialect().respField))
	e.POST("/demo/stork/logout", d.csrf(d.claveLogout(d.storkDialect()), d.storkDialect().reqField, d.storkDialect().respField))
}

func (d *DemoSP) home(c echo.Context) error {
	token, err := d.csrfToken(c)
	if err != nil {
		return d.refuseWith(c, http.StatusInternalServerError, bridge.ReasonInternal, fmt.Errorf("demo home: csrf token: %w", err))
	}
	return render(c, http.StatusOK, homePage, "demo.home.title", homeView{CSRF: token, IdPs: demoIdPs, StorkIdPs: storkIdPs, States: []loginState{
		{Dialect: "saml2", Label: "demo.dialect.saml2", Logout: "/demo/saml2/logout", LoggedIn: hasCookie(c, cookieSAML2)},
		{Dialect: "clave2", Label: "demo.dialect.clave2", Logout: "/demo/clave2/logout", LoggedIn: hasCookie(c, cookieClave2)},
		{Dialect: "stork", Label: "demo.dialect.stork", Logout: "/demo/stork/logout", LoggedIn: hasCookie(c, cookieStork)},
	}})
}

// homeView is the home page: the login lines and the csrf token (csrf.go).
type homeView struct {
	CSRF      string
	States    []loginState
	IdPs      []option // the Cl@ve 2.0 IdPs the kit can hide
	StorkIdPs []string // the Cl@ve 1 IdP names
}

// loginState is a line of the home page: whether the dialect's demo SP
// remembers a login, and where its Log out button posts (Label: a catalog
// key).
type loginState struct {
	Dialect, Label, Logout string
	LoggedIn               bool
}

// outstanding is a request the demo SP sent and awaits an answer to.
type outstanding struct {
	sent       time.Time
	relayState string
	logout     string // the dialect of a LogoutRequest; "" for an AuthnRequest
}

func (d *DemoSP) remember(id, relayState string) { d.rememberFor(id, relayState, "") }

func (d *DemoSP) rememberFor(id, relayState, logout string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	for k, o := range d.outstanding {
		if now.Sub(o.sent) > 15*time.Minute {
			delete(d.outstanding, k)
		}
	}
	if len(d.outstanding) < 10000 {
		d.outstanding[id] = outstanding{sent: now, relayState: relayState, logout: logout}
	}
}

// forget takes an outstanding request once; ok only when it was a login
// (logout "") or a logout of that dialect.
func (d *DemoSP) forget(id, logout string) (outstanding, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.outstanding[id]
	delete(d.outstanding, id)
	return o, ok && o.logout == logout
}

// showResult answers with the result page of a login: the status, and on
// success the identifier, the level of assurance and each attribute once,
// with a Log out button (dialect's logout URL) and a link back.
func (d *DemoSP) showResult(c echo.Context, view *resultView) error {
	view.Attributes = mergeAttributes(view.Attributes)
	view.LoAKey = loaKey(view.LoA)
	if view.OK && view.Logout != "" {
		token, err := d.csrfToken(c)
		if err != nil {
			return d.refuseWith(c, http.StatusInternalServerError, bridge.ReasonInternal, fmt.Errorf("demo result: csrf token: %w", err))
		}
		view.CSRF = token
	}
	title := "demo.result.failed"
	if view.OK {
		title = "demo.result.ok"
	}
	return render(c, http.StatusOK, resultPage, title, view)
}

// resultView is the result page of a login.
type resultView struct {
	OK                      bool
	Status, Message, NameID string
	Issuer                  string // the IdP that answered (Cl@ve 1)
	LoA                     string // as received: an eIDAS LoA URI, or a STORK QAA level
	LoAKey                  string // its catalog name (showResult)
	Attributes              []attribute
	Logout, CSRF            string     // the dialect's Log out button
	login                   saml2Login // what the plain SAML2 demo needs to log out
}

// attribute is one attribute on the result page: its name, its values,
// the STORK AttributeStatus, and whether it came as a POST field.
type attribute struct {
	Name     string
	Values   []string
	Status   string
	FromPost bool
}

// attributesOf lists the attributes of an assertion.
func attributesOf(as []clave2msg.Attribute) []attribute {
	out := make([]attribute, 0, len(as))
	for _, a := range as {
		out = append(out, attribute{Name: a.Name, Values: a.Values})
	}
	return out
}

// mergeAttributes shows each attribute once: the values of repeated names
// are joined in their first place.
func mergeAttributes(as []attribute) []attribute {
	var out []attribute
	seen := map[string]int{}
	for _, a := range as {
		key := a.Name + "\x00" + map[bool]string{true: "post"}[a.FromPost]
		if i, ok := seen[key]; ok {
			for _, v := range a.Values {
				if !slices.Contains(out[i].Values, v) {
					out[i].Values = append(out[i].Values, v)
				}
			}
			continue
		}
		seen[key] = len(out)
		out = append(out, a)
	}
	return out
}

// loaKey names a received level of assurance: an eIDAS LoA URI, or a
// STORK QAA level (1 and 2 low, 3 substantial, 4 high).
func loaKey(loa string) string {
	switch {
	case strings.HasSuffix(loa, "/low"), loa == "QAA 1", loa == "QAA 2":
		return "demo.loa.low"
	case strings.HasSuffix(loa, "/substantial"), loa == "QAA 3":
		return "demo.loa.substantial"
	case strings.HasSuffix(loa, "/high"), loa == "QAA 4":
		return "demo.loa.high"
	}
	return "demo.loa.unknown"
}

// sameStatus drops a StatusMessage that only repeats the status code (the
// STORK engine's answers carry the code as the message).
func sameStatus(message string, codes ...string) string {
	for _, c := range codes {
		if c != "" && strings.TrimSpace(message) == c {
			return ""
		}
	}
	return message
}

// postFromDemo sends the auto-posting form of one of the demo's logout
// messages to the bridge. Its Referrer-Policy is same-origin, so that the
// browser names the demo's origin in the POST's Origin header (under the
// bridge's default no-referrer it would send "Origin: null", and the
// bridge asks the citizen to confirm a logout it cannot tie to its sender);
// like no-referrer, it sends nothing to other sites.
func postFromDemo(c echo.Context, out bridge.Outgoing) error {
	c.Response().Header().Set("Referrer-Policy", "same-origin")
	return web.WritePost(c, out)
}
