package metadata

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// spMetadata is what the bridge takes from an SP's SAML metadata.
type spMetadata struct {
	EntityID            string
	ACS                 []bridge.Endpoint
	Logout              []bridge.Endpoint // SingleLogoutService, POST first
	SigningCerts        []*x509.Certificate
	EncryptionCert      *x509.Certificate
	AuthnRequestsSigned bool
	SPType              string
	ValidUntil          time.Time     // zero: none
	CacheDuration       time.Duration // zero: none
	// OrganizationName and OrganizationURL are md:Organization's display
	// name and (https) URL, Spanish first, for the citizen's pages.
	OrganizationName string
	OrganizationURL  string
}

// parseSPMetadata reads an EntityDescriptor with one SPSSODescriptor. With
// signers, the document must be signed by one of them and only the
// verified element is read; it must not have expired.
func parseSPMetadata(data []byte, signers []*x509.Certificate, now time.Time) (*spMetadata, error) {
	doc, err := samlxml.Parse(data, maxMetadataBytes)
	if err != nil {
		return nil, err
	}
	ed := doc.Root()
	if len(signers) > 0 {
		v, err := samlxml.Verifier{Certs: signers}.Verify(ed)
		if err != nil {
			return nil, fmt.Errorf("metadata signature: %w", err)
		}
		ed = v.Element
	}
	if !samlxml.Is(ed, samlxml.NSMetadata, "EntityDescriptor") {
		return nil, fmt.Errorf("metadata root is %s, not an EntityDescriptor", ed.FullTag())
	}
	md := &spMetadata{EntityID: ed.SelectAttrValue("entityID", "")}
	if vu := ed.SelectAttrValue("validUntil", ""); vu != "" {
		t, err := samlxml.ParseTime(vu)
		if err != nil || !now.Before(t) {
			return nil, fmt.Errorf("metadata validUntil %q has passed or is not a time", vu)
		}
		md.ValidUntil = t
	}
	if cd := ed.SelectAttrValue("cacheDuration", ""); cd != "" {
		if d, ok := parseXSDuration(cd); ok {
			md.CacheDuration = d
		}
	}
	if ext, _ := samlxml.Child(ed, samlxml.NSMetadata, "Extensions"); ext != nil {
		if md.SPType, err = samlxml.ChildText(ext, clave2msg.NSEIDAS, "SPType"); err != nil {
			return nil, err
		}
	}
	if org, _ := samlxml.Child(ed, samlxml.NSMetadata, "Organization"); org != nil {
		md.readOrganization(org)
	}
	sps := samlxml.Children(ed, samlxml.NSMetadata, "SPSSODescriptor")
	if len(sps) != 1 {
		return nil, fmt.Errorf("metadata has %d SPSSODescriptors, want 1", len(sps))
	}
	return md, md.readDescriptor(sps[0])
}

func (md *spMetadata) readDescriptor(d *etree.Element) error {
	signed := strings.TrimSpace(d.SelectAttrValue("AuthnRequestsSigned", "false"))
	if signed != "true" && signed != "false" && signed != "1" && signed != "0" {
		// not an xs:boolean: refuse rather than guess whether the SP
		// signs its requests
		return fmt.Errorf("AuthnRequestsSigned=%q is not an xs:boolean", signed)
	}
	md.AuthnRequestsSigned = xsTrue(signed)
	for _, acs := range defaultFirst(samlxml.Children(d, samlxml.NSMetadata, "AssertionConsumerService")) {
		if acs.SelectAttrValue("Binding", "") != samlxml.BindingPOST {
			continue // we answer by POST only
		}
		loc := acs.SelectAttrValue("Location", "")
		if err := checkReturnURL(loc); err != nil {
			return err
		}
		index, _ := parseIndex(acs.SelectAttrValue("index", "0"))
		md.ACS = append(md.ACS, bridge.Endpoint{URL: loc, Binding: samlxml.BindingPOST, Index: index})
	}
	if err := md.readLogout(d); err != nil {
		return err
	}
	for _, kd := range samlxml.Children(d, samlxml.NSMetadata, "KeyDescriptor") {
		if err := md.readKey(kd); err != nil {
			return err
		}
	}
	return nil
}

// maxOrganizationText bounds the organization's name and URL taken.
const maxOrganizationText = 512

