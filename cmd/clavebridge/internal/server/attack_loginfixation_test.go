package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/browser"
)

func init() { registerClass("LoginFixation", attackLoginFixation) }

// attackLoginFixation: the gateway's answer to one login, carried into
// another browser that holds a planted login cookie (a value the attacker
// made up, or one sealed for another login), is refused there and takes
// nothing. Each pending login lives in its own sealed cookie, drawn afresh
// for every login and never adopted from the browser; over https its name
// has the __Host- prefix, so no sibling subdomain can plant one.
func attackLoginFixation(t *testing.T, res *results) {
	h, rec := attackHarness(t, autoLogin("SEGSOC", "00000000T", ""))
	acs := h.URL + "/upstream/acs"
	e := &entry{name: "upstream-acs", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/saml2/acs"}, res: res, takeEndsLogin: true}
	// intercept runs a login to the gateway's answer and returns the
	// browser, the answer and the login cookies the browser holds.
	intercept := func(t *testing.T) (*browser.Browser, browser.Form, []*http.Cookie) {
		t.Helper()
		b := browser.New(http.DefaultTransport)
		page, err := b.Post(h.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
		if err != nil {
			t.Fatal(err)
		}
		_, form, err := b.FollowPosts(page, func(f browser.Form) bool { return f.Action == acs })
		if err != nil || form == nil {
			t.Fatalf("no answer posted to %s (err %v)", acs, err)
		}
		u, _ := url.Parse(acs)
		var logins []*http.Cookie
		for _, c := range b.Client.Jar.Cookies(u) {
			if strings.HasPrefix(c.Name, web.LoginCookie) {
				logins = append(logins, c)
			}
		}
		if len(logins) != 1 {
			t.Fatalf("the browser holds %d login cookies, want 1", len(logins))
		}
		return b, *form, logins
	}
	post := func(b *browser.Browser, form browser.Form) func() (*browser.Page, error) {
		return func() (*browser.Page, error) { return b.Post(form.Action, form.Fields) }
	}
	plant := func(t *testing.T, name, value string) *browser.Browser {
		v := browser.New(http.DefaultTransport)
		u, _ := url.Parse(h.URL + "/")
		v.Client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
		return v
	}

	// Positive control: the answer in its own browser.
	b, form, _ := intercept(t)
	page, err := post(b, form)()
	e.expectSuccess(t, "the answer in the browser that started the login", page, err)

	_, form, own := intercept(t)
	e.attack(t, "LoginFixation", "another browser, no login cookie", post(browser.New(http.DefaultTransport), form), nil)
	e.attack(t, "LoginFixation", "a made-up value planted under the login's cookie",
		post(plant(t, own[0].Name, "test1."+base64.RawURLEncoding.EncodeToString([]byte("attacker's own state"))), form), nil)
	_, _, other := intercept(t)
	e.attack(t, "LoginFixation", "another login's sealed value planted under this login's cookie",
		post(plant(t, own[0].Name, other[0].Value), form), nil)
}
