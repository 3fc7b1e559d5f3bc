package server

// Attack class IdentifierLeak (issue 11, item 3): an SP whose attribute
// policy withholds the PersonIdentifier logs a citizen in, and the case
// fails when the citizen's DNI appears anywhere in what the SP receives
// (form fields, the Response, the decrypted assertion, a LogoutRequest) or
// in a log line written meanwhile. These are positive cases: the login
// must succeed (or, where said, be refused with the status the dialect
// owes) and carry no DNI.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

func init() { registerClass("IdentifierLeak", attackIdentifierLeak) }

// leakCitizen is the AFIRMA DNIe citizen: the DNI is also in the
// certificate the gateway describes in PartialAfirma.
const leakCitizen = "99999999R"

// leakCase runs one positive case at ep: send logs in and returns what the
// SP got, which must have the status want ("" Success; otherwise the
// second-level status's suffix) and carry the DNI nowhere, nor may any log
// line written meanwhile.
func leakCase(t *testing.T, res *results, h *harness, ep, name, want string, send func(t *testing.T) *nidAnswer) {
	t.Helper()
	t.Run(ep+"/"+name, func(t *testing.T) {
		ok := false
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("panic: %v", r)
				ok = false
			}
			res.add("IdentifierLeak", ep, ok && !t.Failed())
		}()
		before := h.Logs.Len()
		a := send(t)
		switch {
		case want == "" && a.Status != "Success":
			t.Errorf("status %s %s, want Success", a.Status, a.SubStatus)
		case want != "" && !strings.HasSuffix(a.SubStatus, ":"+want):
			t.Errorf("status %s %s, want %s", a.Status, a.SubStatus, want)
		}
		if a.leaks(leakCitizen) {
			t.Errorf("LEAK: the DNI reaches the SP:\n%s", a.All)
		}
		for _, e := range h.Logs.All()[before:] {
			if line := e.Message + fmt.Sprint(e.ContextMap()); strings.Contains(line, leakCitizen) {
				t.Errorf("LEAK: a log line carries the DNI: %s", line)
			}
		}
		t.Logf("answer: %s %s, NameID %q (%s)", a.Status, a.SubStatus, a.NameID, a.NameIDFormat)
		ok = true
	})
}

// leakFollow follows page to the form posted to the SP at acs.
func leakFollow(t *testing.T, b *browser.Browser, page *browser.Page, err error, acs string) *browser.Form {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	last, form, err := b.FollowPosts(page, func(f browser.Form) bool { return f.Action == acs })
	if err != nil {
		t.Fatal(err)
	}
	if form == nil {
		t.Fatalf("nothing posted to %s; stopped at %s (status %d): %.800s", acs, last.URL, last.Status, last.Body)
	}
	return form
}

