package metadata

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// TestXSBooleanAttributes: xs:boolean is "true", "false", "1" or "0". The
// Shibboleth SP's generated metadata says AuthnRequestsSigned="1"; read as
// false, the bridge would not require that SP's requests to be signed.
func TestXSBooleanAttributes(t *testing.T) {
	k := newMDKeys(t)
	tests := []struct {
		value      string
		signed     bool
		defaultACS string // the isDefault ACS wins over the lower index
	}{
		{"true", true, eidasSPACS2},
		{"1", true, eidasSPACS2},
		{" 1 ", true, eidasSPACS2},
		{"false", false, eidasSPACS},
		{"0", false, eidasSPACS},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			ed := eidasSPMetadata(spEntity, mdNow.Add(time.Hour), k.spSign.Cert, k.spEnc.Cert,
				acsSpec{eidasSPACS, samlxml.BindingPOST, "0", ""},
				acsSpec{eidasSPACS2, samlxml.BindingPOST, "1", tt.value})
			ed.FindElement("./md:SPSSODescriptor").CreateAttr("AuthnRequestsSigned", tt.value)
			got, err := parseSPMetadata(signedMetadata(t, ed, k.federation), []*x509.Certificate{k.federation.Cert}, mdNow)
			if err != nil {
				t.Fatal(err)
			}
			if got.AuthnRequestsSigned != tt.signed {
				t.Errorf("AuthnRequestsSigned=%q read as %v, want %v", tt.value, got.AuthnRequestsSigned, tt.signed)
			}
			if len(got.ACS) == 0 || got.ACS[0].URL != tt.defaultACS {
				t.Errorf("isDefault=%q: default ACS %+v, want %s first", tt.value, got.ACS, tt.defaultACS)
			}
		})
	}
}

// TestAuthnRequestsSignedNotBoolean: a value that is no xs:boolean is
// refused, not read as "unsigned".
func TestAuthnRequestsSignedNotBoolean(t *testing.T) {
	k := newMDKeys(t)
	for _, v := range []string{"yes", "TRUE", "", "2"} {
		ed := eidasSPMetadata(spEntity, mdNow.Add(time.Hour), k.spSign.Cert, k.spEnc.Cert)
		ed.FindElement("./md:SPSSODescriptor").CreateAttr("AuthnRequestsSigned", v)
		if _, err := parseSPMetadata(signedMetadata(t, ed, k.federation), []*x509.Certificate{k.federation.Cert}, mdNow); err == nil {
			t.Errorf("AuthnRequestsSigned=%q accepted", v)
		}
	}
}
