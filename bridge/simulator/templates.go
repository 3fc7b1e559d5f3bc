package simulator

// pageTemplates are the gateway's pages: plain, accessible HTML without
// scripts or inline styles. Every page posts back to the login endpoint with
// the login id in a hidden field; every page has a Cancel button.
const pageTemplates = `
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} - Cl@ve (simulated)</title>
</head>
<body>
<header><p><strong>Simulated Cl@ve 2.0 gateway.</strong> Test identities only: this is not the real Cl@ve.</p></header>
<main>
<h1>{{.Title}}</h1>
{{if .App}}<p>Service requesting your identification: <strong>{{.App}}</strong></p>{{end}}
{{if .Error}}<p role="alert" id="error">{{.Error}}</p>{{end}}
{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "open"}}<form method="post" action="{{.Action}}">
<input type="hidden" name="login" value="{{.Login}}">
{{end}}

{{define "close"}}<p><button type="submit" name="cancel" value="1" formnovalidate>Cancel</button></p>
</form>
{{end}}

{{define "select"}}{{template "head" .}}{{template "open" .}}
<p>Choose how you want to identify yourself:</p>
<ul>
{{range .IdPs}}<li><button type="submit" name="idp" value="{{.Value}}">{{.Label}}</button></li>
{{end}}</ul>
{{template "close" .}}{{template "foot" .}}{{end}}

{{define "afirma"}}{{template "head" .}}{{template "open" .}}
<fieldset>
<legend>Choose a certificate</legend>
{{range .Certs}}<p><input type="radio" name="certificate" id="cert-{{.Value}}" value="{{.Value}}" required>
<label for="cert-{{.Value}}">{{.Label}}</label></p>
{{end}}</fieldset>
<p><button type="submit" name="next" value="1">Identify with this certificate</button></p>
{{template "close" .}}{{template "foot" .}}{{end}}

{{define "segsoc"}}{{template "head" .}}{{template "open" .}}
<p><label for="user">DNI / NIE</label>
<input type="text" id="user" name="user" value="{{.User}}" autocomplete="username" required></p>
<p><label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required></p>
<p><button type="submit" name="next" value="1">Continue</button></p>
{{template "close" .}}{{template "foot" .}}{{end}}

{{define "sms"}}{{template "head" .}}{{template "open" .}}
<p>A code was sent by SMS to {{.Mobile}}.</p>
<p>Simulated SMS: your Cl@ve code is <output id="sms-code">{{.Code}}</output></p>
<p><label for="code">SMS code</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required></p>
<p><button type="submit" name="next" value="1">Identify</button></p>
{{template "close" .}}{{template "foot" .}}{{end}}

{{define "pin24h"}}{{template "head" .}}{{template "open" .}}
<p><label for="user">DNI / NIE</label>
<input type="text" id="user" name="user" value="{{.User}}" autocomplete="username" required></p>
<p><label for="pin">PIN</label>
<input type="password" id="pin" name="pin" autocomplete="one-time-code" required></p>
<p><button type="submit" name="next" value="1">Identify</button></p>
{{template "close" .}}{{template "foot" .}}{{end}}

{{define "eidas"}}{{template "head" .}}{{template "open" .}}
<p><label for="country">Country of your electronic identity</label>
<select id="country" name="country" required>
{{range .Countries}}<option value="{{.}}">{{.}}</option>
{{end}}</select></p>
<p><label for="identifier">Identifier</label>
<input type="text" id="identifier" name="identifier" value="{{.User}}" required></p>
<p><button type="submit" name="next" value="1">Identify at my country's node</button></p>
{{template "close" .}}{{template "foot" .}}{{end}}

{{define "clvmovil"}}{{template "head" .}}{{template "open" .}}
<p><label for="user">DNI / NIE</label>
<input type="text" id="user" name="user" value="{{.User}}" autocomplete="username" required></p>
<p><button type="submit" name="next" value="1">Send a notification to my Cl@ve app</button></p>
{{template "close" .}}{{template "foot" .}}{{end}}

{{define "confirm"}}{{template "head" .}}{{template "open" .}}
<p>A notification was sent to the Cl@ve app of {{.User}}.</p>
<p><button type="submit" name="confirm" value="1">Confirm in the app (simulated)</button></p>
{{template "close" .}}{{template "foot" .}}{{end}}

{{define "error"}}{{template "head" .}}
<p>{{.Message}}</p>
{{if .Reason}}<p>Reason: <code>{{.Reason}}</code></p>{{end}}
{{template "foot" .}}{{end}}
`
