package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// testKeyNames are the key pairs config.example.yaml uses.
var testKeyNames = []string{"bridge-sign", "bridge-enc", "simulator-sign", "demo-sp"}

func keysCommand() *cobra.Command {
	var dir string
	var bits int
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Generate self-signed TEST keys and certificates (never for production)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range testKeyNames {
				if err := writeTestPair(dir, name, bits); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s/%s.{crt,key}\n", dir, name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "testdata/keys", "directory for the key files")
	cmd.Flags().IntVar(&bits, "bits", 3072, "RSA key size")
	return cmd
}

// writeTestPair writes name.key (PKCS#8) and a ten-year self-signed name.crt.
func writeTestPair(dir, name string, bits int) error {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return fmt.Errorf("generate %s: %w", name, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "clavebridge TEST " + name, Organization: []string{"clavebridge test keys - not for production"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("certificate %s: %w", name, err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, name+".crt"), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, name+".key"), "PRIVATE KEY", pkcs8, 0o600)
}

func writePEM(path, kind string, der []byte, mode os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
