package stork

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/translate"
)

func success(idp translate.IdP, loa translate.LoA, subject string, attributes ...bridge.Attribute) bridge.Result {
	return bridge.Result{Status: bridge.Status{Code: bridge.StatusSuccess}, IdP: idp, LoA: loa, Subject: subject, Attributes: attributes}
}

// kitSplit splits surname with inheritedFamilyName the way the Cl@ve 1
// SPs do (SIGM ReturnAction, IPS ClaveContactarSpring): the first surname
// is the prefix of inheritedFamilyName's length, the second what follows
// the separating space.
func kitSplit(surname, inherited string) (first, second string) {
	if inherited == "" || len(surname) < len(inherited) {
		return surname, ""
	}
	first = surname[:len(inherited)]
	if len(surname) > len(inherited) {
		second = surname[len(inherited)+1:]
	}
	return first, second
}

// TestStorkSurnameSplit: surname carries both surnames, inheritedFamilyName
// the first, so the SPs' split gives the two surnames back.
func TestStorkSurnameSplit(t *testing.T) {
	tests := []struct {
		name                       string
		family, firstSurname       string
		wantSurname, wantInherited string
		wantFirst, wantSecond      string
	}{
		{"two surnames", "ESPAÑOL PRUEBAS", "ESPAÑOL", "ESPAÑOL PRUEBAS", "ESPAÑOL", "ESPAÑOL", "PRUEBAS"},
		{"one surname", "SMITH", "SMITH", "SMITH", "SMITH", "SMITH", ""},
		{"compound surnames", "DE LA FUENTE GARCÍA DEL RÍO", "DE LA FUENTE", "DE LA FUENTE GARCÍA DEL RÍO", "DE LA FUENTE", "DE LA FUENTE", "GARCÍA DEL RÍO"},
		{"FirstSurname absent", "PÉREZ LÓPEZ", "", "PÉREZ LÓPEZ", "PÉREZ LÓPEZ", "PÉREZ LÓPEZ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := []string{string(translate.AttrGivenName), "ANA", string(translate.AttrFamilyName), tt.family}
			if tt.firstSurname != "" {
				kv = append(kv, string(translate.AttrFirstSurname), tt.firstSurname)
			}
			a := newAnswer(ptr(success(translate.IdPSegSoc, translate.LoASubstantial, "ES/ES/00000000T", attrs(kv...)...)), allAfirma)
			if a.values["surname"] != tt.wantSurname || a.values["inheritedFamilyName"] != tt.wantInherited {
				t.Fatalf("surname %q, inheritedFamilyName %q", a.values["surname"], a.values["inheritedFamilyName"])
			}
			first, second := kitSplit(a.values["surname"], a.values["inheritedFamilyName"])
			if first != tt.wantFirst || second != tt.wantSecond {
				t.Fatalf("the SP splits into %q + %q, want %q + %q", first, second, tt.wantFirst, tt.wantSecond)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestStorkIdentifiersAndIssuers: eIdentifier always ES/ES/<id> for
// Spanish identifiers (bare DNI/NIE restored), foreign ones kept; the
// Issuer names the IdP as Cl@ve 1 did.
func TestStorkIdentifiersAndIssuers(t *testing.T) {
	tests := []struct {
		name       string
		idp        translate.IdP
		subject    string
		eID, iss   string
		citizenQAA string
		loa        translate.LoA
	}{
		{"bare DNI", translate.IdPPin24H, "12345678Z", "ES/ES/12345678Z", "PIN24H", "2", translate.LoALow},
		{"bare NIE", translate.IdPPin24H, "X1234567L", "ES/ES/X1234567L", "PIN24H", "2", translate.LoALow},
		{"ES/ES kept", translate.IdPAfirma, "ES/ES/99999999R", "ES/ES/99999999R", "AFIRMA", "4", translate.LoAHigh},
		{"Cl@ve permanente", translate.IdPSegSoc, "ES/ES/00000000T", "ES/ES/00000000T", "SEGSOC", "3", translate.LoASubstantial},
		{"foreign kept, STORK-DE", translate.IdPEIDAS, "DE/ES/T22000129", "DE/ES/T22000129", "STORK-DE", "3", translate.LoASubstantial},
		{"foreign IT, STORK-IT", translate.IdPEIDAS, "IT/ES/CA00000AA", "IT/ES/CA00000AA", "STORK-IT", "4", translate.LoAHigh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAnswer(ptr(success(tt.idp, tt.loa, tt.subject)), allAfirma)
			if a.values["eIdentifier"] != tt.eID || a.issuer != tt.iss || a.values["usedIdP"] != tt.iss || a.values["citizenQAALevel"] != tt.citizenQAA {
				t.Fatalf("eIdentifier %q, issuer %q, usedIdP %q, citizenQAALevel %q", a.values["eIdentifier"], a.issuer, a.values["usedIdP"], a.values["citizenQAALevel"])
			}
		})
	}
}

// TestStorkIsDNIe: isdnie is true only for AFIRMA with a DNIe policy OID in
// PartialAfirma.
func TestStorkIsDNIe(t *testing.T) {
	tests := []struct {
		name string
		idp  translate.IdP
		pa   string
		want string
	}{
		{"AFIRMA DNIe", translate.IdPAfirma, stPartialAfirma(t, "clasificacion", "0", "idPolitica", oidDNIe), "true"},
		{"AFIRMA software certificate", translate.IdPAfirma, stPartialAfirma(t, "clasificacion", "0", "idPolitica", oidSoftware), "false"},
		{"AFIRMA without PartialAfirma", translate.IdPAfirma, "", "false"},
		{"AFIRMA with an unreadable PartialAfirma", translate.IdPAfirma, "bm90IHhtbA==", "false"},
		{"SEGSOC with a DNIe OID", translate.IdPSegSoc, stPartialAfirma(t, "idPolitica", oidDNIe), "false"},
		{"PIN24H", translate.IdPPin24H, "", "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kv []string
			if tt.pa != "" {
				kv = append(kv, string(translate.AttrPartialAfirma), tt.pa)
			}
			a := newAnswer(ptr(success(tt.idp, translate.LoAHigh, "ES/ES/99999999R", attrs(kv...)...)), allAfirma)
			if a.values["isdnie"] != tt.want {
				t.Fatalf("isdnie = %q, want %q", a.values["isdnie"], tt.want)
			}
			if info, err := clave2msg.ReadPartialAfirma(tt.pa); err == nil {
				// afirmaResponse carries the same @firma certificate fields.
				got, err := clave2msg.ReadPartialAfirma(a.values["afirmaResponse"])
				if err != nil || got.PolicyOID() != info.PolicyOID() {
					t.Fatalf("afirmaResponse %q: %v", a.values["afirmaResponse"], err)
				}
			}
		})
	}
}

// legalResult is a login with a legal-person certificate, as the flow
// releases it.
func legalResult(t testing.TB) bridge.Result {
	res := success(translate.IdPAfirma, translate.LoASubstantial, "ES/ES/11111111H", attrs(
		string(translate.AttrLegalPersonIdentifier), "ES/ES/B00000000",
		string(translate.AttrLegalName), "EMPRESA DE PRUEBAS SL",
		string(translate.AttrGivenName), "ANA",
		string(translate.AttrFamilyName), "REPRESENTANTE LÓPEZ",
		string(translate.AttrFirstSurname), "REPRESENTANTE",
		string(translate.AttrPartialAfirma), stPartialAfirma(t, "clasificacion", "11", "idPolitica", oidLegal),
	)...)
	res.LegalPerson = true
	return res
}

// TestStorkLegalPerson: a legal-person certificate fills eIdentifier and
// givenName with the legal person's identifier and name; surname and the
// natural person's data are NotAvailable; isLegalPerson and oid are posted
// only to SPs that sent allowLegalPerson=true.
func TestStorkLegalPerson(t *testing.T) {
	f := newStFixture(t)
	for _, allow := range []bool{true, false} {
		req := stRequest(t, allow, "eIdentifier!", "givenName!", "surname", "inheritedFamilyName", "dateOfBirth", "isdnie")
		out, err := f.ep.Render(context.Background(), f.reg, req, legalResult(t))
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]string{}
		for _, fl := range out.Fields {
			fields[fl.Name] = fl.Value
		}
		resp := f.verifyAnswer(t, fields["SAMLResponse"])
		if code, _, _ := statusOf(resp); code != statusSuccess {
			t.Fatalf("allowLegalPerson=%v: status %q", allow, code)
		}
		got := answerAttributes(t, resp)
		want := map[string]storkAttr{
			"eIdentifier":         {"Available", []string{"ES/ES/B00000000"}},
			"givenName":           {"Available", []string{"EMPRESA DE PRUEBAS SL"}},
			"surname":             {"NotAvailable", nil},
			"inheritedFamilyName": {"NotAvailable", nil},
			"dateOfBirth":         {"NotAvailable", nil},
			"isdnie":              {"Available", []string{"false"}},
		}
		assertAttributes(t, got, want)
		if allow {
			if fields["isLegalPerson"] != "true" || fields["oid"] != oidLegal {
				t.Errorf("POST fields = %v, want isLegalPerson=true and oid=%s", fields, oidLegal)
			}
		} else if _, ok := fields["isLegalPerson"]; ok {
			t.Errorf("isLegalPerson posted to an SP that did not send allowLegalPerson=true: %v", fields)
		}
	}

	// A bare CIF from upstream gets the ES/ES/ prefix too.
	bare := legalResult(t)
	bare.Attributes[0].Values = []string{"B00000000"}
	if a := newAnswer(&bare, allAfirma); a.values["eIdentifier"] != "ES/ES/B00000000" || a.oid != oidLegal || !a.legalPerson {
		t.Errorf("bare CIF: eIdentifier %q, oid %q, legal %v", a.values["eIdentifier"], a.oid, a.legalPerson)
	}

	// A natural person at an SP that allows legal persons: isLegalPerson=false, no oid.
	req := stRequest(t, true, "eIdentifier!")
	out, err := f.ep.Render(context.Background(), f.reg, req, success(translate.IdPSegSoc, translate.LoASubstantial, "ES/ES/00000000T"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, fl := range out.Fields {
		names[fl.Name] = fl.Value
	}
	if names["isLegalPerson"] != "false" {
		t.Errorf("isLegalPerson = %q, want false", names["isLegalPerson"])
	}
	if _, ok := names["oid"]; ok {
		t.Errorf("oid posted for a natural person")
	}
}

func assertAttributes(t testing.TB, got, want map[string]storkAttr) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("attribute %s missing", name)
			continue
		}
		if g.Status != w.Status || strings.Join(g.Values, "|") != strings.Join(w.Values, "|") {
			t.Errorf("%s = %s %q, want %s %q", name, g.Status, g.Values, w.Status, w.Values)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected attribute %s = %+v", name, got[name])
		}
	}
}

