package server

// The LogoutBinding class: a signed logout request that is not bound to
// the browser bringing it (replayed into another citizen's browser, or
// posted from a site other than its sender's) must end no session. The
// bridge answers it with its confirmation page (nothing ends until the
// citizen confirms on the bridge's own form) or a refusal. And the
// gateway's answer to our logout leg is verified before the logout under
// way is taken: a forged one takes nothing.
//
// The judge of this class is its own: the confirmation page is a 200 page
// with a form and no auto-post, which judge() calls bad for the other
// classes; here it counts as the right answer, next to a refusal (a 4xx
// page, or an error status posted to the SP's registered URL). A case
// passes when that is the answer, no session was deleted, created or
// taken over, no pending state taken, the reason was logged, and the
// victims' sessions are still there.

import (
	"encoding/base64"
	"net/url"
	"slices"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const logoutBindingClass = "LogoutBinding"

func init() { registerClass(logoutBindingClass, attackLogoutBinding) }

// bindingVerdict: the confirmation page or a refusal is right; anything
// else (a success, a bad answer) is not.
func bindingVerdict(page *browser.Page, returnURLs ...string) (bool, string) {
	if isConfirmation(page) {
		return true, "confirmation page"
	}
	switch v, why := judge(page, returnURLs...); v {
	case vRefused:
		return true, why
	case vSuccess:
		return false, "ACCEPTED (" + why + "): security bug"
	default:
		return false, "bad answer: " + why
	}
}

// bindingAttack runs one case of the class at e's entry point.
func bindingAttack(t *testing.T, e *entry, name string, send func() (*browser.Page, error), victims ...*browser.Browser) {
	t.Helper()
	t.Run(logoutBindingClass+"/"+name, func(t *testing.T) {
		ok := false
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("panic: %v", r)
				ok = false
			}
			e.res.add(logoutBindingClass, e.name, ok && !t.Failed())
		}()
		logsBefore := e.h.Logs.Len()
		takes, sessions := e.rec.counts()
		deletes := e.rec.deleted()
		page, err := send()
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		good, why := bindingVerdict(page, e.returnURLs...)
		if !good {
			t.Error(why)
		}
		t.Logf("answer: %s", why)
		if !loggedReason(e.h.Logs.All()[logsBefore:]) {
			t.Errorf("no log entry (level ≥ info) with a reason or error")
		}
		if d := e.rec.deleted() - deletes; d != 0 {
			t.Errorf("store: %d sessions deleted by an unbound logout", d)
		}
		if t2, s2 := e.rec.counts(); s2 != sessions || t2 != takes {
			t.Errorf("store: %d sessions created, %d pending states taken", s2-sessions, t2-takes)
		}
		for i, v := range victims {
			if !hasSession(t, e.h, v) {
				t.Errorf("victim %d lost its session", i)
			}
		}
		ok = true
	})
}

func attackLogoutBinding(t *testing.T, res *results) {
	if !slices.Contains(res.eps, "upstream-slo") {
		res.eps = append(res.eps, "upstream-slo")
	}
	h, rec := attackHarness(t, autoLogin("SEGSOC", "00000000T", ""))
	for _, d := range []struct{ ep, dialect string }{
		{"saml2-slo", "saml2"}, {"clave2-logout", "clave2"}, {"stork-logout", "stork"},
	} {
		t.Run(d.ep, func(t *testing.T) { attackBindingSP(t, h, rec, res, d.ep, d.dialect) })
	}
	t.Run("saml2-slo-redirect", func(t *testing.T) { attackBindingRedirect(t, h, rec, res) })
	t.Run("upstream-slo", func(t *testing.T) { attackBindingGateway(t, h, rec, res) })
}

// attackBindingSP: an SP's LogoutRequest at its dialect's entry point.
func attackBindingSP(t *testing.T, h *harness, rec *recordingStore, res *results, ep, d string) {
	e := &entry{name: ep, h: h, rec: rec, returnURLs: []string{h.URL + demoLogoutURLs[d]}, res: res, keepsSessions: true}
	other := otherDialect(d)
	{
		b := loggedIn(t, h, d)
		form := interceptLogout(t, h, b, d)
		page, err := postOrigin(b, form.Action, form.Fields, h.URL)
		e.expectSuccess(t, "logout from the SP's own site", page, err)
	}
	post := func(b *browser.Browser, form browser.Form, origin string) func() (*browser.Page, error) {
		return func() (*browser.Page, error) { return postOrigin(b, form.Action, form.Fields, origin) }
	}
	{
		victim, owner := loggedIn(t, h, other), loggedIn(t, h, d)
		bindingAttack(t, e, "replayed into another browser (SP not in its session)", post(victim, interceptLogout(t, h, owner, d), ""), victim, owner)
	}
	if d == "saml2" {
		victim, owner := loggedIn(t, h, d), loggedIn(t, h, d)
		bindingAttack(t, e, "replayed into another browser of the same SP", post(victim, interceptLogout(t, h, owner, d), ""), victim, owner)
	}
	for name, origin := range map[string]string{
		"posted from another site":                  foreignOrigin,
		"posted from an opaque origin (null)":       "null",
		"posted from the SP's host on another port": "http://127.0.0.1:1",
		"replayed from another site, SP in session": foreignOrigin,
	} {
		victim := loggedIn(t, h, d, other)
		owner := victim
		if name == "replayed from another site, SP in session" {
			owner = loggedIn(t, h, d)
		}
		bindingAttack(t, e, name, post(victim, interceptLogout(t, h, owner, d), origin), victim)
	}
}

