package clave2msg

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// The /Proxy2/Certificates document: the gateway's (and our own) signing
// and encryption certificates, as an unsigned md:IDPSSODescriptor whose
// KeyDescriptors carry a ds:KeyName, the certificate and ds:MgmtData
// "active" or "inactive". Cl@ve 2.0 kits fetch it daily as their trust
// store; its trust comes from TLS, not from a signature.

// Key states in ds:MgmtData.
const (
	KeyActive   = "active"
	KeyInactive = "inactive"
)

// Key uses in KeyDescriptor/@use.
const (
	UseSigning    = "signing"
	UseEncryption = "encryption"
)

// Bounds of a certificates document.
const (
	// MaxCertificatesBytes bounds the document (a few certificates of a few
	// KB each).
	MaxCertificatesBytes = 256 << 10
	// MaxCertificateEntries bounds its KeyDescriptors.
	MaxCertificateEntries = 32
	// MaxKeyNameBytes bounds a ds:KeyName.
	MaxKeyNameBytes = 256
)

// CertificateEntry is one KeyDescriptor of a certificates document.
type CertificateEntry struct {
	Use   string // UseSigning, UseEncryption, or "" (both)
	Name  string // ds:KeyName, e.g. proxy_sign_1
	State string // ds:MgmtData: KeyActive, KeyInactive, or "" (active)
	Cert  *x509.Certificate
}

// CertificatesDocument writes a certificates document listing entries in
// their order.
func CertificatesDocument(entries []CertificateEntry) ([]byte, error) {
	d := etree.NewElement("md:IDPSSODescriptor")
	d.CreateAttr("xmlns:md", samlxml.NSMetadata)
	d.CreateAttr("xmlns:ds", samlxml.NSDSig)
	d.CreateAttr("protocolSupportEnumeration", samlxml.NSProtocol)
	for i, e := range entries {
		if e.Cert == nil {
			return nil, fmt.Errorf("certificates document: entry %d has no certificate", i)
		}
		kd := d.CreateElement("md:KeyDescriptor")
		if e.Use != "" {
			kd.CreateAttr("use", e.Use)
		}
		ki := kd.CreateElement("ds:KeyInfo")
		if e.Name != "" {
			ki.CreateElement("ds:KeyName").SetText(e.Name)
		}
		ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(e.Cert.Raw))
		if e.State != "" {
			ki.CreateElement("ds:MgmtData").SetText(e.State)
		}
	}
	return samlxml.Serialize(d)
}

// ParseCertificates reads a certificates document: hardened parsing
// (samlxml.Parse, at most MaxCertificatesBytes), the root an
// md:IDPSSODescriptor, at most MaxCertificateEntries KeyDescriptors, each
// with one ds:KeyInfo holding one X509Certificate that parses, a KeyName
// of at most MaxKeyNameBytes, a use of signing, encryption or none and a
// MgmtData of active, inactive or none. Anything else refuses the whole
// document. What to trust of it is the caller's policy.
func ParseCertificates(data []byte) ([]CertificateEntry, error) {
	doc, err := samlxml.Parse(data, MaxCertificatesBytes)
	if err != nil {
		return nil, fmt.Errorf("certificates document: %w", err)
	}
	root := doc.Root()
	if !samlxml.Is(root, samlxml.NSMetadata, "IDPSSODescriptor") {
		return nil, fmt.Errorf("certificates document: the root is %s, not md:IDPSSODescriptor", root.FullTag())
	}
	kds := samlxml.Children(root, samlxml.NSMetadata, "KeyDescriptor")
	if len(kds) == 0 {
		return nil, errors.New("certificates document: no KeyDescriptor")
	}
	if len(kds) > MaxCertificateEntries {
		return nil, fmt.Errorf("certificates document: %d KeyDescriptors, more than %d", len(kds), MaxCertificateEntries)
	}
	out := make([]CertificateEntry, 0, len(kds))
	for i, kd := range kds {
		e, err := readKeyDescriptor(kd)
		if err != nil {
			return nil, fmt.Errorf("certificates document: KeyDescriptor %d: %w", i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func readKeyDescriptor(kd *etree.Element) (CertificateEntry, error) {
	var e CertificateEntry
	switch use := kd.SelectAttrValue("use", ""); use {
	case "", UseSigning, UseEncryption:
		e.Use = use
	default:
		return e, fmt.Errorf("use %.64q is not signing or encryption", use)
	}
	ki, err := samlxml.Child(kd, samlxml.NSDSig, "KeyInfo")
	if err != nil {
		return e, err
	}
	if ki == nil {
		return e, errors.New("no ds:KeyInfo")
	}
	if e.Name, err = samlxml.ChildText(ki, samlxml.NSDSig, "KeyName"); err != nil {
		return e, err
	}
	if e.State, err = samlxml.ChildText(ki, samlxml.NSDSig, "MgmtData"); err != nil {
		return e, err
	}
	if err := checkBounds("KeyDescriptor", field{"KeyName", e.Name, MaxKeyNameBytes}); err != nil {
		return e, err
	}
	switch e.State {
	case "", KeyActive, KeyInactive:
	default:
		return e, fmt.Errorf("MgmtData %.64q is not active or inactive", e.State)
	}
	xd, err := samlxml.Child(ki, samlxml.NSDSig, "X509Data")
	if err != nil {
		return e, err
	}
	if xd == nil {
		return e, errors.New("no ds:X509Data")
	}
	certs := samlxml.Children(xd, samlxml.NSDSig, "X509Certificate")
	if len(certs) != 1 {
		return e, fmt.Errorf("%d X509Certificate elements where one is required", len(certs))
	}
	if e.Cert, err = samlxml.ParseCertificateBase64(certs[0].Text()); err != nil {
		return e, err
	}
	return e, nil
}
