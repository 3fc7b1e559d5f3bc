package saml2

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
)

// pluginDeps are the fixture's parts as the wiring hands them over.
func (f *fixture) pluginDeps(md func(entityID, ssoURL, sloURL string) ([]byte, error)) dialect.Deps {
	return dialect.Deps{
		Flow: f.ep.cfg.Flow, Registry: f.ep.cfg.Registry, Signer: f.ep.cfg.Signer, BaseURL: base,
		Guard: f.ep.cfg.Guard, IdPMetadata: md, Now: f.ep.cfg.Now, Rand: rand.Reader, Log: zap.NewNop(),
	}
}

// TestPluginNew: the endpoint is built at the base URL with the paths the
// old wiring used, from the wiring's parts.
func TestPluginNew(t *testing.T) {
	f := newFixture(t)
	if _, ok := Plugin.Rules.(Rules); !ok {
		t.Fatalf("Plugin.Rules = %T", Plugin.Rules)
	}
	deps := f.pluginDeps(nil)
	d, err := Plugin.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	ep, ok := d.(*Endpoint)
	if !ok {
		t.Fatalf("Plugin.New gave %T", d)
	}
	if _, ok := d.(bridge.LogoutDialect); !ok || d.Name() != DialectName {
		t.Fatalf("%s is not a logout dialect", d.Name())
	}
	c := ep.cfg
	if c.EntityID != base+"/saml2/metadata" || c.SSOURL != base+"/saml2/sso" || c.SLOURL != base+"/saml2/slo" {
		t.Fatalf("URLs: entityID %q, SSO %q, SLO %q", c.EntityID, c.SSOURL, c.SLOURL)
	}
	if c.Flow != deps.Flow || c.Signer.Key != deps.Signer.Key || c.Guard.Replay != deps.Guard.Replay || c.Guard.Skew != deps.Guard.Skew || c.Rand != deps.Rand ||
		c.Log != deps.Log || c.Now == nil || c.Registry == nil || c.Metadata == nil {
		t.Fatalf("parts not passed on: %+v", c)
	}
	if c.AssertionLifetime <= 0 {
		t.Fatal("no assertion lifetime")
	}
}

// TestRoutes: SSO and SLO in both bindings, metadata by GET.
func TestRoutes(t *testing.T) {
	f := newFixture(t)
	var got []string
	for _, r := range f.ep.Routes() {
		got = append(got, r.Method+" "+r.Path)
		doc := r.Path == "/saml2/metadata"
		if doc != (r.Document != nil) || doc != (r.Handle == nil) {
			t.Errorf("%s %s: a document %v, a handler %v", r.Method, r.Path, r.Document != nil, r.Handle != nil)
		}
		if doc && r.ContentType != "application/samlmetadata+xml" {
			t.Errorf("metadata served as %q", r.ContentType)
		}
	}
	slices.Sort(got)
	want := []string{"GET /saml2/metadata", "GET /saml2/slo", "GET /saml2/sso", "POST /saml2/slo", "POST /saml2/sso"}
	if !slices.Equal(got, want) {
		t.Fatalf("routes %v, want %v", got, want)
	}
}

// TestPluginMetadata: the metadata document is the IdP metadata for our
// entityID, SSO and SLO URLs; a failure to build it is the bridge's.
func TestPluginMetadata(t *testing.T) {
	f := newFixture(t)
	var asked []string
	ok := func(entityID, sso, slo string) ([]byte, error) {
		asked = []string{entityID, sso, slo}
		return []byte("<md:EntityDescriptor/>"), nil
	}
	failing := func(string, string, string) ([]byte, error) { return nil, errors.New("no key") }
	tests := []struct {
		name     string
		md       func(entityID, ssoURL, sloURL string) ([]byte, error)
		status   int
		wantBody string
	}{
		{"published", ok, http.StatusOK, "<md:EntityDescriptor/>"},
		{"failing", failing, http.StatusInternalServerError, ""},
		{"no publisher", nil, http.StatusInternalServerError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Plugin.New(f.pluginDeps(tt.md))
			if err != nil {
				t.Fatal(err)
			}
			s := web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
			s.Mount(d.Routes()...)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/saml2/metadata", nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %.300s", rec.Code, tt.status, rec.Body)
			}
			if tt.status != http.StatusOK {
				if strings.Contains(rec.Body.String(), "no key") {
					t.Fatal("the reason leaked to the page")
				}
				return
			}
			if rec.Body.String() != tt.wantBody || rec.Header().Get("Content-Type") != "application/samlmetadata+xml" {
				t.Fatalf("body %q as %q", rec.Body, rec.Header().Get("Content-Type"))
			}
			if !slices.Equal(asked, []string{base + "/saml2/metadata", base + "/saml2/sso", base + "/saml2/slo"}) {
				t.Fatalf("metadata asked for %v", asked)
			}
		})
	}
}

