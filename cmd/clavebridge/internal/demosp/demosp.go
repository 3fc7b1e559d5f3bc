// Package demosp is the demo service provider served by `clavebridge serve`
// (like the Cl@ve kit's SP-DEMO): a page to pick login options, a plain
// SAML2 request through the bridge and the simulator, and a page showing
// the attributes that came back; then single logout in each dialect. It is
// a demonstration, not a library.
package demosp

import (
	"crypto/x509"
	"errors"
	"html/template"
	"io"
	"net/http"
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

var pages = template.Must(template.New("home").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>clavebridge demo SP</title></head><body>
<h1>clavebridge demo service provider</h1>
<p>Three service providers, one per dialect, log in through the bridge, its Cl@ve 2.0 connector and the simulated gateway.
Log in with one, then another: the second needs no new authentication. Log out of one: the bridge logs you out of the others and of the gateway.</p>
<fieldset><legend>Your demo logins</legend><ul>
{{range .States}}<li id="state-{{.Dialect}}">{{.Label}}: <b>{{if .LoggedIn}}logged in{{else}}not logged in{{end}}</b>
{{if .LoggedIn}}<form method="post" action="{{.Logout}}"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">Log out</button></form>{{end}}</li>
{{end}}</ul>
<p><a href="/session">Your bridge session</a></p></fieldset>
<form method="post" action="/demo/saml2/login">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<fieldset><legend>Plain SAML2 login</legend>
<p><label>Minimum level of assurance <select name="loa">
<option value="low">low</option><option value="substantial">substantial</option><option value="high">high</option></select></label></p>
<p><label>Binding <select name="binding"><option value="post">HTTP-POST</option><option value="redirect">HTTP-Redirect</option></select></label></p>
<p><label>NameID <select name="nameid"><option value="transient">transient</option><option value="persistent">persistent</option></select></label></p>
<p><label><input type="checkbox" name="force" value="true"> Force authentication</label></p>
<p><button type="submit">Log in with Cl@ve</button></p>
</fieldset></form>
<form method="post" action="/demo/clave2/login">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<fieldset><legend>Cl@ve 2.0 kit login (as the Java kit's SP2 sends it)</legend>
<p><label>Minimum level of assurance <select name="loa">
<option value="low">low</option><option value="substantial">substantial</option><option value="high">high</option></select></label></p>
<p>Hide identity providers:
<label><input type="checkbox" name="disable" value="AFIRMA"> certificate (AFirmaIdP)</label>
<label><input type="checkbox" name="disable" value="SEGSOC"> Cl@ve permanente (GISSIdP)</label>
<label><input type="checkbox" name="disable" value="PIN24H"> Cl@ve PIN (AEATIdP)</label>
<label><input type="checkbox" name="disable" value="EIDAS"> eIDAS (EIDASIdP)</label>
<label><input type="checkbox" name="disable" value="CLVMOVIL"> Cl@ve Móvil (CLVMOVILIdP)</label></p>
<p><label><input type="checkbox" name="afirma" value="true"> Ask for PartialAfirma</label>
<label><input type="checkbox" name="force" value="true"> Force authentication</label></p>
<p><button type="submit">Log in with Cl@ve 2.0</button></p>
</fieldset></form>
<form method="post" action="/demo/stork/login">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<fieldset><legend>Cl@ve 1 (STORK) login (as the Java STORK engine sends it)</legend>
<p><label>QAA level <select name="qaa"><option value="2">2 (low)</option><option value="3">3 (substantial)</option><option value="4">4 (high)</option><option value="1">1</option></select></label></p>
<p>excludedIdPList:
<label><input type="checkbox" name="exclude" value="aFirma"> aFirma</label>
<label><input type="checkbox" name="exclude" value="SS"> SS</label>
<label><input type="checkbox" name="exclude" value="AEAT"> AEAT</label>
<label><input type="checkbox" name="exclude" value="Stork"> Stork</label></p>
<p><label>forcedIdP <select name="forced"><option value="none">none</option><option value="aFirma">aFirma</option><option value="SS">SS</option><option value="AEAT">AEAT</option><option value="Stork">Stork</option></select></label></p>
<p><label><input type="checkbox" name="legal" value="true"> allowLegalPerson</label>
<label><input type="checkbox" name="required_surname" value="true"> surname required</label>
<label><input type="checkbox" name="force" value="true"> ForceAuthn (the Java kit's default)</label></p>
<p><button type="submit">Log in with Cl@ve 1</button></p>
</fieldset></form></body></html>`))

var resultPage = template.Must(template.New("result").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>clavebridge demo SP: result</title></head><body>
<h1>{{if .OK}}Logged in{{else}}Login failed{{end}}</h1>
<p>Status: <code>{{.Status}}</code>{{if .Message}} ({{.Message}}){{end}}</p>
{{if .OK}}<p>NameID: <code>{{.NameID}}</code>, level of assurance: <code>{{.LoA}}</code></p>
<table><thead><tr><th>Attribute</th><th>Value</th></tr></thead><tbody>
{{range .Attributes}}<tr><td>{{.Name}}</td><td>{{range .Values}}<code>{{.}}</code> {{end}}</td></tr>{{end}}
</tbody></table>{{end}}
<p><a href="/demo/">Back</a></p></body></html>`))

func (d *DemoSP) home(c echo.Context) error {
	token, err := d.csrfToken(c)
	if err != nil {
		return web.ErrorPage(c, d.cfg.Log, http.StatusInternalServerError, "The demo page is not available.", err)
	}
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	return pages.Execute(c.Response(), homeView{CSRF: token, States: []loginState{
		{Dialect: "saml2", Label: "Plain SAML2", Logout: "/demo/saml2/logout", LoggedIn: hasCookie(c, cookieSAML2)},
		{Dialect: "clave2", Label: "Cl@ve 2.0 kit", Logout: "/demo/clave2/logout", LoggedIn: hasCookie(c, cookieClave2)},
		{Dialect: "stork", Label: "Cl@ve 1 (STORK)", Logout: "/demo/stork/logout", LoggedIn: hasCookie(c, cookieStork)},
	}})
}

// homeView is the home page: the login lines and the csrf token (csrf.go).
type homeView struct {
	CSRF   string
	States []loginState
}

// loginState is a line of the home page: whether the dialect's demo SP
// remembers a login, and where its Log out button posts.
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

func (d *DemoSP) showResult(c echo.Context, view *resultView) error {
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	return resultPage.Execute(c.Response(), view)
}

type resultView struct {
	OK                      bool
	Status, Message, NameID string
	LoA                     string
	Attributes              []clave2msg.Attribute
	login                   saml2Login // what the plain SAML2 demo needs to log out
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
