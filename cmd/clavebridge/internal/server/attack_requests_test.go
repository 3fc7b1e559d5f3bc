package server

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
)

// requestEntry is an inbound AuthnRequest endpoint taking a POSTed,
// XML-signed request: valid builds a fresh validly signed request (ID and
// IssueInstant new each time).
type requestEntry struct {
	*entry
	url   string
	sp    samlxmltest.Pair // the SP's registered key
	valid func(t *testing.T) []byte
	relay string
	// redirect: send as HTTP-Redirect (GET, DEFLATE, the signature kept
	// inside the XML as the Cl@ve 2.0 kit does) instead of POST.
	redirect bool
}

func (r *requestEntry) post(xml []byte) func() (*browser.Page, error) {
	if r.redirect {
		return func() (*browser.Page, error) {
			loc, err := samlxml.EncodeRedirect(r.url, "SAMLRequest", xml, r.relay, nil)
			if err != nil {
				return nil, err
			}
			return browser.New(http.DefaultTransport).Get(loc)
		}
	}
	v := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}}
	if r.relay != "" {
		v.Set("RelayState", r.relay)
	}
	return func() (*browser.Page, error) { return browser.New(http.DefaultTransport).Post(r.url, v) }
}

// run: positive controls (as built, and re-signed by the SP's key, so the
// re-signed variants fail for their change alone), then the variants.
func (r *requestEntry) run(t *testing.T) {
	bridgeKey := samlxmltest.Committed(t, "bridge-sign")
	simKey := samlxmltest.Committed(t, "simulator-sign")
	attacker := samlxmltest.NewRSA(t, "attacker")
	first := r.valid(t)
	page, err := r.post(first)()
	r.expectSuccess(t, "signed AuthnRequest", page, err)
	page, err = r.post(resignXML(t, r.valid(t), r.sp, nil))()
	r.expectSuccess(t, "re-signed AuthnRequest", page, err)
	r.attack(t, "Replay", "same request twice", r.post(first), nil)
	// Every field the bridge keeps, logs or echoes is bounded, whoever
	// signed it.
	r.attack(t, "FieldBounds", "ID of 257 bytes", r.post(resignXML(t, r.valid(t), r.sp, setAttr("ID", "_"+strings.Repeat("a", clave2msg.MaxIDBytes)))), nil)
	r.attack(t, "FieldBounds", "65 requested attributes", r.post(resignXML(t, r.valid(t), r.sp, manyAttributes(clave2msg.MaxAttributes+1))), nil)
	for _, v := range []struct {
		class, name string
		key         samlxmltest.Pair
		edit        func([]byte) []byte
	}{
		{"DestinationMismatch", "other destination", r.sp, nil},
		{"DestinationMismatch", "empty destination", r.sp, nil},
		{"TimeWindow", "IssueInstant 1h ago", r.sp, nil},
		{"TimeWindow", "IssueInstant 1h ahead", r.sp, nil},
		{"ACSOpenRedirect", "unregistered ACS", r.sp, nil},
		{"ACSOpenRedirect", "javascript ACS", r.sp, nil},
		{"KeyConfusion", "signed with the bridge's key", bridgeKey, nil},
		{"KeyConfusion", "signed with the simulator's key", simKey, nil},
		{"SignatureExclusion", "attacker key", attacker, nil},
		{"SignatureExclusion", "unsigned", samlxmltest.Pair{}, nil},
	} {
		var edit = map[string]func(t *testing.T) []byte{
			"other destination": func(t *testing.T) []byte {
				return resignXML(t, r.valid(t), v.key, setAttr("Destination", "https://evil.example/sso"))
			},
			"empty destination": func(t *testing.T) []byte { return resignXML(t, r.valid(t), v.key, removeAttr("Destination")) },
			"IssueInstant 1h ago": func(t *testing.T) []byte {
				return resignXML(t, r.valid(t), v.key, setAttr("IssueInstant", samlxml.FormatTime(time.Now().Add(-time.Hour))))
			},
			"IssueInstant 1h ahead": func(t *testing.T) []byte {
				return resignXML(t, r.valid(t), v.key, setAttr("IssueInstant", samlxml.FormatTime(time.Now().Add(time.Hour))))
			},
			"unregistered ACS": func(t *testing.T) []byte {
				return resignXML(t, r.valid(t), v.key, setAttr("AssertionConsumerServiceURL", "https://evil.example/acs"))
			},
			"javascript ACS": func(t *testing.T) []byte {
				return resignXML(t, r.valid(t), v.key, setAttr("AssertionConsumerServiceURL", "javascript:alert(1)"))
			},
		}[v.name]
		if edit == nil {
			edit = func(t *testing.T) []byte { return resignXML(t, r.valid(t), v.key, nil) }
		}
		r.attack(t, v.class, v.name, r.post(edit(t)), nil)
	}
	r.attack(t, "DTD", "doctype", r.post([]byte(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`)), nil)
	if libraryVariants != nil {
		keys := libKeys{Attacker: attacker.Key, AttackerCert: attacker.Cert, Victim: r.sp.Cert, Trusted: r.sp.Key, TrustedCert: r.sp.Cert}
		for _, v := range libraryVariants(keys) {
			msg, err := v.Apply(r.valid(t))
			if err != nil {
				continue
			}
			r.attack(t, v.Class, v.Name, r.post(msg), nil)
		}
	}
}

// attackClave2: /Proxy2/ServiceProvider as the Cl@ve 2.0 kit demo SP.
func attackClave2(t *testing.T, res *results) {
	h, rec := attackHarness(t, nil)
	demo := samlxmltest.Committed(t, "demo-sp")
	acs := h.URL + "/demo/clave2/acs"
	sp := &kitSP{Provider: "S2800000X_E00000001", Application: "attack-suite", ACS: acs, Key: demo}
	for _, redirect := range []bool{false, true} {
		name := map[bool]string{false: "clave2-post", true: "clave2-redirect"}[redirect]
		t.Run(name, func(t *testing.T) {
			r := &requestEntry{
				entry: &entry{name: name, h: h, rec: rec, returnURLs: []string{acs}, res: res},
				url:   h.URL + kitProxyPath, sp: demo,
				valid: func(t *testing.T) []byte { return sp.build(t, h, kitOptions{}).XML },
				relay: "kitrelay", redirect: redirect,
			}
			r.run(t)
		})
	}
}

// attackStork: /Proxy/ServiceProvider as the STORK demo SP.
func attackStork(t *testing.T, res *results) {
	h, rec := attackHarness(t, nil)
	demo := samlxmltest.Committed(t, "demo-sp")
	acs := h.URL + "/demo/stork/acs"
	k := &storkKit{h: h, key: demo, acs: acs}
	r := &requestEntry{
		entry: &entry{name: "stork-post", h: h, rec: rec, returnURLs: []string{acs}, res: res},
		url:   h.URL + "/Proxy/ServiceProvider", sp: demo,
		valid: func(t *testing.T) []byte {
			xml := k.build(t, &storkRequest{layout: "java", qaa: "2", providerName: "demo_stork_sp",
				attrs: []string{"eIdentifier!", "givenName!", "surname!"}})
			// the demo SP has no legacy SHA-1: sign with SHA-256 digests
			return resignXML(t, []byte(strings.TrimPrefix(string(xml), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")), demo, nil)
		},
	}
	r.run(t)
}

// manyAttributes appends requested attributes to a request's list (eIDAS
// or STORK, whichever it has) until it asks for n.
func manyAttributes(n int) func(*etree.Element) {
	return func(r *etree.Element) {
		var list *etree.Element
		for _, el := range r.FindElements("//RequestedAttributes") {
			list = el
		}
		if list == nil || len(list.ChildElements()) == 0 {
			ext := r.FindElement("Extensions")
			if ext == nil {
				ext = r.CreateElement("saml2p:Extensions")
				ext.CreateAttr("xmlns:saml2p", samlxml.NSProtocol)
				if sig := r.FindElement("Signature"); sig != nil {
					r.RemoveChild(ext)
					r.InsertChildAt(sig.Index()+2, ext)
				}
			}
			list = ext.CreateElement("eidas:RequestedAttributes")
			list.CreateAttr("xmlns:eidas", clave2msg.NSEIDAS)
			list.CreateElement("eidas:RequestedAttribute").CreateAttr("Name", "urn:x:0")
		}
		model := list.ChildElements()[0]
		for i := len(list.ChildElements()); i < n; i++ {
			c := model.Copy()
			c.RemoveAttr("Name")
			c.CreateAttr("Name", fmt.Sprintf("http://www.stork.gov.eu/1.0/extra%d", i))
			list.AddChild(c)
		}
	}
}
