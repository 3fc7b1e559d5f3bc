package metadata

import (
	"testing"
	"time"
)

// TestOrganization: md:Organization gives the citizen's pages a name and a
// home page (the Spanish one first, https only, bounded); none is fine.
func TestOrganization(t *testing.T) {
	tests := []struct {
		name, org, wantName, wantURL string
	}{
		{"none", "", "", ""},
		{"spanish first", `<md:Organization>
<md:OrganizationName xml:lang="en">Org</md:OrganizationName>
<md:OrganizationDisplayName xml:lang="en">The Office</md:OrganizationDisplayName>
<md:OrganizationDisplayName xml:lang="es">La Sede</md:OrganizationDisplayName>
<md:OrganizationURL xml:lang="en">https://sp.example/en</md:OrganizationURL>
<md:OrganizationURL xml:lang="es">https://sp.example/es</md:OrganizationURL></md:Organization>`, "La Sede", "https://sp.example/es"},
		{"not https", `<md:Organization><md:OrganizationDisplayName xml:lang="en">X</md:OrganizationDisplayName>
<md:OrganizationURL xml:lang="es">javascript:alert(1)</md:OrganizationURL>
<md:OrganizationURL xml:lang="en">http://sp.example/</md:OrganizationURL></md:Organization>`, "X", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/md">
<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/>
</md:SPSSODescriptor>` + tt.org + `</md:EntityDescriptor>`
			md, err := parseSPMetadata([]byte(doc), nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if md.OrganizationName != tt.wantName || md.OrganizationURL != tt.wantURL {
				t.Fatalf("name %q url %q", md.OrganizationName, md.OrganizationURL)
			}
		})
	}
}
