package samlxml

import (
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/beevik/etree"
)

func TestSignVerifyAllMethods(t *testing.T) {
	tests := []struct {
		name     string
		id       func() *testIdentity
		method   string
		digest   string
		policy   AlgorithmPolicy
		prefixes []string
		noCert   bool
	}{
		{name: "rsa-sha1", id: rsaIdentity, method: RSASHA1, policy: AlgorithmPolicy{AllowSHA1: true}},
		{name: "rsa-sha256", id: rsaIdentity, method: RSASHA256},
		{name: "rsa-sha256 default method, no KeyInfo", id: rsaIdentity, noCert: true},
		{name: "rsa-sha256 sha512 digest", id: rsaIdentity, method: RSASHA256, digest: DigestSHA512},
		{name: "rsa-sha256 inclusive prefixes", id: rsaIdentity, method: RSASHA256, prefixes: []string{"xs", "xsi"}},
		{name: "rsa-sha512", id: rsaIdentity, method: RSASHA512},
		{name: "rsa-pss-sha256", id: rsaIdentity, method: RSAPSSSHA256},
		{name: "rsa-pss-sha512", id: rsaIdentity, method: RSAPSSSHA512},
		{name: "ecdsa-sha256", id: ecIdentity, method: ECDSASHA256},
		{name: "ecdsa-sha256 default method", id: ecIdentity},
		{name: "ecdsa-sha512", id: ecIdentity, method: ECDSASHA512},
		{name: "restricted policy", id: rsaIdentity, method: RSASHA512, policy: AlgorithmPolicy{Methods: []string{RSASHA512}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.id()
			s := Signer{Key: id.key, Cert: id.cert, Method: tt.method, Digest: tt.digest,
				IncludeCert: !tt.noCert, InclusivePrefixes: tt.prefixes}
			data := signTestResponse(t, s, s)
			v := Verifier{Certs: []*x509.Certificate{rsaIdentity2().cert, id.cert}, Policy: tt.policy}
			resp, assertion, err := verifyNested(t, v, data)
			if err != nil {
				t.Fatalf("verify: %v\n%s", err, data)
			}
			want := tt.method
			if want == "" {
				want, _ = defaultMethod(id.key.Public())
			}
			for _, got := range []*Verified{resp, assertion} {
				if got.Method != want || got.Cert != id.cert {
					t.Errorf("Verified method %q cert %v, want %q and the signer's", got.Method, got.Cert.Subject, want)
				}
				if find(got.Element, NSDSig, "Signature") != nil && got == assertion {
					t.Error("the verified Assertion still holds its Signature")
				}
				if diff := verifiedTreeDiff(got.Element); diff != "" {
					t.Errorf("the verified tree is not what its canonical bytes parse to: %s", diff)
				}
			}
			nameID := find(assertion.Element, NSAssertion, "NameID")
			if nameID == nil || nameID.Text() != "alice@example.com" {
				t.Errorf("NameID in the verified Assertion: %v", nameID)
			}
		})
	}
}

func TestSignDigestDefaults(t *testing.T) {
	for method, digest := range map[string]string{
		RSASHA1: DigestSHA1, RSASHA256: DigestSHA256, RSASHA512: DigestSHA512,
		RSAPSSSHA512: DigestSHA512, ECDSASHA512: DigestSHA512,
	} {
		id := rsaIdentity()
		if method == ECDSASHA512 {
			id = ecIdentity()
		}
		p, err := id.signer(method).params()
		if err != nil || p.digest != digest {
			t.Errorf("%s: digest %q (%v), want %q", method, p.digest, err, digest)
		}
	}
}

func TestECDSASignatureValueIsRawRS(t *testing.T) {
	doc := mustParse(t, []byte(testResponse))
	if err := ecIdentity().signer(ECDSASHA256).Sign(doc.Root()); err != nil {
		t.Fatal(err)
	}
	sv := find(doc.Root(), NSDSig, "SignatureValue")
	raw, err := base64.StdEncoding.DecodeString(sv.Text())
	if err != nil || len(raw) != 64 {
		t.Fatalf("P-256 SignatureValue is %d bytes (%v), want 64 (raw r||s)", len(raw), err)
	}
}

func TestSignPlacement(t *testing.T) {
	doc := mustParse(t, []byte(testResponse))
	root := doc.Root()
	if err := rsaIdentity().signer(RSASHA256).Sign(root); err != nil {
		t.Fatal(err)
	}
	kids := root.ChildElements()
	if !Is(kids[0], NSAssertion, "Issuer") || !Is(kids[1], NSDSig, "Signature") {
		t.Errorf("Signature is not right after Issuer: %s, %s", kids[0].FullTag(), kids[1].FullTag())
	}
	noIssuer := mustParse(t, []byte(`<r xmlns="urn:x" ID="_a"><c/></r>`)).Root()
	if err := rsaIdentity().signer(RSASHA256).Sign(noIssuer); err != nil {
		t.Fatal(err)
	}
	if !Is(noIssuer.ChildElements()[0], NSDSig, "Signature") {
		t.Error("Signature is not the first child of an element without Issuer")
	}
	if _, err := rsaIdentity().verifier().Verify(noIssuer); err != nil {
		t.Errorf("verify default-namespace element: %v", err)
	}
}

