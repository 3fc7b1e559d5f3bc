package upstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

const (
	sloURL       = "https://bridge.example/upstream/slo"
	providerName = "Q2891006E_EA0009994"
	logoutID     = "_lo1"
)

// newLogoutFixture is newFixture with single logout configured.
func newLogoutFixture(t testing.TB) *fixture {
	t.Helper()
	f := newFixture(t)
	cfg := f.conn.cfg
	cfg.LogoutURL = sloURL
	conn, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.conn = conn
	return f
}

// sealing says how a test message is signed and damaged.
type sealing struct {
	signWith samlxmltest.Pair
	unsigned bool
	edit     func([]byte) []byte // applied to the serialized, signed XML
}

// seal signs el as s says and returns the base64 form value.
func (s sealing) seal(t testing.TB, el *etree.Element) string {
	t.Helper()
	if !s.unsigned {
		if err := s.signWith.Signer(samlxml.RSASHA512).Sign(el); err != nil {
			t.Fatal(err)
		}
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	if s.edit != nil {
		xml = s.edit(xml)
	}
	return base64.StdEncoding.EncodeToString(xml)
}

// logoutAnswer describes the gateway's LogoutResponse to our logoutID.
type logoutAnswer struct {
	sealing
	id           string
	field        string
	inResponseTo string
	destination  string
	issued       time.Time
	status       clave2msg.Status
}

func (f *fixture) goodLogoutAnswer() *logoutAnswer {
	return &logoutAnswer{
		sealing: sealing{signWith: f.gateway}, id: "_lr1", field: fieldLogoutResponse, inResponseTo: logoutID,
		destination: sloURL, issued: t0, status: clave2msg.Status{Code: clave2msg.StatusSuccess},
	}
}

func (f *fixture) logoutAnswerForm(t testing.TB, a *logoutAnswer) url.Values {
	t.Helper()
	r := &clave2msg.LogoutResponse{ID: a.id, InResponseTo: a.inResponseTo, IssueInstant: a.issued,
		Destination: a.destination, Issuer: "not properly set", Status: a.status}
	return url.Values{a.field: {a.seal(t, r.Element())}, fieldRelayState: {"Xy7pQ2aZ"}}
}

// gatewayLogout describes a gateway-initiated LogoutRequest.
type gatewayLogout struct {
	sealing
	field        string
	destination  string
	nameID       string
	issued       time.Time
	notOnOrAfter time.Time
}

func (f *fixture) goodGatewayLogout() *gatewayLogout {
	return &gatewayLogout{
		sealing: sealing{signWith: f.gateway}, field: fieldLogoutRequest, destination: sloURL,
		nameID: providerName, issued: t0, notOnOrAfter: t0.Add(5 * time.Minute),
	}
}

// gatewayLogoutForm returns the form and the request's ID.
func (f *fixture) gatewayLogoutForm(t testing.TB, g *gatewayLogout) (url.Values, string) {
	t.Helper()
	id, _ := samlxml.NewID(rand.Reader)
	r := &clave2msg.LogoutRequest{ID: id, IssueInstant: g.issued, Destination: g.destination, Issuer: ssoURL,
		NameID: g.nameID, NameIDFormat: clave2msg.NameIDUnspec, NotOnOrAfter: g.notOnOrAfter, Reason: clave2msg.LogoutReasonUser}
	return url.Values{g.field: {g.seal(t, r.Element())}, fieldRelayState: {"gw-relay"}}, id
}

// openBridgeMessage verifies a form value with the bridge certificate.
func (f *fixture) openBridgeMessage(t *testing.T, value string) *etree.Element {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}, Policy: samlxml.AlgorithmPolicy{Methods: []string{samlxml.RSASHA512}}}.Verify(doc.Root())
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	return v.Element
}

func checkOutgoing(t *testing.T, out bridge.Outgoing, field, relay string) {
	t.Helper()
	if out.URL != ssoURL || len(out.Fields) != 2 || out.Fields[0].Name != field ||
		out.Fields[1].Name != "RelayState" || out.Fields[1].Value != relay {
		t.Fatalf("outgoing = %+v", out)
	}
}

