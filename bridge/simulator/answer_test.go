package simulator

import (
	"crypto"
	"crypto/x509"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/translate"
)

// answer is what the gateway posted to the ACS, verified and decrypted.
type answer struct {
	action    string
	relay     string
	response  *clave2msg.Response
	assertion *clave2msg.Assertion // nil for error responses
}

// answerOf reads the POST form of rec as the bridge would.
func (f *fixture) answerOf(rec *httptest.ResponseRecorder) answer {
	f.t.Helper()
	body := rec.Body.String()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Security-Policy") != web.PostCSP() {
		f.t.Fatalf("not a POST form (%d):\n%s", rec.Code, body)
	}
	fields := map[string]string{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		fields[m[1]] = html.UnescapeString(m[2])
	}
	a := answer{relay: fields["RelayState"]}
	if m := actionRe.FindStringSubmatch(body); m != nil {
		a.action = html.UnescapeString(m[1])
	}
	data, err := samlxml.DecodePostValue(fields["SAMLResponse"], samlxml.DefaultMaxMessageBytes)
	if err != nil {
		f.t.Fatal(err)
	}
	a.response, a.assertion = f.openResponse(data)
	return a
}

func (f *fixture) openResponse(data []byte) (*clave2msg.Response, *clave2msg.Assertion) {
	f.t.Helper()
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		f.t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.gateway.cert}}.Verify(doc.Root())
	if err != nil {
		f.t.Fatalf("response signature: %v", err)
	}
	resp, enc, err := clave2msg.ParseResponse(v.Element)
	if err != nil {
		f.t.Fatal(err)
	}
	if enc == nil {
		return resp, nil
	}
	plain, err := samlxml.Decrypt(enc, f.bridge.key.(crypto.Decrypter), samlxml.DefaultMaxMessageBytes)
	if err != nil {
		f.t.Fatal(err)
	}
	as, err := clave2msg.ParseAssertion(plain)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, as
}

// values maps the assertion's attributes by canonical name (RelayState by URI).
func values(as *clave2msg.Assertion) map[string]string {
	out := map[string]string{}
	for _, at := range as.Attributes {
		name := at.Name
		if a, ok := translate.AttrFromName(at.Name); ok {
			name = string(a)
		}
		out[name] = strings.Join(at.Values, "|")
	}
	return out
}
