package server

import (
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

func init() { registerClass("MetricLabels", attackMetricLabels) }

// metricsAttackerValues are what the attacker names its messages' SP
// with: a host of its own and a citizen's identifier.
var metricsAttackerValues = []string{"evil.example", "99999999R"}

// gathered is a family's series as the registry holds them now (nil when
// it cannot be read).
func gathered(h *harness, family string) map[string]float64 {
	s, _ := registrySeries(h.Server.Metrics, family)
	return s
}

// attackMetricLabels: whatever a message claims its SP is, no value of it
// becomes a metric label, and a message whose SP the bridge has not
// verified counts as no SP's login. SP label values come from the
// configuration only, so an attacker can neither write a citizen's
// identifier into the metrics nor grow their series without bound.
// Requests naming an unknown issuer (a host of the attacker's, a DNI), or
// a configured SP under the attacker's signature, at each SP entry point;
// forged gateway answers at /upstream/acs (one refused answer each, no
// login).
func attackMetricLabels(t *testing.T, res *results) {
	h, rec := attackHarness(t, autoLogin("SEGSOC", "00000000T", ""))
	attacker := samlxmltest.NewRSA(t, "attacker")
	demo := samlxmltest.Committed(t, "demo-sp")
	configured := demoSPs(h.URL)

	// Positive control: a demo login counts on its configured SP, once.
	before := gathered(h, "clavebridge_logins_total")
	if body := demoLoginIn(t, h, browser.New(http.DefaultTransport), "saml2", url.Values{"loa": {"low"}, "binding": {"post"}}); !strings.Contains(body, demoLoggedIn) {
		t.Fatalf("positive control: demo login: %.800s", body)
	}
	key := "dialect=saml2,result=success,sp=" + configured["saml2"]
	if after := gathered(h, "clavebridge_logins_total"); after[key] != before[key]+1 {
		t.Fatalf("positive control: the demo login counted %v times on %s", after[key]-before[key], key)
	}

	// unchanged wraps send: the login counters must not move, and no
	// label anywhere may hold what the attacker wrote.
	var snapshot map[string]float64
	snap := func(send func() (*browser.Page, error)) func() (*browser.Page, error) {
		return func() (*browser.Page, error) {
			snapshot = gathered(h, "clavebridge_logins_total")
			return send()
		}
	}
	unchanged := func(t *testing.T, _ *browser.Page) {
		text, fams := scrapeMetrics(t, h)
		if got := flat(fams["clavebridge_logins_total"]); len(got) == 0 || !maps.Equal(got, snapshot) {
			t.Errorf("the login counters moved: %v → %v", snapshot, got)
		}
		for _, v := range metricsAttackerValues {
			if strings.Contains(text, v) {
				t.Errorf("/metrics holds %q from the attacker's message", v)
			}
		}
		allowed := []string{""}
		for _, sp := range configured {
			allowed = append(allowed, sp)
		}
		for _, m := range fams["clavebridge_logins_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "sp" && !slices.Contains(allowed, l.GetValue()) {
					t.Errorf("sp label %q is not a configured SP", l.GetValue())
				}
			}
		}
	}
	postTo := func(path string, fields url.Values) func() (*browser.Page, error) {
		return func() (*browser.Page, error) { return browser.New(http.DefaultTransport).Post(h.URL+path, fields) }
	}
	samlRequest := func(xml []byte) url.Values {
		return url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}}
	}

	getURL := func(u string) func() (*browser.Page, error) {
		return func() (*browser.Page, error) { return browser.New(http.DefaultTransport).Get(u) }
	}
	issuers := []struct{ name, issuer string }{
		{"unknown issuer", "https://evil.example/metadata"},
		{"a DNI as issuer", "ES/ES/99999999R"},
		{"a configured SP, the attacker's signature", configured["saml2"]},
	}
	saml2Request := func(issuer string) *clave2msg.AuthnRequest {
		return &clave2msg.AuthnRequest{
			ID: freshID(), IssueInstant: time.Now().UTC(), Destination: h.URL + "/saml2/sso", ACS: h.URL + "/demo/saml2/acs", Issuer: issuer,
			NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", Comparison: "minimum",
			LoAs: []string{translate.LoASubstantial.EIDAS()},
		}
	}
	t.Run("saml2-post", func(t *testing.T) {
		e := &entry{name: "saml2-post", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/saml2/acs"}, res: res}
		for _, v := range issuers {
			xml := signEl(t, saml2Request(v.issuer).Element(), attacker, samlxml.RSASHA256)
			e.attack(t, "MetricLabels", v.name, snap(postTo("/saml2/sso", samlRequest(xml))), unchanged)
		}
	})
	t.Run("saml2-redirect", func(t *testing.T) {
		e := &entry{name: "saml2-redirect", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/saml2/acs"}, res: res}
		signer := attacker.Signer(samlxml.RSASHA256)
		for _, v := range issuers {
			xml := signEl(t, saml2Request(v.issuer).Element(), samlxmltest.Pair{}, "")
			u, err := samlxml.EncodeRedirect(h.URL+"/saml2/sso", "SAMLRequest", xml, "", &signer)
			if err != nil {
				t.Fatal(err)
			}
			e.attack(t, "MetricLabels", v.name, snap(getURL(u)), unchanged)
		}
	})

	kit := &kitSP{Provider: configured["eidas"], Application: "metrics", ACS: h.URL + "/demo/clave2/acs", Key: demo}
	kitVariants := []struct {
		name string
		o    kitOptions
	}{
		{"unknown provider", kitOptions{ProviderName: "Q0000000J_EVIL.EXAMPLE;x", SignWith: &attacker}},
		{"a DNI as provider", kitOptions{ProviderName: "ES/ES/99999999R;x", SignWith: &attacker}},
		{"a configured SP, the attacker's signature", kitOptions{SignWith: &attacker}},
	}
	t.Run("clave2-post", func(t *testing.T) {
		e := &entry{name: "clave2-post", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/clave2/acs"}, res: res}
		for _, v := range kitVariants {
			e.attack(t, "MetricLabels", v.name, snap(postTo(kitProxyPath, samlRequest(kit.build(t, h, v.o).XML))), unchanged)
		}
	})
	t.Run("clave2-redirect", func(t *testing.T) {
		e := &entry{name: "clave2-redirect", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/clave2/acs"}, res: res}
		for _, v := range kitVariants {
			o := v.o
			o.Redirect = true
			e.attack(t, "MetricLabels", v.name, snap(getURL(kit.build(t, h, o).redirectURL(t, h))), unchanged)
		}
	})

	t.Run("stork-post", func(t *testing.T) {
		e := &entry{name: "stork-post", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/stork/acs"}, res: res}
		for _, v := range []struct{ name, provider string }{
			{"unknown provider", "evil.example"},
			{"a DNI as provider", "ES/ES/99999999R"},
			{"a configured SP, the attacker's signature", configured["stork"]},
		} {
			k := &storkKit{h: h, key: attacker, acs: h.URL + "/demo/stork/acs"}
			xml := k.build(t, &storkRequest{layout: "java", qaa: "2", providerName: v.provider, attrs: []string{"eIdentifier!", "givenName!", "surname!"}})
			xml = resignXML(t, []byte(strings.TrimPrefix(string(xml), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")), attacker, nil)
			e.attack(t, "MetricLabels", v.name, snap(postTo("/Proxy/ServiceProvider", samlRequest(xml))), unchanged)
		}
	})

	t.Run("upstream-acs", func(t *testing.T) {
		acs := h.URL + "/upstream/acs"
		e := &entry{name: "upstream-acs", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/saml2/acs"}, res: res, takeEndsLogin: true}
		sim := samlxmltest.Committed(t, "simulator-sign")
		for _, v := range []struct {
			name string
			key  samlxmltest.Pair
		}{
			{"answer signed by the attacker", attacker},
			{"answer to no login of this browser", sim},
		} {
			b := browser.New(http.DefaultTransport)
			page, err := b.Post(h.URL+"/demo/saml2/login", url.Values{"loa": {"low"}, "binding": {"post"}})
			if err != nil {
				t.Fatal(err)
			}
			_, form, err := b.FollowPosts(page, func(f browser.Form) bool { return f.Action == acs })
			if err != nil || form == nil {
				t.Fatalf("no answer posted to %s (err %v)", acs, err)
			}
			raw, err := base64.StdEncoding.DecodeString(form.Fields.Get("SAMLResponse"))
			if err != nil {
				t.Fatal(err)
			}
			fields := url.Values{"RelayState": form.Fields["RelayState"], "SAMLResponse": {base64.StdEncoding.EncodeToString(resignXML(t, raw, v.key, nil))}}
			sender := b
			if v.key.Key == sim.Key {
				sender = browser.New(http.DefaultTransport) // the login's cookie stays in b
			}
			refused := gathered(h, "clavebridge_upstream_requests_total")["result="+string(flow.UpstreamRefused)]
			e.attack(t, "MetricLabels", v.name, snap(func() (*browser.Page, error) { return sender.Post(acs, fields) }), func(t *testing.T, p *browser.Page) {
				unchanged(t, p)
				if got := gathered(h, "clavebridge_upstream_requests_total")["result="+string(flow.UpstreamRefused)]; got != refused+1 {
					t.Errorf("clavebridge_upstream_requests_total{result=refused} went from %v to %v, want one more", refused, got)
				}
			})
		}
	})
}
