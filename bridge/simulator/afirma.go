package simulator

import (
	"encoding/base64"
	"fmt"

	"github.com/beevik/etree"
)

// Namespaces of the @firma DSS answer carried in PartialAfirma.
const (
	nsDSS         = "urn:oasis:names:tc:dss:1.0:core:schema"
	nsAfirmaXSS   = "urn:afirma:dss:1.0:profile:XSS:schema"
	resultMajorOK = "urn:oasis:names:tc:SAML:1.0:status:Success"
)

// @firma certificate classifications (field "clasificacion").
const (
	classNaturalPerson  = "0"
	classLegalPersonRep = "11"
)

// defaultPolicyOID returns an illustrative certificate policy OID per kind,
// used when the citizens file gives none (test data, not an authority list).
func defaultPolicyOID(k CertKind) string {
	switch k {
	case CertDNIe:
		return "2.16.724.1.2.2.2.3"
	case CertLegal:
		return "1.3.6.1.4.1.5734.3.11.1"
	default:
		return "1.3.6.1.4.1.5734.3.10.1"
	}
}

// field is one afxp:ReadableField.
type field struct{ id, value string }

// partialAfirma builds the base64 PartialAfirma value. Cl@ve 2.0 sends only
// two nodes of the @firma DSS answer, dss:Result and
// afxp:ReadableCertificateInfo (no dss:OptionalOutputs around the latter),
// under a Partial_Afirma_Response root. The real root comes without namespace
// declarations; ours declares them so that the document is well-formed.
func partialAfirma(c *Citizen, cert *Certificate) (string, error) {
	root := etree.NewElement("Partial_Afirma_Response")
	root.CreateAttr("xmlns:dss", nsDSS)
	root.CreateAttr("xmlns:afxp", nsAfirmaXSS)
	root.CreateElement("dss:Result").CreateElement("dss:ResultMajor").SetText(resultMajorOK)
	info := root.CreateElement("afxp:ReadableCertificateInfo")
	for _, f := range certificateFields(c, cert) {
		rf := info.CreateElement("afxp:ReadableField")
		rf.CreateElement("afxp:FieldIdentity").SetText(f.id)
		rf.CreateElement("afxp:FieldValue").SetText(f.value)
	}
	data, err := serialize(root)
	if err != nil {
		return "", fmt.Errorf("PartialAfirma: %w", err)
	}
	return base64.StdEncoding.EncodeToString(data), nil
}

// certificateFields are the readable fields @firma reports for cert.
func certificateFields(c *Citizen, cert *Certificate) []field {
	oid := cert.PolicyOID
	if oid == "" {
		oid = defaultPolicyOID(cert.Kind)
	}
	class := classNaturalPerson
	if cert.Kind == CertLegal {
		class = classLegalPersonRep
	}
	fs := []field{
		{"clasificacion", class},
		{"tipoCertificado", kindLabel(cert.Kind)},
		{"idPolitica", oid},
		{"NIFResponsable", c.ID},
		{"nombreResponsable", c.GivenName},
		{"primerApellidoResponsable", c.FirstSurname},
	}
	if c.SecondSurname != "" {
		fs = append(fs, field{"segundoApellidoResponsable", c.SecondSurname})
	}
	fs = append(fs, field{"ApellidosResponsable", c.familyName()})
	if cert.Company != nil {
		fs = append(fs, field{"NIF-CIF", cert.Company.CIF}, field{"razonSocial", cert.Company.Name})
	}
	return fs
}
