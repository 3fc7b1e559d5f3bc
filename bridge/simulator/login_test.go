package simulator

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// pageStep fills one page from its HTML.
type pageStep func(t *testing.T, page string) []string

func fields(pairs ...string) pageStep {
	return func(*testing.T, string) []string { return pairs }
}

func chooseCert(parts ...string) pageStep {
	return func(t *testing.T, page string) []string {
		v, ok := certOffered(page, parts...)
		if !ok {
			t.Fatalf("no certificate %v offered:\n%s", parts, page)
		}
		return []string{"certificate", v}
	}
}

func typeSMS(t *testing.T, page string) []string {
	m := smsRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no SMS code on page:\n%s", page)
	}
	return []string{"code", m[1]}
}

// login drives the pages from the selection page and returns the ACS answer.
func (f *fixture) login(t *testing.T, req *clave2msg.AuthnRequest, steps ...pageStep) answer {
	t.Helper()
	id, page := f.start(req)
	rec := httptest.NewRecorder()
	for _, st := range steps {
		rec = f.submit(id, st(t, page)...)
		page = rec.Body.String()
		if m := alertRe.FindStringSubmatch(page); m != nil {
			t.Fatalf("page refused the input: %s", m[1])
		}
	}
	return f.answerOf(rec)
}

func TestLoginPerIdP(t *testing.T) {
	tests := []struct {
		name    string
		loa     translate.LoA
		steps   []pageStep
		want    translate.LoA
		attrs   map[string]string
		partial []string // PartialAfirma must contain these
		absent  []translate.Attr
	}{{
		name:  "AFIRMA DNIe",
		loa:   translate.LoALow,
		steps: []pageStep{fields("idp", "AFIRMA"), chooseCert("DNIe", "99999999R")},
		want:  translate.LoAHigh,
		attrs: map[string]string{"PersonIdentifier": "ES/ES/99999999R", "CurrentGivenName": "JUAN",
			"CurrentFamilyName": "ESPAÑOL PRUEBAS", "FirstSurname": "ESPAÑOL", "DateOfBirth": "1980-01-01", "SelectedIdP": "AFIRMA"},
		partial: []string{"<afxp:FieldIdentity>clasificacion</afxp:FieldIdentity><afxp:FieldValue>0<", ">99999999R<", ">2.16.724.1.2.2.2.3<",
			"urn:oasis:names:tc:SAML:1.0:status:Success", `xmlns:afxp="urn:afirma:dss:1.0:profile:XSS:schema"`},
		absent: []translate.Attr{translate.AttrLegalPersonIdentifier, translate.AttrLegalName},
	}, {
		name:    "AFIRMA software certificate",
		loa:     translate.LoASubstantial,
		steps:   []pageStep{fields("idp", "AFIRMA"), chooseCert("Software", "99999999R")},
		want:    translate.LoASubstantial,
		attrs:   map[string]string{"PersonIdentifier": "ES/ES/99999999R", "SelectedIdP": "AFIRMA"},
		partial: []string{">1.3.6.1.4.1.5734.3.10.1<"},
	}, {
		name:  "AFIRMA legal person representative",
		loa:   translate.LoASubstantial,
		steps: []pageStep{fields("idp", "AFIRMA"), chooseCert("Legal", "B00000000")},
		want:  translate.LoASubstantial,
		attrs: map[string]string{"PersonIdentifier": "ES/ES/11111111H", "CurrentFamilyName": "REPRESENTANTE LÓPEZ",
			"LegalPersonIdentifier": "ES/ES/B00000000", "LegalName": "EMPRESA DE PRUEBAS SL", "SelectedIdP": "AFIRMA"},
		partial: []string{"<afxp:FieldValue>11<", ">B00000000<", ">EMPRESA DE PRUEBAS SL<"},
	}, {
		name:   "SEGSOC password and SMS",
		loa:    translate.LoASubstantial,
		steps:  []pageStep{fields("idp", "SEGSOC"), fields("user", "00000000t", "password", "maria-clave-2024"), typeSMS},
		want:   translate.LoASubstantial,
		attrs:  map[string]string{"PersonIdentifier": "ES/ES/00000000T", "CurrentFamilyName": "PERMANENTE GARCÍA", "SelectedIdP": "SEGSOC"},
		absent: []translate.Attr{translate.AttrPartialAfirma, translate.AttrLegalName},
	}, {
		name:  "PIN24H",
		loa:   translate.LoALow,
		steps: []pageStep{fields("idp", "PIN24H"), fields("user", "12345678Z", "pin", "1234")},
		want:  translate.LoALow,
		attrs: map[string]string{"PersonIdentifier": "ES/ES/12345678Z", "FirstSurname": "PIN", "SelectedIdP": "PIN24H"},
	}, {
		name:  "PIN24H one-surname NIE holder",
		loa:   translate.LoALow,
		steps: []pageStep{fields("idp", "PIN24H"), fields("user", "X1234567L", "pin", "5678")},
		want:  translate.LoALow,
		attrs: map[string]string{"PersonIdentifier": "ES/ES/X1234567L", "CurrentFamilyName": "SMITH", "FirstSurname": "SMITH"},
	}, {
		name:  "CLVMOVIL",
		loa:   translate.LoASubstantial,
		steps: []pageStep{fields("idp", "CLVMOVIL"), fields("user", "00000000T"), fields("confirm", "1")},
		want:  translate.LoASubstantial,
		attrs: map[string]string{"PersonIdentifier": "ES/ES/00000000T", "SelectedIdP": "CLVMOVIL"},
	}, {
		name:  "EIDAS",
		loa:   translate.LoASubstantial,
		steps: []pageStep{fields("idp", "EIDAS"), fields("country", "DE", "identifier", "T22000129")},
		want:  translate.LoASubstantial,
		attrs: map[string]string{"PersonIdentifier": "DE/ES/T22000129", "CurrentFamilyName": "MUSTERMANN",
			"DateOfBirth": "1964-08-12", "SelectedIdP": "EIDAS"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			req := f.request(tt.loa)
			a := f.login(t, req, tt.steps...)
			checkSuccess(t, f, req, a, tt.want)
			got := values(a.assertion)
			for k, v := range tt.attrs {
				if got[k] != v {
					t.Errorf("attribute %s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[string(k)]; ok {
					t.Errorf("attribute %s released, want absent", k)
				}
			}
			checkPartialAfirma(t, got, tt.partial)
			if a.assertion.NameID != got["PersonIdentifier"] {
				t.Errorf("NameID %q, PersonIdentifier %q", a.assertion.NameID, got["PersonIdentifier"])
			}
		})
	}
}

func checkPartialAfirma(t *testing.T, got map[string]string, want []string) {
	t.Helper()
	v, ok := got[string(translate.AttrPartialAfirma)]
	if ok != (len(want) > 0) {
		t.Fatalf("PartialAfirma released: %v, want %v", ok, len(want) > 0)
	}
	if !ok {
		return
	}
	doc, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := samlxml.Parse(doc, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatalf("PartialAfirma is not well-formed: %v", err)
	}
	root := parsed.Root()
	if len(samlxml.Children(root, nsDSS, "Result")) != 1 || len(samlxml.Children(root, nsAfirmaXSS, "ReadableCertificateInfo")) != 1 {
		t.Errorf("PartialAfirma nodes:\n%s", doc)
	}
	for _, w := range want {
		if !strings.Contains(string(doc), w) {
			t.Errorf("PartialAfirma lacks %q:\n%s", w, doc)
		}
	}
}

// checkSuccess checks the envelope every successful answer must have.
func checkSuccess(t *testing.T, f *fixture, req *clave2msg.AuthnRequest, a answer, loa translate.LoA) {
	t.Helper()
	r, as := a.response, a.assertion
	if r.Status.Code != clave2msg.StatusSuccess || as == nil {
		t.Fatalf("status %+v, assertion %v", r.Status, as != nil)
	}
	checks := []struct{ what, got, want string }{
		{"action", a.action, testACS},
		{"RelayState field", a.relay, testRelay},
		{"InResponseTo", r.InResponseTo, req.ID},
		{"Destination", r.Destination, testACS},
		{"Issuer", r.Issuer, testBaseURL + "/sim/Proxy2/Metadata"},
		{"assertion Issuer", as.Issuer, r.Issuer},
		{"confirmation InResponseTo", as.InResponseTo, req.ID},
		{"Recipient", as.Recipient, testACS},
		{"Audience", as.Audience, testACS},
		{"LoA", as.LoA, loa.EIDAS()},
		{"NameID format", as.NameIDFormat, clave2msg.NameIDUnspec},
		{"RelayState attribute", values(as)[translate.ClaveRelayStateAttr], testRelay},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	end := f.now.Add(defaultLifetime)
	if !as.NotBefore.Equal(f.now) || !as.NotOnOrAfter.Equal(end) || !as.ConfirmationNotOnOrAfter.Equal(end) || !as.AuthnInstant.Equal(f.now) {
		t.Errorf("times: NotBefore %v NotOnOrAfter %v confirmation %v AuthnInstant %v", as.NotBefore, as.NotOnOrAfter, as.ConfirmationNotOnOrAfter, as.AuthnInstant)
	}
	if f.sim.Logins() != 1 {
		t.Errorf("Logins() = %d, want 1", f.sim.Logins())
	}
}

func TestOnlyRequestedAttributes(t *testing.T) {
	f := newFixture(t, nil)
	req := f.request(translate.LoALow)
	req.Attributes = append(requested(translate.AttrPersonIdentifier), relayAttr(testRelay))
	a := f.login(t, req, fields("idp", "AFIRMA"), chooseCert("Legal"))
	var names []string
	for k := range values(a.assertion) {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"FirstSurname", "PersonIdentifier", "SelectedIdP", translate.ClaveRelayStateAttr}
	if !slices.Equal(names, want) {
		t.Errorf("released %v, want %v", names, want)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name  string
		steps [][]string
	}{
		{"on the selection page", nil},
		{"on the PIN page", [][]string{{"idp", "PIN24H"}}},
		{"on the SMS page", [][]string{{"idp", "SEGSOC"}, {"user", "99999999R", "password", "juan-clave-2024"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			id, _ := f.start(f.request(translate.LoALow))
			for _, st := range tt.steps {
				if rec := f.submit(id, st...); rec.Code != http.StatusOK || alertRe.MatchString(rec.Body.String()) {
					t.Fatalf("step %v: %d %s", st, rec.Code, rec.Body)
				}
			}
			a := f.answerOf(f.submit(id, "cancel", "1"))
			checkFailure(t, f, a, clave2msg.StatusResponder, "AuthnFailed")
			if a.response.Status.Message != "001 Authentication cancelled by the user" {
				t.Errorf("message %q", a.response.Status.Message)
			}
			if rec := f.submit(id, "cancel", "1"); rec.Code != http.StatusBadRequest {
				t.Errorf("second use of the login id answered %d", rec.Code)
			}
		})
	}
}
