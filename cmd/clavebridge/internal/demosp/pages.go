package demosp

// The demo SP's pages, in the shared layout of bridge/web with a small
// service's look (body class cb-service, a brand header): the login
// choice, the result of a login as a definition list, and the end of a
// logout. Every text comes from the catalogs (keys demo.*); protocol
// identifiers (binding names, STORK parameter names, SAML status URIs,
// attribute names) stay as they are: the demo shows what went over the
// wire. Stable hooks for tests and the load command: data-result on the
// result's h1, data-state on each login line, data-logout on the logout's
// h1, data-attr on each attribute.

import (
	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// ResultOK and ResultFailed mark the result page of a login that
// succeeded or failed; LoggedOut marks the end of a complete logout.
const (
	ResultOK     = `data-result="ok"`
	ResultFailed = `data-result="failed"`
	LoggedOut    = `data-logout="success"`
)

// serviceBody is the demo SP's look.
const serviceBody = "cb-service"

const brand = `{{define "brand"}}<p class="cb-brand">{{T "demo.brand"}}</p>{{end}}`

var homePage = web.MustPageTemplate("demo-home", brand+`{{define "content"}}{{template "brand" .}}
<h1>{{T .TitleKey}}</h1>
<p>{{T "demo.home.intro"}}</p>
<section class="cb-card" aria-labelledby="states-title">
<h2 id="states-title">{{T "demo.states.title"}}</h2>
<ul>
{{range .Data.States}}<li id="state-{{.Dialect}}" data-state="{{if .LoggedIn}}in{{else}}out{{end}}">{{T .Label}}: <strong>{{if .LoggedIn}}{{T "demo.state.in"}}{{else}}{{T "demo.state.out"}}{{end}}</strong>
{{if .LoggedIn}}<form method="post" action="{{.Logout}}"><input type="hidden" name="csrf" value="{{$.Data.CSRF}}"><button type="submit" class="cb-button cb-secondary" aria-label="{{T "demo.logout.of" "service" (T .Label)}}">{{T "demo.logout"}}</button></form>{{end}}</li>
{{end}}</ul>
<p><a href="/session">{{T "demo.session_link"}}</a></p>
</section>
<h2>{{T "demo.login.title"}}</h2>
<form method="post" action="/demo/saml2/login" class="cb-card cb-form">
<input type="hidden" name="csrf" value="{{.Data.CSRF}}">
<fieldset><legend>{{T "demo.saml2.legend"}}</legend>
<div class="cb-field"><label for="saml2-loa">{{T "demo.field.loa"}}</label>
<select id="saml2-loa" name="loa">{{template "loas"}}</select></div>
<div class="cb-field"><label for="saml2-binding">{{T "demo.field.binding"}}</label>
<select id="saml2-binding" name="binding"><option value="post">HTTP-POST</option><option value="redirect">HTTP-Redirect</option></select></div>
<div class="cb-field"><label for="saml2-nameid">{{T "demo.field.nameid"}}</label>
<select id="saml2-nameid" name="nameid"><option value="transient">{{T "demo.nameid.transient"}}</option><option value="persistent">{{T "demo.nameid.persistent"}}</option></select></div>
<div><input type="checkbox" id="saml2-force" name="force" value="true"> <label for="saml2-force">{{T "demo.field.force"}}</label></div>
</fieldset>
<p class="cb-actions"><button type="submit" class="cb-button">{{T "demo.saml2.submit"}}</button></p>
</form>
<form method="post" action="/demo/clave2/login" class="cb-card cb-form">
<input type="hidden" name="csrf" value="{{.Data.CSRF}}">
<fieldset><legend>{{T "demo.clave2.legend"}}</legend>
<div class="cb-field"><label for="clave2-loa">{{T "demo.field.loa"}}</label>
<select id="clave2-loa" name="loa">{{template "loas"}}</select></div>
<fieldset><legend>{{T "demo.clave2.hide"}}</legend>
{{range .Data.IdPs}}<div><input type="checkbox" id="clave2-disable-{{.Value}}" name="disable" value="{{.Value}}"> <label for="clave2-disable-{{.Value}}">{{T .Label}}</label></div>
{{end}}</fieldset>
<div><input type="checkbox" id="clave2-afirma" name="afirma" value="true"> <label for="clave2-afirma">{{T "demo.field.partial_afirma"}}</label></div>
<div><input type="checkbox" id="clave2-force" name="force" value="true"> <label for="clave2-force">{{T "demo.field.force"}}</label></div>
</fieldset>
<p class="cb-actions"><button type="submit" class="cb-button">{{T "demo.clave2.submit"}}</button></p>
</form>
<form method="post" action="/demo/stork/login" class="cb-card cb-form">
<input type="hidden" name="csrf" value="{{.Data.CSRF}}">
<fieldset><legend>{{T "demo.stork.legend"}}</legend>
<div class="cb-field"><label for="stork-qaa">{{T "demo.field.qaa"}}</label>
<select id="stork-qaa" name="qaa"><option value="2">2 ({{T "demo.loa.low"}})</option><option value="3">3 ({{T "demo.loa.substantial"}})</option><option value="4">4 ({{T "demo.loa.high"}})</option><option value="1">1</option></select></div>
<fieldset><legend>{{T "demo.stork.exclude"}}</legend>
{{range .Data.StorkIdPs}}<div><input type="checkbox" id="stork-exclude-{{.}}" name="exclude" value="{{.}}"> <label for="stork-exclude-{{.}}">{{.}}</label></div>
{{end}}</fieldset>
<div class="cb-field"><label for="stork-forced">{{T "demo.field.forced"}}</label>
<select id="stork-forced" name="forced"><option value="none">{{T "demo.forced.none"}}</option>{{range .Data.StorkIdPs}}<option value="{{.}}">{{.}}</option>{{end}}</select></div>
<div><input type="checkbox" id="stork-legal" name="legal" value="true"> <label for="stork-legal">{{T "demo.field.legal"}}</label></div>
<div><input type="checkbox" id="stork-surname" name="required_surname" value="true"> <label for="stork-surname">{{T "demo.field.surname_required"}}</label></div>
<div><input type="checkbox" id="stork-force" name="force" value="true"> <label for="stork-force">{{T "demo.field.force_stork"}}</label></div>
</fieldset>
<p class="cb-actions"><button type="submit" class="cb-button">{{T "demo.stork.submit"}}</button></p>
</form>{{end}}
{{define "loas"}}<option value="low">{{T "demo.loa.low"}}</option><option value="substantial">{{T "demo.loa.substantial"}}</option><option value="high">{{T "demo.loa.high"}}</option>{{end}}`)

var resultPage = web.MustPageTemplate("demo-result", brand+`{{define "content"}}{{template "brand" .}}
<h1 id="result" {{if .Data.OK}}data-result="ok"{{else}}data-result="failed"{{end}}>{{T .TitleKey}}</h1>
<section class="cb-card" aria-labelledby="summary-title">
<h2 id="summary-title">{{T "demo.result.summary"}}</h2>
<dl class="cb-dl">
<dt>{{T "demo.result.status"}}</dt><dd id="result-status"><code>{{.Data.Status}}</code></dd>
{{with .Data.Message}}<dt>{{T "demo.result.message"}}</dt><dd id="result-message">{{.}}</dd>{{end}}
{{if .Data.OK}}{{with .Data.NameID}}<dt>{{T "demo.result.nameid"}}</dt><dd id="result-nameid"><code>{{.}}</code></dd>{{end}}
{{with .Data.Issuer}}<dt>{{T "demo.result.issuer"}}</dt><dd id="result-issuer"><code>{{.}}</code></dd>{{end}}
<dt>{{T "demo.result.loa"}}</dt><dd id="result-loa">{{T .Data.LoAKey}}{{with .Data.LoA}} <code>{{.}}</code>{{end}}</dd>{{end}}
</dl>
</section>
{{if .Data.OK}}<section class="cb-card" aria-labelledby="attributes-title">
<h2 id="attributes-title">{{T "demo.result.attributes"}}</h2>
{{if .Data.Attributes}}<dl class="cb-dl">
{{range .Data.Attributes}}<dt data-attr="{{.Name}}"{{with .Status}} data-status="{{.}}"{{end}}>{{.Name}}{{with .Status}} <span class="cb-muted">({{.}})</span>{{end}}{{if .FromPost}} <span class="cb-muted">({{T "demo.result.from_post"}})</span>{{end}}</dt>
<dd>{{range $i, $v := .Values}}{{if $i}}, {{end}}<code>{{$v}}</code>{{end}}</dd>
{{end}}</dl>{{else}}<p>{{T "demo.result.no_attributes"}}</p>{{end}}
</section>{{end}}
<div class="cb-actions">
{{if and .Data.OK .Data.Logout}}<form method="post" action="{{.Data.Logout}}"><input type="hidden" name="csrf" value="{{.Data.CSRF}}"><button type="submit" class="cb-button cb-secondary">{{T "demo.logout"}}</button></form>{{end}}
<a class="cb-button" href="/demo/">{{T "demo.back"}}</a>
</div>{{end}}`)

var logoutPage = web.MustPageTemplate("demo-logout", brand+`{{define "content"}}{{template "brand" .}}
<h1 id="logout-result" data-logout="{{.Data.Outcome}}">{{T .TitleKey}}</h1>
<section class="cb-card" aria-labelledby="logout-summary">
<h2 id="logout-summary">{{T "demo.logout.summary"}}</h2>
<dl class="cb-dl">
<dt>{{T "demo.result.status"}}</dt><dd id="logout-status"><code>{{.Data.Status}}</code></dd>
{{with .Data.Message}}<dt>{{T "demo.result.message"}}</dt><dd>{{.}}</dd>{{end}}
</dl>
</section>
<p class="cb-actions"><a class="cb-button" href="/demo/">{{T "demo.back"}}</a> <a class="cb-button cb-secondary" href="/session">{{T "demo.session_link"}}</a></p>{{end}}`)

// render answers with a demo page: the shared layout, the service's look,
// the page policy (forms to the demo's own URLs only).
func render(c echo.Context, status int, page *web.PageTemplate, titleKey string, data any) error {
	return web.RenderPage(c, status, page, web.PageData{TitleKey: titleKey, BodyClass: serviceBody, Data: data})
}

// refuseWith answers a request the demo SP refuses with the shared error
// page of reason, linking back to the demo SP when the bridge knows it;
// err goes to the log only.
func (d *DemoSP) refuseWith(c echo.Context, status int, reason bridge.Reason, err error) error {
	return web.ShowProblem(c, d.cfg.Log, web.Problem{Status: status, Reason: reason, SP: d.EntityID(), Err: err})
}

// demoIdPs are the Cl@ve 2.0 IdPs the kit can hide (value: the form's
// disable value; Label: a catalog key).
var demoIdPs = []option{
	{"AFIRMA", "demo.idp.afirma"}, {"SEGSOC", "demo.idp.segsoc"}, {"PIN24H", "demo.idp.pin24h"},
	{"EIDAS", "demo.idp.eidas"}, {"CLVMOVIL", "demo.idp.clvmovil"},
}

// storkIdPs are the Cl@ve 1 IdP names of excludedIdPList and forcedIdP.
var storkIdPs = []string{"aFirma", "SS", "AEAT", "Stork"}

// option is a choice on the home page.
type option struct{ Value, Label string }
