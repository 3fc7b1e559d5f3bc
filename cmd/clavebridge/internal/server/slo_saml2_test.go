package server

// Single logout of the plain SAML2 endpoint with pysaml2 as the SP: it logs
// in through the bridge (auto-login simulator), sends its own signed
// LogoutRequest (Saml2Client.do_logout) in the POST or Redirect binding,
// and reads the bridge's LogoutResponse with its own code; afterwards the
// browser's SSO session is gone.

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// pySAML2SLOSP is the pysaml2 SP with a SingleLogoutService.
type pySAML2SLOSP struct {
	pySAML2SP
	SLOURL      string // its SingleLogoutService location
	SLOBindings string // "post redirect", "redirect", ...: its metadata's SLO bindings, in order
}

func (sp pySAML2SLOSP) call(t *testing.T, extra map[string]string, args ...string) ([]byte, error) {
	t.Helper()
	params := map[string]string{"slo_url": sp.SLOURL, "slo_bindings": sp.SLOBindings}
	for k, v := range extra {
		params[k] = v
	}
	return sp.pySAML2SP.call(t, params, args...)
}

func (sp pySAML2SLOSP) metadata(t *testing.T) []byte {
	t.Helper()
	out, err := sp.call(t, nil, "metadata")
	if err != nil {
		t.Fatalf("pysaml2 metadata: %v", err)
	}
	var md struct{ XML string }
	if err := json.Unmarshal(out, &md); err != nil || md.XML == "" {
		t.Fatalf("pysaml2 metadata: bad output %q (%v)", out, err)
	}
	return []byte(md.XML)
}

// pySAML2Logout is the LogoutRequest pysaml2 sends: a redirect URL or a
// POST form.
type pySAML2Logout struct {
	ID           string            `json:"id"`
	NameID       string            `json:"name_id"`
	SessionIndex string            `json:"session_index"`
	URL          string            `json:"url"`
	Action       string            `json:"action"`
	Fields       map[string]string `json:"fields"`
}

// logoutRequest has pysaml2 read the login's response (recording the
// session) and start its logout.
func (sp pySAML2SLOSP) logoutRequest(t *testing.T, binding, samlResponse, outstanding string) pySAML2Logout {
	t.Helper()
	out, err := sp.call(t, map[string]string{"saml_response": samlResponse, "outstanding_id": outstanding}, "logout_request", "--binding", binding)
	if err != nil {
		t.Fatalf("pysaml2 logout_request: %v", err)
	}
	var r pySAML2Logout
	if err := json.Unmarshal(out, &r); err != nil || r.ID == "" {
		t.Fatalf("pysaml2 logout_request: bad output %q (%v)", out, err)
	}
	return r
}

type pySAML2LogoutResult struct {
	ID           string `json:"id"`
	InResponseTo string `json:"in_response_to"`
	Issuer       string `json:"issuer"`
	Destination  string `json:"destination"`
	Status       string `json:"status"`
	SubStatus    string `json:"sub_status"`
	Signed       bool   `json:"signed"`
}

// logoutResponse hands the bridge's LogoutResponse to pysaml2: for POST the
// form's SAMLResponse, for Redirect the query as received.
func (sp pySAML2SLOSP) logoutResponse(t *testing.T, binding string, msg url.Values) (*pySAML2LogoutResult, error) {
	t.Helper()
	params := map[string]string{
		"saml_response": msg.Get("SAMLResponse"), "relay_state": msg.Get("RelayState"),
		"sig_alg": msg.Get("SigAlg"), "signature": msg.Get("Signature"),
	}
	out, err := sp.call(t, params, "logout_response", "--binding", binding)
	if err != nil {
		return nil, err
	}
	var r pySAML2LogoutResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pysaml2 logout_response: bad output %q (%v)", out, err)
	}
	return &r, nil
}

// followLogout follows the bridge's pages from page until the logout's
// answer leaves for the SP's SingleLogoutService: a POST form (returned
// unposted) or a redirect (*redirectTo, which the browser's CheckRedirect
// records instead of following). gateway reports whether the gateway (the
// simulator) took part.
func followLogout(t *testing.T, h *harness, page *browser.Page, redirectTo **url.URL, spSLO string) (msg url.Values, redirect, gateway bool) {
	t.Helper()
	stop := func(f browser.Form) bool {
		gateway = gateway || strings.Contains(f.Action, "/sim/")
		return f.Action == spSLO
	}
	last, form, err := h.Browser.FollowPosts(page, stop)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case form != nil:
		return form.Fields, false, gateway
	case *redirectTo != nil:
		return (*redirectTo).Query(), true, gateway
	}
	t.Fatalf("the logout never answered the SP at %s; stopped at %s (status %d):\n%.3000s", spSLO, last.URL, last.Status, last.Body)
	return nil, false, false
}

