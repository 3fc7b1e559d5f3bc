package simulator

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/bridge/web/i18n"
	"github.com/clavebridge/clavebridge/translate"
)

// rawKeyRe finds a catalog key left in a page (a key the catalogs lack
// renders as itself).
var rawKeyRe = regexp.MustCompile(`\b(sim|demo|reason|post|error|footer|site|skip|lang)\.[a-z_]+`)

// checkPage asserts what every page of the gateway must carry in lang:
// <html lang>, the viewport, the stylesheet, the gateway's look, and no
// raw catalog key.
func checkPage(t *testing.T, name, lang, page string) {
	t.Helper()
	b, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<html lang="` + lang + `">`, `<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<link rel="stylesheet" href="` + web.StylesheetPath + `">`} {
		if !strings.Contains(page, want) {
			t.Errorf("%s (%s) lacks %s:\n%s", name, lang, want, page)
		}
	}
	if m := rawKeyRe.FindString(page); m != "" {
		t.Errorf("%s (%s) shows the raw key %q:\n%s", name, lang, m, page)
	}
	for _, key := range b.Keys() {
		if strings.Contains(page, ">"+key+"<") || strings.Contains(page, `"`+key+`"`) {
			t.Errorf("%s (%s) shows the raw key %q", name, lang, key)
		}
	}
	if strings.Contains(page, "style=") || strings.Contains(page, "urn:oasis") {
		t.Errorf("%s (%s) has inline styles or SAML detail", name, lang)
	}
}

// TestPagesInEachLanguage walks every page of the gateway, behind the
// bridge's adapter (which chooses the language), in each shipped
// language: each is in that language and complete.
func TestPagesInEachLanguage(t *testing.T) {
	b, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range b.Languages() {
		t.Run(l.Code, func(t *testing.T) {
			f := newFixture(t, nil)
			srv := web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
			f.sim.Mount(srv.Echo())
			tr := b.Localizer(l.Code).T
			do := func(form url.Values) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/sim/Proxy2/Login", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Accept-Language", l.Code)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				return rec
			}
			start := func(loa translate.LoA) (string, string) {
				form := url.Values{"SAMLRequest": {b64(f.signed(f.request(loa), f.bridge))}, "RelayState": {testRelay}}
				req := httptest.NewRequest(http.MethodPost, "/sim/Proxy2/ServiceProvider?lang="+l.Code, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Fatalf("SSO answered %d:\n%s", rec.Code, rec.Body)
				}
				return loginID(t, rec.Body.String()), rec.Body.String()
			}
			id, sel := start(translate.LoALow)
			checkPage(t, "selection", l.Code, sel)
			for _, p := range []string{"AFIRMA", "PIN24H", "SEGSOC", "EIDAS", "CLVMOVIL"} {
				if !strings.Contains(sel, `class="cb-choice"><button type="submit" name="idp" value="`+p+`">`) {
					t.Errorf("no %s tile", p)
				}
			}
			if !strings.Contains(sel, `<body class="cb-gateway">`) || !strings.Contains(sel, tr("sim.brand")) || !strings.Contains(sel, tr("sim.cancel")) {
				t.Errorf("selection page lacks the gateway's look, brand or Cancel:\n%s", sel)
			}
			pages := []struct {
				name  string
				steps [][]string
				title string
			}{
				{"afirma", [][]string{{"idp", "AFIRMA"}}, "sim.afirma.title"},
				{"pin24h", [][]string{{"idp", "PIN24H"}}, "sim.pin.title"},
				{"pin24h wrong", [][]string{{"idp", "PIN24H"}, {"user", "12345678Z", "pin", "0"}}, "sim.pin.title"},
				{"segsoc", [][]string{{"idp", "SEGSOC"}}, "sim.segsoc.title"},
				{"sms", [][]string{{"idp", "SEGSOC"}, {"user", "X1234567L", "password", "john-clave-2024"}}, "sim.sms.title"},
				{"eidas", [][]string{{"idp", "EIDAS"}}, "sim.eidas.title"},
				{"clvmovil", [][]string{{"idp", "CLVMOVIL"}}, "sim.clvmovil.title"},
				{"confirm", [][]string{{"idp", "CLVMOVIL"}, {"user", "99999999R"}}, "sim.confirm.title"},
			}
			for _, p := range pages {
				id, _ := start(translate.LoALow)
				var page string
				for _, st := range p.steps {
					form := url.Values{"login": {id}}
					for i := 0; i+1 < len(st); i += 2 {
						form.Set(st[i], st[i+1])
					}
					page = do(form).Body.String()
				}
				checkPage(t, p.name, l.Code, page)
				if p.name == "eidas" {
					// countries by their names in the page's language, the code posted
					opts := regexp.MustCompile(`<option value="([A-Z]{2})">([^<]+)</option>`).FindAllStringSubmatch(page, -1)
					if len(opts) == 0 {
						t.Errorf("eidas (%s): no country to choose", l.Code)
					}
					for _, o := range opts {
						if o[2] == o[1] {
							t.Errorf("eidas (%s): country %s shown by its code", l.Code, o[1])
						}
					}
				}
				if got := titleOf(page); got != tr(p.title) {
					t.Errorf("%s: title %q, want %q", p.name, got, tr(p.title))
				}
			}
			// The wrong PIN is identified: the alert, the fields pointing at it.
			id2, _ := start(translate.LoALow)
			do(url.Values{"login": {id2}, "idp": {"PIN24H"}})
			wrong := do(url.Values{"login": {id2}, "user": {"12345678Z"}, "pin": {"0"}}).Body.String()
			if m := alertRe.FindStringSubmatch(wrong); m == nil || !strings.Contains(wrong, `id="pin" name="pin" autocomplete="one-time-code" aria-invalid="true" aria-describedby="error"`) {
				t.Errorf("the wrong PIN is not identified:\n%s", wrong)
			}
			// The answer's POST page and the refusal page.
			post := do(url.Values{"login": {id}, "cancel": {"1"}})
			checkPage(t, "post", l.Code, post.Body.String())
			if !strings.Contains(post.Body.String(), "<noscript>") || !strings.Contains(post.Body.String(), tr("post.button")) {
				t.Errorf("the POST page has no localized no-script fallback:\n%s", post.Body)
			}
			refused := do(url.Values{"login": {id}, "idp": {"PIN24H"}})
			if refused.Code != http.StatusBadRequest {
				t.Errorf("a finished login answered %d", refused.Code)
			}
			checkPage(t, "refusal", l.Code, refused.Body.String())
			if !strings.Contains(refused.Body.String(), `<body class="cb-gateway">`) {
				t.Errorf("the gateway's refusal page lacks the gateway's look:\n%s", refused.Body)
			}
		})
	}
}

// TestLanguageSwitchOnGatewayPages: the gateway's pages answer POSTs, so
// their switch is a form per language posting the login id back; it shows
// the same step in the language chosen, keeps the choice in the cookie,
// and the login goes on from there.
func TestLanguageSwitchOnGatewayPages(t *testing.T) {
	f := newFixture(t, nil)
	srv := web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
	f.sim.Mount(srv.Echo())
	post := func(path string, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	sel := post("/sim/Proxy2/ServiceProvider", url.Values{"SAMLRequest": {b64(f.signed(f.request(translate.LoALow), f.bridge))}, "RelayState": {testRelay}})
	if sel.Code != http.StatusOK {
		t.Fatalf("SSO answered %d:\n%s", sel.Code, sel.Body)
	}
	page := sel.Body.String()
	id := loginID(t, page)
	checkPage(t, "selection", "es", page)
	wantForm := `<form method="post" action="/sim/Proxy2/Login?lang=en"><input type="hidden" name="login" value="` + id + `"><button type="submit" class="cb-link" name="` + web.SwitchField + `" value="1" lang="en">`
	if !strings.Contains(page, wantForm) {
		t.Fatalf("the selection page has no switch form to English:\n%s", page)
	}
	if !strings.Contains(page, `<span aria-current="true" lang="es">`) {
		t.Errorf("the switch does not mark Spanish as current:\n%s", page)
	}

	switched := post("/sim/Proxy2/Login?lang=en", url.Values{"login": {id}, web.SwitchField: {"1"}})
	if switched.Code != http.StatusOK {
		t.Fatalf("the switch answered %d:\n%s", switched.Code, switched.Body)
	}
	checkPage(t, "selection after the switch", "en", switched.Body.String())
	if !strings.Contains(switched.Body.String(), `name="idp" value="AFIRMA"`) {
		t.Errorf("the switch did not show the same step again:\n%s", switched.Body)
	}
	if ck := switched.Header().Get("Set-Cookie"); !strings.Contains(ck, web.LangCookie+"=en") {
		t.Errorf("the choice is not kept: Set-Cookie %q", ck)
	}
	next := post("/sim/Proxy2/Login?lang=en", url.Values{"login": {id}, "idp": {"PIN24H"}})
	if next.Code != http.StatusOK || !strings.Contains(next.Body.String(), `name="pin"`) {
		t.Errorf("the login does not go on after the switch: %d\n%s", next.Code, next.Body)
	}
}
