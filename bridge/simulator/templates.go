package simulator

import "github.com/clavebridge/clavebridge/bridge/web"

// The gateway's pages, in the shared layout of bridge/web (language,
// stylesheet, language switch, accessibility link) with the look of an
// identity provider chooser (body class cb-gateway). Every text comes from
// the catalogs (keys sim.*); no scripts, no inline styles. Every page
// posts back to the login endpoint with the login id in a hidden field and
// has a Cancel button; form field names and values are what the load
// command and the tests post.

// pageCommon are the parts every step page shares: the gateway's brand and
// the test-identities notice, the title, the requesting service, the error
// (role=alert, named by aria-describedby from the fields), the form's
// opening and its Cancel button.
const pageCommon = `
{{define "simhead"}}<div class="cb-card">
<p class="cb-brand">{{T "sim.brand"}}</p>
<p class="cb-muted">{{T "sim.notice"}}</p>
</div>
<h1>{{T .TitleKey}}</h1>
{{with .Data.App}}<p>{{T "sim.app" "app" .}}</p>{{end}}
{{with .Data.Error}}<p class="cb-error cb-field-error" role="alert" id="error">{{.}}</p>{{end}}
{{end}}

{{define "open"}}<form method="post" action="{{.Data.Action}}" class="cb-form">
<input type="hidden" name="login" value="{{.Data.Login}}">
{{end}}

{{define "close"}}<p class="cb-actions"><button type="submit" name="cancel" value="1" class="cb-button cb-secondary" formnovalidate>{{T "sim.cancel"}}</button></p>
</form>
{{end}}

{{define "invalid"}}{{if .Data.Error}} aria-invalid="true" aria-describedby="error"{{end}}{{end}}

{{define "user"}}<div class="cb-field"><label for="user">{{T "sim.field.user"}}</label>
<p class="cb-hint" id="user-hint">{{T "sim.field.user_hint"}}</p>
<input type="text" id="user" name="user" value="{{.Data.User}}" autocomplete="username" aria-describedby="user-hint{{if .Data.Error}} error{{end}}"{{if .Data.Error}} aria-invalid="true"{{end}} required></div>{{end}}
`

// stepPage is one page of the login: pageCommon plus its content.
func stepPage(name, content string) *web.PageTemplate {
	return web.MustPageTemplate("sim-"+name, pageCommon+`{{define "content"}}{{template "simhead" .}}`+content+`{{end}}`)
}

var (
	selectPage = stepPage("select", `{{template "open" .}}
<p id="chooser-help">{{T "sim.select.help"}}</p>
<ul class="cb-chooser" aria-describedby="chooser-help">
{{range .Data.IdPs}}<li class="cb-choice"><button type="submit" name="idp" value="{{.Value}}"><span class="cb-choice-name">{{T .Label}}</span> <span class="cb-choice-desc">{{T .Desc}}</span></button></li>
{{end}}</ul>
{{template "close" .}}`)

	afirmaPage = stepPage("afirma", `{{template "open" .}}
<fieldset{{template "invalid" .}}>
<legend>{{T "sim.afirma.legend"}}</legend>
{{range .Data.Certs}}<div class="cb-field cb-radio"><input type="radio" name="certificate" id="cert-{{.Value}}" value="{{.Value}}" data-kind="{{.Kind}}" required>
<label for="cert-{{.Value}}">{{.Label}}</label></div>
{{end}}</fieldset>
<p class="cb-actions"><button type="submit" name="next" value="1" class="cb-button">{{T "sim.afirma.submit"}}</button></p>
{{template "close" .}}`)

	segsocPage = stepPage("segsoc", `{{template "open" .}}
{{template "user" .}}
<div class="cb-field"><label for="password">{{T "sim.field.password"}}</label>
<input type="password" id="password" name="password" autocomplete="current-password"{{template "invalid" .}} required></div>
<p class="cb-actions"><button type="submit" name="next" value="1" class="cb-button">{{T "sim.next"}}</button></p>
{{template "close" .}}`)

	smsPage = stepPage("sms", `{{template "open" .}}
<p id="sms-sent">{{T "sim.sms.sent" "mobile" .Data.Mobile}}</p>
<p class="cb-hint">{{T "sim.sms.simulated"}} <output id="sms-code">{{.Data.Code}}</output></p>
<div class="cb-field"><label for="code">{{T "sim.field.code"}}</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code"{{template "invalid" .}} required></div>
<p class="cb-actions"><button type="submit" name="next" value="1" class="cb-button">{{T "sim.identify"}}</button></p>
{{template "close" .}}`)

	pinPage = stepPage("pin24h", `{{template "open" .}}
{{template "user" .}}
<div class="cb-field"><label for="pin">{{T "sim.field.pin"}}</label>
<input type="password" id="pin" name="pin" autocomplete="one-time-code"{{template "invalid" .}} required></div>
<p class="cb-actions"><button type="submit" name="next" value="1" class="cb-button">{{T "sim.identify"}}</button></p>
{{template "close" .}}`)

	eidasPage = stepPage("eidas", `{{template "open" .}}
<div class="cb-field"><label for="country">{{T "sim.field.country"}}</label>
<select id="country" name="country"{{template "invalid" .}} required>
{{range .Data.Countries}}<option value="{{.Code}}">{{.Name}}</option>
{{end}}</select></div>
<div class="cb-field"><label for="identifier">{{T "sim.field.identifier"}}</label>
<input type="text" id="identifier" name="identifier" value="{{.Data.User}}"{{template "invalid" .}} required></div>
<p class="cb-actions"><button type="submit" name="next" value="1" class="cb-button">{{T "sim.eidas.submit"}}</button></p>
{{template "close" .}}`)

	mobilePage = stepPage("clvmovil", `{{template "open" .}}
{{template "user" .}}
<p class="cb-actions"><button type="submit" name="next" value="1" class="cb-button">{{T "sim.clvmovil.submit"}}</button></p>
{{template "close" .}}`)

	confirmPage = stepPage("confirm", `{{template "open" .}}
<p>{{T "sim.confirm.sent" "user" .Data.User}}</p>
<p class="cb-actions"><button type="submit" name="confirm" value="1" class="cb-button"{{if .Data.Error}} aria-describedby="error"{{end}}>{{T "sim.confirm.submit"}}</button></p>
{{template "close" .}}`)

	loggedOutPage = web.MustPageTemplate("sim-logged-out", pageCommon+`{{define "content"}}{{template "simhead" .}}
<p id="logged-out">{{T "sim.loggedout.text"}}</p>{{end}}`)
)