// readOrganization takes the Spanish (else the first) display name and
// https URL of md:Organization; anything else is ignored.
func (md *spMetadata) readOrganization(org *etree.Element) {
	pick := func(tag string, ok func(string) bool) string {
		var first string
		for _, el := range samlxml.Children(org, samlxml.NSMetadata, tag) {
			v := strings.TrimSpace(el.Text())
			if v == "" || len(v) > maxOrganizationText || !ok(v) {
				continue
			}
			if el.SelectAttrValue("xml:lang", "") == "es" {
				return v
			}
			if first == "" {
				first = v
			}
		}
		return first
	}
	md.OrganizationName = pick("OrganizationDisplayName", func(string) bool { return true })
	md.OrganizationURL = pick("OrganizationURL", func(v string) bool {
		u, err := url.Parse(v)
		return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
	})
}

// readLogout reads the SingleLogoutService endpoints of the POST and
// Redirect bindings, POST first.
func (md *spMetadata) readLogout(d *etree.Element) error {
	for _, binding := range []string{samlxml.BindingPOST, samlxml.BindingRedirect} {
		for _, slo := range samlxml.Children(d, samlxml.NSMetadata, "SingleLogoutService") {
			if slo.SelectAttrValue("Binding", "") != binding {
				continue
			}
			loc := slo.SelectAttrValue("Location", "")
			if err := checkReturnURL(loc); err != nil {
				return fmt.Errorf("SingleLogoutService: %w", err)
			}
			md.Logout = append(md.Logout, bridge.Endpoint{URL: loc, Binding: binding})
		}
	}
	return nil
}

func (md *spMetadata) readKey(kd *etree.Element) error {
	use := kd.SelectAttrValue("use", "")
	ki, _ := samlxml.Child(kd, samlxml.NSDSig, "KeyInfo")
	if ki == nil {
		return errors.New("metadata KeyDescriptor without KeyInfo")
	}
	for _, xd := range samlxml.Children(ki, samlxml.NSDSig, "X509Data") {
		for _, xc := range samlxml.Children(xd, samlxml.NSDSig, "X509Certificate") {
			cert, err := samlxml.ParseCertificateBase64(xc.Text())
			if err != nil {
				return fmt.Errorf("metadata key: %w", err)
			}
			if use == "" || use == "signing" {
				md.SigningCerts = append(md.SigningCerts, cert)
			}
			if (use == "" || use == "encryption") && md.EncryptionCert == nil {
				md.EncryptionCert = cert
			}
		}
	}
	return nil
}

// defaultFirst orders the POST ACS endpoints with the default one first:
// the first with isDefault="true", else the first not marked "false", else
// the first (SAML metadata §2.2.3); callers treat the first as the default.
func defaultFirst(all []*etree.Element) []*etree.Element {
	var post []*etree.Element
	for _, acs := range all {
		if acs.SelectAttrValue("Binding", "") == samlxml.BindingPOST {
			post = append(post, acs)
		}
	}
	best := indexOf(post, func(acs *etree.Element) bool { return xsTrue(acs.SelectAttrValue("isDefault", "")) })
	if best < 0 {
		best = indexOf(post, func(acs *etree.Element) bool {
			v := strings.TrimSpace(acs.SelectAttrValue("isDefault", ""))
			return v != "false" && v != "0"
		})
	}
	if best <= 0 {
		return post
	}
	return append([]*etree.Element{post[best]}, append(post[:best:best], post[best+1:]...)...)
}

func indexOf(els []*etree.Element, match func(*etree.Element) bool) int {
	for i, el := range els {
		if match(el) {
			return i
		}
	}
	return -1
}

func checkReturnURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("metadata ACS %q is not an absolute http(s) URL", raw)
	}
	return nil
}

func parseIndex(s string) (int, error) {
	var i int
	_, err := fmt.Sscanf(s, "%d", &i)
	return i, err
}

// xsTrue reports whether an xs:boolean attribute is true: "true" or "1"
// (the Shibboleth SP writes AuthnRequestsSigned="1"), surrounding
// whitespace collapsed as the schema type says.
func xsTrue(v string) bool {
	v = strings.TrimSpace(v)
	return v == "true" || v == "1"
}
