package server

// End-to-end single logout across the Cl@ve dialects: the demo Cl@ve 2.0
// kit and the demo Cl@ve 1 SP log in through one SSO session; the Cl@ve 1
// SP then sends its samlRequestLogout to /Proxy/LogoutAction. The kit gets
// its logoutRequest (intercepted here, verified with the bridge's
// certificate and answered with a logoutResponse signed with the demo SP
// key), then the gateway (the simulator) if the upstream connector does
// single logout, and finally the Cl@ve 1 SP its samlResponseLogout. The
// session is gone: the next login authenticates again.
//
// Run it with: go test ./cmd/clavebridge/internal/server -run 'SLO|Logout'

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// The demo SPs' logout URLs: never fetched, the test intercepts the forms
// posted there and plays the SPs.
const (
	sloStorkSP     = "demo_stork_sp"
	sloKitSP       = "S2800000X_E00000001"
	sloStorkReturn = "https://stork-sp.test/SP/logoutResponse"
	sloKitReturn   = "https://kit-sp.test/SP2/ReturnPage"
)

// sloLogoutURLs registers the demo SPs' logout URLs.
func sloLogoutURLs(cfg *config.Config) {
	for i, sp := range cfg.ServiceProviders {
		switch sp.ID {
		case sloStorkSP:
			cfg.ServiceProviders[i].LogoutURLs = []string{sloStorkReturn}
		case sloKitSP:
			cfg.ServiceProviders[i].LogoutURLs = []string{sloKitReturn}
		}
	}
}

