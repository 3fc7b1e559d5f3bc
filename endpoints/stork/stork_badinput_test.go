package stork

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// TestStorkBadInputGetsErrorPage: requests whose SP cannot be identified or
// trusted, or that are malformed, get a 400 page with the trace id, and
// nothing is sent upstream or stored.
func TestStorkBadInputGetsErrorPage(t *testing.T) {
	other := samlxmltest.Committed(t, "simulator-sign")
	signed := func(change ...func(*etree.Element)) func(f *stFixture) url.Values {
		return func(f *stFixture) url.Values { return samlForm(f.stSigned(t, "java", layoutJava, change...)) }
	}
	tests := []struct {
		name string
		body func(f *stFixture) url.Values
		raw  func(f *stFixture) string // instead of body: an encoded form
	}{
		{name: "unsigned", body: func(f *stFixture) url.Values {
			return samlForm(stSerialize(t, stTemplate(t, "java"), layoutJava))
		}},
		{name: "wrong key", body: func(f *stFixture) url.Values {
			return samlForm(stSign(t, stTemplate(t, "java"), other, layoutJava))
		}},
		{name: "wrong key with the SP certificate in KeyInfo", body: func(f *stFixture) url.Values {
			xml := stSign(t, stTemplate(t, "java"), other, layoutJava)
			return samlForm(bytes.Replace(xml, []byte(base64.StdEncoding.EncodeToString(other.Cert.Raw)),
				[]byte(base64.StdEncoding.EncodeToString(f.sp.Cert.Raw)), 1))
		}},
		{name: "tampered", body: func(f *stFixture) url.Values {
			xml := f.stSigned(t, "java", layoutJava)
			return samlForm(bytes.Replace(xml, []byte("<stork:spApplication>MIAPP<"), []byte("<stork:spApplication>EVIL<"), 1))
		}},
		{name: "tampered QAA", body: func(f *stFixture) url.Values {
			xml := f.stSigned(t, "java", layoutJava)
			return samlForm(bytes.Replace(xml, []byte("AssuranceLevel>3<"), []byte("AssuranceLevel>1<"), 1))
		}},
		{name: "signature removed", body: func(f *stFixture) url.Values {
			el := stTemplate(t, "java")
			_ = stSign(t, el, f.sp, layoutJava)
			el.RemoveChild(el.SelectElement("Signature"))
			return samlForm(stSerialize(t, el, layoutJava))
		}},
		{name: "unknown ProviderName", body: signed(setAttr("ProviderName", "x00000000_otra"))},
		{name: "ProviderName of another dialect's SP", body: signed(setAttr("ProviderName", "S2800000X_E00000001"))},
		{name: "ProviderName missing", body: signed(setAttr("ProviderName", ""))},
		{name: "ProviderName longer than 128", body: func(f *stFixture) url.Values {
			return samlForm(f.stSigned(t, "java", layoutJava, setAttr("ProviderName", stProvider+"_"+strings.Repeat("a", 130))))
		}},
		{name: "ACS not registered", body: signed(setAttr("AssertionConsumerServiceURL", "https://evil.example/acs"))},
		{name: "ACS missing", body: signed(setAttr("AssertionConsumerServiceURL", ""))},
		{name: "stale", body: signed(setAttr("IssueInstant", samlxml.FormatTime(stNow.Add(-time.Hour))))},
		{name: "future", body: signed(setAttr("IssueInstant", samlxml.FormatTime(stNow.Add(time.Hour))))},
		{name: "IssueInstant not a time", body: signed(setAttr("IssueInstant", "yesterday"))},
		{name: "wrong Destination", body: signed(setAttr("Destination", "https://pasarela.clave.gob.es/Proxy/ServiceProvider"))},
		{name: "Version 1.1", body: signed(setAttr("Version", "1.1"))},
		{name: "QAA missing", body: signed(removeChild(NSStork, "QualityAuthenticationAssuranceLevel"))},
		{name: "attributes missing", body: signed(removeChild(NSStorkP, "RequestedAttributes"))},
		{name: "attribute repeated", body: signed(func(el *etree.Element) {
			ras := el.FindElement("./Extensions/RequestedAttributes")
			ras.AddChild(ras.ChildElements()[0].Copy())
		})},
		{name: "Extensions missing", body: signed(removeChild(samlxml.NSProtocol, "Extensions"))},
		// Cl@ve 1 required the Issuer (the gateway's engine reads
		// samlRequest.getIssuer().getValue()), and the answer's Audience is
		// the Issuer: without it the SP's OpenSAML schema validation refuses
		// the empty <saml2:Audience/>.
		{name: "Issuer missing", body: signed(removeChild(samlxml.NSAssertion, "Issuer"))},
		{name: "DOCTYPE", body: func(f *stFixture) url.Values {
			return samlForm([]byte(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`))
		}},
		{name: "bad base64", body: func(f *stFixture) url.Values { return url.Values{"SAMLRequest": {"***not base64***"}} }},
		{name: "empty SAMLRequest", body: func(f *stFixture) url.Values { return url.Values{"SAMLRequest": {""}} }},
		{name: "no SAMLRequest", body: func(f *stFixture) url.Values { return url.Values{"forcedIdP": {"none"}} }},
		{name: "two SAMLRequests", body: func(f *stFixture) url.Values {
			v := signed()(f)
			v.Add("SAMLRequest", v.Get("SAMLRequest"))
			return v
		}},
		{name: "oversized", body: func(f *stFixture) url.Values {
			return samlForm(append([]byte("<r>"), bytes.Repeat([]byte("a"), maxRequestBytes)...))
		}},
		{name: "LogoutRequest instead of AuthnRequest", body: func(f *stFixture) url.Values {
			el := etree.NewElement("saml2p:LogoutRequest")
			el.CreateAttr("xmlns:saml2p", samlxml.NSProtocol)
			el.CreateAttr("xmlns:saml2", samlxml.NSAssertion)
			el.CreateAttr("ID", "_c0ffee")
			el.CreateAttr("Version", "2.0")
			el.CreateAttr("IssueInstant", samlxml.FormatTime(stNow))
			el.CreateAttr("Destination", stBase+"/Proxy/LogoutAction")
			el.CreateElement("saml2:Issuer").SetText("https://sp.example.es/SP/logoutResponse")
			el.CreateElement("saml2:NameID").SetText(stProvider)
			return samlForm(stSign(t, el, f.sp, layoutPlain))
		}},
		{name: "AuthnRequest in another namespace", body: func(f *stFixture) url.Values {
			xml := f.stSigned(t, "java", layoutJava)
			return samlForm(bytes.Replace(xml, []byte(`xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol"`),
				[]byte(`xmlns:saml2p="urn:oasis:names:tc:SAML:1.0:protocol"`), 1))
		}},
		{name: "duplicated parameter", body: func(f *stFixture) url.Values {
			v := signed()(f)
			v.Add("forcedIdP", "none")
			v.Add("forcedIdP", "SS")
			return v
		}},
		{name: "unknown IdP in excludedIdPList", body: func(f *stFixture) url.Values {
			v := signed()(f)
			v.Set("excludedIdPList", "aFirma;FNMT;")
			return v
		}},
		{name: "RelayState of 81", body: func(f *stFixture) url.Values {
			v := signed()(f)
			v.Set("RelayState", strings.Repeat("r", 81))
			return v
		}},
		{name: "raw semicolons in the body", raw: func(f *stFixture) string {
			return samlForm(f.stSigned(t, "java", layoutJava)).Encode() + "&excludedIdPList=aFirma;SS;"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newStFixture(t, allowSHA1)
			var res *httptest.ResponseRecorder
			if tt.raw != nil {
				res = f.postRaw(tt.raw(f))
			} else {
				res = f.postForm(tt.body(f))
			}
			trace := res.Header().Get("X-Trace-Id")
			if res.Code != http.StatusBadRequest || trace == "" || !strings.Contains(res.Body.String(), trace) {
				t.Fatalf("status %d, want 400 with the trace id: %.400s", res.Code, res.Body)
			}
			if strings.Contains(res.Body.String(), "SAMLResponse") {
				t.Fatal("the error page carries a SAMLResponse")
			}
			if len(f.up.Begun) != 0 {
				t.Fatal("a refused request went upstream")
			}
		})
	}
}