func TestBeginLogout(t *testing.T) {
	f := newLogoutFixture(t)
	out, err := f.conn.BeginLogout(context.Background(), logoutID, "Xy7pQ2aZ")
	if err != nil {
		t.Fatal(err)
	}
	checkOutgoing(t, out, "logoutRequest", "Xy7pQ2aZ")
	got, err := clave2msg.ParseLogoutRequest(f.openBridgeMessage(t, out.Fields[0].Value))
	if err != nil {
		t.Fatal(err)
	}
	want := clave2msg.LogoutRequest{
		ID: logoutID, IssueInstant: t0, Destination: ssoURL, Issuer: sloURL, NameID: providerName,
		NameIDFormat: clave2msg.NameIDUnspec, SPNameQualifier: sloURL, NotOnOrAfter: t0.Add(300 * time.Second),
		Reason: clave2msg.LogoutReasonUser,
	}
	if got.ID != want.ID || !got.IssueInstant.Equal(want.IssueInstant) || got.Destination != want.Destination ||
		got.Issuer != want.Issuer || got.NameID != want.NameID || got.NameIDFormat != want.NameIDFormat ||
		got.SPNameQualifier != want.SPNameQualifier || !got.NotOnOrAfter.Equal(want.NotOnOrAfter) ||
		got.Reason != want.Reason || len(got.SessionIndexes) != 0 {
		t.Fatalf("request = %+v\nwant      %+v", got, want)
	}
	for name, args := range map[string][2]string{"no ID": {"", "r"}, "no RelayState": {"_x", ""}} {
		if _, err := f.conn.BeginLogout(context.Background(), args[0], args[1]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestLogoutNeedsLogoutURL: without a LogoutURL every logout method refuses.
func TestLogoutNeedsLogoutURL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.conn.BeginLogout(ctx, logoutID, "r"); err == nil {
		t.Error("BeginLogout accepted")
	}
	if _, _, err := f.conn.FinishLogout(ctx, f.logoutAnswerForm(t, f.goodLogoutAnswer()), logoutID); err == nil {
		t.Error("FinishLogout accepted")
	}
	form, _ := f.gatewayLogoutForm(t, f.goodGatewayLogout())
	if _, _, err := f.conn.ReadLogoutRequest(ctx, form); err == nil {
		t.Error("ReadLogoutRequest accepted")
	}
	if _, err := f.conn.LogoutResponse(ctx, logoutID, "r", true); err == nil {
		t.Error("LogoutResponse accepted")
	}
}

func TestFinishLogoutAccepts(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(*logoutAnswer)
		wantOK      bool
		wantMessage string
	}{
		{"logoutResponse field", func(*logoutAnswer) {}, true, clave2msg.StatusSuccess},
		{"SAMLResponse field", func(a *logoutAnswer) { a.field = "SAMLResponse" }, true, clave2msg.StatusSuccess},
		{"answered at the ACS", func(a *logoutAnswer) { a.destination = acsURL }, true, clave2msg.StatusSuccess},
		{"within the clock skew", func(a *logoutAnswer) { a.issued = t0.Add(4 * time.Second) }, true, clave2msg.StatusSuccess},
		{"partial logout", func(a *logoutAnswer) {
			a.status = clave2msg.Status{Code: clave2msg.StatusResponder, SubCode: clave2msg.StatusPartialLogout, Message: "partial"}
		}, false, "partial"},
		{"requester error", func(a *logoutAnswer) {
			a.status = clave2msg.Status{Code: clave2msg.StatusRequester, Message: "200007 sp.not.identified"}
		}, false, "200007 sp.not.identified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLogoutFixture(t)
			a := f.goodLogoutAnswer()
			tt.mutate(a)
			ok, msg, err := f.conn.FinishLogout(context.Background(), f.logoutAnswerForm(t, a), logoutID)
			if err != nil || ok != tt.wantOK || msg != tt.wantMessage {
				t.Fatalf("FinishLogout = %v, %q, %v; want %v, %q", ok, msg, err, tt.wantOK, tt.wantMessage)
			}
		})
	}
}

