package saml2

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/pairwise"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/translate"
)

const dniDigits = "99999999R" // the citizen of success()

func testKeyer(t testing.TB) *pairwise.Keyer {
	t.Helper()
	k, err := pairwise.New(bytes.Repeat([]byte("pairwise-test-"), 3))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withheld releases the given name, not the PersonIdentifier.
var withheld = bridge.Policy{MinLoA: translate.LoALow, Attributes: []bridge.Attr{translate.AttrGivenName}}

// loginAnswer runs a whole login through the flow for an AuthnRequest
// asking format: the SP's request, the gateway's (fake) answer, and the
// Response the SP gets, decoded, with the reply (its session cookie).
func (f *fixture) loginAnswer(t *testing.T, format string) (*etree.Element, []byte, flow.Reply) {
	t.Helper()
	f.up.Result = success()
	ar := goodRequest()
	ar.NameIDFormat = format
	rec := f.postXML(t, f.signed(t, ar, f.sp), "rs")
	if rec.Code != http.StatusOK || len(f.up.Begun) == 0 {
		t.Fatalf("status %d, upstream %d: %.300s", rec.Code, len(f.up.Begun), rec.Body)
	}
	reply, err := f.ep.cfg.Flow.Complete(context.Background(), flow.Browser{Logins: bridgetest.Logins(rec)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Out.URL != spACS || reply.Out.Fields[0].Name != "SAMLResponse" {
		t.Fatalf("answer %+v", reply.Out)
	}
	raw, err := base64.StdEncoding.DecodeString(reply.Out.Fields[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Root(), raw, reply
}

// TestNameIDFollowsPolicy: the NameID, its format and the attributes a
// SAML2 SP receives, for each NameIDPolicy Format, with the
// PersonIdentifier released or withheld, with and without a pairwise
// secret. Without release the identifier appears nowhere in the answer.
func TestNameIDFollowsPolicy(t *testing.T) {
	keyer := testKeyer(t)
	pw := keyer.ID(spID, "ES/ES/"+dniDigits)
	const (
		dni       = "ES/ES/" + dniDigits
		transient = "transient" // a fresh random value
	)
	tests := []struct {
		name     string
		format   string
		policy   bridge.Policy
		keyer    *pairwise.Keyer
		encrypt  bool
		status   string // "" Success
		nameID   string // dni, pw, or transient
		nameFmt  string
		released []string
	}{
		{"persistent, released", nameIDPersistent, bridge.Policy{MinLoA: translate.LoALow}, keyer, false, "", dni, nameIDPersistent, []string{"PersonIdentifier", "FirstName"}},
		{"persistent, withheld: pairwise", nameIDPersistent, withheld, keyer, false, "", pw, nameIDPersistent, []string{"FirstName"}},
		{"persistent, withheld, encrypted: pairwise", nameIDPersistent, withheld, keyer, true, "", pw, nameIDPersistent, []string{"FirstName"}},
		{"persistent, withheld, no pairwise secret: refused", nameIDPersistent, withheld, nil, false, clave2msg.StatusInvalidNameIDPolicy, "", "", nil},
		{"transient, released", nameIDTransient, bridge.Policy{MinLoA: translate.LoALow}, keyer, false, "", transient, nameIDTransient, []string{"PersonIdentifier", "FirstName"}},
		{"transient, withheld", nameIDTransient, withheld, keyer, false, "", transient, nameIDTransient, []string{"FirstName"}},
		{"transient, withheld, no pairwise secret", nameIDTransient, withheld, nil, false, "", transient, nameIDTransient, []string{"FirstName"}},
		{"unspecified, released", nameIDUnspecified, bridge.Policy{MinLoA: translate.LoALow}, keyer, false, "", transient, nameIDTransient, []string{"PersonIdentifier", "FirstName"}},
		{"unspecified, withheld", nameIDUnspecified, withheld, keyer, false, "", transient, nameIDTransient, []string{"FirstName"}},
		{"none, released", "", bridge.Policy{MinLoA: translate.LoALow}, keyer, false, "", transient, nameIDTransient, []string{"PersonIdentifier", "FirstName"}},
		{"none, withheld", "", withheld, keyer, false, "", transient, nameIDTransient, []string{"FirstName"}},
		{"email, released: refused", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", bridge.Policy{MinLoA: translate.LoALow}, keyer, false, clave2msg.StatusInvalidNameIDPolicy, "", "", nil},
		{"email, withheld: refused", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", withheld, keyer, false, clave2msg.StatusInvalidNameIDPolicy, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.ep.cfg.Flow.Pairwise = tt.keyer
			f.spReg.Policy, f.spReg.EncryptAssertions = tt.policy, tt.encrypt
			var resp *etree.Element
			var raw []byte
			if !supportedNameIDFormat(tt.format) {
				// Refused when read: nothing goes upstream.
				ar := goodRequest()
				ar.NameIDFormat = tt.format
				rec := f.postXML(t, f.signed(t, ar, f.sp), "rs")
				if len(f.up.Begun) != 0 {
					t.Fatal("an unsupported format went upstream")
				}
				resp, raw = f.readResponse(t, rec.Body.String()), rec.Body.Bytes()
			} else {
				resp, raw, _ = f.loginAnswer(t, tt.format)
			}
			if tt.status != "" {
				st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status")
				sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
				sub, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode")
				if sub == nil || sub.SelectAttrValue("Value", "") != tt.status {
					t.Fatalf("status %v, want %s", sc, tt.status)
				}
				if len(samlxml.Children(resp, samlxml.NSAssertion, "Assertion"))+len(samlxml.Children(resp, samlxml.NSAssertion, "EncryptedAssertion")) != 0 {
					t.Fatal("a refusal carries an assertion")
				}
				if bytes.Contains(raw, []byte(dniDigits)) {
					t.Fatalf("the refusal carries the identifier:\n%s", raw)
				}
				return
			}
			a := f.verifiedAssertion(t, resp)
			if a.NameIDFormat != tt.nameFmt {
				t.Errorf("NameID format %q, want %q", a.NameIDFormat, tt.nameFmt)
			}
			switch tt.nameID {
			case transient:
				if a.NameID == "" || a.NameID == dni || a.NameID == pw || strings.Contains(a.NameID, dniDigits) {
					t.Errorf("NameID %q, want a fresh transient one", a.NameID)
				}
			default:
				if a.NameID != tt.nameID {
					t.Errorf("NameID %q, want %q", a.NameID, tt.nameID)
				}
			}
			var names []string
			for _, at := range a.Attributes {
				names = append(names, at.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.released, ",") {
				t.Errorf("attributes %v, want %v", names, tt.released)
			}
			if !tt.policy.ReleasesIdentifier() && bytes.Contains(raw, []byte(dniDigits)) {
				t.Errorf("the answer carries the identifier:\n%s", raw)
			}
		})
	}
}

// TestPairwiseNameIDInLogout: an SP that may not see the PersonIdentifier
// and asked for a persistent NameID is told of the logout by its pairwise
// NameID, never the identifier, and its own LogoutRequest naming that
// NameID ends the session.
func TestPairwiseNameIDInLogout(t *testing.T) {
	f := newSLOFixture(t)
	if f.ep.cfg.Flow.Sessions.Seal == nil {
		f.ep.cfg.Flow.Sessions.Seal = bridgetest.Seal(t) // sessions are kept only sealed
	}
	keyer := testKeyer(t)
	f.ep.cfg.Flow.Pairwise = keyer
	f.spReg.Policy = withheld
	pw := keyer.ID(spID, "ES/ES/"+dniDigits)
	resp, _, reply := f.loginAnswer(t, nameIDPersistent)
	a := f.verifiedAssertion(t, resp)
	if a.NameID != pw || reply.Session == nil {
		t.Fatalf("NameID %q (want %q), session %+v", a.NameID, pw, reply.Session)
	}
	sess, err := f.ep.cfg.Flow.Session(context.Background(), flow.Browser{Session: reply.Session.Value})
	if err != nil || sess == nil || len(sess.Participants) != 1 {
		t.Fatalf("session %+v, %v", sess, err)
	}
	p := sess.Participants[0]
	if p.Subject != pw {
		t.Fatalf("participant keeps %q, want the pairwise NameID", p.Subject)
	}
	out, ok, err := f.ep.LogoutRequest(context.Background(), f.spReg, p, "_id", "r")
	if !ok || err != nil {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	rec := serveOut(out)
	if strings.Contains(rec.Body.String(), dniDigits) {
		t.Fatal("the LogoutRequest form carries the identifier")
	}
	lr, err := clave2msg.ParseLogoutRequest(f.readOut(t, rec, spSLO, "SAMLRequest").El)
	if err != nil {
		t.Fatal(err)
	}
	if lr.NameID != pw || lr.NameIDFormat != nameIDPersistent || len(lr.SessionIndexes) != 1 || lr.SessionIndexes[0] != a.SessionIndex {
		t.Fatalf("LogoutRequest names %q (%s) %v, want %q %s", lr.NameID, lr.NameIDFormat, lr.SessionIndexes, pw, a.SessionIndex)
	}

	// The SP's own LogoutRequest with the NameID it was given.
	in := logoutRequest(pw, a.SessionIndex)
	in.NameIDFormat = nameIDPersistent
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(signedEl(t, in.Element(), &f.sp))}}
	req := httptest.NewRequest(http.MethodPost, "/saml2/slo", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: reply.Session.Value})
	rec = httptest.NewRecorder()
	f.web.ServeHTTP(rec, req)
	lresp, _ := f.readLogoutResponse(t, rec, spSLO)
	wantStatus(t, lresp, clave2msg.StatusSuccess, "")
	if s, _ := f.ep.cfg.Flow.Session(context.Background(), flow.Browser{Session: reply.Session.Value}); s != nil {
		t.Fatal("the session outlives its logout")
	}
}

// TestLogoutRequestWithoutNameID: a participant given no NameID to name
// (its persistent one was refused) cannot be told.
func TestLogoutRequestWithoutNameID(t *testing.T) {
	f := newSLOFixture(t)
	p := participant(spID, "1")
	p.Subject, p.State = "", state(t, nameIDPersistent)
	if _, ok, err := f.ep.LogoutRequest(context.Background(), f.spReg, p, "_id", "r"); ok || err != nil {
		t.Fatalf("ok %v, err %v", ok, err)
	}
}
