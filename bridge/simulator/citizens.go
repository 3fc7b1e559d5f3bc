package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clavebridge/clavebridge/translate"
)

// CertKind is the kind of certificate a citizen presents to @firma.
type CertKind string

// The @firma certificate kinds.
const (
	CertDNIe     CertKind = "dnie"     // DNIe or another hardware certificate
	CertSoftware CertKind = "software" // natural person certificate in a software store
	CertLegal    CertKind = "legal"    // representative of a legal person
)

// Citizen is one test identity of the simulated gateway.
type Citizen struct {
	// ID is the DNI or NIE for Spanish identities, the foreign identifier
	// for EIDAS-only identities.
	ID            string          `yaml:"id"`
	GivenName     string          `yaml:"given_name"`
	FirstSurname  string          `yaml:"first_surname"`
	SecondSurname string          `yaml:"second_surname,omitempty"` // empty for one-surname citizens
	DateOfBirth   string          `yaml:"date_of_birth"`            // YYYY-MM-DD
	IdPs          []translate.IdP `yaml:"idps"`                     // identity providers the citizen can use
	Credentials   Credentials     `yaml:"credentials,omitempty"`
	Certificates  []Certificate   `yaml:"certificates,omitempty"` // AFIRMA
	EIDAS         *Foreign        `yaml:"eidas,omitempty"`        // EIDAS
}

// Credentials are the secrets of the password-based identity providers.
type Credentials struct {
	Password string `yaml:"password,omitempty"` // Cl@ve permanente (SEGSOC)
	Mobile   string `yaml:"mobile,omitempty"`   // where the simulated SEGSOC SMS code is "sent"
	PIN      string `yaml:"pin,omitempty"`      // Cl@ve PIN (PIN24H)
}

// Certificate is one certificate a citizen can log in with at AFIRMA.
type Certificate struct {
	Kind      CertKind `yaml:"kind"`
	PolicyOID string   `yaml:"policy_oid,omitempty"` // default per kind
	Company   *Company `yaml:"company,omitempty"`    // legal certificates only
}

// Company is the legal person a representative certificate speaks for.
type Company struct {
	CIF  string `yaml:"cif"`
	Name string `yaml:"name"`
}

// Foreign is the identity a citizen has at a foreign eIDAS node.
type Foreign struct {
	Country string `yaml:"country"` // ISO 3166 alpha-2, e.g. DE
	LoA     string `yaml:"loa"`     // low, substantial or high
}

// citizensFile is the YAML document LoadCitizens reads.
type citizensFile struct {
	Citizens []Citizen `yaml:"citizens"`
}

// LoadCitizens reads and checks a citizens YAML file. Unknown keys are errors.
func LoadCitizens(path string) ([]Citizen, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read citizens file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f citizensFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("citizens file %s is empty", path)
		}
		return nil, fmt.Errorf("citizens file %s: %w", path, err)
	}
	out, err := normalizeCitizens(f.Citizens)
	if err != nil {
		return nil, fmt.Errorf("citizens file %s: %w", path, err)
	}
	return out, nil
}

// normalizeCitizens checks cs and returns a copy with canonical spellings.
// Errors name a citizen by position and masked id, never by name.
func normalizeCitizens(cs []Citizen) ([]Citizen, error) {
	if len(cs) == 0 {
		return nil, errors.New("no citizens configured")
	}
	out := make([]Citizen, len(cs))
	seen := map[string]bool{}
	for i, c := range cs {
		n, err := normalizeCitizen(c)
		if err != nil {
			return nil, fmt.Errorf("citizen #%d (%s): %w", i+1, translate.Mask(c.ID), err)
		}
		if seen[n.ID] {
			return nil, fmt.Errorf("citizen #%d (%s): id is repeated", i+1, translate.Mask(c.ID))
		}
		seen[n.ID] = true
		out[i] = n
	}
	return out, nil
}

