package stork

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/web"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/requests")

// goldenView is what a golden file records about one request: the parsed
// AuthnRequest (with the requested attributes' values, which the JSON of
// AuthnRequest leaves out), the POST parameters, the canonical request the
// endpoint builds, and the IdP-disable attributes that go upstream.
type goldenView struct {
	Request          *AuthnRequest       `json:"request"`
	AttributeValues  map[string][]string `json:"attribute_values,omitempty"`
	Params           Params              `json:"params"`
	Disabled         []string            `json:"disabled_idps"`
	UpstreamDisabled []string            `json:"upstream_disable_attributes"`
	Canonical        *bridge.Request     `json:"canonical"`
}

// goldenCases are the request layouts seen in the wild, each with the POST
// parameters its kit sends. The raw bodies keep RedIRIS' "idpList " and
// "excludedIdPList " keys with their trailing space.
var goldenCases = []struct {
	name     string // template and golden file name
	layout   stLayout
	params   []string
	rawExtra string // appended to the encoded form as is
}{
	// (a) Java STORK engine: five namespaces on the root, Signature right
	// after Issuer, rsa-sha256 over a SHA-1 digest, AuthenticationAttributes.
	{"java", layoutJava, []string{"excludedIdPList", "aFirma;SS;", "forcedIdP", "none", "allowLegalPerson", "false"}, ""},
	// (b) RedIRIS SimpleSAMLphp module: Signature first, rsa-sha512 +
	// sha512, xs:string values, spCountry, ProviderName with the remote
	// application appended, trailing-space keys.
	{"rediris", layoutRedIRIS, []string{"allowLegalPerson", "true", "RelayState", "https://sp.rediris.example/return?x=1"},
		"&idpList+=aFirma%3BAEAT%3BSS&excludedIdPList+=SS"},
	// (c) other prefixes for the same namespaces.
	{"prefixes", layoutPlain, []string{"forcedIdP", "AEAT", "excludedIdPList", "AEAT;"}, ""},
	// (d) default namespaces everywhere, no optional attributes.
	{"defaultns", layoutPlain, nil, ""},
}

// TestStorkRequestGolden parses hand-written requests in each layout
// through the endpoint's own readRequest (an HTTP POST of the form) and
// compares what it reads with testdata/requests/<name>.golden.json
// (go test -run TestStorkRequestGolden -update rewrites them).
func TestStorkRequestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			f := newStFixture(t, allowSHA1)
			form := samlForm(f.stSigned(t, tc.name, tc.layout), tc.params...)
			body := form.Encode() + tc.rawExtra
			in, err := f.readRaw(body)
			if err != nil {
				t.Fatalf("readRequest: %v", err)
			}
			canonical, err := f.ep.normalize(context.Background(), in)
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			view := goldenView{Request: in.req, Params: in.params, Canonical: canonical}
			for _, a := range in.req.Attributes {
				if len(a.Values) > 0 {
					if view.AttributeValues == nil {
						view.AttributeValues = map[string][]string{}
					}
					view.AttributeValues[a.Name] = a.Values
				}
			}
			for _, idp := range in.params.Disabled() {
				view.Disabled = append(view.Disabled, string(idp))
				view.UpstreamDisabled = append(view.UpstreamDisabled, idp.DisableAttribute())
			}
			got, err := json.MarshalIndent(view, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "requests", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from what the parser reads now:\n--- got\n%s\n--- want\n%s", path, got, want)
			}

			// The same POST through the whole handler starts a login.
			f2 := newStFixture(t, allowSHA1)
			rec := f2.postRaw(samlForm(f2.stSigned(t, tc.name, tc.layout), tc.params...).Encode() + tc.rawExtra)
			if rec.Code != http.StatusOK || len(f2.up.Begun) != 1 {
				t.Fatalf("POST: status %d, %d logins upstream: %.500s", rec.Code, len(f2.up.Begun), rec.Body)
			}
			if action, _ := stPosted(t, rec.Body.String()); action != stGateway {
				t.Fatalf("POST went to %q, not upstream", action)
			}
		})
	}
}

// TestStorkSHA1LayoutNeedsLegacySHA1: the Java engine's SHA-1 digest is
// refused for an SP without legacy_sha1 and accepted with it; SHA-256/512
// layouts need no exception.
func TestStorkSHA1LayoutNeedsLegacySHA1(t *testing.T) {
	for _, tc := range []struct {
		name      string
		template  string
		layout    stLayout
		allowSHA1 bool
		ok        bool
	}{
		{"java sha1 digest, no legacy_sha1", "java", layoutJava, false, false},
		{"java sha1 digest, legacy_sha1", "java", layoutJava, true, true},
		{"rsa-sha1 method, no legacy_sha1", "java", stLayout{method: "http://www.w3.org/2000/09/xmldsig#rsa-sha1", digest: "http://www.w3.org/2000/09/xmldsig#sha1"}, false, false},
		{"rsa-sha1 method, legacy_sha1", "java", stLayout{method: "http://www.w3.org/2000/09/xmldsig#rsa-sha1", digest: "http://www.w3.org/2000/09/xmldsig#sha1"}, true, true},
		{"rediris sha512, no legacy_sha1", "rediris", layoutRedIRIS, false, true},
		{"sha256, no legacy_sha1", "prefixes", layoutPlain, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newStFixture(t, func(sp *bridge.ServiceProvider) { sp.AllowSHA1 = tc.allowSHA1 })
			rec := f.postForm(samlForm(f.stSigned(t, tc.template, tc.layout)))
			switch {
			case tc.ok && (rec.Code != http.StatusOK || len(f.up.Begun) != 1):
				t.Fatalf("refused: status %d: %.400s", rec.Code, rec.Body)
			case !tc.ok && (rec.Code != http.StatusBadRequest || len(f.up.Begun) != 0):
				t.Fatalf("accepted: status %d, %d logins upstream", rec.Code, len(f.up.Begun))
			}
		})
	}
}

func allowSHA1(sp *bridge.ServiceProvider) { sp.AllowSHA1 = true }

// readRaw runs readRequest on an encoded form body, POSTed.
func (f *stFixture) readRaw(body string) (*inbound, error) {
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, err
	}
	return f.ep.readRequest(&web.Input{Post: true, Form: form})
}
