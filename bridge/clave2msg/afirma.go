package clave2msg

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// NSAfirmaXSS is the namespace of @firma's readable certificate fields.
const NSAfirmaXSS = "urn:afirma:dss:1.0:profile:XSS:schema"

// dniePolicyPrefix starts the certificate policy OIDs of the Spanish DNIe.
const dniePolicyPrefix = "2.16.724.1.2.2.2"

// AfirmaInfo is what the bridge reads from a PartialAfirma value: the
// @firma readable certificate fields (idPolitica, clasificacion, …).
type AfirmaInfo struct {
	Fields map[string]string
}

// PartialAfirma is a decoded Cl@ve 2.0 PartialAfirma value, read once for
// everything the bridge derives from it.
type PartialAfirma struct {
	value string // as received (base64)
	doc   *etree.Document
}

// DecodePartialAfirma decodes a base64 PartialAfirma value through the
// hardened parser.
func DecodePartialAfirma(value string) (*PartialAfirma, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return nil, fmt.Errorf("PartialAfirma is not base64: %w", err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, fmt.Errorf("PartialAfirma: %w", err)
	}
	return &PartialAfirma{value: value, doc: doc}, nil
}

// ReadPartialAfirma decodes a base64 PartialAfirma value and collects its
// afxp:ReadableField identities and values, wherever they sit.
func ReadPartialAfirma(value string) (*AfirmaInfo, error) {
	pa, err := DecodePartialAfirma(value)
	if err != nil {
		return nil, err
	}
	return pa.Info()
}

// Info collects the afxp:ReadableField identities and values, wherever
// they sit.
func (pa *PartialAfirma) Info() (*AfirmaInfo, error) {
	info := &AfirmaInfo{Fields: map[string]string{}}
	for _, rf := range pa.doc.FindElements("//ReadableField") {
		if rf.NamespaceURI() != NSAfirmaXSS {
			continue
		}
		id, _ := samlxml.ChildText(rf, NSAfirmaXSS, "FieldIdentity")
		val, _ := samlxml.ChildText(rf, NSAfirmaXSS, "FieldValue")
		if id != "" {
			info.Fields[id] = val
		}
	}
	if len(info.Fields) == 0 {
		return nil, errors.New("PartialAfirma has no readable certificate fields")
	}
	return info, nil
}

// NSDSS is the namespace of the OASIS DSS core schema @firma answers in.
const NSDSS = "urn:oasis:names:tc:dss:1.0:core:schema"

// VerifyResponse turns a Cl@ve 2.0 PartialAfirma value (dss:Result and
// afxp:ReadableCertificateInfo under a Partial_Afirma_Response root) into
// the @firma answer Cl@ve 1 sent as afirmaResponse: a dss:VerifyResponse
// with the Result and, inside dss:OptionalOutputs, the readable certificate
// fields, which Cl@ve 1 SPs read at
// VerifyResponse/OptionalOutputs/ReadableCertificateInfo/ReadableField. A
// value that already is a VerifyResponse is returned unchanged.
func (pa *PartialAfirma) VerifyResponse() (string, error) {
	doc := pa.doc
	if samlxml.Is(doc.Root(), NSDSS, "VerifyResponse") {
		return pa.value, nil
	}
	out := etree.NewElement("dss:VerifyResponse")
	out.CreateAttr("xmlns:dss", NSDSS)
	out.CreateAttr("xmlns:afxp", NSAfirmaXSS)
	if result := doc.FindElement("//Result"); result != nil && result.NamespaceURI() == NSDSS {
		out.AddChild(result.Copy())
	}
	outputs := out.CreateElement("dss:OptionalOutputs")
	for _, info := range doc.FindElements("//ReadableCertificateInfo") {
		if info.NamespaceURI() == NSAfirmaXSS {
			outputs.AddChild(info.Copy())
		}
	}
	data, err := samlxml.Serialize(out)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(data), nil
}

// PolicyOID is the certificate policy OID (idPolitica).
func (a *AfirmaInfo) PolicyOID() string { return a.Fields["idPolitica"] }

// IsDNIe reports whether the certificate was a DNIe's.
func (a *AfirmaInfo) IsDNIe() bool { return strings.HasPrefix(a.PolicyOID(), dniePolicyPrefix) }
