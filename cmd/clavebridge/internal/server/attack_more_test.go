package server

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// moreEndpoints are the columns added by attackMore.
var moreEndpoints = []string{"stork-redirect", "saml2-slo-response", "clave2-logout-response", "stork-logout-response"}

// attackMore: STORK by GET, RelayState abuse through a whole login.
func attackMore(t *testing.T, res *results) {
	t.Run("stork-redirect", func(t *testing.T) { attackStorkRedirect(t, res) })
	t.Run("relaystate", func(t *testing.T) { attackRelayStates(t, res) })
	t.Run("slo-response", func(t *testing.T) { attackSLOResponses(t, res) })
}

// storkJavaRequest is the STORK demo SP's Java-layout request, XML-signed
// with SHA-256 digests.
func storkJavaRequest(t *testing.T, h *harness, demo samlxmltest.Pair, acs string) []byte {
	k := &storkKit{h: h, key: demo, acs: acs}
	xml := k.build(t, &storkRequest{layout: "java", qaa: "2", providerName: "demo_stork_sp",
		attrs: []string{"eIdentifier!", "givenName!", "surname!"}})
	return resignXML(t, []byte(strings.TrimPrefix(string(xml), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")), demo, nil)
}

// attackStorkRedirect: /Proxy/ServiceProvider by GET (HTTP-Redirect,
// DEFLATE; the signature is the one inside the XML, a query signature is
// not what is checked).
func attackStorkRedirect(t *testing.T, res *results) {
	h, rec := attackHarness(t, nil)
	demo := samlxmltest.Committed(t, "demo-sp")
	acs := h.URL + "/demo/stork/acs"
	ssoURL := h.URL + "/Proxy/ServiceProvider"
	e := &entry{name: "stork-redirect", h: h, rec: rec, returnURLs: []string{acs}, res: res}
	get := func(loc string) func() (*browser.Page, error) {
		return func() (*browser.Page, error) { return browser.New(http.DefaultTransport).Get(loc) }
	}
	// Positive control with a query signature too (an SP adding one must
	// not be refused for it).
	signer := demo.Signer(samlxml.RSASHA256)
	loc, err := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", storkJavaRequest(t, h, demo, acs), "", &signer)
	if err != nil {
		t.Fatal(err)
	}
	page, err := get(loc)()
	e.expectSuccess(t, "Redirect STORK request with a query signature", page, err)
	r := &requestEntry{
		entry: e, url: ssoURL, sp: demo, redirect: true,
		valid: func(t *testing.T) []byte { return storkJavaRequest(t, h, demo, acs) },
	}
	r.run(t)
	e.attack(t, "Size", "deflate bomb", get(ssoURL+"?SAMLRequest="+url.QueryEscape(deflateBomb())), nil)
	// A query signature by the SP's key does not rescue an unsigned XML.
	unsigned := resignXML(t, storkJavaRequest(t, h, demo, acs), samlxmltest.Pair{}, nil)
	loc, err = samlxml.EncodeRedirect(ssoURL, "SAMLRequest", unsigned, "", &signer)
	if err != nil {
		t.Fatal(err)
	}
	e.attack(t, "SignatureExclusion", "unsigned XML, query signed by the SP", get(loc), nil)
}

// relayEcho checks the SP's form carries relay byte for byte in exactly one
// RelayState field and raw nowhere unescaped.
func relayEcho(t *testing.T, p *browser.Page, relay, raw string) {
	t.Helper()
	if raw != "" && strings.Contains(p.Body, raw) {
		t.Errorf("RelayState %q echoed unescaped", raw)
	}
	fs := p.Forms()
	if len(fs) != 1 || fs[0].Fields.Get("SAMLResponse") == "" {
		t.Fatalf("no SAMLResponse form to the SP: %.500s", p.Body)
	}
	if got := fs[0].Fields["RelayState"]; len(got) != 1 || got[0] != relay {
		t.Errorf("RelayState echoed as %q, want %q", got, relay)
	}
}

// attackRelayStates: RelayState at /Proxy2/ServiceProvider (at most 256)
// and /Proxy/ServiceProvider (at most 80). Too long: refused before the
// gateway. Within the limit: carried through the gateway leg and echoed
// escaped in the SP's form.
func attackRelayStates(t *testing.T, res *results) {
	h, rec := attackHarness(t, autoLogin("SEGSOC", "00000000T", ""))
	demo := samlxmltest.Committed(t, "demo-sp")
	kit := &kitSP{Provider: "S2800000X_E00000001", Application: "attack-suite", ACS: h.URL + "/demo/clave2/acs", Key: demo}
	for _, d := range []struct {
		ep, path, acs string
		max           int
		build         func(t *testing.T) []byte
	}{
		{"clave2-post", kitProxyPath, h.URL + "/demo/clave2/acs", 256, func(t *testing.T) []byte { return kit.build(t, h, kitOptions{}).XML }},
		{"stork-post", "/Proxy/ServiceProvider", h.URL + "/demo/stork/acs", 80, func(t *testing.T) []byte {
			return storkJavaRequest(t, h, demo, h.URL+"/demo/stork/acs")
		}},
	} {
		t.Run(d.ep, func(t *testing.T) {
			e := &entry{name: d.ep, h: h, rec: rec, returnURLs: []string{d.acs}, res: res}
			send := func(b *browser.Browser, relay string) (*browser.Page, error) {
				v := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(d.build(t))}, "RelayState": {relay}}
				return b.Post(h.URL+d.path, v)
			}
			// through runs the login to the form the bridge posts to the SP.
			through := func(t *testing.T, relay string) *browser.Page {
				t.Helper()
				b := browser.New(http.DefaultTransport)
				page, err := send(b, relay)
				if err != nil {
					t.Fatal(err)
				}
				page, form, err := b.FollowPosts(page, func(f browser.Form) bool { return f.Action == d.acs })
				if err != nil || form == nil {
					t.Fatalf("no form posted to %s (err %v): %.500s", d.acs, err, page.Body)
				}
				return page
			}
			// Positive control: a RelayState at the limit comes back as sent.
			atMax := strings.Repeat("r", d.max)
			relayEcho(t, through(t, atMax), atMax, "")
			res.add("RelayState", d.ep, !t.Failed())
			for _, n := range []int{d.max + 1, 10 << 10} {
				e.attack(t, "RelayState", fmt.Sprintf("%d bytes", n), func() (*browser.Page, error) {
					return send(browser.New(http.DefaultTransport), strings.Repeat("r", n))
				}, nil)
			}
			for _, c := range []struct{ name, relay, raw string }{
				{"quotes echoed escaped", `a"b'c&d`, `a"b'c&d`},
				{"script echoed escaped", `"><script>alert(1)</script>`, `<script>alert(1)`},
				{"CRLF echoed escaped", "a\r\nSet-Cookie: x=1", ""},
				{"entity text echoed literally", "&lt;b&gt;&#13;", ""},
			} {
				t.Run("RelayState/"+c.name, func(t *testing.T) {
					defer func() { res.add("RelayState", d.ep, !t.Failed()) }()
					relayEcho(t, through(t, c.relay), c.relay, c.raw)
				})
			}
		})
	}
}

// ---------------------------------------------------------------------------
// LogoutResponses from the SPs told of a propagated logout.

// sloResponseCase: target is the demo SP whose answer is attacked; the
// initiator is the other demo SP logged in with it.
type sloResponseCase struct {
	ep, target, initiator, bridgePath, field string
	otherIssuer                              string // the initiator SP's issuer (registered with the same key)
}

var sloResponseCases = []sloResponseCase{
	{"saml2-slo-response", "saml2", "clave2", "/saml2/slo", "SAMLResponse", "S2800000X_E00000001"},
	{"clave2-logout-response", "clave2", "saml2", "/Proxy2/ServiceProvider", "logoutResponse", ""},
	{"stork-logout-response", "stork", "saml2", "/Proxy/LogoutAction", "samlResponseLogout", ""},
}

var demoLoginOptions = map[string]url.Values{
	"saml2":  {"loa": {"low"}, "binding": {"post"}},
	"clave2": {"loa": {"low"}},
	"stork":  {"qaa": {"2"}},
}

func attackSLOResponses(t *testing.T, res *results) {
	for _, c := range sloResponseCases {
		t.Run(c.target, func(t *testing.T) {
			// Positive control in its own harness: the genuine answer,
			// unmodified, ends the logout with Success.
			t.Run("control", func(t *testing.T) {
				h, _ := attackHarness(t, autoLogin("SEGSOC", "00000000T", ""))
				b, form, _ := sloInterceptAnswer(t, h, c)
				sloFinish(t, h, b, form)
			})
			h, rec := attackHarness(t, autoLogin("SEGSOC", "00000000T", ""))
			if c.otherIssuer == "" {
				c.otherIssuer = h.URL + "/demo/saml2/metadata"
			}
			e := &entry{name: c.ep, h: h, rec: rec, returnURLs: []string{h.URL + demoLogoutURLs[c.target], h.URL + demoLogoutURLs[c.initiator]}, res: res, keepsSessions: true}
			demo := samlxmltest.Committed(t, "demo-sp")
			bridgeKey := samlxmltest.Committed(t, "bridge-sign")
			attacker := samlxmltest.NewRSA(t, "attacker")
			b, form, raw := sloInterceptAnswer(t, h, c)
			postWith := func(xml []byte) func() (*browser.Page, error) {
				f := url.Values{}
				for k, v := range form.Fields {
					f[k] = v
				}
				f.Set(c.field, base64.StdEncoding.EncodeToString(xml))
				return func() (*browser.Page, error) { return b.Post(form.Action, f) }
			}
			is400 := func(t *testing.T, p *browser.Page) {
				if p.Status != http.StatusBadRequest {
					t.Errorf("status %d, want the 400 page", p.Status)
				}
			}
			// The variants re-signed by the SP's own key get a fresh ID:
			// a validly signed second message with the genuine answer's ID
			// is a replay, and the bridge rightly remembers the ID, which
			// would then refuse the genuine answer of the final control.
			// Unsigned and attacker-signed variants keep the genuine ID:
			// they must not burn it.
			fresh := func(edit func(*etree.Element)) func(*etree.Element) {
				return func(r *etree.Element) { r.CreateAttr("ID", freshID()); edit(r) }
			}
			variants := []struct {
				class, name string
				xml         []byte
			}{
				{"SignatureExclusion", "unsigned", resignXML(t, raw, samlxmltest.Pair{}, nil)},
				{"SignatureExclusion", "attacker key", resignXML(t, raw, attacker, nil)},
				{"SignatureExclusion", "tampered after signing", bytes.Replace(raw, []byte(`InResponseTo="`), []byte(`InResponseTo="x`), 1)},
				{"KeyConfusion", "signed with the bridge's key", resignXML(t, raw, bridgeKey, nil)},
				{"KeyConfusion", "another SP's issuer, same key", resignXML(t, raw, demo, func(r *etree.Element) {
					r.CreateAttr("ID", freshID())
					if iss, _ := samlxml.Child(r, samlxml.NSAssertion, "Issuer"); iss != nil {
						iss.SetText(c.otherIssuer)
					}
				})},
				{"InResponseTo", "mismatch", resignXML(t, raw, demo, fresh(setAttr("InResponseTo", "_not-the-logout-request")))},
				{"InResponseTo", "absent", resignXML(t, raw, demo, fresh(removeAttr("InResponseTo")))},
				{"DestinationMismatch", "other destination", resignXML(t, raw, demo, fresh(setAttr("Destination", "https://evil.example/slo")))},
				{"TimeWindow", "IssueInstant 1h ago", resignXML(t, raw, demo, fresh(setAttr("IssueInstant", samlxml.FormatTime(time.Now().Add(-time.Hour)))))},
				{"TimeWindow", "IssueInstant 1h ahead", resignXML(t, raw, demo, fresh(setAttr("IssueInstant", samlxml.FormatTime(time.Now().Add(time.Hour)))))},
				{"DTD", "doctype", []byte(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`)},
			}
			for _, v := range variants {
				e.attack(t, v.class, v.name, postWith(v.xml), is400)
			}
			if libraryVariants != nil {
				keys := libKeys{Attacker: attacker.Key, AttackerCert: attacker.Cert, Victim: demo.Cert, Trusted: demo.Key, TrustedCert: demo.Cert}
				for _, v := range libraryVariants(keys) {
					msg, err := v.Apply(raw)
					if err != nil {
						continue
					}
					e.attack(t, v.Class, v.Name, postWith(msg), is400)
				}
			}
			// Positive control, last: the genuine answer still completes
			// the logout under way.
			t.Run("control after the variants", func(t *testing.T) {
				ok := false
				defer func() { res.add("LogoutContinues", c.ep, ok && !t.Failed()) }()
				sloFinish(t, h, b, form)
				ok = true
			})
			e.attack(t, "Replay", "genuine answer again after the logout", postWith(raw), is400)
		})
	}
}

// sloInterceptAnswer logs a fresh browser in at the initiator and the
// target demo SPs, starts the logout at the initiator, delivers the
// bridge's LogoutRequest to the target demo SP and returns its genuine
// answer, not yet posted to the bridge.
func sloInterceptAnswer(t *testing.T, h *harness, c sloResponseCase) (*browser.Browser, browser.Form, []byte) {
	t.Helper()
	b := browser.New(http.DefaultTransport)
	for _, d := range []string{c.initiator, c.target} {
		page, err := b.Post(h.URL+"/demo/"+d+"/login", demoLoginOptions[d])
		if err == nil {
			page, _, err = b.FollowPosts(page, nil)
		}
		if err != nil || !strings.Contains(page.Body, demoLoggedIn) {
			t.Fatalf("%s login: %v %.800s", d, err, page.Body)
		}
	}
	page, err := b.Post(h.URL+"/demo/"+c.initiator+"/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	var posted []string
	_, form, err := b.FollowPosts(page, func(f browser.Form) bool {
		posted = append(posted, f.Action)
		return f.Action == h.URL+c.bridgePath && f.Fields.Get(c.field) != ""
	})
	if err != nil || form == nil {
		t.Fatalf("no %s posted to %s (err %v), posted to %v", c.field, c.bridgePath, err, posted)
	}
	if !slices.Contains(posted, h.URL+demoLogoutURLs[c.target]) {
		t.Fatalf("the answer did not come from the %s demo SP: posted to %v", c.target, posted)
	}
	raw, err := base64.StdEncoding.DecodeString(form.Fields.Get(c.field))
	if err != nil {
		t.Fatal(err)
	}
	return b, *form, raw
}

// sloFinish posts the genuine answer and follows the logout to the
// initiator's "Logged out" page with the status Success.
func sloFinish(t *testing.T, h *harness, b *browser.Browser, form browser.Form) {
	t.Helper()
	logsBefore := h.Logs.Len()
	page, err := b.Post(form.Action, form.Fields)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range h.Logs.All()[logsBefore:] {
		t.Logf("logged %q: %v", l.Message, l.ContextMap())
	}
	last, posted := followRecording(t, b, page)
	if !strings.Contains(last.Body, demoLoggedOut) || !strings.Contains(last.Body, "urn:oasis:names:tc:SAML:2.0:status:Success") ||
		strings.Contains(last.Body, "PartialLogout") {
		t.Fatalf("the genuine answer did not complete the logout: ended at %s (status %d), posted to %v:\n%.1500s", last.URL, last.Status, posted, last.Body)
	}
}
