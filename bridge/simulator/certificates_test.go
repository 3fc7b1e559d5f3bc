package simulator

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// served GETs the certificates document and reads it.
func (f *fixture) served() []clave2msg.CertificateEntry {
	f.t.Helper()
	rec := f.do(http.MethodGet, CertificatesPath, nil)
	if rec.Code != http.StatusOK {
		f.t.Fatalf("GET %s: %d", CertificatesPath, rec.Code)
	}
	entries, err := clave2msg.ParseCertificates(rec.Body.Bytes())
	if err != nil {
		f.t.Fatalf("the served document does not parse: %v", err)
	}
	return entries
}

// signedBy reports whether what the simulator signs now verifies with
// only the certificate given.
func (f *fixture) signedBy(id identity) bool {
	f.t.Helper()
	el := etree.NewElement("samlp:LogoutResponse")
	el.CreateAttr("xmlns:samlp", samlxml.NSProtocol)
	el.CreateAttr("ID", "_rotation")
	b64, err := f.sim.signEncode(el)
	if err != nil {
		f.t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(b64)
	doc, err := samlxml.Parse(raw, 1<<20)
	if err != nil {
		f.t.Fatal(err)
	}
	_, err = samlxml.Verifier{Certs: []*x509.Certificate{id.cert}}.Verify(doc.Root())
	return err == nil
}

func TestCertificatesRotation(t *testing.T) {
	f := newFixture(t, nil)
	check := func(step string, want ...identity) {
		t.Helper()
		got := f.served()
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, want %d", step, len(got), len(want))
		}
		for i, e := range got {
			state := clave2msg.KeyActive
			if i > 0 {
				state = clave2msg.KeyInactive
			}
			if !e.Cert.Equal(want[i].cert) || e.Use != clave2msg.UseSigning || e.State != state || e.Name != keyName(want[i].cert) {
				t.Fatalf("%s: entry %d is %s %s %s", step, i, e.Name, e.Use, e.State)
			}
		}
	}
	check("start", f.gateway)
	if err := f.sim.RotateSigningKey(); err == nil {
		t.Fatal("a rotation with no next key announced was accepted")
	}
	if err := f.sim.AnnounceNextKey(f.stranger.key, f.stranger.cert); err != nil {
		t.Fatal(err)
	}
	check("announced", f.gateway, f.stranger)
	if !f.signedBy(f.gateway) || f.signedBy(f.stranger) {
		t.Fatal("an announced key signs before the rotation")
	}
	if err := f.sim.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	check("rotated", f.stranger)
	if !f.signedBy(f.stranger) || f.signedBy(f.gateway) {
		t.Fatal("after the rotation the simulator does not sign with the new key alone")
	}
	if !f.sim.SigningCertificate().Equal(f.stranger.cert) || f.sim.CertificatesURL() != testBaseURL+CertificatesPath {
		t.Fatal("SigningCertificate or CertificatesURL wrong after the rotation")
	}
}