func normalizeCitizen(c Citizen) (Citizen, error) {
	c.ID = normalizeID(c.ID)
	c.IdPs = append([]translate.IdP(nil), c.IdPs...)
	c.Certificates = append([]Certificate(nil), c.Certificates...)
	if c.EIDAS != nil {
		f := *c.EIDAS
		f.Country = strings.ToUpper(strings.TrimSpace(f.Country))
		c.EIDAS = &f
	}
	if strings.TrimSpace(c.GivenName) == "" || strings.TrimSpace(c.FirstSurname) == "" {
		return c, errors.New("given_name and first_surname are required")
	}
	if _, err := time.Parse(time.DateOnly, c.DateOfBirth); err != nil {
		return c, fmt.Errorf("date_of_birth %q is not YYYY-MM-DD", c.DateOfBirth)
	}
	if err := normalizeIdPs(&c); err != nil {
		return c, err
	}
	if err := checkIdentifier(c); err != nil {
		return c, err
	}
	for _, p := range c.IdPs {
		if err := checkIdPData(c, p); err != nil {
			return c, fmt.Errorf("%s: %w", p, err)
		}
	}
	return c, nil
}

// normalizeID upper-cases an identifier and drops blanks and dashes a user may
// type, so that "12345678-z" finds 12345678Z.
func normalizeID(id string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(id)))
}

func normalizeIdPs(c *Citizen) error {
	if len(c.IdPs) == 0 {
		return errors.New("idps is empty")
	}
	seen := map[translate.IdP]bool{}
	for i, p := range c.IdPs {
		idp, err := translate.ParseIdP(string(p))
		if err != nil {
			return fmt.Errorf("idps: %w", err)
		}
		if seen[idp] {
			return fmt.Errorf("idps: %s is repeated", idp)
		}
		seen[idp] = true
		c.IdPs[i] = idp
	}
	return nil
}

// checkIdPData checks that c has what identity provider p needs.
func checkIdPData(c Citizen, p translate.IdP) error {
	switch p {
	case translate.IdPAfirma:
		return checkCertificates(c.Certificates)
	case translate.IdPSegSoc:
		if c.Credentials.Password == "" || c.Credentials.Mobile == "" {
			return errors.New("needs credentials.password and credentials.mobile")
		}
	case translate.IdPPin24H:
		if c.Credentials.PIN == "" {
			return errors.New("needs credentials.pin")
		}
	case translate.IdPEIDAS:
		return checkForeign(c.EIDAS)
	}
	return nil
}

func checkCertificates(certs []Certificate) error {
	if len(certs) == 0 {
		return errors.New("needs at least one certificate")
	}
	for i, k := range certs {
		if _, ok := certLoA(k.Kind); !ok {
			return fmt.Errorf("certificate #%d: kind %q is not dnie, software or legal", i+1, k.Kind)
		}
		legal := k.Kind == CertLegal
		if legal != (k.Company != nil) {
			return fmt.Errorf("certificate #%d: a company goes with kind legal, and only there", i+1)
		}
		if legal && (k.Company.CIF == "" || k.Company.Name == "") {
			return fmt.Errorf("certificate #%d: company needs cif and name", i+1)
		}
	}
	return nil
}

func checkForeign(f *Foreign) error {
	if f == nil {
		return errors.New("needs an eidas block (country, loa)")
	}
	if len(f.Country) != 2 || f.Country == "ES" || !isUpperAlpha(f.Country) {
		return fmt.Errorf("eidas country %q is not a foreign two-letter code", f.Country)
	}
	if _, err := translate.ParseLoA(f.LoA); err != nil {
		return fmt.Errorf("eidas: %w", err)
	}
	return nil
}

// allows reports whether c may log in at p.
func (c *Citizen) allows(p translate.IdP) bool {
	for _, q := range c.IdPs {
		if q == p {
			return true
		}
	}
	return false
}

// familyName is CurrentFamilyName: both surnames joined by a space.
func (c *Citizen) familyName() string {
	if c.SecondSurname == "" {
		return c.FirstSurname
	}
	return c.FirstSurname + " " + c.SecondSurname
}

// personIdentifier is the eIDAS PersonIdentifier of c when logged in at p.
func (c *Citizen) personIdentifier(p translate.IdP) string {
	if p == translate.IdPEIDAS {
		return translate.PersonID{Issuer: c.EIDAS.Country, Destination: "ES", Value: c.ID}.String()
	}
	return translate.PersonID{Issuer: "ES", Destination: "ES", Value: c.ID}.String()
}

// findCitizen returns the citizen with this (user-typed) id.
func (s *Simulator) findCitizen(id string) (*Citizen, bool) {
	id = normalizeID(id)
	for i := range s.citizens {
		if s.citizens[i].ID == id {
			return &s.citizens[i], true
		}
	}
	return nil, false
}
