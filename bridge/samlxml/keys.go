package samlxml

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ParseCertificatePEM reads the first CERTIFICATE block of a PEM file.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("samlxml: no CERTIFICATE block in the PEM data")
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("samlxml: parsing PEM certificate: %w", err)
			}
			return cert, nil
		}
	}
}

// ParseCertificateBase64 reads a base64 DER certificate as found in
// ds:X509Certificate and metadata (white space allowed).
func ParseCertificateBase64(s string) (*x509.Certificate, error) {
	der, err := decodeBase64Text(s)
	if err != nil {
		return nil, fmt.Errorf("samlxml: certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("samlxml: parsing certificate: %w", err)
	}
	return cert, nil
}

// ParsePrivateKeyPEM reads an RSA or EC private key (PKCS#1, SEC1 or PKCS#8).
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("samlxml: no private key block in the PEM data")
		}
		key, err := parsePrivateKeyBlock(block)
		if err != nil || key != nil {
			return key, err
		}
	}
}

// parsePrivateKeyBlock returns nil, nil for blocks that hold no private key
// (such as the EC PARAMETERS block OpenSSL writes first).
func parsePrivateKeyBlock(block *pem.Block) (crypto.Signer, error) {
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("samlxml: encrypted private keys are not supported")
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("samlxml: parsing %s: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("samlxml: unsupported private key type %T (want RSA or ECDSA)", key)
}

// decodeBase64Text decodes standard base64 with any white space removed (as
// found in XML text and metadata).
func decodeBase64Text(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(stripSpace(s))
	if err != nil {
		return nil, fmt.Errorf("bad base64: %w", err)
	}
	return b, nil
}

// stripSpace removes XML white space (space, tab, CR, LF) from s.
func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}
