package upstream

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	ssoURL = "https://gateway.example/Proxy2/ServiceProvider"
	acsURL = "https://bridge.example/upstream/acs"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

type fixture struct {
	conn    *Connector
	bridge  samlxmltest.Pair
	gateway samlxmltest.Pair
	store   *store.Memory
	now     time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{bridge: samlxmltest.Committed(t, "bridge-sign"), gateway: samlxmltest.Committed(t, "simulator-sign"), now: t0}
	f.store = store.NewMemory(func() time.Time { return f.now }, 0)
	conn, err := New(Config{
		SSOURL: ssoURL, ACSURL: acsURL, ProviderName: "Q2891006E_EA0009994", Application: "test",
		Signer: f.bridge.Signer(samlxml.RSASHA512), DecryptionKeys: []DecryptionKey{{Key: f.bridge.Decrypter(), Cert: f.bridge.Cert}},
		GatewayCerts: []*x509.Certificate{f.gateway.Cert}, ClockSkew: 5 * time.Second, Replay: f.store,
		Now: func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.conn = conn
	return f
}

func pending() *flow.Pending {
	return &flow.Pending{
		ID: "_req1", RelayState: "Xy7pQ2aZ", Created: t0,
		Request: bridge.Request{
			SP: "sp", Dialect: "saml2", MinLoA: translate.LoASubstantial,
			DisabledIdPs: []bridge.IdP{translate.IdPPin24H, translate.IdPEIDAS},
			Attributes:   []bridge.RequestedAttr{{Name: translate.AttrDateOfBirth, Required: true}},
		},
	}
}

func TestBeginBuildsClave2Request(t *testing.T) {
	f := newFixture(t)
	out, err := f.conn.Begin(context.Background(), pending())
	if err != nil {
		t.Fatal(err)
	}
	if out.URL != ssoURL || len(out.Fields) != 2 || out.Fields[1].Name != "RelayState" || out.Fields[1].Value != "Xy7pQ2aZ" {
		t.Fatalf("outgoing = %+v", out)
	}
	raw, err := base64.StdEncoding.DecodeString(out.Fields[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}, Policy: samlxml.AlgorithmPolicy{Methods: []string{samlxml.RSASHA512}}}.Verify(doc.Root())
	if err != nil {
		t.Fatalf("request signature: %v", err)
	}
	ar, err := clave2msg.ParseAuthnRequest(v.Element)
	if err != nil {
		t.Fatal(err)
	}
	if ar.Issuer != "" || ar.ProviderName != "Q2891006E_EA0009994;test" || !ar.HasNameIDPolicy || ar.Comparison != "minimum" ||
		len(ar.LoAs) != 1 || ar.LoAs[0] != translate.LoASubstantial.EIDAS() || ar.ACS != acsURL || ar.Destination != ssoURL || ar.IsPassive {
		t.Fatalf("request = %+v", ar)
	}
	for _, name := range []string{"http://es.minhafp.clave/AEATIdP", "http://es.minhafp.clave/EIDASIdP"} {
		if a, ok := ar.Attribute(name); !ok || a.Required || len(a.Values) != 0 {
			t.Errorf("disable attribute %s = %+v, %v", name, a, ok)
		}
	}
	if _, ok := ar.Attribute("http://es.minhafp.clave/AFirmaIdP"); ok {
		t.Error("AFirmaIdP disabled although allowed")
	}
	if a, ok := ar.Attribute(translate.ClaveRelayStateAttr); !ok || len(a.Values) != 1 || a.Values[0] != "Xy7pQ2aZ" {
		t.Errorf("RelayState attribute = %+v", a)
	}
	if a, ok := ar.Attribute(translate.NSNaturalPerson + "/DateOfBirth"); !ok || !a.Required {
		t.Errorf("DateOfBirth not requested as required: %+v", a)
	}
	if a, ok := ar.Attribute(translate.NSNaturalPerson + "/PersonIdentifier"); !ok || !a.Required {
		t.Errorf("PersonIdentifier not requested as required: %+v", a)
	}
}

// answer describes the gateway's response; mutate changes it before signing.
type answer struct {
	status       clave2msg.Status
	assertion    *clave2msg.Assertion
	inResponseTo string
	destination  string
	issued       time.Time
	relayForm    string
	encryptTo    samlxmltest.Pair
	signWith     samlxmltest.Pair
	unsigned     bool
	plain        bool
}

func (f *fixture) goodAnswer() *answer {
	a := &clave2msg.Assertion{
		ID: "_as1", IssueInstant: t0, Issuer: "gw", NameID: "ES/ES/99999999R", NameIDFormat: clave2msg.NameIDUnspec,
		InResponseTo: "_req1", Recipient: acsURL, NotBefore: t0, NotOnOrAfter: t0.Add(5 * time.Minute),
		Audience: acsURL, AuthnInstant: t0, LoA: translate.LoAHigh.EIDAS(),
	}
	for _, at := range []struct {
		a translate.Attr
		v string
	}{
		{translate.AttrPersonIdentifier, "ES/ES/99999999R"}, {translate.AttrGivenName, "JUAN"},
		{translate.AttrFamilyName, "ESPAÑOL ESPAÑOL"}, {translate.AttrFirstSurname, "ESPAÑOL"},
		{translate.AttrSelectedIdP, "AFIRMA"}, {translate.AttrDateOfBirth, "1980-01-01"},
	} {
		w, _ := clave2msg.WireAttribute(at.a, at.v)
		a.Attributes = append(a.Attributes, w)
	}
	a.Attributes = append(a.Attributes, clave2msg.Attribute{Name: translate.ClaveRelayStateAttr, Values: []string{"Xy7pQ2aZ"}})
	return &answer{
		status: clave2msg.Status{Code: clave2msg.StatusSuccess}, assertion: a, inResponseTo: "_req1",
		destination: acsURL, issued: t0, relayForm: "Xy7pQ2aZ", encryptTo: f.bridge, signWith: f.gateway,
	}
}

func (f *fixture) form(t testing.TB, ans *answer) url.Values {
	t.Helper()
	var content *etree.Element
	if ans.assertion != nil {
		content = ans.assertion.Element()
		if !ans.plain {
			enc, err := samlxml.Encrypter{Cert: ans.encryptTo.Cert, KeyTransport: samlxml.RSAOAEPMGF1P, Data: samlxml.AES256GCM}.Encrypt(content)
			if err != nil {
				t.Fatal(err)
			}
			content = enc
		}
	}
	id, _ := samlxml.NewID(rand.Reader)
	el := (&clave2msg.Response{ID: id, InResponseTo: ans.inResponseTo, IssueInstant: ans.issued, Destination: ans.destination,
		Issuer: "gw", Status: ans.status}).Element(content)
	if !ans.unsigned {
		if err := ans.signWith.Signer(samlxml.RSASHA512).Sign(el); err != nil {
			t.Fatal(err)
		}
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(xml)}, "RelayState": {ans.relayForm}}
}

func (f *fixture) finish(t *testing.T, form url.Values) (*flow.Pending, bridge.Result, error) {
	t.Helper()
	take := func(ctx context.Context, id string) (*flow.Pending, error) {
		if _, err := f.store.TakePending(ctx, id); err != nil {
			return nil, err
		}
		return pending(), nil
	}
	return f.conn.Finish(context.Background(), form, take)
}

func (f *fixture) putPending(t *testing.T) {
	t.Helper()
	if err := f.store.PutPending(context.Background(), "_req1", []byte("{}"), time.Hour); err != nil {
		t.Fatal(err)
	}
}

func TestFinishSuccess(t *testing.T) {
	f := newFixture(t)
	f.putPending(t)
	p, res, err := f.finish(t, f.form(t, f.goodAnswer()))
	if err != nil || p == nil {
		t.Fatalf("Finish: %v", err)
	}
	if !res.Status.OK() || res.LoA != translate.LoAHigh || res.IdP != translate.IdPAfirma || res.Subject != "ES/ES/99999999R" ||
		res.Value(translate.AttrDateOfBirth) != "1980-01-01" || res.LegalPerson {
		t.Fatalf("result = %+v", res)
	}
	if _, err := f.store.TakePending(context.Background(), "_req1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("pending login not consumed")
	}
}

// TestFinishRefusals: every bad answer is refused; those refused before the
// pending login is identified leave it in the store.
func TestFinishRefusals(t *testing.T) {
	other := samlxmltest.Committed(t, "demo-sp")
	tests := []struct {
		name        string
		mutate      func(*answer)
		pendingKept bool
		wantInErr   string
	}{
		{"unsigned", func(a *answer) { a.unsigned = true }, true, "unsigned"},
		{"signed by another key", func(a *answer) { a.signWith = other }, true, "signature"},
		{"unknown InResponseTo", func(a *answer) { a.inResponseTo = "_other" }, true, "unknown"},
		{"wrong destination", func(a *answer) { a.destination = "https://evil.example/acs" }, false, "Destination"},
		{"relay form mismatch", func(a *answer) { a.relayForm = "other" }, false, "RelayState"},
		{"issued in the future", func(a *answer) { a.issued = t0.Add(time.Minute) }, false, "future"},
		{"stale", func(a *answer) { a.issued = t0.Add(-time.Hour) }, false, "stale"},
		{"plain assertion", func(a *answer) { a.plain = true }, true, "unencrypted"},
		{"encrypted to another key", func(a *answer) { a.encryptTo = other }, false, "cannot decrypt"},
		{"assertion for another request", func(a *answer) { a.assertion.InResponseTo = "_x" }, false, "answers"},
		{"wrong recipient", func(a *answer) { a.assertion.Recipient = "https://evil.example" }, false, "Recipient"},
		{"wrong audience", func(a *answer) { a.assertion.Audience = "https://evil.example" }, false, "Audience"},
		{"not yet valid", func(a *answer) { a.assertion.NotBefore = t0.Add(time.Minute) }, false, "NotBefore"},
		{"expired", func(a *answer) { a.assertion.NotOnOrAfter = t0.Add(-time.Minute) }, false, "expired"},
		{"relay attribute mismatch", func(a *answer) { a.assertion.Attributes[len(a.assertion.Attributes)-1].Values = []string{"x"} }, false, "RelayState"},
		{"relay attribute missing", func(a *answer) { a.assertion.Attributes = a.assertion.Attributes[:len(a.assertion.Attributes)-1] }, false, "RelayState"},
		{"non-notified LoA", func(a *answer) { a.assertion.LoA = "http://eidas.europa.eu/LoA/NotNotified/high" }, false, "non-notified"},
		{"error status with assertion", func(a *answer) { a.status = clave2msg.Status{Code: clave2msg.StatusResponder} }, false, "carries an assertion"},
		{"success without assertion", func(a *answer) { a.assertion = nil }, false, "without an encrypted assertion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.putPending(t)
			ans := f.goodAnswer()
			tt.mutate(ans)
			p, _, err := f.finish(t, f.form(t, ans))
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.wantInErr)
			}
			_, takeErr := f.store.TakePending(context.Background(), "_req1")
			if kept := takeErr == nil; kept != tt.pendingKept {
				t.Fatalf("pending kept = %v, want %v", kept, tt.pendingKept)
			}
			if (p == nil) != tt.pendingKept {
				t.Fatalf("pending returned = %v", p != nil)
			}
		})
	}
}

