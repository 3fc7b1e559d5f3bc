package saml2

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// FuzzSSOPost: any POSTed SAMLRequest gets a 200 (login or SAML status) or
// a 400 page, never a panic or a 500.
func FuzzSSOPost(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.signed(f, goodRequest(), fx.sp))
	f.Add(unsigned(f, goodRequest()))
	f.Fuzz(func(t *testing.T, xml []byte) {
		rec := fx.postForm(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}})
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

// FuzzSSORedirect does the same for raw Redirect-binding queries.
func FuzzSSORedirect(f *testing.F) {
	fx := newFixture(f)
	signer := fx.sp.Signer(samlxml.RSASHA256)
	loc, _ := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", unsigned(f, goodRequest()), "rs", &signer)
	f.Add(mustQuery(loc))
	f.Add("SAMLRequest=%%%")
	f.Fuzz(func(t *testing.T, query string) {
		rec := fx.get(query)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d", rec.Code)
		}
	})
}
