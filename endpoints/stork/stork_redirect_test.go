package stork

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// get sends a GET to /Proxy/ServiceProvider with the raw query.
func (f *stFixture) get(rawQuery string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.web.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, SSOPath+"?"+rawQuery, nil))
	return rec
}

// redirectQuery is the query of the Redirect binding carrying xml as
// param, with the extra parameters (key, value pairs) appended.
func redirectQuery(t testing.TB, param string, xml []byte, relayState string, signer *samlxml.Signer, kv ...string) string {
	t.Helper()
	loc, err := samlxml.EncodeRedirect(SSOPath, param, xml, relayState, signer)
	if err != nil {
		t.Fatal(err)
	}
	_, q, _ := strings.Cut(loc, "?")
	extra := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		extra.Add(kv[i], kv[i+1])
	}
	if len(extra) > 0 {
		q += "&" + extra.Encode()
	}
	return q
}

// TestStorkRedirectBinding: a signed STORK request by the Redirect binding
// starts the login like a POST; the other query parameters are read as the
// POST ones (the binding's SigAlg and Signature are not parameters), and
// RelayState comes along.
func TestStorkRedirectBinding(t *testing.T) {
	f := newStFixture(t)
	signer := f.sp.Signer(samlxml.RSASHA256)
	q := redirectQuery(t, "SAMLRequest", f.stSigned(t, "prefixes", layoutPlain), "relay-1", &signer,
		"excludedIdPList", "aFirma;Stork;", "forcedIdP", "none")
	rec := f.get(q)
	if rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
		t.Fatalf("status %d, %d logins: %.400s", rec.Code, len(f.up.Begun), rec.Body)
	}
	req := f.up.Begun[0].Request
	if want := []translate.IdP{translate.IdPAfirma, translate.IdPEIDAS}; !reflect.DeepEqual(req.DisabledIdPs, want) {
		t.Errorf("disabled upstream = %v, want %v", req.DisabledIdPs, want)
	}
	if req.RelayState != "relay-1" || req.SP != stProvider {
		t.Errorf("request %+v", req)
	}
}

// TestStorkRedirectBindingRefused: a GET without a request, with a
// SAMLResponse, or with a request the SP did not sign gets the error page.
func TestStorkRedirectBindingRefused(t *testing.T) {
	tests := []struct {
		name   string
		query  func(f *stFixture) string
		reason string
	}{
		{"no query", func(*stFixture) string { return "" }, "neither SAMLRequest nor SAMLResponse"},
		{"SAMLResponse", func(f *stFixture) string {
			return redirectQuery(t, "SAMLResponse", f.stSigned(t, "prefixes", layoutPlain), "", nil)
		}, "carries no SAMLRequest"},
		{"unsigned request", func(f *stFixture) string {
			return redirectQuery(t, "SAMLRequest", stSerialize(t, stTemplate(t, "prefixes"), layoutPlain), "", nil)
		}, "unsigned"},
		{"RelayState of 81", func(f *stFixture) string {
			return redirectQuery(t, "SAMLRequest", f.stSigned(t, "prefixes", layoutPlain), strings.Repeat("r", 81), nil)
		}, "more than 80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newStFixture(t)
			rec := f.get(tt.query(f))
			if rec.Code != http.StatusBadRequest || len(f.up.Begun) != 0 {
				t.Fatalf("status %d, %d logins: %.400s", rec.Code, len(f.up.Begun), rec.Body)
			}
			es := f.logs.FilterMessage("request refused").All()
			if len(es) == 0 {
				t.Fatal("no refusal logged")
			}
			if got, _ := es[len(es)-1].ContextMap()["error"].(string); !strings.Contains(got, tt.reason) {
				t.Errorf("refused for %q, want %q", got, tt.reason)
			}
		})
	}
}
