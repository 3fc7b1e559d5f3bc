package samlxml

import (
	"crypto/x509"

	"github.com/beevik/etree"
)

// RecipientCertificates lists the certificates the EncryptedKeys of an
// EncryptedData name in their KeyInfo, so that a holder of several keys can
// pick the right one instead of trying each (an RSA operation apiece). It
// is a hint only: Decrypt still decides.
func RecipientCertificates(encryptedData *etree.Element) []*x509.Certificate {
	var out []*x509.Certificate
	ki, _ := Child(encryptedData, NSDSig, "KeyInfo")
	if ki == nil {
		return nil
	}
	for _, ek := range Children(ki, NSXMLEnc, "EncryptedKey") {
		eki, _ := Child(ek, NSDSig, "KeyInfo")
		if eki == nil {
			continue
		}
		for _, xd := range Children(eki, NSDSig, "X509Data") {
			for _, xc := range Children(xd, NSDSig, "X509Certificate") {
				if cert, err := ParseCertificateBase64(xc.Text()); err == nil {
					out = append(out, cert)
				}
			}
		}
	}
	return out
}
