package config

import (
	"fmt"
	"os"

	"github.com/clavebridge/clavebridge/bridge/hsm"
)

// tokenKey reviews a key held in a PKCS#11 token (a pkcs11: URI): where
// its PIN is. The URI itself, and a binary built without PKCS#11 support,
// are Validate's to report; whether the token can do what the bridge asks
// of the key is the probe's (`check` runs it when the binary reaches
// tokens).
func (r *reviewer) tokenKey(path, raw string) {
	u, err := hsm.ParseURI(raw)
	if err != nil {
		return // Validate reports it
	}
	if u.PINEnv != "" {
		if _, ok := os.LookupEnv(u.PINEnv); !ok {
			r.add(Warning, path, fmt.Sprintf("the PIN's environment variable %s is not set here", u.PINEnv),
				"serve cannot log in to the token without it: set it where the bridge runs")
		}
		return
	}
	name := r.c.Path(u.PINFile)
	fi, err := os.Stat(name)
	switch {
	case err != nil:
		r.add(Error, path, fmt.Sprintf("the PIN file: %v", err), "write the token's user PIN in a file only the bridge's user can read (chmod 600)")
	case !fi.Mode().IsRegular():
		r.add(Error, path, fmt.Sprintf("the PIN file %s is not a regular file", u.PINFile), "name a regular file holding the PIN")
	case fi.Mode().Perm()&0o004 != 0:
		r.add(r.c.ModeSeverity(), path, fmt.Sprintf("the PIN file %s is readable by every user of the machine (mode %04o)", u.PINFile, fi.Mode().Perm()),
			r.c.modeAdvice("chmod 600 (or 640 for the bridge's group) "+u.PINFile))
	}
}