func TestSignErrors(t *testing.T) {
	rsaID, ecID := rsaIdentity(), ecIdentity()
	tests := []struct {
		name string
		s    Signer
		xml  string
		want string
	}{
		{"no ID", rsaID.signer(RSASHA256), `<r/>`, "0 ID attributes"},
		{"empty ID", rsaID.signer(RSASHA256), `<r ID=""/>`, "empty ID"},
		{"already signed", rsaID.signer(RSASHA256), `<r xmlns:ds="` + NSDSig + `" ID="_a"><ds:Signature/></r>`, "already has"},
		{"EC key with an RSA method", ecID.signer(RSASHA256), `<r ID="_a"/>`, "does not match"},
		{"RSA key with an ECDSA method", rsaID.signer(ECDSASHA256), `<r ID="_a"/>`, "does not match"},
		{"unknown method", rsaID.signer("http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"), `<r ID="_a"/>`, "not supported"},
		{"unknown digest", Signer{Key: rsaID.key, Digest: "http://www.w3.org/2001/04/xmldsig-more#md5"}, `<r ID="_a"/>`, "not supported"},
		{"no key", Signer{}, `<r ID="_a"/>`, "no signing key"},
		{"IncludeCert without a certificate", Signer{Key: rsaID.key, IncludeCert: true}, `<r ID="_a"/>`, "no certificate"},
		{"certificate of another key", Signer{Key: rsaID.key, Cert: rsaIdentity2().cert, IncludeCert: true}, `<r ID="_a"/>`, "does not belong"},
		{"comment inside", rsaID.signer(RSASHA256), `<r ID="_a"><c><!-- x --></c></r>`, "comment inside"},
		{"bad prefix", Signer{Key: rsaID.key, InclusivePrefixes: []string{"#default"}}, `<r ID="_a"/>`, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := mustParse(t, []byte(tt.xml)).Root()
			before := string(elementBytes(t, el))
			wantErr(t, tt.s.Sign(el), tt.want)
			if after := string(elementBytes(t, el)); after != before {
				t.Errorf("failed Sign changed the element:\n%s\n%s", before, after)
			}
		})
	}
	wantErr(t, Signer{}.Sign(nil), "no element")
}

func TestSignBytesVerifyBytes(t *testing.T) {
	data := []byte("SAMLRequest=abc&RelayState=xyz&SigAlg=whatever")
	for _, tt := range []struct {
		id     func() *testIdentity
		method string
	}{
		{rsaIdentity, RSASHA256}, {rsaIdentity, RSASHA512}, {rsaIdentity, RSAPSSSHA256},
		{rsaIdentity, RSAPSSSHA512}, {ecIdentity, ECDSASHA256}, {ecIdentity, ECDSASHA512},
	} {
		id := tt.id()
		sig, err := id.signer(tt.method).SignBytes(data)
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		v := Verifier{Certs: []*x509.Certificate{rsaIdentity2().cert, id.cert}}
		if cert, err := v.VerifyBytes(data, sig, tt.method); err != nil || cert != id.cert {
			t.Errorf("%s: VerifyBytes: %v", tt.method, err)
		}
		if _, err := v.VerifyBytes(append(data, 'x'), sig, tt.method); err == nil {
			t.Errorf("%s: VerifyBytes accepted changed data", tt.method)
		}
	}
	sig, _ := rsaIdentity().signer(RSASHA1).SignBytes(data)
	_, err := rsaIdentity().verifier().VerifyBytes(data, sig, RSASHA1)
	wantErr(t, err, "SHA-1")
	_, err = Verifier{}.VerifyBytes(data, sig, RSASHA256)
	wantErr(t, err, "no trusted certificates")
}

func TestVerifyIgnoresCertificateDates(t *testing.T) {
	s := Signer{Key: rsaIdentity().key, Cert: expiredRSAIdentity().cert, IncludeCert: true}
	data := signTestResponse(t, s, s)
	if _, _, err := verifyNested(t, expiredRSAIdentity().verifier(), data); err != nil {
		t.Fatalf("pinned expired certificate: %v", err)
	}
}

// signedDoc returns a freshly parsed, signed test Response.
func signedDoc(t *testing.T, s Signer) *etree.Document {
	t.Helper()
	return mustParse(t, signTestResponse(t, s, s))
}
