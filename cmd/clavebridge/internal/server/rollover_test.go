package server

// Our own key rollover (keys.next_signing, keys.next_encryption): while a
// next key is configured our metadata lists it beside the current one and
// its key decrypts; an SP that trusts only the next certificate works
// once the operator has moved next to current and reloaded.

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web/metrics"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// nextPair writes a fresh key pair to files for keys.next_*.
func nextPair(t *testing.T, name string) (samlxmltest.Pair, config.KeyPair) {
	t.Helper()
	p := samlxmltest.NewRSA(t, "clavebridge "+name)
	cert, key := writeInteropPair(t, t.TempDir(), name, p)
	return p, config.KeyPair{Cert: cert, Key: key}
}

// readPair reads a configured pair.
func readPair(t *testing.T, cfg *config.Config, kp config.KeyPair) samlxmltest.Pair {
	t.Helper()
	key, cert, err := cfg.ReadKeyPair(kp)
	if err != nil {
		t.Fatal(err)
	}
	return samlxmltest.Pair{Key: key, Cert: cert}
}

// idpSigningCerts are the signing certificates of the bridge's IdP
// metadata at base, as crewjam reads them.
func idpSigningCerts(t *testing.T, base string) (*saml.EntityDescriptor, []string) {
	t.Helper()
	idp, err := samlsp.ParseMetadata(fetchOK(t, base+"/saml2/metadata"))
	if err != nil {
		t.Fatalf("crewjam cannot read the bridge's IdP metadata: %v", err)
	}
	var names []string
	for _, kd := range idp.IDPSSODescriptors[0].KeyDescriptors {
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			cert, err := samlxml.ParseCertificateBase64(strings.Join(strings.Fields(c.Data), ""))
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, kd.Use+" "+cert.Subject.CommonName)
		}
	}
	return idp, names
}

// trustingOnly is idp with one signing certificate: cert.
func trustingOnly(idp *saml.EntityDescriptor, p samlxmltest.Pair) *saml.EntityDescriptor {
	only := *idp
	only.IDPSSODescriptors = append([]saml.IDPSSODescriptor(nil), idp.IDPSSODescriptors...)
	only.IDPSSODescriptors[0].KeyDescriptors = []saml.KeyDescriptor{{Use: "signing", KeyInfo: saml.KeyInfo{
		X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(p.Cert.Raw)}}}}}}
	return &only
}

// TestRolloverToNextSigningKey: a plain SAML2 SP (crewjam/saml) that
// trusts only our next certificate refuses our responses while the
// current key signs, and accepts them after the switch (next → current)
// and a reload. Our IdP metadata lists both certificates while next is
// configured, the current first.
func TestRolloverToNextSigningKey(t *testing.T) {
	next, nextFiles := nextPair(t, "next-signing")
	sp := newCrewjamSP(t, "")
	register := sp.register(t, "")
	h := startReloadable(t, func(cfg *config.Config) {
		autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
		register(cfg)
		cfg.Keys.NextSigning = nextFiles
	})
	cfg := exampleConfig(t, h.URL, nil)
	current := readPair(t, cfg, cfg.Keys.Signing)

	// The next certificate's expiry is watched as well as the current one's.
	_, fams := scrapeMetrics(t, &harness{Server: h.rl.Current()})
	certs := flat(fams["clavebridge_certificate_not_after_timestamp_seconds"])
	for role, c := range map[string]*x509.Certificate{metrics.RoleSigning: current.Cert, metrics.RoleNextSigning: next.Cert} {
		key := fmt.Sprintf("role=%s,serial=%s,sp=", role, metrics.Serial(c))
		if certs[key] != float64(c.NotAfter.Unix()) {
			t.Errorf("certificate expiry metric: %s = %v, want %d", key, certs[key], c.NotAfter.Unix())
		}
	}

	idp, listed := idpSigningCerts(t, h.URL)
	want := []string{"signing " + current.Cert.Subject.CommonName, "signing " + next.Cert.Subject.CommonName}
	if strings.Join(listed, "|") != strings.Join(want, "|") {
		t.Fatalf("IdP metadata lists %q, want %q", listed, want)
	}
	spMD := string(fetchOK(t, h.URL+UpstreamMetadataPath))
	for _, c := range []samlxmltest.Pair{current, next} {
		if !strings.Contains(spMD, base64.StdEncoding.EncodeToString(c.Cert.Raw)) {
			t.Errorf("our SP metadata lacks the certificate %q", c.Cert.Subject.CommonName)
		}
	}
	if n := strings.Count(spMD, `use="signing"`); n != 2 {
		t.Errorf("our SP metadata has %d signing KeyDescriptors, want 2", n)
	}
	sp.ServiceProvider.IDPMetadata = trustingOnly(idp, next)
	sp.srv.Start()

	login := func() *browser.Page {
		t.Helper()
		hh := &harness{URL: h.URL, Browser: browser.New(http.DefaultTransport)}
		acs := crewjamLogin(t, hh, sp.URL+"/private/page", "")
		page, err := hh.Browser.Post(acs.Action, acs.Fields)
		if err != nil {
			t.Fatal(err)
		}
		return page
	}

	// Before the switch: signed with the current key, which this SP does
	// not trust.
	if page := login(); page.Status != http.StatusForbidden {
		t.Fatalf("before the switch the SP accepted a response: status %d at %s", page.Status, page.URL)
	} else if err := sp.refusal(t); !strings.Contains(err.Error(), "signature") {
		t.Fatalf("before the switch the SP refused for another reason than the signature: %v", err)
	}

	// The switch: the next pair becomes keys.signing, and a reload.
	if err := h.rl.Reload(h.configWith(t, func(cfg *config.Config) {
		cfg.Keys.Signing, cfg.Keys.NextSigning = nextFiles, config.KeyPair{}
	})); err != nil {
		t.Fatal(err)
	}
	if _, listed := idpSigningCerts(t, h.URL); len(listed) != 1 || listed[0] != "signing "+next.Cert.Subject.CommonName {
		t.Fatalf("after the switch the IdP metadata lists %q, want only the new certificate", listed)
	}
	page := login()
	if page.Status != http.StatusOK || page.URL.Path != "/private/page" {
		select {
		case err := <-sp.errors:
			t.Fatalf("after the switch the SP refused the response: %v", err)
		default:
		}
		t.Fatalf("after the switch the login did not end on the protected page: %s status %d", page.URL, page.Status)
	}
	select {
	case s := <-sp.seen:
		if s.PersonIdentifier != "ES/ES/99999999R" {
			t.Errorf("PersonIdentifier = %q, want ES/ES/99999999R", s.PersonIdentifier)
		}
	default:
		t.Fatal("the protected handler never ran")
	}
}