// TestStorkRequiredUnavailable: a required attribute the answer cannot fill
// turns the success into Requester / InvalidAttrNameOrValue; unknown STORK
// names that are not required are NotAvailable.
func TestStorkRequiredUnavailable(t *testing.T) {
	f := newStFixture(t)
	natural := success(translate.IdPPin24H, translate.LoALow, "12345678Z", attrs(
		string(translate.AttrGivenName), "PEDRO", string(translate.AttrFamilyName), "PIN SÁNCHEZ", string(translate.AttrFirstSurname), "PIN")...)
	tests := []struct {
		name      string
		res       bridge.Result
		requested []string
		sub       string // "" for success
		want      map[string]storkAttr
	}{
		{"legal person, surname required", legalResult(t), []string{"eIdentifier!", "surname!"}, "InvalidAttrNameOrValue", nil},
		{"gender required", natural, []string{"eIdentifier!", "gender!"}, "InvalidAttrNameOrValue", nil},
		{"unknown names not required", natural, []string{"eIdentifier!", "gender", "isAgeOver", "nationalityCode", "registerType"}, "",
			map[string]storkAttr{
				"eIdentifier": {"Available", []string{"ES/ES/12345678Z"}}, "gender": {"NotAvailable", nil},
				"isAgeOver": {"NotAvailable", nil}, "nationalityCode": {"NotAvailable", nil}, "registerType": {"NotAvailable", nil},
			}},
		{"eMail missing, not required", natural, []string{"eMail"}, "", map[string]storkAttr{"eMail": {"NotAvailable", nil}}},
		{"dateOfBirth as YYYYMMDD", success(translate.IdPPin24H, translate.LoALow, "12345678Z", attrs(string(translate.AttrDateOfBirth), "1990-12-31")...),
			[]string{"dateOfBirth!"}, "", map[string]storkAttr{"dateOfBirth": {"Available", []string{"19901231"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.ep.Render(context.Background(), f.reg, stRequest(t, true, tt.requested...), tt.res)
			if err != nil {
				t.Fatal(err)
			}
			resp := f.verifyAnswer(t, out.Fields[0].Value)
			code, sub, msg := statusOf(resp)
			if tt.sub != "" {
				if code != statusPrefix+"Requester" || sub != statusPrefix+tt.sub || msg == "" {
					t.Fatalf("status %q / %q / %q", code, sub, msg)
				}
				for _, fl := range out.Fields {
					if fl.Name == "isLegalPerson" || fl.Name == "oid" {
						t.Fatalf("%s posted with a failure", fl.Name)
					}
				}
				return
			}
			if code != statusSuccess {
				t.Fatalf("status %q / %q / %q", code, sub, msg)
			}
			assertAttributes(t, answerAttributes(t, resp), tt.want)
		})
	}
}

// TestStorkUsedIdP: usedIdP is answered when asked for, and, for SPs with
// used_idp, added unrequested (once).
func TestStorkUsedIdP(t *testing.T) {
	res := success(translate.IdPEIDAS, translate.LoASubstantial, "DE/ES/T22000129")
	tests := []struct {
		name      string
		sendUsed  bool
		requested []string
		want      map[string]storkAttr
	}{
		{"not asked, not configured", false, []string{"eIdentifier"},
			map[string]storkAttr{"eIdentifier": {"Available", []string{"DE/ES/T22000129"}}}},
		{"not asked, configured", true, []string{"eIdentifier"},
			map[string]storkAttr{"eIdentifier": {"Available", []string{"DE/ES/T22000129"}}, "usedIdP": {"Available", []string{"STORK-DE"}}}},
		{"asked and configured: once", true, []string{"usedIdP", "eIdentifier"},
			map[string]storkAttr{"eIdentifier": {"Available", []string{"DE/ES/T22000129"}}, "usedIdP": {"Available", []string{"STORK-DE"}}}},
		{"asked, not configured", false, []string{"usedIdP"},
			map[string]storkAttr{"usedIdP": {"Available", []string{"STORK-DE"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newStFixture(t, func(sp *bridge.ServiceProvider) { sp.SendUsedIdP = tt.sendUsed })
			out, err := f.ep.Render(context.Background(), f.reg, stRequest(t, false, tt.requested...), res)
			if err != nil {
				t.Fatal(err)
			}
			assertAttributes(t, answerAttributes(t, f.verifyAnswer(t, out.Fields[0].Value)), tt.want)
		})
	}
}

// TestStorkAfirmaResponseIsAVerifyResponse: Cl@ve 1 SPs read the @firma
// answer in afirmaResponse as a DSS VerifyResponse. The IPS application
// (ctt-gob-es/ips, ClaveContactarSpring.extraerInfoCertificado) evaluates
// VerifyResponse/OptionalOutputs/ReadableCertificateInfo/ReadableField[FieldIdentity="numeroSerie"]/FieldValue
// (and idEmisor) on the decoded value, from the document root. Cl@ve 2.0's
// PartialAfirma is rooted at Partial_Afirma_Response with
// ReadableCertificateInfo right under it, so forwarding it unchanged gives
// such SPs empty values.
func TestStorkAfirmaResponseIsAVerifyResponse(t *testing.T) {
	f := newStFixture(t)
	pa := stPartialAfirma(t, "clasificacion", "0", "idPolitica", oidSoftware, "numeroSerie", "1234567890", "idEmisor", "CN=AC FNMT Usuarios")
	res := success(translate.IdPAfirma, translate.LoASubstantial, "ES/ES/99999999R", attrs(string(translate.AttrPartialAfirma), pa)...)
	out, err := f.ep.Render(context.Background(), f.reg, stRequest(t, false, "eIdentifier!", "afirmaResponse"), res)
	if err != nil {
		t.Fatal(err)
	}
	got := answerAttributes(t, f.verifyAnswer(t, out.Fields[0].Value))["afirmaResponse"]
	if got.Status != "Available" || len(got.Values) != 1 {
		t.Fatalf("afirmaResponse = %+v", got)
	}
	raw, err := base64.StdEncoding.DecodeString(got.Values[0])
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	for _, field := range []struct{ id, want string }{{"numeroSerie", "1234567890"}, {"idEmisor", "CN=AC FNMT Usuarios"}} {
		// The XPath IPS evaluates on a namespace-unaware DOM: element local names only.
		v, ok := verifyResponseField(doc.Root(), field.id)
		if !ok || v != field.want {
			t.Errorf("VerifyResponse/OptionalOutputs/ReadableCertificateInfo/ReadableField[FieldIdentity=%q]/FieldValue = %q (found %v), want %q; afirmaResponse is:\n%s",
				field.id, v, ok, field.want, raw)
		}
	}
}

// verifyResponseField evaluates
// VerifyResponse/OptionalOutputs/ReadableCertificateInfo/ReadableField[FieldIdentity=id]/FieldValue
// from the document root by local names.
func verifyResponseField(root *etree.Element, id string) (string, bool) {
	if root == nil || root.Tag != "VerifyResponse" {
		return "", false
	}
	for _, oo := range root.ChildElements() {
		if oo.Tag != "OptionalOutputs" {
			continue
		}
		for _, info := range oo.ChildElements() {
			if info.Tag != "ReadableCertificateInfo" {
				continue
			}
			for _, rf := range info.ChildElements() {
				if rf.Tag != "ReadableField" {
					continue
				}
				var fid, val string
				for _, c := range rf.ChildElements() {
					switch c.Tag {
					case "FieldIdentity":
						fid = c.Text()
					case "FieldValue":
						val = c.Text()
					}
				}
				if fid == id {
					return val, true
				}
			}
		}
	}
	return "", false
}

// TestStorkPartialAfirmaOnlyWhenAsked: PartialAfirma is decoded only for
// the values the SP asked for (afirmaResponse, isdnie, the legal person's
// oid for allowLegalPerson SPs); an SP that asked for none gets none of them.
func TestStorkPartialAfirmaOnlyWhenAsked(t *testing.T) {
	tests := []struct {
		name  string
		st    requestState
		want  afirmaNeeds
		keys  []string // values present
		nokey []string // values absent
	}{
		{"nothing asked", requestState{Attributes: []RequestedAttribute{{Name: "eIdentifier"}}}, afirmaNeeds{}, nil, []string{"afirmaResponse", "isdnie"}},
		{"afirmaResponse", requestState{Attributes: []RequestedAttribute{{Name: "afirmaResponse"}}}, afirmaNeeds{response: true}, []string{"afirmaResponse"}, []string{"isdnie"}},
		{"isdnie", requestState{Attributes: []RequestedAttribute{{Name: "isdnie", Required: true}}}, afirmaNeeds{dnie: true}, []string{"isdnie"}, []string{"afirmaResponse"}},
		{"allowLegalPerson", requestState{AllowLegalPerson: true}, afirmaNeeds{oid: true}, nil, []string{"afirmaResponse", "isdnie"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			need := afirmaNeedsOf(tt.st)
			if need != tt.want {
				t.Fatalf("needs %+v, want %+v", need, tt.want)
			}
			res := legalResult(t) // with a PartialAfirma
			a := newAnswer(&res, need)
			for _, k := range tt.keys {
				if _, ok := a.values[k]; !ok {
					t.Errorf("%s missing from %v", k, a.values)
				}
			}
			for _, k := range tt.nokey {
				if _, ok := a.values[k]; ok {
					t.Errorf("%s derived though not asked: %v", k, a.values)
				}
			}
			if need.oid && a.oid != oidLegal || need == (afirmaNeeds{}) && a.oid != "" {
				t.Errorf("oid %q with needs %+v", a.oid, need)
			}
		})
	}
}