func TestFinishLogoutRefusals(t *testing.T) {
	other := samlxmltest.Committed(t, "demo-sp")
	// answer builds the form of a changed good answer.
	answer := func(mutate func(*logoutAnswer)) func(*testing.T, *fixture) url.Values {
		return func(t *testing.T, f *fixture) url.Values {
			a := f.goodLogoutAnswer()
			mutate(a)
			return f.logoutAnswerForm(t, a)
		}
	}
	// value posts v as the logoutResponse field.
	value := func(v string) func(*testing.T, *fixture) url.Values {
		return func(*testing.T, *fixture) url.Values { return url.Values{fieldLogoutResponse: {v}} }
	}
	tests := []struct {
		name      string
		form      func(*testing.T, *fixture) url.Values
		wantInErr string
	}{
		{"unsigned", answer(func(a *logoutAnswer) { a.unsigned = true }), "unsigned"},
		{"signed by another key", answer(func(a *logoutAnswer) { a.signWith = other }), "not trusted"},
		{"tampered", answer(func(a *logoutAnswer) {
			a.edit = func(b []byte) []byte { return bytes.Replace(b, []byte(sloURL), []byte(acsURL), 1) }
		}), "digest mismatch"},
		{"wrong InResponseTo", answer(func(a *logoutAnswer) { a.inResponseTo = "_other" }), "not our logout request"},
		{"no InResponseTo", answer(func(a *logoutAnswer) { a.inResponseTo = "" }), "no InResponseTo"},
		{"wrong Destination", answer(func(a *logoutAnswer) { a.destination = "https://evil.example/slo" }), "Destination"},
		{"no Destination", answer(func(a *logoutAnswer) { a.destination = "" }), "Destination"},
		{"stale", answer(func(a *logoutAnswer) { a.issued = t0.Add(-time.Hour) }), "stale"},
		{"issued in the future", answer(func(a *logoutAnswer) { a.issued = t0.Add(time.Minute) }), "future"},
		{"replayed", func(t *testing.T, f *fixture) url.Values {
			form := f.logoutAnswerForm(t, f.goodLogoutAnswer())
			if _, _, err := f.conn.FinishLogout(context.Background(), form, logoutID); err != nil {
				t.Fatalf("first use: %v", err)
			}
			return form
		}, "replayed"},
		{"DOCTYPE", answer(func(a *logoutAnswer) {
			a.edit = func(b []byte) []byte { return append([]byte(`<!DOCTYPE x [<!ENTITY e "x">]>`), b...) }
		}), "DOCTYPE"},
		{"garbage base64", value("!!! not base64 ***"), "base64"},
		{"empty value", value(""), "empty"},
		{"not XML", value(base64.StdEncoding.EncodeToString([]byte("hello"))), "parse logoutResponse"},
		{"a LogoutRequest instead", func(t *testing.T, f *fixture) url.Values {
			g := f.goodGatewayLogout()
			g.field = fieldLogoutResponse
			form, _ := f.gatewayLogoutForm(t, g)
			return form
		}, "not a LogoutResponse"},
		{"a login Response instead", func(t *testing.T, f *fixture) url.Values {
			return f.form(t, f.goodAnswer())
		}, "not a LogoutResponse"},
		{"both field names", func(t *testing.T, f *fixture) url.Values {
			form := f.logoutAnswerForm(t, f.goodLogoutAnswer())
			form.Set("SAMLResponse", form.Get(fieldLogoutResponse))
			return form
		}, "both"},
		{"two values", func(t *testing.T, f *fixture) url.Values {
			form := f.logoutAnswerForm(t, f.goodLogoutAnswer())
			form.Add(fieldLogoutResponse, form.Get(fieldLogoutResponse))
			return form
		}, "2 times"},
		{"no field", func(*testing.T, *fixture) url.Values { return url.Values{fieldRelayState: {"r"}} }, "none of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLogoutFixture(t)
			ok, msg, err := f.conn.FinishLogout(context.Background(), tt.form(t, f), logoutID)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("FinishLogout = %v, %q, %v; want an error mentioning %q", ok, msg, err, tt.wantInErr)
			}
			if ok || msg != "" {
				t.Errorf("refusal also returned %v, %q", ok, msg)
			}
		})
	}
	f := newLogoutFixture(t)
	if _, _, err := f.conn.FinishLogout(context.Background(), f.logoutAnswerForm(t, f.goodLogoutAnswer()), ""); err == nil {
		t.Error("accepted without an expected request ID")
	}
}

