package simulator

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/translate"
)

// TestWrongInputReshowsPage checks that wrong input shows the same page again
// with an error, and that the right input then succeeds.
func TestWrongInputReshowsPage(t *testing.T) {
	tests := []struct {
		name  string
		loa   translate.LoA
		idp   string
		wrong []string
		alert string
		right []string
	}{
		{"wrong PIN", translate.LoALow, "PIN24H", []string{"user", "12345678Z", "pin", "9999"}, msgPIN,
			[]string{"user", "12345678Z", "pin", "1234"}},
		{"PIN of a citizen without PIN24H", translate.LoALow, "PIN24H", []string{"user", "99999999R", "pin", ""}, msgPIN,
			[]string{"user", "12345678Z", "pin", "1234"}},
		{"unknown user", translate.LoALow, "PIN24H", []string{"user", "00000001R", "pin", "1234"}, msgPIN,
			[]string{"user", "12345678Z", "pin", "1234"}},
		{"wrong password", translate.LoASubstantial, "SEGSOC", []string{"user", "00000000T", "password", "nope"}, msgPassword,
			[]string{"user", "00000000T", "password", "maria-clave-2024"}},
		{"no certificate chosen", translate.LoALow, "AFIRMA", []string{"certificate", "99"}, msgChooseCert,
			[]string{"certificate", "0"}},
		{"wrong eIDAS country", translate.LoALow, "EIDAS", []string{"country", "IT", "identifier", "T22000129"}, msgForeign,
			[]string{"country", "DE", "identifier", "T22000129"}},
		{"eIDAS level too low", translate.LoAHigh, "EIDAS", []string{"country", "DE", "identifier", "T22000129"}, msgEIDASLevel,
			[]string{"country", "IT", "identifier", "CA00000AA"}},
		{"Cl@ve Móvil user without it", translate.LoALow, "CLVMOVIL", []string{"user", "12345678Z"}, msgMobileUser,
			[]string{"user", "99999999R"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			id, _ := f.start(f.request(tt.loa))
			first := f.submit(id, "idp", tt.idp).Body.String()
			rec := f.submit(id, tt.wrong...)
			m := alertRe.FindStringSubmatch(rec.Body.String())
			if rec.Code != http.StatusOK || m == nil || html.UnescapeString(m[1]) != es(tt.alert) || loginID(t, rec.Body.String()) != id {
				t.Fatalf("wrong input answered %d, alert %v:\n%s", rec.Code, m, rec.Body)
			}
			if title := titleOf(rec.Body.String()); title != titleOf(first) {
				t.Errorf("page changed from %q to %q", titleOf(first), title)
			}
			rec = f.submit(id, tt.right...)
			switch tt.idp {
			case "CLVMOVIL":
				rec = f.submit(id, "confirm", "1")
			case "SEGSOC":
				rec = f.submit(id, typeSMS(t, rec.Body.String())...)
			}
			if a := f.answerOf(rec); a.assertion == nil || f.sim.Logins() != 1 {
				t.Errorf("right input did not log in: %+v", a.response.Status)
			}
		})
	}
}

func TestWrongSMSCode(t *testing.T) {
	f := newFixture(t, nil)
	id, _ := f.start(f.request(translate.LoALow))
	f.submit(id, "idp", "SEGSOC")
	page := f.submit(id, "user", "X1234567L", "password", "john-clave-2024").Body.String()
	code := typeSMS(t, page)
	if !strings.Contains(html.UnescapeString(page), es("sim.sms.sent", "mobile", "*********004")) {
		t.Errorf("mobile not masked:\n%s", page)
	}
	rec := f.submit(id, "code", "000000x")
	if m := alertRe.FindStringSubmatch(rec.Body.String()); m == nil || html.UnescapeString(m[1]) != es(msgSMS) {
		t.Fatalf("wrong code not refused:\n%s", rec.Body)
	}
	if again := typeSMS(t, rec.Body.String()); again[1] != code[1] {
		t.Errorf("code changed from %s to %s", code[1], again[1])
	}
	a := f.answerOf(f.submit(id, code...))
	if got := values(a.assertion)["PersonIdentifier"]; got != "ES/ES/X1234567L" {
		t.Errorf("PersonIdentifier %q", got)
	}
}

func TestUnknownLogin(t *testing.T) {
	f := newFixture(t, nil)
	for _, id := range []string{"", "00", "0123456789abcdef0123456789abcdef"} {
		if rec := f.submit(id, "idp", "PIN24H"); rec.Code != http.StatusBadRequest {
			t.Errorf("login id %q answered %d", id, rec.Code)
		}
	}
	id, _ := f.start(f.request(translate.LoALow))
	f.now = f.now.Add(loginTTL)
	if rec := f.submit(id, "idp", "PIN24H"); rec.Code != http.StatusBadRequest {
		t.Errorf("expired login answered %d", rec.Code)
	}
}

func TestSelectingHiddenIdPIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	id, _ := f.start(f.request(translate.LoAHigh))
	rec := f.submit(id, "idp", "PIN24H")
	if m := alertRe.FindStringSubmatch(rec.Body.String()); m == nil || html.UnescapeString(m[1]) != es(msgChooseIdP) {
		t.Errorf("hidden IdP accepted:\n%s", rec.Body)
	}
}
