package samlxml

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const testAuthnRequest = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_req1" Version="2.0"/>`

func queryOf(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.RawQuery
}

func TestRedirectRoundTrip(t *testing.T) {
	rsaSigner, ecSigner := rsaIdentity().signer(""), ecIdentity().signer("")
	pss := rsaIdentity().signer(RSAPSSSHA256)
	tests := []struct {
		name, location, param, relay string
		signer                       *Signer
		verifier                     Verifier
	}{
		{name: "unsigned", location: "https://idp.example/sso", param: "SAMLRequest"},
		{name: "unsigned with RelayState", location: "https://idp.example/sso", param: "SAMLRequest", relay: "a b&c=d/é"},
		{name: "rsa signed", location: "https://idp.example/sso?x=1", param: "SAMLRequest", relay: "state-1",
			signer: &rsaSigner, verifier: rsaIdentity().verifier()},
		{name: "rsa signed without RelayState", location: "https://idp.example/sso?", param: "SAMLResponse",
			signer: &rsaSigner, verifier: rsaIdentity().verifier()},
		{name: "pss signed", location: "https://idp.example/sso", param: "SAMLResponse", relay: "r",
			signer: &pss, verifier: rsaIdentity().verifier()},
		{name: "ecdsa signed", location: "https://idp.example/sso", param: "SAMLRequest", relay: "r+/=",
			signer: &ecSigner, verifier: ecIdentity().verifier()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := EncodeRedirect(tt.location, tt.param, []byte(testAuthnRequest), tt.relay, tt.signer)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(loc, strings.TrimSuffix(tt.location, "?")) || strings.Count(loc, "?") != 1 {
				t.Errorf("bad location %s", loc)
			}
			m, err := DecodeRedirect(queryOf(t, loc), DefaultMaxMessageBytes)
			if err != nil {
				t.Fatal(err)
			}
			if m.Param != tt.param || string(m.XML) != testAuthnRequest || m.RelayState != tt.relay {
				t.Errorf("decoded %+v", m)
			}
			if tt.signer == nil {
				if _, err := m.Verify(rsaIdentity().verifier()); err == nil {
					t.Error("unsigned message verified")
				}
				return
			}
			if _, err := m.Verify(tt.verifier); err != nil {
				t.Errorf("Verify: %v", err)
			}
			wantOrder := regexp.MustCompile(`^(x=1&)?` + tt.param + `=[^&]+(&RelayState=[^&]+)?&SigAlg=[^&]+&Signature=[^&]+$`)
			if !wantOrder.MatchString(queryOf(t, loc)) {
				t.Errorf("query order: %s", queryOf(t, loc))
			}
		})
	}
}

func TestRedirectSignatureRejects(t *testing.T) {
	s := rsaIdentity().signer(RSASHA256)
	loc, err := EncodeRedirect("https://idp.example/sso", "SAMLRequest", []byte(testAuthnRequest), "state", &s)
	if err != nil {
		t.Fatal(err)
	}
	q := queryOf(t, loc)
	sha1Signer := rsaIdentity().signer(RSASHA1)
	sha1Loc, _ := EncodeRedirect("https://idp.example/sso", "SAMLRequest", []byte(testAuthnRequest), "", &sha1Signer)
	tests := []struct {
		name, query string
		v           Verifier
		want        string
	}{
		{"tampered RelayState", strings.Replace(q, "RelayState=state", "RelayState=other", 1), rsaIdentity().verifier(), "verification error"},
		{"tampered SigAlg", strings.Replace(q, url.QueryEscape(RSASHA256), url.QueryEscape(RSASHA512), 1), rsaIdentity().verifier(), "verification error"},
		{"RelayState dropped", regexp.MustCompile(`&RelayState=[^&]*`).ReplaceAllString(q, ""), rsaIdentity().verifier(), "verification error"},
		{"wrong certificate", q, rsaIdentity2().verifier(), "verification error"},
		{"sha1 not allowed", queryOf(t, sha1Loc), rsaIdentity().verifier(), "SHA-1"},
		{"no SigAlg", regexp.MustCompile(`&SigAlg=[^&]*`).ReplaceAllString(q, ""), rsaIdentity().verifier(), "no SigAlg"},
		{"no Signature", regexp.MustCompile(`&Signature=[^&]*`).ReplaceAllString(q, ""), rsaIdentity().verifier(), "no Signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeRedirect(tt.query, DefaultMaxMessageBytes)
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Verify(tt.v)
			wantErr(t, err, tt.want)
		})
	}
}

func deflateB64(t testing.TB, data []byte) string {
	t.Helper()
	d, err := deflate(data)
	if err != nil {
		t.Fatal(err)
	}
	return url.QueryEscape(base64.StdEncoding.EncodeToString(d))
}

