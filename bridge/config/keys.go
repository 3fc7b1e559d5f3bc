package config

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/clavebridge/clavebridge/bridge/hsm"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// ReadCertificate reads a PEM certificate file named in the configuration.
func (c *Config) ReadCertificate(name string) (*x509.Certificate, error) {
	path := c.Path(name)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := samlxml.ParseCertificatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return cert, nil
}

// ReadKeyPair reads a configured PEM certificate and private key.
func (c *Config) ReadKeyPair(kp KeyPair) (crypto.Signer, *x509.Certificate, error) {
	if hsm.IsURI(kp.Key) {
		return nil, nil, fmt.Errorf("key is in a PKCS#11 token: the server opens it (hsm.Tokens), not ReadKeyPair")
	}
	cert, err := c.ReadCertificate(kp.Cert)
	if err != nil {
		return nil, nil, err
	}
	path := c.Path(kp.Key)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read key: %w", err)
	}
	key, err := samlxml.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", path, err)
	}
	return key, cert, nil
}
