package server

// Keys in a hardware module: a key field holding a pkcs11: URI names a key
// in a PKCS#11 token (bridge/hsm). Its certificate stays a file. Each
// token key is probed when it is loaded (at start, at every reload and by
// `check`): a signing key that cannot sign with what the configuration
// asks refuses the load; a key transport a decryption key cannot do is a
// warning, and our metadata then advertises only the transports the
// published encryption keys can do.

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"io"
	"slices"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/hsm"
)

// keyWarning is what a token key cannot do that the bridge can do without.
type keyWarning struct {
	path string // keys.encryption
	cap  hsm.Capability
}

// loadOwnPair loads one of the bridge's own key pairs, from files or with
// its key in a token (then use opens the token).
func loadOwnPair(cfg *config.Config, use *hsm.Use, kp config.KeyPair) (*pair, error) {
	if !hsm.IsURI(kp.Key) {
		return loadPair(cfg, kp)
	}
	cert, err := cfg.ReadCertificate(kp.Cert)
	if err != nil {
		return nil, err
	}
	u, err := hsm.ParseURI(kp.Key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	key, err := use.Key(u, cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("the token key %s is not the key of the certificate %s", u, kp.Cert)
	}
	return &pair{key: key, cert: cert, token: true}, nil
}

// signatureMethods are the signature methods the configuration asks of
// the bridge's signing key: towards the gateway and towards each SP.
func signatureMethods(cfg *config.Config) []string {
	var out []string
	if m, err := config.SignatureMethod(cfg.Upstream.SignatureAlgorithm, "rsa-sha512"); err == nil {
		out = append(out, m)
	}
	for _, sp := range cfg.ServiceProviders {
		if m, err := config.SignatureMethod(sp.SignatureAlgorithm, "rsa-sha256"); err == nil && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// probed is one of the bridge's key pairs as loadKeys uses it.
type probed struct {
	path    string
	p       *pair
	signs   bool // keys.signing, keys.next_signing
	publish bool // its certificate is published for encryption
}

// probeTokenKeys probes every token key of pairs. It fails when a signing
// key cannot sign, or a published encryption key cannot decrypt at all;
// otherwise it returns the warnings and the key transports to advertise
// (nil: both, no token key among the published encryption keys).
func probeTokenKeys(cfg *config.Config, pairs []probed, rnd io.Reader) (transports []string, warnings []keyWarning, err error) {
	methods := signatureMethods(cfg)
	done := map[*pair][]hsm.Capability{}
	for _, pr := range pairs {
		if pr.p == nil || !pr.p.token {
			continue
		}
		caps, seen := done[pr.p]
		if !seen {
			_, rsaKey := pr.p.key.(crypto.Decrypter)
			caps = hsm.Probe(pr.p.key, hsm.SigningMethods(pr.p.key.Public(), methods...), rsaKey, rnd)
			done[pr.p] = caps
		}
		for _, c := range caps {
			switch {
			case c.OK():
			case c.Sign && pr.signs && slices.Contains(methods, c.Algorithm):
				return nil, nil, fmt.Errorf("%s.key: %s", pr.path, c.Message())
			case !seen && (!c.Sign || pr.signs): // one warning a key, under its first path
				warnings = append(warnings, keyWarning{path: pr.path, cap: c})
			}
		}
		if !pr.publish {
			continue
		}
		can := hsm.Transports(caps)
		if len(can) == 0 {
			return nil, nil, fmt.Errorf("%s.key: the key cannot decrypt any key transport (%s)", pr.path, firstError(caps))
		}
		if transports == nil {
			transports = can
			continue
		}
		transports = slices.DeleteFunc(transports, func(t string) bool { return !slices.Contains(can, t) })
		if len(transports) == 0 {
			return nil, nil, fmt.Errorf("%s.key: the published encryption keys have no key transport in common", pr.path)
		}
	}
	return transports, warnings, nil
}

func firstError(caps []hsm.Capability) string {
	for _, c := range caps {
		if !c.OK() && !c.Sign {
			return c.Message()
		}
	}
	return ""
}

// logKeyWarnings logs what the token keys cannot do, one line each.
func logKeyWarnings(log *zap.Logger, k *keySet) {
	for _, w := range k.warnings {
		log.Warn("token key capability missing", zap.String("key", w.path),
			zap.String("algorithm", w.cap.Algorithm), zap.String("reason", w.cap.Message()))
	}
}

// KeyProbeFindings opens the tokens cfg's own keys are in, probes each key
// as serve will, closes the tokens, and reports what the keys cannot do:
// what `check` adds to the configuration's findings. Nothing when no key
// is in a token.
func KeyProbeFindings(cfg *config.Config) []config.Finding {
	if !usesToken(cfg) || !hsm.Supported {
		return nil // files; or Validate already refused the token keys
	}
	tokens := hsm.NewTokens()
	defer tokens.Close()
	k, err := loadKeys(cfg, tokens.Begin(), rand.Reader)
	if err != nil {
		return []config.Finding{{Severity: config.Error, Path: "keys", Message: err.Error(),
			Advice: "docs/operations.md, \"Keys in a hardware module\", says what each key must do"}}
	}
	var out []config.Finding
	for _, w := range k.warnings {
		out = append(out, config.Finding{Severity: config.Warning, Path: w.path + ".key", Message: w.cap.Message(),
			Advice: "the bridge starts; what the key cannot do, it will not do"})
	}
	return out
}

// usesToken reports whether one of the bridge's own keys is in a token.
func usesToken(cfg *config.Config) bool {
	for _, kp := range []config.KeyPair{cfg.Keys.Signing, cfg.Keys.Encryption, cfg.Keys.NextSigning, cfg.Keys.NextEncryption} {
		if hsm.IsURI(kp.Key) {
			return true
		}
	}
	return false
}