// sloSignedBase64 signs el with the demo SP key and encodes it for a form.
func sloSignedBase64(t *testing.T, el *etree.Element, method string) string {
	t.Helper()
	if err := samlxmltest.Committed(t, "demo-sp").Signer(method).Sign(el); err != nil {
		t.Fatal(err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(xml)
}

// sloVerify decodes a form value and verifies it with bridge-sign.crt; it
// returns the raw root (for its namespace declarations) and the verified
// element.
func sloVerify(t *testing.T, value string) (raw, verified *etree.Element) {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{samlxmltest.Committed(t, "bridge-sign").Cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatalf("the bridge's signature: %v", err)
	}
	return doc.Root(), v.Element
}

// storkLogoutRequest is the demo Cl@ve 1 SP's LogoutRequest as the Java
// STORK engine writes it.
func storkLogoutRequest(base, id string) *etree.Element {
	el := etree.NewElement("saml2p:LogoutRequest")
	for _, ns := range [][2]string{
		{"saml2p", samlxml.NSProtocol}, {"ds", samlxml.NSDSig}, {"saml2", samlxml.NSAssertion},
		{"stork", nsStork}, {"storkp", nsStorkP},
	} {
		el.CreateAttr("xmlns:"+ns[0], ns[1])
	}
	el.CreateAttr("Consent", "urn:oasis:names:tc:SAML:2.0:consent:unspecified")
	el.CreateAttr("Destination", base+"/Proxy/LogoutAction")
	el.CreateAttr("ID", id)
	el.CreateAttr("IssueInstant", samlxml.FormatTime(time.Now()))
	el.CreateAttr("Version", "2.0")
	iss := el.CreateElement("saml2:Issuer")
	iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
	iss.SetText(sloStorkReturn)
	el.CreateElement("saml2:NameID").SetText(sloStorkSP)
	return el
}

// sloHasSessionCookie reports whether the browser still holds the SSO cookie.
func sloHasSessionCookie(h *harness) bool {
	u, _ := url.Parse(h.URL)
	for _, c := range h.Browser.Client.Jar.Cookies(u) {
		if c.Name == web.SessionCookie && c.Value != "" {
			return true
		}
	}
	return false
}

func TestSLOClave1InitiatorClave2Participant(t *testing.T) {
	h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"), sloLogoutURLs)
	for _, step := range []struct {
		dialect string
		options url.Values
	}{
		{"clave2", url.Values{"loa": {"low"}}},
		{"stork", url.Values{"qaa": {"2"}}},
	} {
		if body := h.login(t, step.dialect, step.options); !strings.Contains(body, demoLoggedIn) {
			t.Fatalf("%s login: %.1500s", step.dialect, body)
		}
	}
	if got := h.Server.Simulator.Logins(); got != 1 || !sloHasSessionCookie(h) {
		t.Fatalf("simulator logins %d, want 1 (single sign-on); session cookie %v", got, sloHasSessionCookie(h))
	}

	// The Cl@ve 1 SP starts the logout.
	page, err := h.Browser.Post(h.URL+"/Proxy/LogoutAction", url.Values{
		"samlRequestLogout": {sloSignedBase64(t, storkLogoutRequest(h.URL, "_stork_logout_1"), samlxml.RSASHA256)},
		"RelayState":        {"stork-relay"},
	})
	if err != nil {
		t.Fatal(err)
	}
	page, form, err := h.Browser.FollowPosts(page, func(f browser.Form) bool { return f.Action == sloKitReturn })
	if err != nil {
		t.Fatal(err)
	}
	if form == nil {
		t.Fatalf("the kit got no logoutRequest: status %d %.1500s", page.Status, page.Body)
	}

	// The kit: verify the bridge's logoutRequest, answer it.
	_, v := sloVerify(t, form.Fields.Get("logoutRequest"))
	lr, err := clave2msg.ParseLogoutRequest(v)
	if err != nil {
		t.Fatal(err)
	}
	if lr.NameID != sloKitSP || lr.Destination != sloKitReturn || lr.Issuer != h.URL+"/Proxy2/ServiceProvider" ||
		lr.Reason != clave2msg.LogoutReasonUser || form.Fields.Get("RelayState") == "" {
		t.Fatalf("kit LogoutRequest %+v, fields %v", lr, form.Fields)
	}
	answer := (&clave2msg.LogoutResponse{
		ID: "_kit_logout_answer", InResponseTo: lr.ID, IssueInstant: time.Now(), Destination: h.URL + "/Proxy2/ServiceProvider",
		Issuer: sloKitSP, Status: clave2msg.Status{Code: clave2msg.StatusSuccess},
	}).Element()
	page, err = h.Browser.Post(h.URL+"/Proxy2/ServiceProvider", url.Values{
		"logoutResponse": {sloSignedBase64(t, answer, samlxml.RSASHA512)},
		"RelayState":     {form.Fields.Get("RelayState")},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The gateway leg (auto-posted through the simulator), then the answer
	// to the Cl@ve 1 SP.
	page, form, err = h.Browser.FollowPosts(page, func(f browser.Form) bool { return f.Action == sloStorkReturn })
	if err != nil {
		t.Fatal(err)
	}
	if form == nil {
		t.Fatalf("the Cl@ve 1 SP got no answer: status %d %.1500s", page.Status, page.Body)
	}
	if form.Fields.Get("RelayState") != "stork-relay" || form.Fields.Has("SAMLResponse") {
		t.Errorf("answer fields %v", form.Fields)
	}
	raw, v := sloVerify(t, form.Fields.Get("samlResponseLogout"))
	for prefix, ns := range map[string]string{
		"saml2p": samlxml.NSProtocol, "ds": samlxml.NSDSig, "saml2": samlxml.NSAssertion, "stork": nsStork, "storkp": nsStorkP,
	} {
		if raw.SelectAttrValue("xmlns:"+prefix, "") != ns {
			t.Errorf("xmlns:%s is not declared on the root", prefix)
		}
	}
	resp, err := clave2msg.ParseLogoutResponse(v)
	if err != nil {
		t.Fatal(err)
	}
	if resp.InResponseTo != "_stork_logout_1" || resp.Destination != sloStorkReturn || resp.Issuer != h.URL+"/Proxy/LogoutAction" {
		t.Errorf("LogoutResponse %+v", resp)
	}
	want := clave2msg.Status{Code: clave2msg.StatusSuccess, Message: clave2msg.StatusSuccess}
	switch leg := sloGatewayLeg(h); leg {
	case "wired":
		sim, ok := any(h.Server.Simulator).(interface{ Logouts() int })
		if !ok {
			t.Fatal("the connector does single logout but the simulator cannot count logouts")
		}
		if got := sim.Logouts(); got != 1 {
			t.Errorf("the simulator accepted %d LogoutRequests, want 1", got)
		}
	case "unwired":
		// The connector has single logout but the server does not give it
		// its /upstream/slo: the gateway leg fails, the logout is partial.
		t.Log("gateway leg not wired in the server: PartialLogout expected")
		want.SubCode = clave2msg.StatusPartialLogout
	default:
		t.Log("the upstream connector has no single logout: gateway leg skipped")
	}
	if resp.Status != want {
		t.Errorf("status %+v, want %+v (gateway leg: %v)", resp.Status, want,
			h.reasonsOf("logout not sent upstream", "the gateway did not confirm the logout"))
	}
	if sloHasSessionCookie(h) {
		t.Error("the browser still holds the session cookie")
	}

	// The session is gone: a new login authenticates again.
	if body := h.login(t, "stork", url.Values{"qaa": {"2"}}); !strings.Contains(body, demoLoggedIn) {
		t.Fatalf("login after logout: %.1500s", body)
	}
	if got := h.Server.Simulator.Logins(); got != 2 {
		t.Fatalf("simulator logins %d after the logout, want 2", got)
	}
	assertNoPersonalData(t, h.Logs, "99999999R", "JUAN")
}

// TestSLOClave1RefusedRequests: an unsigned request, or one naming an
// unregistered return URL, gets the error page and the session stays.
func TestSLOClave1RefusedRequests(t *testing.T) {
	for name, build := range map[string]func(t *testing.T, base string) string{
		"unsigned": func(t *testing.T, base string) string {
			xml, err := samlxml.Serialize(storkLogoutRequest(base, "_unsigned"))
			if err != nil {
				t.Fatal(err)
			}
			return base64.StdEncoding.EncodeToString(xml)
		},
		"unregistered return URL": func(t *testing.T, base string) string {
			el := storkLogoutRequest(base, "_evil")
			el.SelectElement("Issuer").SetText("https://evil.test/logout")
			return sloSignedBase64(t, el, samlxml.RSASHA256)
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"), sloLogoutURLs)
			h.login(t, "stork", url.Values{"qaa": {"2"}})
			page, err := h.Browser.Post(h.URL+"/Proxy/LogoutAction", url.Values{"samlRequestLogout": {build(t, h.URL)}})
			if err != nil {
				t.Fatal(err)
			}
			if page.Status != http.StatusBadRequest || strings.Contains(page.Body, "<form") || !sloHasSessionCookie(h) {
				t.Fatalf("status %d, cookie %v: %.500s", page.Status, sloHasSessionCookie(h), page.Body)
			}
			h.login(t, "stork", url.Values{"qaa": {"2"}})
			if got := h.Server.Simulator.Logins(); got != 1 {
				t.Fatalf("simulator logins %d, want 1: the session must have survived", got)
			}
		})
	}
}

// sloGatewayLeg tells whether the bridge logs out of the gateway too:
// "wired" (the connector does single logout and /upstream/slo is mounted),
// "unwired" (the connector could, but the server gives it no logout URL),
// or "none".
func sloGatewayLeg(h *harness) string {
	if _, ok := h.Server.Flow.Upstream.(flow.UpstreamLogout); !ok {
		return "none"
	}
	for _, r := range h.Server.Web.Echo().Routes() {
		if r.Method == http.MethodPost && r.Path == "/upstream/slo" {
			return "wired"
		}
	}
	return "unwired"
}

// reasonsOf collects the error fields of these log messages (for failure
// messages).
func (h *harness) reasonsOf(messages ...string) []string {
	var out []string
	for _, m := range messages {
		for _, e := range h.Logs.FilterMessage(m).All() {
			out = append(out, fmt.Sprintf("%s: %v", m, e.ContextMap()["error"]))
		}
	}
	return out
}
