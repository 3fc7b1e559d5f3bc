package metadata

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/translate"
)

// Publisher writes the bridge's own signed metadata.
type Publisher struct {
	Signer         samlxml.Signer
	EncryptionCert *x509.Certificate
	// NextSigningCert and NextEncryptionCert are the certificates of our
	// next keys (keys.next_*), published beside the current ones so that
	// peers learn them before the rollover; nil when none is configured.
	NextSigningCert    *x509.Certificate
	NextEncryptionCert *x509.Certificate
	Validity           time.Duration // validUntil = now + Validity (default 24h)
	Now                func() time.Time
	Rand               io.Reader
	// KeyTransports, when not nil, are the only key transports advertised
	// with the encryption certificates: those the keys behind them can
	// decrypt (a token key may lack one, see bridge/hsm). Nil: both.
	KeyTransports []string
}

// IdP returns the signed metadata of the plain SAML2 IdP at entityID. With
// an sloURL it also advertises single logout there (SingleLogoutService in
// the Redirect and POST bindings); the eIDAS proxy metadata has none ("").
func (p Publisher) IdP(entityID, ssoURL, sloURL string) ([]byte, error) {
	ed, err := p.entity(entityID)
	if err != nil {
		return nil, err
	}
	d := ed.CreateElement("md:IDPSSODescriptor")
	d.CreateAttr("protocolSupportEnumeration", samlxml.NSProtocol)
	d.CreateAttr("WantAuthnRequestsSigned", "false")
	p.keyDescriptors(d, false)
	if sloURL != "" { // SSODescriptorType order: before NameIDFormat
		for _, b := range []string{samlxml.BindingRedirect, samlxml.BindingPOST} {
			s := d.CreateElement("md:SingleLogoutService")
			s.CreateAttr("Binding", b)
			s.CreateAttr("Location", sloURL)
		}
	}
	for _, f := range []string{nameIDTransient, nameIDPersistent} {
		d.CreateElement("md:NameIDFormat").SetText(f)
	}
	for _, b := range []string{samlxml.BindingRedirect, samlxml.BindingPOST} {
		s := d.CreateElement("md:SingleSignOnService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", ssoURL)
	}
	for _, w := range translate.Attrs() {
		a := d.CreateElement("saml:Attribute")
		a.CreateAttr("Name", w.FriendlyName)
		a.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
		a.CreateAttr("FriendlyName", w.FriendlyName)
	}
	return p.sign(ed)
}

// SP returns the signed metadata of the bridge's upstream (SP) side.
func (p Publisher) SP(entityID, acsURL string) ([]byte, error) {
	ed, err := p.entity(entityID)
	if err != nil {
		return nil, err
	}
	d := ed.CreateElement("md:SPSSODescriptor")
	d.CreateAttr("protocolSupportEnumeration", samlxml.NSProtocol)
	d.CreateAttr("AuthnRequestsSigned", "true")
	d.CreateAttr("WantAssertionsSigned", "false")
	p.keyDescriptors(d, true)
	acs := d.CreateElement("md:AssertionConsumerService")
	acs.CreateAttr("Binding", samlxml.BindingPOST)
	acs.CreateAttr("Location", acsURL)
	acs.CreateAttr("index", "0")
	acs.CreateAttr("isDefault", "true")
	return p.sign(ed)
}

const (
	nameIDTransient  = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
)

func (p Publisher) entity(entityID string) (*etree.Element, error) {
	id, err := samlxml.NewID(p.Rand)
	if err != nil {
		return nil, err
	}
	validity := p.Validity
	if validity == 0 {
		validity = 24 * time.Hour
	}
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", samlxml.NSMetadata)
	ed.CreateAttr("xmlns:saml", samlxml.NSAssertion)
	ed.CreateAttr("ID", id)
	ed.CreateAttr("entityID", entityID)
	ed.CreateAttr("validUntil", samlxml.FormatTime(p.Now().Add(validity)))
	return ed, nil
}

// keyDescriptors publishes the current signing certificate and the next
// one, then (withEncryption) the current and the next encryption
// certificates: one KeyDescriptor each, the current first.
func (p Publisher) keyDescriptors(d *etree.Element, withEncryption bool) {
	for _, cert := range distinct(p.Signer.Cert, p.NextSigningCert) {
		keyDescriptor(d, "signing", cert)
	}
	if !withEncryption {
		return
	}
	for _, cert := range distinct(p.EncryptionCert, p.NextEncryptionCert) {
		kd := keyDescriptor(d, "encryption", cert)
		for _, alg := range []string{samlxml.AES256GCM, samlxml.AES128GCM, samlxml.RSAOAEP, samlxml.RSAOAEPMGF1P} {
			if (alg == samlxml.RSAOAEP || alg == samlxml.RSAOAEPMGF1P) && p.KeyTransports != nil && !slices.Contains(p.KeyTransports, alg) {
				continue // the key cannot decrypt it
			}
			kd.CreateElement("md:EncryptionMethod").CreateAttr("Algorithm", alg)
		}
	}
}

// distinct is the non-nil certificates of certs, each once.
func distinct(certs ...*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if c != nil && !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	return out
}

func keyDescriptor(d *etree.Element, use string, cert *x509.Certificate) *etree.Element {
	kd := d.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", use)
	ki := kd.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", samlxml.NSDSig)
	ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(cert.Raw))
	return kd
}

func (p Publisher) sign(ed *etree.Element) ([]byte, error) {
	if err := p.Signer.Sign(ed); err != nil {
		return nil, fmt.Errorf("sign metadata: %w", err)
	}
	return samlxml.Serialize(ed)
}

// Clave2Certificates is the document Cl@ve 2.0 kits fetch daily from
// /Proxy2/Certificates as their trust store: an IDPSSODescriptor whose
// KeyDescriptors carry a ds:KeyName, the certificate and ds:MgmtData
// "active"; the certificates of our next keys follow, "inactive", so that
// kits can learn them before the rollover.
func (p Publisher) Clave2Certificates() ([]byte, error) {
	keys := []clave2msg.CertificateEntry{
		{Use: clave2msg.UseSigning, Name: "proxy_sign_clavebridge", State: clave2msg.KeyActive, Cert: p.Signer.Cert},
		{Use: clave2msg.UseEncryption, Name: "proxy_cipher_clavebridge", State: clave2msg.KeyActive, Cert: p.EncryptionCert},
		{Use: clave2msg.UseSigning, Name: "proxy_sign_clavebridge_next", State: clave2msg.KeyInactive, Cert: p.NextSigningCert},
		{Use: clave2msg.UseEncryption, Name: "proxy_cipher_clavebridge_next", State: clave2msg.KeyInactive, Cert: p.NextEncryptionCert},
	}
	var listed []clave2msg.CertificateEntry
	for i, k := range keys {
		if k.Cert == nil || (i >= 2 && keys[i-2].Cert != nil && keys[i-2].Cert.Equal(k.Cert)) {
			continue
		}
		listed = append(listed, k)
	}
	return clave2msg.CertificatesDocument(listed)
}
