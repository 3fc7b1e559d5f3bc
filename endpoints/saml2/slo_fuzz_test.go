package saml2

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzSLO: any message POSTed to /saml2/slo, as SAMLRequest or
// SAMLResponse, is answered (a status at the SP's SLO endpoint) or refused
// with a 4xx page: never a panic or a 5xx.
func FuzzSLO(f *testing.F) {
	fx := newFixture(f)
	f.Add([]byte(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0" IssueInstant="2026-11-29T10:00:00Z"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp.example/metadata</saml:Issuer></samlp:LogoutRequest>`), true)
	f.Add([]byte(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`), false)
	f.Fuzz(func(t *testing.T, xml []byte, request bool) {
		field := "SAMLResponse"
		if request {
			field = "SAMLRequest"
		}
		form := url.Values{field: {base64.StdEncoding.EncodeToString(xml)}}
		req := httptest.NewRequest(http.MethodPost, SLOPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		fx.web.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}
