package server

// The bridge's own key material and secrets, loaded from files or tokens.

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"slices"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/hsm"
	"github.com/clavebridge/clavebridge/bridge/pairwise"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/seal"
	"github.com/clavebridge/clavebridge/bridge/upstream"
)

// keySet is the bridge's own key material.
type keySet struct {
	signer     samlxml.Signer
	decrypters []upstream.DecryptionKey // encryption key, signing key, then the next ones
	encCert    *x509.Certificate
	// nextSignCert and nextEncCert are the certificates of keys.next_*
	// (nil when not configured): published, and their keys decrypt.
	nextSignCert, nextEncCert *x509.Certificate
	// transports are the key transports our metadata advertises (nil:
	// both); warnings what a token key cannot do (tokenkeys.go).
	transports []string
	warnings   []keyWarning
}

type pair struct {
	key   crypto.Signer
	cert  *x509.Certificate
	token bool // the key is in a PKCS#11 token
}

// loadKeys loads the bridge's own keys (through use when in a token) and
// probes the token keys (tokenkeys.go).
func loadKeys(cfg *config.Config, use *hsm.Use, rnd io.Reader) (*keySet, error) {
	sig, err := loadOwnPair(cfg, use, cfg.Keys.Signing)
	if err != nil {
		return nil, fmt.Errorf("keys.signing: %w", err)
	}
	enc := sig
	if cfg.Keys.Encryption != cfg.Keys.Signing {
		if enc, err = loadOwnPair(cfg, use, cfg.Keys.Encryption); err != nil {
			return nil, fmt.Errorf("keys.encryption: %w", err)
		}
	}
	ks := &keySet{signer: samlxml.Signer{Key: sig.key, Cert: sig.cert}, encCert: enc.cert}
	nextSig, err := loadNextPair(cfg, use, "keys.next_signing", cfg.Keys.NextSigning)
	if err != nil {
		return nil, err
	}
	nextEnc := nextSig
	if cfg.Keys.NextEncryption != cfg.Keys.NextSigning {
		if nextEnc, err = loadNextPair(cfg, use, "keys.next_encryption", cfg.Keys.NextEncryption); err != nil {
			return nil, err
		}
	}
	ks.transports, ks.warnings, err = probeTokenKeys(cfg, []probed{
		{path: "keys.signing", p: sig, signs: true, publish: enc == sig},
		{path: "keys.encryption", p: enc, publish: true},
		{path: "keys.next_signing", p: nextSig, signs: true, publish: nextEnc == nextSig},
		{path: "keys.next_encryption", p: nextEnc, publish: true},
	}, rnd)
	if err != nil {
		return nil, err
	}
	if nextSig != nil {
		ks.nextSignCert = nextSig.cert
	}
	if nextEnc != nil {
		ks.nextEncCert = nextEnc.cert
	}
	for _, p := range []*pair{enc, sig, nextEnc, nextSig} {
		if p == nil || slices.ContainsFunc(ks.decrypters, func(d upstream.DecryptionKey) bool { return d.Cert.Equal(p.cert) }) {
			continue
		}
		if dec, ok := p.key.(crypto.Decrypter); ok {
			ks.decrypters = append(ks.decrypters, upstream.DecryptionKey{Key: dec, Cert: p.cert})
		}
	}
	if len(ks.decrypters) == 0 {
		return nil, fmt.Errorf("keys: no RSA key to decrypt assertions with")
	}
	return ks, nil
}

// loadNextPair loads an optional next key pair (nil when not configured),
// whose key must be its certificate's: its certificate is published.
func loadNextPair(cfg *config.Config, use *hsm.Use, path string, kp config.KeyPair) (*pair, error) {
	if kp == (config.KeyPair{}) {
		return nil, nil
	}
	p, err := loadOwnPair(cfg, use, kp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pub, ok := p.key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(p.cert.PublicKey) {
		return nil, fmt.Errorf("%s: %s is not the key of the certificate %s", path, kp.Key, kp.Cert)
	}
	return p, nil
}

func loadPair(cfg *config.Config, kp config.KeyPair) (*pair, error) {
	key, cert, err := cfg.ReadKeyPair(kp)
	if err != nil {
		return nil, err
	}
	return &pair{key: key, cert: cert}, nil
}

// loadSecrets reads the sealing keys and the pairwise secret.
func loadSecrets(cfg *config.Config, opts Options) (*seal.Keys, *pairwise.Keyer, error) {
	var keys []seal.Key
	for i, k := range cfg.Secrets.StateKeys {
		secret, err := cfg.ReadSecret(k.Secret)
		if err != nil {
			return nil, nil, fmt.Errorf("secrets.state_keys[%d]: %w", i, err)
		}
		keys = append(keys, seal.Key{ID: k.ID, Secret: secret})
	}
	sealer, err := seal.New(opts.Rand, keys...)
	if err != nil {
		return nil, nil, fmt.Errorf("secrets.state_keys: %w", err)
	}
	secret, err := cfg.ReadSecret(cfg.Secrets.Pairwise)
	if err != nil {
		return nil, nil, fmt.Errorf("secrets.pairwise: %w", err)
	}
	keyer, err := pairwise.New(secret)
	if err != nil {
		return nil, nil, fmt.Errorf("secrets.pairwise: %w", err)
	}
	return sealer, keyer, nil
}