// TestPySAML2SingleLogout: pysaml2 logs in, the demo SP shares the SSO
// session, pysaml2 logs out; it accepts the bridge's signed LogoutResponse
// (POST or Redirect, as its metadata registered) and the next login needs
// a new authentication.
func TestPySAML2SingleLogout(t *testing.T) {
	requirePeer(t, "python3-pysaml2 with /usr/bin/xmlsec1", pySAML2AndXmlsec1)
	tests := []struct {
		name        string
		binding     string // of pysaml2's LogoutRequest
		sloBindings string // of pysaml2's SingleLogoutService (the bridge answers in the first)
	}{
		{"post request, post response", "post", "post redirect"},
		{"redirect request, redirect response", "redirect", "redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			sp := pySAML2SLOSP{
				pySAML2SP: pySAML2SP{
					EntityID: "https://pysaml2-sp.interop.test/metadata",
					ACSURL:   "https://pysaml2-sp.interop.test/acs",
					KeyFile:  repoPath("testdata", "keys", "demo-sp.key"), CertFile: repoPath("testdata", "keys", "demo-sp.crt"),
				},
				SLOURL: "https://pysaml2-sp.interop.test/slo", SLOBindings: tt.sloBindings,
			}
			md := sp.metadata(t)
			if !bytes.Contains(md, []byte("SingleLogoutService")) || !bytes.Contains(md, []byte(sp.SLOURL)) {
				t.Fatalf("pysaml2 SP metadata has no SingleLogoutService:\n%s", md)
			}
			mdFile := writeInteropFile(t, dir, "pysaml2-sp.xml", md)
			h := ssoHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"), func(cfg *config.Config) {
				yes := true
				cfg.ServiceProviders = append(cfg.ServiceProviders, config.SPConfig{
					ID: sp.EntityID, Name: "pysaml2", Dialect: "saml2", Metadata: mdFile,
					MinLoA: "low", AttributeNames: "friendly", SignatureAlgorithm: "rsa-sha256", RequireSigned: &yes,
				})
			})
			idpMD := fetchOK(t, h.URL+"/saml2/metadata")
			for _, b := range []string{"HTTP-Redirect", "HTTP-POST"} {
				want := `Binding="urn:oasis:names:tc:SAML:2.0:bindings:` + b + `" Location="` + h.URL + `/saml2/slo"`
				if !bytes.Contains(idpMD, []byte(want)) {
					t.Fatalf("the bridge's metadata lacks %s:\n%s", want, idpMD)
				}
			}
			sp.IdPMetadata = writeInteropFile(t, dir, "bridge-idp.xml", idpMD)

			// pysaml2 logs in; the demo SP then gets in by single sign-on.
			req := sp.request(t, "post", "login")
			fields := url.Values{}
			for k, v := range req.Fields {
				fields.Set(k, v)
			}
			page, err := h.Browser.Post(req.Action, fields)
			if err != nil {
				t.Fatal(err)
			}
			samlResponse := followInteropLogin(t, h, page, sp.ACSURL).SPResponse.Fields.Get("SAMLResponse")
			// The demo SPs of the three dialects then get in by single
			// sign-on: plain SAML2, a Cl@ve 2.0 kit and a Cl@ve 1 SP.
			demoLoginAll(t, h)
			if got := h.Server.Simulator.Logins(); got != 1 {
				t.Fatalf("the simulator saw %d logins before the logout, want 1", got)
			}

			// pysaml2 logs out.
			lo := sp.logoutRequest(t, tt.binding, samlResponse, req.ID)
			var redirectTo *url.URL
			h.Browser.Client.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
				if r.URL.Host == "pysaml2-sp.interop.test" {
					redirectTo = r.URL
					return http.ErrUseLastResponse
				}
				return nil
			}
			var relay string
			switch tt.binding {
			case "redirect":
				if !strings.HasPrefix(lo.URL, h.URL+"/saml2/slo?") || !strings.Contains(lo.URL, "Signature=") {
					t.Fatalf("pysaml2's logout is not a signed redirect to the bridge: %s", lo.URL)
				}
				u, _ := url.Parse(lo.URL)
				relay = u.Query().Get("RelayState")
				page, err = h.Browser.Get(lo.URL)
			case "post":
				xml, _ := base64.StdEncoding.DecodeString(lo.Fields["SAMLRequest"])
				if lo.Action != h.URL+"/saml2/slo" || !bytes.Contains(xml, []byte("SignatureValue")) || !bytes.Contains(xml, []byte(lo.NameID)) {
					t.Fatalf("pysaml2's logout is not a signed POST to the bridge: %+v\n%s", lo, xml)
				}
				relay = lo.Fields["RelayState"]
				form := url.Values{}
				for k, v := range lo.Fields {
					form.Set(k, v)
				}
				page, err = h.Browser.Post(lo.Action, form)
			}
			if err != nil {
				t.Fatal(err)
			}
			msg, redirected, gateway := followLogout(t, h, page, &redirectTo, sp.SLOURL)
			if want := strings.HasPrefix(tt.sloBindings, "redirect"); redirected != want {
				t.Fatalf("the LogoutResponse came by redirect %v, want %v", redirected, want)
			}
			if msg.Get("RelayState") != relay || relay == "" {
				t.Errorf("RelayState came back as %q, want pysaml2's %q", msg.Get("RelayState"), relay)
			}
			binding := "post"
			if redirected {
				binding = "redirect"
				checkRedirectSignature(t, redirectTo.RawQuery)
			}
			res, err := sp.logoutResponse(t, binding, msg)
			if err != nil {
				t.Fatalf("pysaml2 refused the bridge's LogoutResponse: %v", err)
			}
			if res.InResponseTo != lo.ID || res.Issuer != h.URL+"/saml2/metadata" || res.Destination != sp.SLOURL ||
				res.Status != "urn:oasis:names:tc:SAML:2.0:status:Success" || res.Signed == redirected {
				t.Fatalf("pysaml2 read %+v (request %s)", res, lo.ID)
			}
			// The gateway leg: when the upstream connector does single
			// logout, the browser goes through the gateway (the simulator)
			// and the logout is complete; only if the connector could not
			// send the gateway its LogoutRequest (single logout not
			// configured upstream) is the answer PartialLogout, for that
			// reason alone. An upstream without logout leaves the SPs only.
			_, upstreamLogout := h.Server.Flow.Upstream.(flow.UpstreamLogout)
			t.Logf("upstream logout %v, gateway told %v", upstreamLogout, gateway)
			notSent := h.Logs.FilterMessage("logout not sent upstream").All()
			switch {
			case gateway || !upstreamLogout:
				if res.SubStatus != "" {
					t.Fatalf("gateway told %v, upstream logout %v, yet the logout is %s", gateway, upstreamLogout, res.SubStatus)
				}
			case len(notSent) == 1:
				if res.SubStatus != "urn:oasis:names:tc:SAML:2.0:status:PartialLogout" {
					t.Fatalf("the gateway was not told, yet the status is %s / %q", res.Status, res.SubStatus)
				}
				t.Logf("PartialLogout: the gateway was not told: %v", notSent[0].ContextMap()["error"])
			default:
				t.Fatalf("the upstream connector does single logout but the gateway was never told (status %s / %q)", res.Status, res.SubStatus)
			}

			// The other SPs were told in their own dialects, and the gateway.
			if states := demoStates(t, h.Browser, h.URL); len(states) != 3 ||
				slices.ContainsFunc(mapValues(states), func(s string) bool { return s != "not logged in" }) {
				t.Errorf("the demo SPs after pysaml2's logout: %v", states)
			}
			if upstreamLogout && h.Server.Simulator.Logouts() != 1 {
				t.Errorf("the simulator recorded %d logouts, want 1", h.Server.Simulator.Logouts())
			}
			// The session is gone: the demo SP's next login authenticates.
			h.Browser.Client.CheckRedirect = nil
			if body := h.login(t, "saml2", url.Values{"loa": {"low"}, "binding": {"post"}}); !strings.Contains(body, demoLoggedIn) {
				t.Fatalf("demo login after the logout: %.1500s", body)
			}
			if got := h.Server.Simulator.Logins(); got != 2 {
				t.Fatalf("the simulator saw %d logins, want 2 (the logout ended the session)", got)
			}
			assertNoPersonalData(t, h.Logs, "99999999R", "JUAN", lo.NameID)
		})
	}
}

// checkRedirectSignature verifies the query signature of a Redirect
// binding message from the bridge with the bridge's signing certificate.
func checkRedirectSignature(t *testing.T, rawQuery string) {
	t.Helper()
	msg, err := samlxml.DecodeRedirect(rawQuery, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	bridgeCert := samlxmltest.Committed(t, "bridge-sign").Cert
	if _, err := msg.Verify(samlxml.Verifier{Certs: []*x509.Certificate{bridgeCert}}); err != nil {
		t.Fatalf("the bridge's redirect LogoutResponse signature: %v", err)
	}
}