func TestDecodeRedirectRejects(t *testing.T) {
	good := deflateB64(t, []byte(testAuthnRequest))
	var zlibBuf bytes.Buffer
	zw, _ := flate.NewWriter(&zlibBuf, 9)
	zw.Write([]byte(testAuthnRequest))
	zw.Flush() // no final block: the stream ends early
	tests := []struct{ name, query, want string }{
		{"bad base64", "SAMLRequest=%21%21%21", "bad base64"},
		{"bad deflate", "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("not deflate at all"))), "inflating"},
		{"truncated deflate", "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(zlibBuf.Bytes())), "inflating"},
		{"duplicate SAMLRequest", "SAMLRequest=" + good + "&SAMLRequest=" + good, "more than once"},
		{"duplicate RelayState", "SAMLRequest=" + good + "&RelayState=a&RelayState=b", "more than once"},
		{"duplicate encoded name", "SAMLRequest=" + good + "&SigAlg=a&Sig%41lg=b", "more than once"},
		{"both messages", "SAMLRequest=" + good + "&SAMLResponse=" + good, "both"},
		{"no message", "RelayState=x", "neither"},
		{"long RelayState", "SAMLRequest=" + good + "&RelayState=" + strings.Repeat("x", 1025), "RelayState"},
		{"bad escape", "SAMLRequest=" + good + "&RelayState=%zz", "RelayState"},
		{"bad Signature", "SAMLRequest=" + good + "&Signature=%%", "Signature"},
		{"empty message", "SAMLRequest=" + deflateB64(t, nil), "empty"},
		{"query too long", "SAMLRequest=" + strings.Repeat("A", 4*1024+redirectQuerySlack), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRedirect(tt.query, 1024)
			wantErr(t, err, tt.want)
		})
	}
}

func TestDecodeRedirectDeflateBomb(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 50 {
		w.Write(zeros)
	}
	w.Close()
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	_, err := DecodeRedirect(q, DefaultMaxMessageBytes)
	wantErr(t, err, "inflates to more than") // stopped at the cap, not after inflating 50 MiB
}

func TestDecodeRedirectToleratesUnescapedPlus(t *testing.T) {
	var b64 string
	for pad := 0; pad < 500 && !strings.Contains(b64, "+"); pad++ {
		b64 = base64.StdEncoding.EncodeToString(mustDeflate(t, []byte(testAuthnRequest+strings.Repeat(" ", pad))))
	}
	if !strings.Contains(b64, "+") {
		t.Fatal("no padding gives a base64 value with a '+'")
	}
	m, err := DecodeRedirect("SAMLRequest="+b64, DefaultMaxMessageBytes)
	if err != nil || !strings.HasPrefix(string(m.XML), testAuthnRequest) {
		t.Fatalf("unescaped base64: %v", err)
	}
}

func mustDeflate(t *testing.T, b []byte) []byte {
	d, err := deflate(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEncodeRedirectErrors(t *testing.T) {
	if _, err := EncodeRedirect("https://x/", "SAMLFoo", nil, "", nil); err == nil {
		t.Error("bad parameter accepted")
	}
	if _, err := EncodeRedirect("https://x/#frag", "SAMLRequest", nil, "", nil); err == nil {
		t.Error("fragment accepted")
	}
	if _, err := EncodeRedirect("https://x/", "SAMLRequest", nil, "", &Signer{}); err == nil {
		t.Error("signer without key accepted")
	}
}

// TestHiddenInputsAndCSP: field names and values are escaped so that no
// markup gets out of the attribute, and the policy allows exactly the
// auto-submit script by its hash (web's POST page puts them together).
func TestHiddenInputsAndCSP(t *testing.T) {
	inputs := HiddenInputs([]Field{
		{Name: "SAMLResponse", Value: `"><script>alert(1)</script>`},
		{Name: "RelayState", Value: `x' onmouseover='y`},
	})
	for _, bad := range []string{`"><script>alert`, `x' onmouseover`} {
		if strings.Contains(inputs, bad) {
			t.Errorf("unescaped %q in\n%s", bad, inputs)
		}
	}
	if want := `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`; !strings.Contains(inputs, want) {
		t.Errorf("inputs lack %s\n%s", want, inputs)
	}
	sum := sha256.Sum256([]byte(AutoSubmitScript))
	wantSrc := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	csp := PostFormCSP()
	if !strings.Contains(csp, wantSrc) || !strings.Contains(csp, "default-src 'none'") ||
		!strings.Contains(csp, "form-action http: https:") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q does not allow exactly the page script (%s)", csp, wantSrc)
	}
}

func TestDecodePostValue(t *testing.T) {
	msg := []byte(strings.Repeat("<a>payload</a>", 20))
	enc := base64.StdEncoding.EncodeToString(msg)
	wrapped := ""
	for i := 0; i < len(enc); i += 76 {
		wrapped += enc[i:min(i+76, len(enc))] + "\r\n"
	}
	for _, v := range []string{enc, wrapped, " " + enc + "\n"} {
		got, err := DecodePostValue(v, len(msg))
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("DecodePostValue: %v", err)
		}
	}
	for _, tt := range []struct {
		value string
		max   int
		want  string
	}{
		{enc, len(msg) - 3, "more than"},
		{strings.Repeat(" ", 5000), 10, "too long"},
		{"", 10, "empty"},
		{"!!!!", 10, "not base64"},
	} {
		_, err := DecodePostValue(tt.value, tt.max)
		wantErr(t, err, tt.want)
	}
}

// TestAttrEscape: the one-pass escaper writes what html.EscapeString then
// CR and LF as character references wrote, and hidden inputs carry it.
func TestAttrEscape(t *testing.T) {
	old := func(s string) string {
		return strings.NewReplacer("\r", "&#13;", "\n", "&#10;").Replace(html.EscapeString(s))
	}
	for _, s := range []string{"", "PHNhbWw+Cg==", `a&b'c<d>e"f` + "\r\n\tg", "&&", "\n", "ñ€\"<"} {
		var b strings.Builder
		writeAttrEscaped(&b, s)
		if got := b.String(); got != old(s) {
			t.Errorf("writeAttrEscaped(%q) = %q, want %q", s, got, old(s))
		}
	}
	got := HiddenInputs([]Field{{Name: `a"b`, Value: "x\ny"}, {Name: "RelayState", Value: "<r>"}})
	want := `<input type="hidden" name="a&#34;b" value="x&#10;y">` + "\n" + `<input type="hidden" name="RelayState" value="&lt;r&gt;">` + "\n"
	if got != want {
		t.Errorf("HiddenInputs = %q, want %q", got, want)
	}
}