// reencryptAnswer reencrypts the assertion of the gateway's answer to cert
// (decrypting it with the key it was encrypted to) and signs the
// Response again with the gateway's (the simulator's) key, as a gateway
// that encrypts to that certificate would answer.
func reencryptAnswer(t *testing.T, form *browser.Form, from, gateway samlxmltest.Pair, to samlxmltest.Pair) {
	t.Helper()
	doc, err := samlxml.Parse(decodeSAMLField(t, form, "SAMLResponse"), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	resp := doc.Root()
	ea, _ := samlxml.Child(resp, samlxml.NSAssertion, "EncryptedAssertion")
	if ea == nil {
		t.Fatal("the gateway's answer has no EncryptedAssertion")
	}
	ed, _ := samlxml.Child(ea, samlxml.NSXMLEnc, "EncryptedData")
	plain, err := samlxml.Decrypt(ed, from.Decrypter(), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatalf("the answer is not encrypted to the key expected: %v", err)
	}
	again, err := samlxml.Encrypter{Cert: to.Cert, KeyTransport: samlxml.RSAOAEPMGF1P, Data: samlxml.AES256GCM}.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	ea.RemoveChild(ed)
	ea.AddChild(again)
	for _, sig := range samlxml.Children(resp, samlxml.NSDSig, "Signature") {
		resp.RemoveChild(sig)
	}
	if err := gateway.Signer(samlxml.RSASHA512).Sign(resp); err != nil {
		t.Fatal(err)
	}
	raw, err := samlxml.Serialize(resp)
	if err != nil {
		t.Fatal(err)
	}
	form.Fields.Set("SAMLResponse", base64.StdEncoding.EncodeToString(raw))
}

// TestNextKeysDecrypt: an assertion the gateway encrypts to a next
// certificate (keys.next_encryption, keys.next_signing) is decrypted before
// the switch; to a certificate the bridge has no key of, it is refused.
// A login started before the switch, answered to the old key, completes
// after it while the old pair stays configured as a next key.
func TestNextKeysDecrypt(t *testing.T) {
	nextEnc, nextEncFiles := nextPair(t, "next-encryption")
	nextSig, nextSigFiles := nextPair(t, "next-signing")
	stranger := samlxmltest.NewRSA(t, "not the bridge")
	tests := []struct {
		name   string
		keys   func(*config.Config)
		to     samlxmltest.Pair
		reload func(*config.Config) // between the request and the answer
		ok     bool
	}{
		{"to next_encryption", func(c *config.Config) { c.Keys.NextEncryption = nextEncFiles }, nextEnc, nil, true},
		{"to next_signing", func(c *config.Config) { c.Keys.NextSigning = nextSigFiles }, nextSig, nil, true},
		{"to next_encryption, not configured", nil, nextEnc, nil, false},
		{"to a stranger's certificate", func(c *config.Config) { c.Keys.NextEncryption = nextEncFiles }, stranger, nil, false},
		{"to the old key, switched since, old key kept as next", func(c *config.Config) { c.Keys.NextSigning = nextSigFiles }, samlxmltest.Pair{},
			func(c *config.Config) { c.Keys.Signing, c.Keys.NextSigning = nextSigFiles, c.Keys.Signing }, true},
		{"to the old key, switched since, old key dropped", func(c *config.Config) { c.Keys.NextSigning = nextSigFiles }, samlxmltest.Pair{},
			func(c *config.Config) { c.Keys.Signing, c.Keys.NextSigning = nextSigFiles, config.KeyPair{} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startReloadable(t, func(cfg *config.Config) {
				autoLogin("AFIRMA", "99999999R", "dnie")(cfg)
				if tt.keys != nil {
					tt.keys(cfg)
				}
			})
			cfg := exampleConfig(t, h.URL, nil)
			current, gateway := readPair(t, cfg, cfg.Keys.Signing), readPair(t, cfg, cfg.Simulator.Signing)
			b := browser.New(http.DefaultTransport)
			answer := h.startLogin(t, b, "saml2", saml2Plain)
			if tt.to.Cert != nil {
				reencryptAnswer(t, answer, current, gateway, tt.to)
			}
			if tt.reload != nil {
				if err := h.rl.Reload(h.configWith(t, tt.reload)); err != nil {
					t.Fatal(err)
				}
			}
			if got := answerToSP(t, b, answer); (got == clave2msg.StatusSuccess) != tt.ok {
				t.Fatalf("the bridge answered the SP %q; want success = %v", got, tt.ok)
			}
			refused, _ := lastEntry(h.logs, "upstream response refused")
			if why, _ := refused.ContextMap()["error"].(string); tt.ok != (why == "") || (!tt.ok && !strings.Contains(why, "cannot decrypt")) {
				t.Fatalf("the gateway's answer was refused for %q; want refused = %v, for not decrypting", why, !tt.ok)
			}
		})
	}
}

// answerToSP posts the gateway's answer to the bridge and returns the
// status of the Response the bridge then posts to the SP ("" when it
// posts none: its error page).
func answerToSP(t *testing.T, b *browser.Browser, form *browser.Form) string {
	t.Helper()
	page, err := b.Post(form.Action, form.Fields)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range page.Forms() {
		if f.Fields.Get("SAMLResponse") == "" {
			continue
		}
		doc, err := samlxml.Parse(decodeSAMLField(t, &f, "SAMLResponse"), samlxml.DefaultMaxMessageBytes)
		if err != nil {
			t.Fatal(err)
		}
		status, _ := samlxml.Child(doc.Root(), samlxml.NSProtocol, "Status")
		code, _ := samlxml.Child(status, samlxml.NSProtocol, "StatusCode")
		if code == nil {
			t.Fatalf("the bridge's Response has no StatusCode")
		}
		return code.SelectAttrValue("Value", "")
	}
	t.Logf("no Response to the SP: status %d: %.300s", page.Status, page.Body)
	return ""
}

// TestNextKeyMustBeItsCertificates: a next key that is not its
// certificate's, or that does not read, fails the reload (its certificate
// would be published for a key the bridge does not have), and the running
// configuration keeps serving without it.
func TestNextKeyMustBeItsCertificates(t *testing.T) {
	_, a := nextPair(t, "next-a")
	_, b := nextPair(t, "next-b")
	tests := []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"next signing key of another certificate", func(c *config.Config) { c.Keys.NextSigning = config.KeyPair{Cert: a.Cert, Key: b.Key} }, "keys.next_signing: "},
		{"next encryption key of another certificate", func(c *config.Config) { c.Keys.NextEncryption = config.KeyPair{Cert: b.Cert, Key: a.Key} }, "keys.next_encryption: "},
		{"next certificate missing", func(c *config.Config) { c.Keys.NextSigning = config.KeyPair{Cert: a.Cert + ".gone", Key: a.Key} }, "keys.next_signing: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startReloadable(t, nil)
			err := h.rl.Reload(h.configWith(t, tt.edit))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("reload = %v, want an error at %q", err, tt.want)
			}
			if _, listed := idpSigningCerts(t, h.URL); len(listed) != 1 {
				t.Fatalf("after the failed reload the IdP metadata lists %q, want the current certificate only", listed)
			}
		})
	}
}
