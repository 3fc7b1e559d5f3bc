package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinSecretBytes is the least a secret may hold.
const MinSecretBytes = 32

// validateSecrets checks that every secret is named once, by file or
// environment variable, and that the files exist.
func (c *Config) validateSecrets() []error {
	var errs []error
	keys := c.Secrets.StateKeys
	if len(keys) == 0 {
		errs = append(errs, fieldErr("secrets.state_keys", "at least one key is required (it seals pending logins and SSO sessions)"))
	}
	ids := map[string]bool{}
	for i, k := range keys {
		path := fmt.Sprintf("secrets.state_keys[%d]", i)
		switch {
		case k.ID == "":
			errs = append(errs, fieldErr(path+".id", "required"))
		case len(k.ID) > 16 || strings.ContainsAny(k.ID, ".: \t"):
			errs = append(errs, fieldErr(path+".id", "%q: at most 16 characters, without '.', ':' or spaces", k.ID))
		case ids[k.ID]:
			errs = append(errs, fieldErr(path+".id", "%q is used twice", k.ID))
		}
		ids[k.ID] = true
		if err := c.checkSecret(path, k.Secret); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.checkSecret("secrets.pairwise", c.Secrets.Pairwise); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func (c *Config) checkSecret(path string, s Secret) error {
	switch {
	case s.File == "" && s.Env == "":
		return fieldErr(path, "name a file or an environment variable")
	case s.File != "" && s.Env != "":
		return fieldErr(path, "name a file or an environment variable, not both")
	case s.File != "":
		return c.checkFile(path+".file", s.File)
	}
	return nil
}

// ReadSecret reads a secret from its file or environment variable: at
// least MinSecretBytes bytes, written in hex or base64.
func (c *Config) ReadSecret(s Secret) ([]byte, error) {
	var text string
	switch {
	case s.File != "":
		data, err := os.ReadFile(c.Path(s.File))
		if err != nil {
			return nil, fmt.Errorf("read secret: %w", err)
		}
		text = string(data)
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return nil, fmt.Errorf("secret: environment variable %s is not set", s.Env)
		}
		text = v
	default:
		return nil, errors.New("secret: no file or environment variable named")
	}
	return decodeSecret(strings.TrimSpace(text))
}

func decodeSecret(text string) ([]byte, error) {
	b, err := hex.DecodeString(text)
	if err != nil {
		if b, err = base64.StdEncoding.DecodeString(text); err != nil {
			return nil, errors.New("secret is neither hex nor base64")
		}
	}
	if len(b) < MinSecretBytes {
		return nil, fmt.Errorf("secret has %d bytes, fewer than %d", len(b), MinSecretBytes)
	}
	return b, nil
}
