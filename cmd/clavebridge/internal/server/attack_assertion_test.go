package server

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// reencrypt opens the gateway Response's encrypted assertion with the
// bridge's encryption key, applies edit to the assertion, encrypts it again
// to the bridge and re-signs the Response with key: a validly signed and
// encrypted answer whose assertion says something wrong.
func reencrypt(t *testing.T, raw []byte, key samlxmltest.Pair, edit func(assertion *etree.Element)) []byte {
	t.Helper()
	// Cl@ve 2.0 encrypts to the certificate that signed the request (the
	// bridge's signing key); try the encryption key too.
	keys := []samlxmltest.Pair{samlxmltest.Committed(t, "bridge-sign"), samlxmltest.Committed(t, "bridge-enc")}
	return resignXML(t, raw, key, func(root *etree.Element) {
		ea, _ := samlxml.Child(root, samlxml.NSAssertion, "EncryptedAssertion")
		if ea == nil {
			t.Fatal("gateway response without EncryptedAssertion")
		}
		ed, _ := samlxml.Child(ea, samlxml.NSXMLEnc, "EncryptedData")
		if ed == nil {
			t.Fatal("EncryptedAssertion without EncryptedData")
		}
		var assertion *etree.Element
		var enc samlxmltest.Pair
		for _, k := range keys {
			if a, err := samlxml.Decrypt(ed, k.Decrypter(), samlxml.DefaultMaxMessageBytes); err == nil {
				assertion, enc = a, k
				break
			}
		}
		if assertion == nil {
			t.Fatal("the bridge's keys do not open the assertion")
		}
		if edit != nil {
			edit(assertion)
		}
		sealed, err := samlxml.Encrypter{Cert: enc.Cert, KeyTransport: samlxml.RSAOAEPMGF1P, Data: samlxml.AES256GCM, Rand: rand.Reader}.Encrypt(assertion)
		if err != nil {
			t.Fatal(err)
		}
		ea.RemoveChild(ed)
		ea.AddChild(sealed)
	})
}

// setEvery sets attr on every element named tag (any namespace) under el.
func setEvery(tag, attr, value string) func(*etree.Element) {
	return func(el *etree.Element) {
		for _, x := range el.FindElements("//" + tag) {
			x.CreateAttr(attr, value)
		}
	}
}

// assertionVariants: the checks of upstream.Connector.check, each broken
// alone in an otherwise valid, validly signed answer.
func assertionVariants(sim samlxmltest.Pair) []struct {
	class, name string
	build       func(t *testing.T, raw []byte) []byte
} {
	past, future := samlxml.FormatTime(time.Now().Add(-time.Hour)), samlxml.FormatTime(time.Now().Add(time.Hour))
	edit := func(f func(*etree.Element)) func(t *testing.T, raw []byte) []byte {
		return func(t *testing.T, raw []byte) []byte { return reencrypt(t, raw, sim, f) }
	}
	return []struct {
		class, name string
		build       func(t *testing.T, raw []byte) []byte
	}{
		{"DestinationMismatch", "other Audience", edit(func(a *etree.Element) {
			for _, x := range a.FindElements("//Audience") {
				x.SetText("https://evil.example/acs")
			}
		})},
		{"DestinationMismatch", "other Recipient", edit(setEvery("SubjectConfirmationData", "Recipient", "https://evil.example/acs"))},
		{"InResponseTo", "assertion answers another request", edit(setEvery("SubjectConfirmationData", "InResponseTo", "_not-the-pending-id"))},
		{"TimeWindow", "Conditions NotOnOrAfter passed", edit(setEvery("Conditions", "NotOnOrAfter", past))},
		{"TimeWindow", "Conditions NotBefore 1h ahead", edit(setEvery("Conditions", "NotBefore", future))},
		{"TimeWindow", "SubjectConfirmationData NotOnOrAfter passed", edit(setEvery("SubjectConfirmationData", "NotOnOrAfter", past))},
		{"Issuer", "assertion Issuer is not the Response Issuer", edit(func(a *etree.Element) {
			if iss, _ := samlxml.Child(a, samlxml.NSAssertion, "Issuer"); iss != nil {
				iss.SetText("https://evil.example/idp")
			}
		})},
		// The decrypted assertion is covered by the Response signature:
		// text split by a comment or a PI must not be read differently.
		{"CommentInjection", "comment in the PersonIdentifier value", edit(splitValues(func(v *etree.Element) {
			v.AddChild(etree.NewComment(""))
		}))},
		{"CommentInjection", "processing instruction in the PersonIdentifier value", edit(splitValues(func(v *etree.Element) {
			v.AddChild(etree.NewProcInst("x", "y"))
		}))},
	}
}

// splitValues appends markup and the evil marker to the PersonIdentifier
// AttributeValue, so a reader that drops the markup reads another citizen.
func splitValues(markup func(*etree.Element)) func(*etree.Element) {
	return func(a *etree.Element) {
		for _, at := range a.FindElements("//Attribute") {
			if !strings.HasSuffix(at.SelectAttrValue("Name", ""), "/PersonIdentifier") {
				continue
			}
			for _, v := range at.ChildElements() {
				markup(v)
				v.AddChild(etree.NewText("EVIL"))
			}
		}
	}
}
