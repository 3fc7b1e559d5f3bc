package metadata

import (
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// keysOf lists the (use, certificate, MgmtData) of d's KeyDescriptors.
func keysOf(t *testing.T, d *etree.Element) (uses []string, certs []*x509.Certificate, mgmt []string) {
	t.Helper()
	for _, kd := range samlxml.Children(d, samlxml.NSMetadata, "KeyDescriptor") {
		ki, _ := samlxml.Child(kd, samlxml.NSDSig, "KeyInfo")
		xd, _ := samlxml.Child(ki, samlxml.NSDSig, "X509Data")
		b64, _ := samlxml.ChildText(xd, samlxml.NSDSig, "X509Certificate")
		cert, err := samlxml.ParseCertificateBase64(b64)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := samlxml.ChildText(ki, samlxml.NSDSig, "MgmtData")
		uses, certs, mgmt = append(uses, kd.SelectAttrValue("use", "")), append(certs, cert), append(mgmt, m)
	}
	return uses, certs, mgmt
}

// TestPublishedMetadataListsNextKeys: while next keys are configured our
// IdP and SP metadata and the Cl@ve 2.0 certificates document list the
// current and the next certificate of each use, the current first (the
// document marks the next ones inactive); a next key equal to the current
// one is listed once; the metadata stays signed by the current key.
func TestPublishedMetadataListsNextKeys(t *testing.T) {
	sign, enc := samlxmltest.Committed(t, "bridge-sign"), samlxmltest.Committed(t, "bridge-enc")
	nextSign, nextEnc := samlxmltest.NewRSA(t, "next sign"), samlxmltest.NewRSA(t, "next enc")
	base := Publisher{Signer: samlxml.Signer{Key: sign.Key, Cert: sign.Cert}, EncryptionCert: enc.Cert, Now: func() time.Time { return mdNow }, Rand: rand.Reader}
	type kd struct {
		use  string
		cert *x509.Certificate
	}
	tests := []struct {
		name         string
		next         func(*Publisher)
		idp, sp, doc []kd
		docMgmt      []string
	}{
		{"no next keys", func(*Publisher) {},
			[]kd{{"signing", sign.Cert}},
			[]kd{{"signing", sign.Cert}, {"encryption", enc.Cert}},
			[]kd{{"signing", sign.Cert}, {"encryption", enc.Cert}}, []string{"active", "active"}},
		{"next signing and encryption", func(p *Publisher) { p.NextSigningCert, p.NextEncryptionCert = nextSign.Cert, nextEnc.Cert },
			[]kd{{"signing", sign.Cert}, {"signing", nextSign.Cert}},
			[]kd{{"signing", sign.Cert}, {"signing", nextSign.Cert}, {"encryption", enc.Cert}, {"encryption", nextEnc.Cert}},
			[]kd{{"signing", sign.Cert}, {"encryption", enc.Cert}, {"signing", nextSign.Cert}, {"encryption", nextEnc.Cert}},
			[]string{"active", "active", "inactive", "inactive"}},
		{"next signing only", func(p *Publisher) { p.NextSigningCert = nextSign.Cert },
			[]kd{{"signing", sign.Cert}, {"signing", nextSign.Cert}},
			[]kd{{"signing", sign.Cert}, {"signing", nextSign.Cert}, {"encryption", enc.Cert}},
			[]kd{{"signing", sign.Cert}, {"encryption", enc.Cert}, {"signing", nextSign.Cert}}, []string{"active", "active", "inactive"}},
		{"next equal to current", func(p *Publisher) { p.NextSigningCert, p.NextEncryptionCert = sign.Cert, enc.Cert },
			[]kd{{"signing", sign.Cert}},
			[]kd{{"signing", sign.Cert}, {"encryption", enc.Cert}},
			[]kd{{"signing", sign.Cert}, {"encryption", enc.Cert}}, []string{"active", "active"}},
	}
	check := func(t *testing.T, what string, d *etree.Element, want []kd, wantMgmt []string) {
		t.Helper()
		uses, certs, mgmt := keysOf(t, d)
		if len(uses) != len(want) {
			t.Fatalf("%s: %d KeyDescriptors (%v), want %d", what, len(uses), uses, len(want))
		}
		for i, w := range want {
			if uses[i] != w.use || !certs[i].Equal(w.cert) {
				t.Errorf("%s: KeyDescriptor %d is %s %q, want %s %q", what, i, uses[i], certs[i].Subject.CommonName, w.use, w.cert.Subject.CommonName)
			}
			if wantMgmt != nil && mgmt[i] != wantMgmt[i] {
				t.Errorf("%s: KeyDescriptor %d MgmtData %q, want %q", what, i, mgmt[i], wantMgmt[i])
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.next(&p)
			for _, m := range []struct {
				what  string
				build func() ([]byte, error)
				tag   string
				want  []kd
			}{
				{"IdP", func() ([]byte, error) {
					return p.IdP("https://b/saml2/metadata", "https://b/saml2/sso", "https://b/saml2/slo")
				}, "IDPSSODescriptor", tt.idp},
				{"SP", func() ([]byte, error) { return p.SP("https://b/upstream/metadata", "https://b/upstream/acs") }, "SPSSODescriptor", tt.sp},
			} {
				md, err := m.build()
				if err != nil {
					t.Fatal(err)
				}
				doc, err := samlxml.Parse(md, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := (samlxml.Verifier{Certs: []*x509.Certificate{sign.Cert}}).Verify(doc.Root()); err != nil {
					t.Fatalf("%s metadata is not signed by the current key: %v", m.what, err)
				}
				d, _ := samlxml.Child(doc.Root(), samlxml.NSMetadata, m.tag)
				if d == nil {
					t.Fatalf("%s metadata without %s", m.what, m.tag)
				}
				check(t, m.what, d, m.want, nil)
			}
			raw, err := p.Clave2Certificates()
			if err != nil {
				t.Fatal(err)
			}
			doc, err := samlxml.Parse(raw, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			check(t, "Proxy2/Certificates", doc.Root(), tt.doc, tt.docMgmt)
		})
	}
}
