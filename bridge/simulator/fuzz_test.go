package simulator

import (
	"net/http"
	"testing"

	"github.com/clavebridge/clavebridge/translate"
)

// FuzzSSO posts arbitrary SAMLRequest values: the gateway must answer with a
// page or an error page, never panic and never fail internally. Seeds live in
// testdata/fuzz/FuzzSSO.
func FuzzSSO(f *testing.F) {
	fx := newFixture(f, nil)
	f.Add(b64(fx.signed(fx.request(translate.LoALow), fx.bridge)))
	f.Add("")
	f.Fuzz(func(t *testing.T, value string) {
		rec := fx.sso(value, testRelay)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("answered %d:\n%s", rec.Code, rec.Body)
		}
	})
}