func attackIdentifierLeak(t *testing.T, res *results) {
	h, _ := attackHarness(t, nidConfigFor(autoLogin("AFIRMA", leakCitizen, "dnie"), true))
	demo := samlxmltest.Committed(t, "demo-sp")

	// Plain SAML2: the demo SP and the second SP, POST and Redirect.
	saml2 := func(sp, format string, redirect bool) func(*testing.T, *browser.Browser) *nidAnswer {
		return func(t *testing.T, b *browser.Browser) *nidAnswer {
			ar := &clave2msg.AuthnRequest{
				ID: freshID(), IssueInstant: time.Now().UTC(), Destination: h.URL + "/saml2/sso", ACS: h.URL + sp + "/acs",
				Issuer: h.URL + sp + "/metadata", NameIDFormat: format, Comparison: "minimum", LoAs: []string{translate.LoALow.EIDAS()},
			}
			var page *browser.Page
			var err error
			if redirect {
				signer := demo.Signer(samlxml.RSASHA256)
				loc, lerr := samlxml.EncodeRedirect(h.URL+"/saml2/sso", "SAMLRequest", signEl(t, ar.Element(), samlxmltest.Pair{}, ""), "leak", &signer)
				if lerr != nil {
					t.Fatal(lerr)
				}
				page, err = b.Get(loc)
			} else {
				page, err = b.Post(h.URL+"/saml2/sso", b64Form(signEl(t, ar.Element(), demo, samlxml.RSASHA256), "leak"))
			}
			return nidDecode(t, leakFollow(t, b, page, err, ar.ACS), demo)
		}
	}
	fresh := func(send func(*testing.T, *browser.Browser) *nidAnswer) func(*testing.T) *nidAnswer {
		return func(t *testing.T) *nidAnswer { return send(t, browser.New(http.DefaultTransport)) }
	}
	// fromSession logs in with first, then answers second from the session.
	fromSession := func(first, second func(*testing.T, *browser.Browser) *nidAnswer) func(*testing.T) *nidAnswer {
		return func(t *testing.T) *nidAnswer {
			b := browser.New(http.DefaultTransport)
			first(t, b)
			reused := h.Logs.FilterMessage("SSO session reused").Len()
			a := second(t, b)
			if h.Logs.FilterMessage("SSO session reused").Len() == reused {
				t.Error("not answered from the SSO session")
			}
			return a
		}
	}
	for _, c := range []struct{ name, format string }{
		{"persistent", nidPersistent}, {"transient", nidTransient}, {"unspecified", nidUnspecified}, {"no format", ""},
	} {
		leakCase(t, res, h, "saml2-post", c.name, "", fresh(saml2("/demo/saml2", c.format, false)))
	}
	leakCase(t, res, h, "saml2-post", "persistent, from the SSO session", "",
		fromSession(saml2("/demo/saml2", nidPersistent, false), saml2(nidSP2Path, nidPersistent, false)))
	leakCase(t, res, h, "saml2-redirect", "persistent", "", fresh(saml2("/demo/saml2", nidPersistent, true)))
	leakCase(t, res, h, "saml2-redirect", "transient", "", fresh(saml2("/demo/saml2", nidTransient, true)))

	// Cl@ve 2: the demo kit, PersonIdentifier and PartialAfirma requested
	// (not required), POST and Redirect (signature in the XML).
	clave2 := func(format string, redirect bool) func(*testing.T, *browser.Browser) *nidAnswer {
		return func(t *testing.T, b *browser.Browser) *nidAnswer {
			acs := h.URL + "/demo/clave2/acs"
			ar := &clave2msg.AuthnRequest{
				ID: freshID(), IssueInstant: time.Now().UTC(), Destination: h.URL + kitProxyPath, ACS: acs,
				ProviderName: "S2800000X_E00000001;leak", Consent: clave2msg.ConsentUnspec, HasNameIDPolicy: true, NameIDFormat: format,
				Comparison: "minimum", LoAs: []string{translate.LoALow.EIDAS()},
			}
			for _, a := range []translate.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName, translate.AttrFamilyName, translate.AttrPartialAfirma} {
				w, _ := translate.Wire(a)
				ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{Name: w.Name, FriendlyName: w.FriendlyName, Required: a == translate.AttrGivenName})
			}
			ar.Attributes = append(ar.Attributes, clave2msg.RequestedAttribute{Name: translate.ClaveRelayStateAttr, FriendlyName: "RelayState", Values: []string{"leakrelay"}})
			xml := signEl(t, ar.Element(), demo, samlxml.RSASHA512)
			var page *browser.Page
			var err error
			if redirect {
				loc, lerr := samlxml.EncodeRedirect(h.URL+kitProxyPath, "SAMLRequest", xml, "leakrelay", nil)
				if lerr != nil {
					t.Fatal(lerr)
				}
				page, err = b.Get(loc)
			} else {
				page, err = b.Post(h.URL+kitProxyPath, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}, "RelayState": {"leakrelay"}})
			}
			return nidDecode(t, leakFollow(t, b, page, err, acs), demo)
		}
	}
	for _, c := range []struct{ name, format string }{
		{"unspecified (as kits ask)", nidUnspecified}, {"persistent", nidPersistent}, {"transient", nidTransient},
	} {
		leakCase(t, res, h, "clave2-post", c.name, "", fresh(clave2(c.format, false)))
	}
	leakCase(t, res, h, "clave2-post", "unspecified, from the SSO session", "",
		fromSession(saml2("/demo/saml2", nidTransient, false), clave2(nidUnspecified, false)))
	leakCase(t, res, h, "clave2-redirect", "unspecified", "", fresh(clave2(nidUnspecified, true)))

	// Cl@ve 1: the demo STORK SP asking eIdentifier and afirmaResponse.
	stork := func(attrs []string, force bool) func(*testing.T, *browser.Browser) *nidAnswer {
		return func(t *testing.T, b *browser.Browser) *nidAnswer {
			acs := h.URL + "/demo/stork/acs"
			k := &storkKit{h: h, key: demo, acs: acs}
			xml := k.build(t, &storkRequest{layout: "java", qaa: "2", providerName: "demo_stork_sp", attrs: attrs})
			// the demo SP has no legacy SHA-1: sign with SHA-256 digests
			xml = resignXML(t, []byte(strings.TrimPrefix(string(xml), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")), demo,
				setAttr("ForceAuthn", fmt.Sprint(force)))
			page, err := b.Post(h.URL+"/Proxy/ServiceProvider", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}})
			return nidDecode(t, leakFollow(t, b, page, err, acs), demo)
		}
	}
	optional := []string{"eIdentifier", "givenName!", "surname", "isdnie", "afirmaResponse", "citizenQAALevel"}
	leakCase(t, res, h, "stork-post", "eIdentifier and afirmaResponse asked", "", fresh(stork(optional, true)))
	leakCase(t, res, h, "stork-post", "eIdentifier required: refused without it", "InvalidAttrNameOrValue",
		fresh(stork([]string{"eIdentifier!", "givenName!"}, true)))
	leakCase(t, res, h, "stork-post", "from the SSO session", "",
		fromSession(saml2("/demo/saml2", nidPersistent, false), stork(optional, false)))

	// Single logout: the second SAML2 SP logs out; the LogoutRequest the
	// bridge sends the demo SP names its pairwise NameID.
	leakCase(t, res, h, "saml2-slo", "LogoutRequest to another participant", "", func(t *testing.T) *nidAnswer {
		b := browser.New(http.DefaultTransport)
		one := saml2("/demo/saml2", nidPersistent, false)(t, b)
		two := saml2(nidSP2Path, nidPersistent, false)(t, b)
		now := time.Now().UTC()
		lr := &clave2msg.LogoutRequest{
			ID: freshID(), IssueInstant: now, Destination: h.URL + "/saml2/slo", Issuer: h.URL + nidSP2Path + "/metadata",
			NameID: two.NameID, NameIDFormat: nidPersistent, SessionIndexes: []string{two.SessionIndex},
			NotOnOrAfter: now.Add(time.Minute), Reason: clave2msg.LogoutReasonUser,
		}
		page, err := b.Post(h.URL+"/saml2/slo", b64Form(signEl(t, lr.Element(), demo, samlxml.RSASHA256), "leak-slo"))
		form := leakFollow(t, b, page, err, h.URL+"/demo/saml2/slo")
		raw, err := base64.StdEncoding.DecodeString(form.Fields.Get("SAMLRequest"))
		if err != nil {
			t.Fatal(err)
		}
		a := &nidAnswer{All: append(raw, []byte(form.Fields.Encode())...)}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(raw); err != nil {
			t.Fatal(err)
		}
		told, err := clave2msg.ParseLogoutRequest(doc.Root())
		if err != nil {
			t.Fatal(err)
		}
		a.NameID, a.NameIDFormat = told.NameID, told.NameIDFormat
		if told.NameID == one.NameID && told.NameID != "" {
			a.Status = "Success" // the demo SP is told, by the NameID it was given
		}
		return a
	})
}
