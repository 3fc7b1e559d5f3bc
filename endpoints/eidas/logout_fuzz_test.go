package eidas

import (
	"encoding/base64"
	"net/url"
	"testing"
)

// FuzzProxy2Logout: any logoutRequest or logoutResponse POSTed to
// /Proxy2/ServiceProvider is answered or refused with a 4xx page, never a
// panic or a 5xx.
func FuzzProxy2Logout(f *testing.F) {
	fx := newFixture(f)
	f.Add([]byte(`<saml2p:LogoutRequest xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0" IssueInstant="2026-11-29T10:00:00Z"><saml2:NameID>S2800000X_E00000001</saml2:NameID></saml2p:LogoutRequest>`), true)
	f.Add([]byte(`<saml2p:LogoutResponse xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol"/>`), false)
	f.Fuzz(func(t *testing.T, xml []byte, request bool) {
		field := fieldLogoutResponse
		if request {
			field = fieldLogoutRequest
		}
		rec := fx.postForm(url.Values{field: {base64.StdEncoding.EncodeToString(xml)}, "RelayState": {"r"}})
		if rec.Code >= 500 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}