// TestReadLogoutResponse: the answer is verified on the form alone and
// names the request it answers, whichever it is: matching it with the
// logout under way is the caller's. A forged copy (unsigned, or signed by
// another key) is refused without burning the genuine answer's ID.
func TestReadLogoutResponse(t *testing.T) {
	f := newLogoutFixture(t)
	ctx := context.Background()
	other := f.goodLogoutAnswer()
	other.id, other.inResponseTo = "_lr0", "_another"
	if ans, err := f.conn.ReadLogoutResponse(ctx, f.logoutAnswerForm(t, other)); err != nil || ans.InResponseTo != "_another" || !ans.OK {
		t.Fatalf("ReadLogoutResponse = %+v, %v", ans, err)
	}
	for _, forge := range []func(*logoutAnswer){
		func(a *logoutAnswer) { a.unsigned = true },
		func(a *logoutAnswer) { a.signWith = samlxmltest.Committed(t, "demo-sp") },
		func(a *logoutAnswer) { a.signWith = samlxmltest.Committed(t, "bridge-sign") },
	} {
		forged := f.goodLogoutAnswer()
		forge(forged)
		if ans, err := f.conn.ReadLogoutResponse(ctx, f.logoutAnswerForm(t, forged)); err == nil {
			t.Fatalf("forged answer read: %+v", ans)
		}
	}
	partial := f.goodLogoutAnswer()
	partial.status = clave2msg.Status{Code: clave2msg.StatusResponder, SubCode: clave2msg.StatusPartialLogout, Message: "partial"}
	ans, err := f.conn.ReadLogoutResponse(ctx, f.logoutAnswerForm(t, partial))
	if err != nil || ans.InResponseTo != logoutID || ans.OK || ans.Message != "partial" {
		t.Fatalf("the genuine answer after the forged ones: %+v, %v", ans, err)
	}
	if _, err := f.conn.ReadLogoutResponse(ctx, f.logoutAnswerForm(t, partial)); err == nil || !strings.Contains(err.Error(), "replayed") {
		t.Fatalf("replayed answer: %v", err)
	}
	noLogout := newFixture(t)
	if _, err := noLogout.conn.ReadLogoutResponse(ctx, f.logoutAnswerForm(t, f.goodLogoutAnswer())); err == nil {
		t.Fatal("read without a logout URL")
	}
}

// TestOrigins: the gateway posts from its SSO URL's origin.
func TestOrigins(t *testing.T) {
	f := newLogoutFixture(t)
	if got := f.conn.Origins(); len(got) != 1 || got[0] != "https://gateway.example" {
		t.Fatalf("Origins = %v", got)
	}
	cfg := f.conn.cfg
	cfg.SSOURL = "not a url"
	if got := (&Connector{cfg: cfg}).Origins(); got != nil {
		t.Fatalf("Origins of a bad URL = %v", got)
	}
}

func TestReadLogoutRequest(t *testing.T) {
	f := newLogoutFixture(t)
	for name, mutate := range map[string]func(*gatewayLogout){
		"complete":        func(*gatewayLogout) {},
		"no NotOnOrAfter": func(g *gatewayLogout) { g.notOnOrAfter = time.Time{} },
	} {
		g := f.goodGatewayLogout()
		mutate(g)
		form, wantID := f.gatewayLogoutForm(t, g)
		id, relay, err := f.conn.ReadLogoutRequest(context.Background(), form)
		if err != nil || id != wantID || relay != "gw-relay" {
			t.Errorf("%s: ReadLogoutRequest = %q, %q, %v", name, id, relay, err)
		}
	}
}