// attackBindingRedirect: the SAML2 LogoutRequest in the Redirect binding
// (a GET: browsers send no Origin, the NameID and SessionIndex bind it).
func attackBindingRedirect(t *testing.T, h *harness, rec *recordingStore, res *results) {
	e := &entry{name: "saml2-slo-redirect", h: h, rec: rec, returnURLs: []string{h.URL + demoLogoutURLs["saml2"]}, res: res, keepsSessions: true}
	demo := samlxmltest.Committed(t, "demo-sp")
	// query is the owner's intercepted LogoutRequest as a signed
	// Redirect-binding query.
	query := func(owner *browser.Browser) string {
		form := interceptLogout(t, h, owner, "saml2")
		raw, err := base64.StdEncoding.DecodeString(form.Fields.Get("SAMLRequest"))
		if err != nil {
			t.Fatal(err)
		}
		signer := demo.Signer(samlxml.RSASHA256)
		loc, err := samlxml.EncodeRedirect(h.URL+"/saml2/slo", "SAMLRequest", resignXML(t, raw, samlxmltest.Pair{}, nil), form.Fields.Get("RelayState"), &signer)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	get := func(b *browser.Browser, loc string) func() (*browser.Page, error) {
		return func() (*browser.Page, error) { return b.Get(loc) }
	}
	{
		b := loggedIn(t, h, "saml2")
		page, err := get(b, query(b))()
		e.expectSuccess(t, "Redirect logout in its own browser", page, err)
	}
	victim, owner := loggedIn(t, h, "clave2"), loggedIn(t, h, "saml2")
	bindingAttack(t, e, "replayed into another browser (SP not in its session)", get(victim, query(owner)), victim, owner)
	victim, owner = loggedIn(t, h, "saml2"), loggedIn(t, h, "saml2")
	bindingAttack(t, e, "replayed into another browser of the same SP", get(victim, query(owner)), victim, owner)
}

// attackBindingGateway: the gateway's LogoutRequest (at /upstream/slo, and
// at the login's URL /upstream/acs), and forged answers to our logout leg.
func attackBindingGateway(t *testing.T, h *harness, rec *recordingStore, res *results) {
	e := &entry{name: "upstream-slo", h: h, rec: rec, returnURLs: []string{h.Server.Simulator.SSOURL()}, res: res, keepsSessions: true}
	acs := &entry{name: "upstream-acs", h: h, rec: rec, returnURLs: []string{h.Server.Simulator.SSOURL()}, res: res, keepsSessions: true}
	{
		b := loggedIn(t, h, "saml2")
		form := gatewayLogoutForm(t, h)
		page, err := postOrigin(b, form.Action, form.Fields, h.URL)
		e.expectSuccess(t, "the gateway's logout from its own site", page, err)
	}
	post := func(b *browser.Browser, u string, form browser.Form, origin string) func() (*browser.Page, error) {
		return func() (*browser.Page, error) { return postOrigin(b, u, form.Fields, origin) }
	}
	for name, origin := range map[string]string{
		"posted from another site":            foreignOrigin,
		"posted from an opaque origin (null)": "null",
	} {
		victim := loggedIn(t, h, "saml2", "stork")
		bindingAttack(t, e, name, post(victim, h.URL+"/upstream/slo", gatewayLogoutForm(t, h), origin), victim)
		victim = loggedIn(t, h, "saml2", "stork")
		bindingAttack(t, acs, "gateway LogoutRequest "+name, post(victim, h.URL+"/upstream/acs", gatewayLogoutForm(t, h), origin), victim)
	}

	// Forged answers to our logout leg: refused before the logout under
	// way is taken (the recording store would count the take).
	b := loggedIn(t, h, "saml2")
	page, err := b.Post(h.URL+"/demo/saml2/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	_, form, err := b.FollowPosts(page, func(f browser.Form) bool {
		return f.Action == h.URL+"/upstream/slo" && f.Fields.Get("logoutResponse") != ""
	})
	if err != nil || form == nil {
		t.Fatalf("no gateway answer posted to /upstream/slo: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(form.Fields.Get("logoutResponse"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(xml []byte) func() (*browser.Page, error) {
		fields := url.Values{}
		for k, v := range form.Fields {
			fields[k] = v
		}
		fields.Set("logoutResponse", base64.StdEncoding.EncodeToString(xml))
		return func() (*browser.Page, error) { return postOrigin(b, form.Action, fields, "") }
	}
	for _, v := range []struct {
		name string
		xml  []byte
	}{
		{"gateway answer unsigned", resignXML(t, raw, samlxmltest.Pair{}, nil)},
		{"gateway answer signed by an attacker", resignXML(t, raw, samlxmltest.NewRSA(t, "attacker"), nil)},
		{"gateway answer signed with the bridge's key", resignXML(t, raw, samlxmltest.Committed(t, "bridge-sign"), nil)},
		{"gateway answer, unsigned, to another request", resignXML(t, raw, samlxmltest.Pair{}, func(r *etree.Element) {
			r.CreateAttr("InResponseTo", "_other")
		})},
	} {
		bindingAttack(t, e, v.name, with(v.xml))
	}
	t.Run("control: the genuine answer after the forged ones", func(t *testing.T) {
		page, err := b.Post(form.Action, form.Fields)
		if err != nil {
			t.Fatal(err)
		}
		loggedOut(t, b, page, demoLogoutURLs["saml2"])
	})
}
