package server

// A logout request may only end the session it belongs to (issue 11): a
// signed logout request brought by a browser whose session it does not
// name, or posted from a site other than its sender's, ends nothing and
// gets the confirmation page; the citizen's confirmation (the page's own
// form, with its token) carries the logout out. Here for the three
// dialects' logout entry points and the gateway's logout, end to end.
//
// Run it with: go test ./cmd/clavebridge/internal/server -run 'Binding'

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// bridgeLogoutPaths are where each demo SP posts its LogoutRequest.
var bridgeLogoutPaths = map[string]string{
	"saml2":  "/saml2/slo",
	"clave2": "/Proxy2/ServiceProvider",
	"stork":  "/Proxy/LogoutAction",
}

const foreignOrigin = "https://evil.example"

// loggedIn is a fresh browser logged in at the demo SPs of dialects (one
// authentication).
func loggedIn(t *testing.T, h *harness, dialects ...string) *browser.Browser {
	t.Helper()
	b := browser.New(http.DefaultTransport)
	for _, d := range dialects {
		page, err := b.Post(h.URL+"/demo/"+d+"/login", demoLoginOptions[d])
		if err == nil {
			page, _, err = b.FollowPosts(page, nil)
		}
		if err != nil || !strings.Contains(page.Body, demoLoggedIn) {
			t.Fatalf("%s login: %v %.800s", d, err, page.Body)
		}
	}
	if !hasSession(t, h, b) {
		t.Fatal("no session after the logins")
	}
	return b
}

// interceptLogout starts the logout at b's demo SP of dialect and returns
// the LogoutRequest form it posts to the bridge, not posted.
func interceptLogout(t *testing.T, h *harness, b *browser.Browser, dialect string) browser.Form {
	t.Helper()
	page, err := b.Post(h.URL+"/demo/"+dialect+"/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	_, form, err := b.FollowPosts(page, func(f browser.Form) bool { return f.Action == h.URL+bridgeLogoutPaths[dialect] })
	if err != nil || form == nil {
		t.Fatalf("no logout form posted to %s (err %v): %.500s", bridgeLogoutPaths[dialect], err, page.Body)
	}
	return *form
}

// gatewayLogoutForm is a LogoutRequest of the (simulated) gateway.
func gatewayLogoutForm(t *testing.T, h *harness) browser.Form {
	t.Helper()
	out, _, err := h.Server.Simulator.InitiateLogout("gw-relay")
	if err != nil {
		t.Fatal(err)
	}
	fields := url.Values{}
	for _, f := range out.Fields {
		fields.Add(f.Name, f.Value)
	}
	return browser.Form{Action: out.URL, Fields: fields}
}

// postOrigin submits fields to u from b with the Origin header a browser
// would send ("" none: a client that is no browser).
func postOrigin(b *browser.Browser, u string, fields url.Values, origin string) (*browser.Page, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	return &browser.Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(body)}, nil
}

// isConfirmation reports whether p is the bridge's logout confirmation
// page: a form of its own, no script, nothing posted onward.
func isConfirmation(p *browser.Page) bool {
	return p.Status == http.StatusOK && strings.Contains(p.Body, `name="answer" value="logout"`) &&
		strings.Contains(p.Body, `action="/logout/confirm"`) && !strings.Contains(p.Body, "<script") && !p.IsAutoPost()
}

