package eidas

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// FuzzProxy2Post: any POSTed SAMLRequest gets a 200 (login or SAML status)
// or a 400 page, never a panic or a 500.
func FuzzProxy2Post(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.signedKit(f, kitRequest()))
	f.Add(fx.signedEIDAS(f, eidasRequest()))
	passive := kitRequest()
	passive.ID, passive.IsPassive = "_passive", true
	f.Add(fx.signedKit(f, passive))
	f.Add(unsignedXML(f, kitRequest()))
	f.Add(unsignedXML(f, eidasRequest()))
	f.Fuzz(func(t *testing.T, xml []byte) {
		rec := fx.postForm(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}, "RelayState": {"fuzz"}})
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %.300s", rec.Code, rec.Body)
		}
	})
}

// FuzzProxy2Redirect does the same for raw Redirect-binding queries.
func FuzzProxy2Redirect(f *testing.F) {
	fx := newFixture(f)
	f.Add(redirectQuery(f, fx.signedKit(f, kitRequest()), "kit-state"))
	eid := eidasRequest()
	eid.ID = "_eid-redirect"
	f.Add(redirectQuery(f, fx.signedEIDAS(f, eid), ""))
	signer := fx.kitKey.Signer(samlxml.RSASHA512)
	kit := kitRequest()
	kit.ID = "_kit-query-signed"
	loc, err := samlxml.EncodeRedirect(ssoURL, "SAMLRequest", fx.signedKit(f, kit), "rs", &signer)
	if err != nil {
		f.Fatal(err)
	}
	u, _ := url.Parse(loc)
	f.Add(u.RawQuery)
	f.Add(redirectQuery(f, unsignedXML(f, &clave2msg.AuthnRequest{ID: "_u", IssueInstant: t0}), ""))
	f.Add("SAMLRequest=%%%")
	f.Add("SAMLRequest=&SAMLRequest=")
	f.Fuzz(func(t *testing.T, query string) {
		rec := fx.get(query)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %.300s", rec.Code, rec.Body)
		}
	})
}