// TestStorkProviderNameSuffix: RedIRIS appends "_<remote application>" to
// the ProviderName; the SP is found by stripping suffixes, and the request
// must still be signed by that SP's key.
func TestStorkProviderNameSuffix(t *testing.T) {
	for _, name := range []string{stProvider + "_rediris-app", stProvider + "_a_b_c"} {
		f := newStFixture(t)
		rec := f.postForm(samlForm(f.stSigned(t, "prefixes", layoutPlain, setAttr("ProviderName", name))))
		if rec.Code != http.StatusOK || len(f.up.Begun) != 1 || f.up.Begun[0].Request.SP != stProvider {
			t.Fatalf("%s: status %d, %d logins: %.300s", name, rec.Code, len(f.up.Begun), rec.Body)
		}
	}
	// A prefix of the registered name is not the SP.
	f := newStFixture(t)
	rec := f.postForm(samlForm(f.stSigned(t, "prefixes", layoutPlain, setAttr("ProviderName", "e00000001"))))
	if rec.Code != http.StatusBadRequest || len(f.up.Begun) != 0 {
		t.Fatalf("prefix of the ProviderName: status %d", rec.Code)
	}
}

// TestStorkReplayRefused: the same signed request is served once.
func TestStorkReplayRefused(t *testing.T) {
	f := newStFixture(t, allowSHA1)
	form := samlForm(f.stSigned(t, "java", layoutJava))
	if rec := f.postForm(form); rec.Code != http.StatusOK {
		t.Fatalf("first: %d %.300s", rec.Code, rec.Body)
	}
	if rec := f.postForm(form); rec.Code != http.StatusBadRequest {
		t.Fatalf("replay: %d", rec.Code)
	}
	if len(f.up.Begun) != 1 {
		t.Fatalf("%d logins upstream", len(f.up.Begun))
	}
}

// TestStorkSecondACS: any registered ACS of the SP is answered at.
func TestStorkSecondACS(t *testing.T) {
	f := newStFixture(t)
	rec := f.postForm(samlForm(f.stSigned(t, "prefixes", layoutPlain, setAttr("AssertionConsumerServiceURL", stACS2))))
	if rec.Code != http.StatusOK || len(f.up.Begun) != 1 || f.up.Begun[0].Request.ReturnURL != stACS2 {
		t.Fatalf("status %d: %.300s", rec.Code, rec.Body)
	}
}