// answerConfirmation submits the confirmation page's form in b as a
// browser does (Origin "null": the bridge's pages send no referrer).
func answerConfirmation(t *testing.T, h *harness, b *browser.Browser, p *browser.Page, answer string) *browser.Page {
	t.Helper()
	forms := p.Forms()
	if len(forms) != 1 {
		t.Fatalf("confirmation page with %d forms", len(forms))
	}
	fields := forms[0].Fields
	fields.Set("answer", answer)
	page, err := postOrigin(b, h.URL+"/logout/confirm", fields, "null")
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// hasSession reports whether b has a session at the bridge (/session).
func hasSession(t *testing.T, h *harness, b *browser.Browser) bool {
	t.Helper()
	page, err := b.Get(h.URL + "/session")
	if err != nil {
		t.Fatal(err)
	}
	return !strings.Contains(page.Body, "No tiene ninguna sesión abierta")
}

// loggedOut checks that the logout went all the way to the initiator's
// "Logged out" page with the status Success.
func loggedOut(t *testing.T, b *browser.Browser, page *browser.Page, initiatorPath string) []string {
	t.Helper()
	last, posted := followRecording(t, b, page)
	if !strings.Contains(last.Body, demoLoggedOut) || !strings.Contains(last.Body, "urn:oasis:names:tc:SAML:2.0:status:Success") ||
		strings.Contains(last.Body, "PartialLogout") || last.URL.Path != initiatorPath {
		t.Fatalf("the logout ended at %s (status %d), posted to %v:\n%.1500s", last.URL, last.Status, posted, last.Body)
	}
	return posted
}

// otherDialect is a dialect other than d.
func otherDialect(d string) string {
	if d == "saml2" {
		return "clave2"
	}
	return "saml2"
}

// TestLogoutBindingSP: at each dialect's logout entry point, a request
// replayed into another browser, or posted from another site, ends nothing
// and shows the confirmation page; the citizen's confirmation ends the
// session and answers the SP; from the SP's own site, or with no Origin
// (a client that is no browser), the logout happens at once.
func TestLogoutBindingSP(t *testing.T) {
	for _, d := range []string{"saml2", "clave2", "stork"} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
			other := otherDialect(d)

			t.Run("replayed into another browser", func(t *testing.T) {
				victim := loggedIn(t, h, other)
				owner := loggedIn(t, h, d)
				form := interceptLogout(t, h, owner, d)
				page, err := postOrigin(victim, form.Action, form.Fields, "")
				if err != nil || !isConfirmation(page) {
					t.Fatalf("%v: want the confirmation page, got %d: %.800s", err, page.Status, page.Body)
				}
				if !hasSession(t, h, victim) || !hasSession(t, h, owner) {
					t.Fatal("a replayed logout request ended a session")
				}
				// Declined: the SP hears a refusal, the session stays.
				last, _ := followRecording(t, victim, answerConfirmation(t, h, victim, page, "stay"))
				if last.URL.Path != demoLogoutURLs[d] || strings.Contains(last.Body, "status:Success") {
					t.Fatalf("declined: ended at %s: %.800s", last.URL, last.Body)
				}
				if !hasSession(t, h, victim) {
					t.Fatal("the declined logout ended the session")
				}
			})
			if d == "saml2" {
				t.Run("replayed into another browser of the same SP", func(t *testing.T) {
					victim := loggedIn(t, h, d)
					owner := loggedIn(t, h, d)
					form := interceptLogout(t, h, owner, d)
					page, err := postOrigin(victim, form.Action, form.Fields, "")
					if err != nil || !isConfirmation(page) || !hasSession(t, h, victim) {
						t.Fatalf("%v: want the confirmation page and the session kept, got %d: %.800s", err, page.Status, page.Body)
					}
				})
			}
			for _, origin := range []string{foreignOrigin, "null"} {
				t.Run("posted from "+origin+", confirmed", func(t *testing.T) {
					b := loggedIn(t, h, d, other)
					form := interceptLogout(t, h, b, d)
					page, err := postOrigin(b, form.Action, form.Fields, origin)
					if err != nil || !isConfirmation(page) {
						t.Fatalf("%v: want the confirmation page, got %d: %.800s", err, page.Status, page.Body)
					}
					if !hasSession(t, h, b) {
						t.Fatal("a logout request from another site ended the session")
					}
					// Another browser cannot answer the question.
					intruder := loggedIn(t, h, d)
					if p := answerConfirmation(t, h, intruder, page, "logout"); p.Status != http.StatusForbidden || !hasSession(t, h, intruder) || !hasSession(t, h, b) {
						t.Fatalf("another browser's confirmation: status %d", p.Status)
					}
					posted := loggedOut(t, b, answerConfirmation(t, h, b, page, "logout"), demoLogoutURLs[d])
					if !slices.Contains(posted, demoLogoutURLs[other]) || !slices.Contains(posted, "/upstream/slo") {
						t.Errorf("the confirmed logout did not tell the others: posted to %v", posted)
					}
					if hasSession(t, h, b) {
						t.Fatal("the confirmed logout left the session")
					}
				})
			}
			for name, origin := range map[string]string{"from the SP's site": h.URL, "without an Origin": ""} {
				t.Run(name, func(t *testing.T) {
					b := loggedIn(t, h, d)
					form := interceptLogout(t, h, b, d)
					page, err := postOrigin(b, form.Action, form.Fields, origin)
					if err != nil || isConfirmation(page) {
						t.Fatalf("%v: asked to confirm a bound logout", err)
					}
					loggedOut(t, b, page, demoLogoutURLs[d])
					if hasSession(t, h, b) {
						t.Fatal("the session outlived the logout")
					}
				})
			}
		})
	}
}

