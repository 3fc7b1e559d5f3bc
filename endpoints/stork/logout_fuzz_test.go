package stork

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzLogoutAction: any samlRequestLogout or samlResponseLogout POSTed to
// /Proxy/LogoutAction is answered or refused with a 4xx page, never a
// panic or a 5xx.
func FuzzLogoutAction(f *testing.F) {
	fx := newStFixture(f)
	f.Add([]byte(`<saml2p:LogoutRequest xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0" IssueInstant="2026-03-01T10:00:00Z"><saml2:NameID>e00000001_miapp</saml2:NameID></saml2p:LogoutRequest>`), true)
	f.Add([]byte(`<saml2p:LogoutResponse xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol"/>`), false)
	f.Fuzz(func(t *testing.T, xml []byte, request bool) {
		field := fieldLogoutResponse
		if request {
			field = fieldLogoutRequest
		}
		form := url.Values{field: {base64.StdEncoding.EncodeToString(xml)}}
		req := httptest.NewRequest(http.MethodPost, LogoutPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		fx.web.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}