// TestPluginEndpointServes: the endpoint the plugin builds accepts
// requests addressed to its SSO URL and checks logout Destinations against
// its SLO URL.
func TestPluginEndpointServes(t *testing.T) {
	f := newFixture(t)
	d, err := Plugin.New(f.pluginDeps(nil))
	if err != nil {
		t.Fatal(err)
	}
	f.ep.cfg.Flow.Register(d)
	f.web = web.New(web.Options{Log: zap.NewNop(), Rand: rand.Reader})
	f.web.Mount(d.Routes()...)
	rec := f.postXML(t, f.signed(t, goodRequest(), f.sp), "")
	if rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
		t.Fatalf("status %d, upstream %d: %.300s", rec.Code, len(f.up.Begun), rec.Body)
	}
	if got := d.(*Endpoint).sloURL(); got != sloURL {
		t.Fatalf("SLO URL %q", got)
	}
}

// TestNormalizeKeepsState: the NameID format asked for is in the request's
// state, also when the request is refused (the flow renders the refusal
// from the request).
func TestNormalizeKeepsState(t *testing.T) {
	for name, change := range map[string]func(ar *clave2msg.AuthnRequest){
		"accepted": func(*clave2msg.AuthnRequest) {},
		"passive":  func(ar *clave2msg.AuthnRequest) { ar.IsPassive = true },
		"bad LoA": func(ar *clave2msg.AuthnRequest) {
			ar.Comparison = "better"
			ar.LoAs = []string{"http://eidas.europa.eu/LoA/high"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			ar := goodRequest()
			change(ar)
			req, err := f.ep.normalize(context.Background(), &inbound{sp: f.spReg, req: ar, acs: f.spReg.ACS[0], signed: true})
			var denied *bridge.RequestDenied
			if (name == "accepted") != (err == nil) || (err != nil && !errors.As(err, &denied)) {
				t.Fatalf("err = %v", err)
			}
			var st requestState
			if err := bridge.DecodeState(req.State, &st); err != nil || st.NameIDFormat != nameIDPersistent {
				t.Fatalf("state %s: %+v, %v", req.State, st, err)
			}
		})
	}
}

// TestSignedPostKeepsNameIDFormat: the request sent upstream carries the
// NameID format the SP asked for, for the answer.
func TestSignedPostKeepsNameIDFormat(t *testing.T) {
	f := newFixture(t)
	if rec := f.postXML(t, f.signed(t, goodRequest(), f.sp), ""); rec.Code != http.StatusOK || len(f.up.Begun) != 1 {
		t.Fatalf("status %d", rec.Code)
	}
	var st requestState
	if err := bridge.DecodeState(f.up.Begun[0].Request.State, &st); err != nil || st.NameIDFormat != nameIDPersistent {
		t.Fatalf("state %s: %+v, %v", f.up.Begun[0].Request.State, st, err)
	}
}

// TestUnreadableState: a state that is not the endpoint's is an error, not
// a guess at the NameID.
func TestUnreadableState(t *testing.T) {
	f := newFixture(t)
	bad := json.RawMessage(`["not", "ours"]`)
	req := &bridge.Request{SP: spID, ID: "_r1", ReturnURL: spACS, State: bad}
	if _, err := f.ep.Render(context.Background(), f.spReg, req, success()); err == nil {
		t.Fatal("rendered with an unreadable state")
	}
	f.spReg.Logout = []bridge.Endpoint{{URL: "https://sp.example/slo"}}
	p := bridge.Participant{SP: spID, Dialect: DialectName, TransientNameID: "_tn", Subject: "ES/ES/1", State: bad}
	if _, ok, err := f.ep.LogoutRequest(context.Background(), f.spReg, p, "_id", "r"); err == nil || ok {
		t.Fatalf("logout request with an unreadable state: ok %v, err %v", ok, err)
	}
}