// TestLogoutBindingGateway: the gateway's LogoutRequest from another site
// (at /upstream/slo or at the login's URL) ends nothing and asks; the
// confirmation tells every SP and answers the gateway. From the gateway's
// site it ends the session at once, and it is used once.
func TestLogoutBindingGateway(t *testing.T) {
	h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	for _, at := range []string{"/upstream/slo", "/upstream/acs"} {
		t.Run("from another site at "+at, func(t *testing.T) {
			b := loggedIn(t, h, "saml2", "clave2")
			form := gatewayLogoutForm(t, h)
			answers := h.Server.Simulator.LogoutAnswers()
			page, err := postOrigin(b, h.URL+at, form.Fields, foreignOrigin)
			if err != nil || !isConfirmation(page) || !strings.Contains(page.Body, "Cl@ve identity gateway") {
				t.Fatalf("%v: want the confirmation page, got %d: %.800s", err, page.Status, page.Body)
			}
			if !hasSession(t, h, b) {
				t.Fatal("the gateway's logout from another site ended the session")
			}
			last, posted := followRecording(t, b, answerConfirmation(t, h, b, page, "logout"))
			for _, d := range []string{"saml2", "clave2"} {
				if !slices.Contains(posted, demoLogoutURLs[d]) {
					t.Errorf("the %s demo was never told: posted to %v", d, posted)
				}
			}
			if got := h.Server.Simulator.LogoutAnswers(); got != answers+1 || last.Status != http.StatusOK {
				t.Fatalf("the gateway got %d answers; ended at %s: %.800s", got-answers, last.URL, last.Body)
			}
			if hasSession(t, h, b) {
				t.Fatal("the confirmed logout left the session")
			}
		})
	}
	t.Run("from the gateway's site", func(t *testing.T) {
		b := loggedIn(t, h, "saml2")
		form := gatewayLogoutForm(t, h)
		answers := h.Server.Simulator.LogoutAnswers()
		page, err := postOrigin(b, form.Action, form.Fields, h.URL) // the simulated gateway's origin
		if err != nil || isConfirmation(page) {
			t.Fatalf("%v: asked to confirm the gateway's own logout", err)
		}
		followRecording(t, b, page)
		if hasSession(t, h, b) || h.Server.Simulator.LogoutAnswers() != answers+1 {
			t.Fatal("the gateway's logout did not end the session and answer")
		}
		other := loggedIn(t, h, "saml2")
		if page, err := postOrigin(other, form.Action, form.Fields, ""); err != nil || page.Status != http.StatusBadRequest || !hasSession(t, h, other) {
			t.Fatalf("the gateway's request used twice: %v %d", err, page.Status)
		}
	})
}

// TestLogoutBindingGatewayAnswer: the gateway's answer to our logout leg
// is verified before the logout under way is taken: forged answers are
// refused and take nothing, and the genuine one still completes it.
func TestLogoutBindingGatewayAnswer(t *testing.T) {
	h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
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
	for name, xml := range map[string][]byte{
		"unsigned":                          resignXML(t, raw, samlxmltest.Pair{}, nil),
		"signed by an attacker":             resignXML(t, raw, samlxmltest.NewRSA(t, "attacker"), nil),
		"signed with the SP's key":          resignXML(t, raw, samlxmltest.Committed(t, "demo-sp"), nil),
		"unsigned, InResponseTo of another": resignXML(t, raw, samlxmltest.Pair{}, setAttr("InResponseTo", "_other")),
	} {
		fields := url.Values{}
		for k, v := range form.Fields {
			fields[k] = v
		}
		fields.Set("logoutResponse", base64.StdEncoding.EncodeToString(xml))
		page, err := postOrigin(b, form.Action, fields, "")
		if err != nil || page.Status != http.StatusBadRequest {
			t.Fatalf("%s: %v, status %d: %.500s", name, err, page.Status, page.Body)
		}
	}
	page, err = b.Post(form.Action, form.Fields)
	if err != nil {
		t.Fatal(err)
	}
	loggedOut(t, b, page, demoLogoutURLs["saml2"])
}
