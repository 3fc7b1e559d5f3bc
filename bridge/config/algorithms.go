package config

import (
	"fmt"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// signatureMethods maps the configuration's short names to URIs.
var signatureMethods = map[string]string{
	"rsa-sha1":       samlxml.RSASHA1,
	"rsa-sha256":     samlxml.RSASHA256,
	"rsa-sha512":     samlxml.RSASHA512,
	"rsa-pss-sha256": samlxml.RSAPSSSHA256,
	"rsa-pss-sha512": samlxml.RSAPSSSHA512,
	"ecdsa-sha256":   samlxml.ECDSASHA256,
	"ecdsa-sha512":   samlxml.ECDSASHA512,
}

var keyTransports = map[string]string{
	"rsa-oaep-mgf1p": samlxml.RSAOAEPMGF1P,
	"rsa-oaep":       samlxml.RSAOAEP,
}

var dataEncryptions = map[string]string{
	"aes128-gcm": samlxml.AES128GCM,
	"aes256-gcm": samlxml.AES256GCM,
}

func lookupAlgorithm(kind string, table map[string]string, name, dflt string) (string, error) {
	if name == "" {
		name = dflt
	}
	uri, ok := table[name]
	if !ok {
		return "", fmt.Errorf("unknown %s %q", kind, name)
	}
	return uri, nil
}

// SignatureMethod returns the URI of a signature algorithm name such as
// rsa-sha512 or rsa-pss-sha256 (dflt when name is empty).
func SignatureMethod(name, dflt string) (string, error) {
	return lookupAlgorithm("signature algorithm", signatureMethods, name, dflt)
}

// KeyTransport returns the URI of rsa-oaep-mgf1p or rsa-oaep.
func KeyTransport(name, dflt string) (string, error) {
	return lookupAlgorithm("key transport", keyTransports, name, dflt)
}

// DataEncryption returns the URI of aes128-gcm or aes256-gcm.
func DataEncryption(name, dflt string) (string, error) {
	return lookupAlgorithm("data encryption", dataEncryptions, name, dflt)
}