func TestReadLogoutRequestRefusals(t *testing.T) {
	other := samlxmltest.Committed(t, "demo-sp")
	request := func(mutate func(*gatewayLogout)) func(*testing.T, *fixture) url.Values {
		return func(t *testing.T, f *fixture) url.Values {
			g := f.goodGatewayLogout()
			mutate(g)
			form, _ := f.gatewayLogoutForm(t, g)
			return form
		}
	}
	tests := []struct {
		name      string
		form      func(*testing.T, *fixture) url.Values
		wantInErr string
	}{
		{"unsigned", request(func(g *gatewayLogout) { g.unsigned = true }), "unsigned"},
		{"signed by another key", request(func(g *gatewayLogout) { g.signWith = other }), "not trusted"},
		{"signed by ourselves", func(t *testing.T, f *fixture) url.Values {
			out, err := f.conn.BeginLogout(context.Background(), "_mine", "r")
			if err != nil {
				t.Fatal(err)
			}
			return url.Values{fieldLogoutRequest: {out.Fields[0].Value}}
		}, "not trusted"},
		{"tampered", request(func(g *gatewayLogout) {
			g.edit = func(b []byte) []byte { return bytes.Replace(b, []byte(providerName), []byte("Q0000000J_X"), 1) }
		}), "digest mismatch"},
		{"wrong Destination", request(func(g *gatewayLogout) { g.destination = acsURL }), "Destination"},
		{"wrong NameID", request(func(g *gatewayLogout) { g.nameID = "OTHER_SP" }), "NameID"},
		{"empty NameID", request(func(g *gatewayLogout) { g.nameID = "" }), "NameID"},
		{"expired", request(func(g *gatewayLogout) { g.notOnOrAfter = t0.Add(-time.Minute) }), "NotOnOrAfter"},
		{"stale", request(func(g *gatewayLogout) {
			g.issued, g.notOnOrAfter = t0.Add(-time.Hour), time.Time{}
		}), "stale"},
		{"issued in the future", request(func(g *gatewayLogout) { g.issued = t0.Add(time.Minute) }), "future"},
		{"replayed", func(t *testing.T, f *fixture) url.Values {
			form, _ := f.gatewayLogoutForm(t, f.goodGatewayLogout())
			if _, _, err := f.conn.ReadLogoutRequest(context.Background(), form); err != nil {
				t.Fatalf("first use: %v", err)
			}
			return form
		}, "replayed"},
		{"DOCTYPE", request(func(g *gatewayLogout) {
			g.edit = func(b []byte) []byte { return append([]byte(`<!DOCTYPE x [<!ENTITY e "x">]>`), b...) }
		}), "DOCTYPE"},
		{"garbage base64", func(*testing.T, *fixture) url.Values {
			return url.Values{fieldLogoutRequest: {"%%%"}}
		}, "base64"},
		{"a LogoutResponse instead", func(t *testing.T, f *fixture) url.Values {
			a := f.goodLogoutAnswer()
			a.field = fieldLogoutRequest
			return f.logoutAnswerForm(t, a)
		}, "not a LogoutRequest"},
		{"SAMLRequest field", request(func(g *gatewayLogout) { g.field = "SAMLRequest" }), "none of"},
		{"two RelayStates", func(t *testing.T, f *fixture) url.Values {
			form, _ := f.gatewayLogoutForm(t, f.goodGatewayLogout())
			form.Add(fieldRelayState, "again")
			return form
		}, "RelayState"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLogoutFixture(t)
			id, relay, err := f.conn.ReadLogoutRequest(context.Background(), tt.form(t, f))
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("ReadLogoutRequest = %q, %q, %v; want an error mentioning %q", id, relay, err, tt.wantInErr)
			}
		})
	}
}

func TestLogoutResponse(t *testing.T) {
	tests := []struct {
		ok          bool
		wantStatus  clave2msg.Status
		wantMessage string
	}{
		{true, clave2msg.Status{Code: clave2msg.StatusSuccess}, clave2msg.StatusSuccess},
		{false, clave2msg.Status{Code: clave2msg.StatusResponder, SubCode: clave2msg.StatusPartialLogout}, partialLogoutMessage},
	}
	for _, tt := range tests {
		f := newLogoutFixture(t)
		out, err := f.conn.LogoutResponse(context.Background(), "_gw1", "gw-relay", tt.ok)
		if err != nil {
			t.Fatal(err)
		}
		checkOutgoing(t, out, "logoutResponse", "gw-relay")
		got, err := clave2msg.ParseLogoutResponse(f.openBridgeMessage(t, out.Fields[0].Value))
		if err != nil {
			t.Fatal(err)
		}
		tt.wantStatus.Message = tt.wantMessage
		if got.InResponseTo != "_gw1" || got.Destination != ssoURL || got.Issuer != sloURL ||
			!got.IssueInstant.Equal(t0) || got.Status != tt.wantStatus || !strings.HasPrefix(got.ID, "_") {
			t.Errorf("ok=%v: response = %+v", tt.ok, got)
		}
	}
	f := newLogoutFixture(t)
	if _, err := f.conn.LogoutResponse(context.Background(), "", "r", true); err == nil {
		t.Error("answered no request")
	}
}

// FuzzFinishLogout: any logoutResponse value is refused or accepted without
// a panic, and only the gateway's signed answer is ever accepted. The seed
// answer is deterministic (fixed ID and clock, PKCS#1 v1.5), so every fuzz
// worker builds the same one.
func FuzzFinishLogout(f *testing.F) {
	fx := newLogoutFixture(f)
	good := fx.logoutAnswerForm(f, fx.goodLogoutAnswer()).Get(fieldLogoutResponse)
	f.Add(good)
	f.Add("PHg+PC94Pg==")
	goodXML, _ := samlxml.DecodePostValue(good, samlxml.DefaultMaxMessageBytes)
	f.Fuzz(func(t *testing.T, value string) {
		_, _, err := fx.conn.FinishLogout(context.Background(), url.Values{fieldLogoutResponse: {value}}, logoutID)
		if err != nil {
			return
		}
		if xml, _ := samlxml.DecodePostValue(value, samlxml.DefaultMaxMessageBytes); !bytes.Equal(xml, goodXML) {
			t.Fatalf("accepted %q", value)
		}
	})
}