func TestFinishErrorStatusMapsSubCode(t *testing.T) {
	tests := map[string]bridge.StatusCode{
		clave2msg.StatusAuthnFailed:    bridge.StatusAuthnFailed,
		clave2msg.StatusRequestDenied:  bridge.StatusRequestDenied,
		clave2msg.StatusNoAuthnContext: bridge.StatusNoAuthnContext,
		"urn:example:unknown":          bridge.StatusResponder,
	}
	for sub, want := range tests {
		f := newFixture(t)
		f.putPending(t)
		ans := f.goodAnswer()
		ans.assertion = nil
		ans.status = clave2msg.Status{Code: clave2msg.StatusResponder, SubCode: sub, Message: "cancelled"}
		p, res, err := f.finish(t, f.form(t, ans))
		if err != nil || p == nil || res.Status.Code != want || res.Status.Message != "cancelled" {
			t.Errorf("sub %s: %+v, %v", sub, res.Status, err)
		}
	}
}

func TestFinishRefusesReplay(t *testing.T) {
	f := newFixture(t)
	f.putPending(t)
	form := f.form(t, f.goodAnswer())
	if _, _, err := f.finish(t, form); err != nil {
		t.Fatal(err)
	}
	f.putPending(t) // even if the same request ID were pending again
	if p, _, err := f.finish(t, form); err == nil || p != nil || !strings.Contains(err.Error(), "replayed") {
		t.Fatalf("replay: %v, %v", p, err)
	}
}

func TestFinishBadForms(t *testing.T) {
	f := newFixture(t)
	for name, form := range map[string]url.Values{
		"none":       {},
		"two":        {"SAMLResponse": {"a", "b"}},
		"not base64": {"SAMLResponse": {"%%%"}},
		"doctype":    {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))}},
		"not xml":    {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte("hello"))}},
	} {
		if p, _, err := f.finish(t, form); err == nil || p != nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
