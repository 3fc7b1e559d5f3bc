package simulator

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// signingKeys are the gateway's signing key in use and the next one it
// announces (inactive) before switching to it.
type signingKeys struct {
	mu     sync.RWMutex
	active samlxml.Signer
	next   *samlxml.Signer
}

// currentSigner is the key the gateway signs with now.
func (s *Simulator) currentSigner() samlxml.Signer {
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	return s.keys.active
}

// SigningCertificate is the certificate of the key the gateway signs with
// now.
func (s *Simulator) SigningCertificate() *x509.Certificate { return s.currentSigner().Cert }

// AnnounceNextKey makes key the gateway's next signing key: listed inactive
// in its certificates document until RotateSigningKey switches to it, as
// Cl@ve announces a new seal before using it.
func (s *Simulator) AnnounceNextKey(key crypto.Signer, cert *x509.Certificate) error {
	if key == nil || cert == nil {
		return errors.New("simulator next key: a key and its certificate are required")
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	next := s.keys.active
	next.Key, next.Cert = key, cert
	s.keys.next = &next
	s.log.Info("gateway next signing key announced", zap.String("key_name", keyName(cert)))
	return nil
}

// RotateSigningKey switches to the announced next key; the old one is
// listed no more.
func (s *Simulator) RotateSigningKey() error {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if s.keys.next == nil {
		return errors.New("simulator: no next signing key announced")
	}
	old := s.keys.active.Cert
	s.keys.active, s.keys.next = *s.keys.next, nil
	s.log.Info("gateway signing key rotated", zap.String("from", keyName(old)), zap.String("to", keyName(s.keys.active.Cert)))
	return nil
}

// CertificatesURL is where the gateway publishes its certificates.
func (s *Simulator) CertificatesURL() string { return s.base + CertificatesPath }

// CertificatesDocument is the gateway's /Proxy2/Certificates document: its
// signing certificate active and, once announced, the next one inactive.
func (s *Simulator) CertificatesDocument() ([]byte, error) {
	s.keys.mu.RLock()
	entries := []clave2msg.CertificateEntry{{Use: clave2msg.UseSigning, Name: keyName(s.keys.active.Cert),
		State: clave2msg.KeyActive, Cert: s.keys.active.Cert}}
	if n := s.keys.next; n != nil && !n.Cert.Equal(s.keys.active.Cert) {
		entries = append(entries, clave2msg.CertificateEntry{Use: clave2msg.UseSigning, Name: keyName(n.Cert),
			State: clave2msg.KeyInactive, Cert: n.Cert})
	}
	s.keys.mu.RUnlock()
	return clave2msg.CertificatesDocument(entries)
}

func (s *Simulator) handleCertificates(c echo.Context) error {
	doc, err := s.CertificatesDocument()
	if err != nil {
		s.log.Error("gateway certificates document", zap.Error(err))
		return c.NoContent(http.StatusInternalServerError)
	}
	return c.Blob(http.StatusOK, "application/xml", doc)
}

// keyName names a gateway key as Cl@ve does (proxy_sign_…), by its
// certificate's serial number.
func keyName(c *x509.Certificate) string {
	if c == nil || c.SerialNumber == nil {
		return "proxy_sign"
	}
	return fmt.Sprintf("proxy_sign_%X", c.SerialNumber)
}
