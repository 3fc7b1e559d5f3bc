package eidas

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

func success() bridge.Result {
	return bridge.Result{
		Status: bridge.Status{Code: bridge.StatusSuccess}, LoA: translate.LoAHigh, IdP: translate.IdPClaveMovil,
		// The flow's result for an SP whose policy releases the
		// PersonIdentifier: its persistent NameID is the identifier.
		Subject: "ES/ES/99999999R", PersistentNameID: "ES/ES/99999999R",
		AuthnInstant: t0.Add(-time.Minute),
		Attributes: []bridge.Attribute{
			{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/99999999R"}},
			{Name: translate.AttrGivenName, Values: []string{"JUAN"}},
			{Name: translate.AttrFamilyName, Values: []string{"ESPAÑOL PRUEBAS"}},
			{Name: translate.AttrFirstSurname, Values: []string{"ESPAÑOL"}},
			{Name: translate.AttrDateOfBirth, Values: []string{"1980-01-01"}},
			{Name: translate.AttrSelectedIdP, Values: []string{"CLVMOVIL"}},
		},
	}
}

// kitPending is the normalised request of kitRequest as the flow keeps it.
func (f *fixture) kitPending(signer *x509.Certificate) *bridge.Request {
	return &bridge.Request{
		SP: kitID, Dialect: DialectName, ID: "_kit1", ReturnURL: kitACS2, RelayState: "rs",
		State: encodeState(requestState{
			Profile: ProfileClave2, Signer: fingerprint(signer), NameIDFormat: clave2msg.NameIDUnspec,
			Application: kitApp, HasRelayAttr: true, RelayAttr: kitRelayAttr,
		}),
	}
}

func (f *fixture) eidasPending(format string) *bridge.Request {
	return &bridge.Request{
		SP: eidasID, Dialect: DialectName, ID: "_eid1", ReturnURL: eidasACS, RelayState: "rs",
		State: encodeState(requestState{Profile: ProfileEIDAS, Signer: fingerprint(f.spKey.Cert), NameIDFormat: format}),
	}
}

// encodeState is st as a request keeps it.
func encodeState(st requestState) json.RawMessage {
	raw, err := bridge.EncodeState(st)
	if err != nil {
		panic(err)
	}
	return raw
}

// render calls Render and returns the verified Response, its signature
// method and the Outgoing.
func (f *fixture) render(t *testing.T, sp *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (*etree.Element, string, bridge.Outgoing) {
	t.Helper()
	out, err := f.ep.Render(context.Background(), sp, req, res)
	if err != nil {
		t.Fatal(err)
	}
	if out.URL != req.ReturnURL || len(out.Fields) == 0 || out.Fields[0].Name != "SAMLResponse" {
		t.Fatalf("outgoing = %+v", out)
	}
	resp, method := f.samlResponse(t, out.Fields[0].Value)
	if resp.SelectAttrValue("InResponseTo", "") != req.ID || resp.SelectAttrValue("Destination", "") != req.ReturnURL {
		t.Fatalf("InResponseTo %q, Destination %q", resp.SelectAttrValue("InResponseTo", ""), resp.SelectAttrValue("Destination", ""))
	}
	if iss, _ := samlxml.ChildText(resp, samlxml.NSAssertion, "Issuer"); iss != entityID {
		t.Fatalf("Issuer %q", iss)
	}
	return resp, method, out
}

// decryptAssertion checks that resp carries exactly one EncryptedAssertion
// and no plain one, decrypts it with key and returns it parsed and raw.
func decryptAssertion(t *testing.T, resp *etree.Element, key samlxmltest.Pair) (*clave2msg.Assertion, *etree.Element) {
	t.Helper()
	if n := len(samlxml.Children(resp, samlxml.NSAssertion, "Assertion")); n != 0 {
		t.Fatalf("%d plain assertions", n)
	}
	encs := samlxml.Children(resp, samlxml.NSAssertion, "EncryptedAssertion")
	if len(encs) != 1 {
		t.Fatalf("%d EncryptedAssertions, want 1", len(encs))
	}
	ed, _ := samlxml.Child(encs[0], samlxml.NSXMLEnc, "EncryptedData")
	if ed == nil {
		t.Fatal("EncryptedAssertion without EncryptedData")
	}
	plain, err := samlxml.Decrypt(ed, key.Decrypter(), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatalf("decrypt with the expected key: %v", err)
	}
	a, err := clave2msg.ParseAssertion(plain)
	if err != nil {
		t.Fatal(err)
	}
	return a, plain
}

// encryptionMethods returns the data and key transport algorithms of the
// response's EncryptedAssertion, with the key transport's digest and MGF.
func encryptionMethods(t *testing.T, resp *etree.Element) (data, transport, digest, mgf string) {
	t.Helper()
	enc, _ := samlxml.Child(resp, samlxml.NSAssertion, "EncryptedAssertion")
	ed, _ := samlxml.Child(enc, samlxml.NSXMLEnc, "EncryptedData")
	dm, _ := samlxml.Child(ed, samlxml.NSXMLEnc, "EncryptionMethod")
	ki, _ := samlxml.Child(ed, samlxml.NSDSig, "KeyInfo")
	if dm == nil || ki == nil {
		t.Fatal("EncryptedData without EncryptionMethod or KeyInfo")
	}
	eks := samlxml.Children(ki, samlxml.NSXMLEnc, "EncryptedKey")
	if len(eks) != 1 {
		t.Fatalf("%d EncryptedKeys, want 1", len(eks))
	}
	km, _ := samlxml.Child(eks[0], samlxml.NSXMLEnc, "EncryptionMethod")
	if km == nil {
		t.Fatal("EncryptedKey without EncryptionMethod")
	}
	if d, _ := samlxml.Child(km, samlxml.NSDSig, "DigestMethod"); d != nil {
		digest = d.SelectAttrValue("Algorithm", "")
	}
	if m, _ := samlxml.Child(km, samlxml.NSXMLEnc11, "MGF"); m != nil {
		mgf = m.SelectAttrValue("Algorithm", "")
	}
	return dm.SelectAttrValue("Algorithm", ""), km.SelectAttrValue("Algorithm", ""), digest, mgf
}

// xsiTypes maps each attribute Name of the plain assertion to its
// FriendlyName and its values' xsi:type.
func xsiTypes(plain *etree.Element) map[string][2]string {
	out := map[string][2]string{}
	for _, st := range samlxml.Children(plain, samlxml.NSAssertion, "AttributeStatement") {
		for _, at := range samlxml.Children(st, samlxml.NSAssertion, "Attribute") {
			typ := ""
			for _, v := range samlxml.Children(at, samlxml.NSAssertion, "AttributeValue") {
				typ = v.SelectAttrValue("xsi:type", "")
			}
			out[at.SelectAttrValue("Name", "")] = [2]string{at.SelectAttrValue("FriendlyName", ""), typ}
		}
	}
	return out
}

func TestRenderClave2Success(t *testing.T) {
	f := newFixture(t)
	resp, method, out := f.render(t, f.kit, f.kitPending(f.kitKey.Cert), success())
	if method != samlxml.RSASHA512 {
		t.Errorf("signature method %s, want rsa-sha512", method)
	}
	raw, _ := samlxmlDecode(out.Fields[0].Value)
	if !strings.Contains(raw, `Algorithm="`+samlxml.RSASHA512+`"`) {
		t.Error("SignatureMethod rsa-sha512 not in the XML")
	}
	if len(out.Fields) != 2 || out.Fields[1] != (samlxml.Field{Name: "RelayState", Value: "rs"}) {
		t.Errorf("fields = %+v", out.Fields[1:])
	}
	if got, _ := status(t, resp); got != "Success" {
		t.Fatalf("status %q", got)
	}
	data, transport, digest, mgf := encryptionMethods(t, resp)
	if data != samlxml.AES256GCM || transport != samlxml.RSAOAEPMGF1P || digest != samlxml.DigestSHA1 || mgf != "" {
		t.Errorf("encryption %s / %s (%s, %s), want aes256-gcm / rsa-oaep-mgf1p", data, transport, digest, mgf)
	}
	a, plain := decryptAssertion(t, resp, f.kitKey)
	if a.Audience != kitACS2 || a.Recipient != kitACS2 || a.InResponseTo != "_kit1" || a.Issuer != entityID {
		t.Errorf("Audience %q, Recipient %q, InResponseTo %q, Issuer %q", a.Audience, a.Recipient, a.InResponseTo, a.Issuer)
	}
	if a.NameID != "ES/ES/99999999R" || a.NameIDFormat != clave2msg.NameIDUnspec {
		t.Errorf("NameID %q format %q", a.NameID, a.NameIDFormat)
	}
	if a.LoA != translate.LoAHigh.EIDAS() || !a.AuthnInstant.Equal(t0.Add(-time.Minute)) {
		t.Errorf("LoA %q, AuthnInstant %s", a.LoA, a.AuthnInstant)
	}
	if !a.NotBefore.Equal(t0) || !a.NotOnOrAfter.Equal(t0.Add(5*time.Minute)) || !a.ConfirmationNotOnOrAfter.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("validity %s – %s (confirmation %s)", a.NotBefore, a.NotOnOrAfter, a.ConfirmationNotOnOrAfter)
	}
	want := map[string][2]string{
		translate.NSNaturalPerson + "/PersonIdentifier":  {"PersonIdentifier", "eidas-natural:PersonIdentifierType"},
		translate.NSNaturalPerson + "/CurrentGivenName":  {"FirstName", "eidas-natural:CurrentGivenNameType"},
		translate.NSNaturalPerson + "/CurrentFamilyName": {"FamilyName", "eidas-natural:CurrentFamilyNameType"},
		translate.NSNaturalPerson + "/DateOfBirth":       {"DateOfBirth", "eidas-natural:DateOfBirthType"},
		"http://es.minhafp.clave/FirstSurname":           {"FirstSurname", "xs:string"},
		"http://es.minhafp.clave/SelectedIdP":            {"SelectedIdP", "xs:string"},
		translate.ClaveRelayStateAttr:                    {"RelayState", "xs:string"},
	}
	got := xsiTypes(plain)
	for name, w := range want {
		if got[name] != w {
			t.Errorf("attribute %s: FriendlyName, xsi:type = %v, want %v", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("attributes %v", got)
	}
	values := map[string]string{}
	for _, at := range a.Attributes {
		values[at.Name] = strings.Join(at.Values, "|")
		if at.NameFormat != clave2msg.AttrNameFormat {
			t.Errorf("%s NameFormat %q", at.Name, at.NameFormat)
		}
	}
	if values[translate.ClaveRelayStateAttr] != kitRelayAttr || values[translate.NSNaturalPerson+"/CurrentFamilyName"] != "ESPAÑOL PRUEBAS" {
		t.Errorf("values %v", values)
	}
	// Only the SP's key opens it.
	enc, _ := samlxml.Child(resp, samlxml.NSAssertion, "EncryptedAssertion")
	ed, _ := samlxml.Child(enc, samlxml.NSXMLEnc, "EncryptedData")
	if _, err := samlxml.Decrypt(ed, f.spKey.Decrypter(), samlxml.DefaultMaxMessageBytes); !errors.Is(err, samlxml.ErrDecrypt) {
		t.Errorf("decrypt with another key: %v", err)
	}
}

func samlxmlDecode(v string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(v)
	return string(raw), err
}

// TestRenderClave2EncryptsToTheRequestSigner: with two registered signing
// certificates (a rollover), the assertion is encrypted to the one that
// signed the request; a configured encryption certificate wins.
func TestRenderClave2EncryptsToTheRequestSigner(t *testing.T) {
	next := samlxmltest.Committed(t, "bridge-enc") // the kit's next seal
	tests := []struct {
		name   string
		signer samlxmltest.Pair
		enc    bool
		opens  samlxmltest.Pair
		closed samlxmltest.Pair
	}{
		{"old seal", samlxmltest.Committed(t, "demo-sp"), false, samlxmltest.Committed(t, "demo-sp"), next},
		{"new seal", next, false, next, samlxmltest.Committed(t, "demo-sp")},
		{"configured encryption certificate", next, true, samlxmltest.Committed(t, "simulator-sign"), next},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.kit.SigningCerts = []*x509.Certificate{f.kitKey.Cert, next.Cert}
			if tt.enc {
				f.kit.EncryptionCert = f.spKey.Cert
			}
			resp, _, _ := f.render(t, f.kit, f.kitPending(tt.signer.Cert), success())
			decryptAssertion(t, resp, tt.opens)
			enc, _ := samlxml.Child(resp, samlxml.NSAssertion, "EncryptedAssertion")
			ed, _ := samlxml.Child(enc, samlxml.NSXMLEnc, "EncryptedData")
			if _, err := samlxml.Decrypt(ed, tt.closed.Decrypter(), samlxml.DefaultMaxMessageBytes); err == nil {
				t.Error("the other key opens the assertion")
			}
		})
	}
}

// TestRenderClave2RequestSignerGone: a kit whose request-signing
// certificate was removed from the registry cannot be answered with an
// assertion; Render must fail rather than encrypt to anything else.
func TestRenderClave2RequestSignerGone(t *testing.T) {
	f := newFixture(t)
	f.kit.SigningCerts = []*x509.Certificate{samlxmltest.Committed(t, "bridge-enc").Cert}
	if _, err := f.ep.Render(context.Background(), f.kit, f.kitPending(f.kitKey.Cert), success()); err == nil {
		t.Fatal("rendered an assertion for a signer that is no longer registered")
	}
	// A failure carries no assertion and can still be answered.
	f.render(t, f.kit, f.kitPending(f.kitKey.Cert), bridge.Failure(bridge.StatusAuthnFailed, "cancelled"))
}

func TestRenderEIDASSuccess(t *testing.T) {
	f := newFixture(t)
	req := f.eidasPending(clave2msg.NameIDPersist)
	resp, method, out := f.render(t, f.eidas, req, success())
	if method != samlxml.RSAPSSSHA512 {
		t.Errorf("signature method %s, want RSA-PSS sha512", method)
	}
	raw, _ := samlxmlDecode(out.Fields[0].Value)
	if !strings.Contains(raw, `Algorithm="`+samlxml.RSAPSSSHA512+`"`) {
		t.Error("SignatureMethod sha512-rsa-MGF1 not in the XML")
	}
	data, transport, digest, mgf := encryptionMethods(t, resp)
	if data != samlxml.AES256GCM || transport != samlxml.RSAOAEP || digest != samlxml.DigestSHA256 || mgf != samlxml.NSXMLEnc11+"mgf1sha256" {
		t.Errorf("encryption %s / %s (%s, %s), want aes256-gcm / xmlenc11#rsa-oaep sha256 mgf1sha256", data, transport, digest, mgf)
	}
	a, plain := decryptAssertion(t, resp, f.spKey)
	if a.Audience != eidasID || a.Recipient != eidasACS || a.InResponseTo != "_eid1" {
		t.Errorf("Audience %q, Recipient %q, InResponseTo %q", a.Audience, a.Recipient, a.InResponseTo)
	}
	if a.NameID != "ES/ES/99999999R" || a.NameIDFormat != clave2msg.NameIDPersist {
		t.Errorf("NameID %q format %q", a.NameID, a.NameIDFormat)
	}
	if _, ok := xsiTypes(plain)[translate.ClaveRelayStateAttr]; ok {
		t.Error("RelayState attribute without one in the request")
	}
}

func TestRenderTransientNameID(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for range 2 {
		resp, _, _ := f.render(t, f.eidas, f.eidasPending(nameIDTransient), success())
		a, _ := decryptAssertion(t, resp, f.spKey)
		if a.NameIDFormat != nameIDTransient || a.NameID == "" || strings.Contains(a.NameID, "99999999R") {
			t.Fatalf("NameID %q format %q", a.NameID, a.NameIDFormat)
		}
		ids = append(ids, a.NameID)
	}
	if ids[0] == ids[1] {
		t.Fatalf("transient NameID %q repeated", ids[0])
	}
}

func TestRenderWithoutRelayState(t *testing.T) {
	f := newFixture(t)
	req := f.kitPending(f.kitKey.Cert)
	req.RelayState = ""
	req.State = encodeState(requestState{
		Profile: ProfileClave2, Signer: fingerprint(f.kitKey.Cert), NameIDFormat: clave2msg.NameIDUnspec, Application: kitApp,
	})
	resp, _, out := f.render(t, f.kit, req, success())
	if len(out.Fields) != 1 {
		t.Errorf("fields = %+v", out.Fields)
	}
	_, plain := decryptAssertion(t, resp, f.kitKey)
	if _, ok := xsiTypes(plain)[translate.ClaveRelayStateAttr]; ok {
		t.Error("RelayState attribute echoed although none was requested")
	}
}

func TestRenderFailureStatuses(t *testing.T) {
	tests := map[bridge.StatusCode]string{
		bridge.StatusAuthnFailed:    "Responder AuthnFailed",
		bridge.StatusRequestDenied:  "Requester RequestDenied",
		bridge.StatusNoAuthnContext: "Requester NoAuthnContext",
		bridge.StatusInvalidAttr:    "Requester InvalidAttrNameOrValue",
		bridge.StatusResponder:      "Responder",
		bridge.StatusNoPassive:      "Responder NoPassive",
		bridge.StatusInvalidNameID:  "Requester InvalidNameIDPolicy",
		"SomethingNew":              "Responder",
	}
	for code, want := range tests {
		t.Run(string(code), func(t *testing.T) {
			f := newFixture(t)
			for _, c := range []struct {
				sp     *bridge.ServiceProvider
				req    *bridge.Request
				method string
			}{
				{f.kit, f.kitPending(f.kitKey.Cert), samlxml.RSASHA512},
				{f.eidas, f.eidasPending(""), samlxml.RSAPSSSHA512},
			} {
				resp, method, out := f.render(t, c.sp, c.req, bridge.Failure(code, "because <&>"))
				if got, msg := status(t, resp); got != want || msg != "because <&>" {
					t.Errorf("%s: status %q (%q), want %q", c.sp.ID, got, msg, want)
				}
				if n := assertions(resp); n != 0 {
					t.Errorf("%s: failure carries %d assertions", c.sp.ID, n)
				}
				if method != c.method {
					t.Errorf("%s: signature method %s", c.sp.ID, method)
				}
				if field(out, "RelayState") != "rs" {
					t.Errorf("%s: RelayState not echoed", c.sp.ID)
				}
			}
		})
	}
}

// TestRenderUnreadableState: a request whose state is not the endpoint's
// is not answered.
func TestRenderUnreadableState(t *testing.T) {
	f := newFixture(t)
	req := f.kitPending(f.kitKey.Cert)
	req.State = json.RawMessage(`["not", "ours"]`)
	if _, err := f.ep.Render(context.Background(), f.kit, req, success()); err == nil {
		t.Fatal("rendered from an unreadable state")
	}
}
