package simulator

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web/i18n"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	testBaseURL      = "http://gateway.test"
	testACS          = "https://bridge.test/upstream/acs"
	testRelay        = "Xy7pQ2aZ"
	testProvider     = "Q2891006E_EA0009994;test"
	testCitizensFile = "../../testdata/citizens.yaml"
)

// testClock is the fixed time of every fixture.
var testClock = time.Date(2025, 1, 10, 10, 0, 0, 0, time.UTC)

// identity is a test key pair from testdata.
type identity struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func loadIdentity(t testing.TB, name string) identity {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join("testdata", name+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join("testdata", name+"-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := samlxml.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := samlxml.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return identity{key: key, cert: cert}
}

func (id identity) signer() samlxml.Signer {
	return samlxml.Signer{Key: id.key, Cert: id.cert, Method: samlxml.RSASHA512, IncludeCert: true}
}

// fixture plays the bridge against one simulator behind an echo instance.
type fixture struct {
	t        testing.TB
	e        *echo.Echo
	sim      *Simulator
	now      time.Time
	bridge   identity
	gateway  identity
	stranger identity
	logs     *observer.ObservedLogs
	nextID   int
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	citizens, err := LoadCitizens(testCitizensFile)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	f := &fixture{t: t, e: echo.New(), now: testClock, logs: logs,
		bridge: loadIdentity(t, "bridge"), gateway: loadIdentity(t, "gateway"), stranger: loadIdentity(t, "stranger")}
	cfg := Config{
		BaseURL:     testBaseURL,
		Signer:      samlxml.Signer{Key: f.gateway.key, Cert: f.gateway.cert},
		BridgeCerts: []*x509.Certificate{f.bridge.cert},
		Citizens:    citizens,
		Now:         func() time.Time { return f.now },
		Rand:        rand.NewChaCha8([32]byte{1, 2, 3}),
		Log:         zap.New(core),
	}
	if mod != nil {
		mod(&cfg)
	}
	if f.sim, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	f.sim.Mount(f.e)
	return f
}

// requested builds requested attributes for eIDAS attribute names.
func requested(attrs ...translate.Attr) []clave2msg.RequestedAttribute {
	var out []clave2msg.RequestedAttribute
	for _, a := range attrs {
		w, _ := translate.Wire(a)
		out = append(out, clave2msg.RequestedAttribute{Name: w.Name, FriendlyName: w.FriendlyName, Required: a == translate.AttrPersonIdentifier})
	}
	return out
}

func relayAttr(values ...string) clave2msg.RequestedAttribute {
	return clave2msg.RequestedAttribute{Name: translate.ClaveRelayStateAttr, FriendlyName: "RelayState", Values: values}
}

func disable(idps ...translate.IdP) []clave2msg.RequestedAttribute {
	var out []clave2msg.RequestedAttribute
	for _, p := range idps {
		out = append(out, clave2msg.RequestedAttribute{Name: p.DisableAttribute(), FriendlyName: string(p) + "IdP"})
	}
	return out
}

// allAttrs are the attributes a default request asks for.
var allAttrs = []translate.Attr{translate.AttrPersonIdentifier, translate.AttrGivenName, translate.AttrFamilyName,
	translate.AttrDateOfBirth, translate.AttrPartialAfirma, translate.AttrLegalPersonIdentifier, translate.AttrLegalName}

// request is a valid Cl@ve 2.0 AuthnRequest at level loa.
func (f *fixture) request(loa translate.LoA) *clave2msg.AuthnRequest {
	f.nextID++
	return &clave2msg.AuthnRequest{
		ID:              fmt.Sprintf("_req%04d", f.nextID),
		IssueInstant:    f.now,
		Destination:     testBaseURL + "/sim/Proxy2/ServiceProvider",
		ACS:             testACS,
		ProviderName:    testProvider,
		ForceAuthn:      true,
		Consent:         clave2msg.ConsentUnspec,
		NameIDFormat:    clave2msg.NameIDUnspec,
		HasNameIDPolicy: true,
		Attributes:      append(requested(allAttrs...), relayAttr(testRelay)),
		Comparison:      "minimum",
		LoAs:            []string{loa.EIDAS()},
	}
}

// signed serializes req signed by id (unsigned when id.key is nil).
func (f *fixture) signed(req *clave2msg.AuthnRequest, id identity) []byte {
	f.t.Helper()
	el := req.Element()
	if id.key != nil {
		if err := id.signer().Sign(el); err != nil {
			f.t.Fatal(err)
		}
	}
	data, err := serialize(el)
	if err != nil {
		f.t.Fatal(err)
	}
	return data
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

// do sends a request to the echo instance.
func (f *fixture) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	return rec
}

// sso POSTs a SAMLRequest value and a RelayState to the gateway.
func (f *fixture) sso(samlRequest, relay string) *httptest.ResponseRecorder {
	return f.do(http.MethodPost, "/sim/Proxy2/ServiceProvider", url.Values{"SAMLRequest": {samlRequest}, "RelayState": {relay}})
}

// start sends a signed req and returns the selection page and its login id.
func (f *fixture) start(req *clave2msg.AuthnRequest) (string, string) {
	f.t.Helper()
	rec := f.sso(b64(f.signed(req, f.bridge)), testRelay)
	if rec.Code != http.StatusOK {
		f.t.Fatalf("SSO answered %d: %s", rec.Code, rec.Body)
	}
	id := loginID(f.t, rec.Body.String())
	return id, rec.Body.String()
}

// submit posts a page of login id with fields given as name, value pairs.
func (f *fixture) submit(id string, pairs ...string) *httptest.ResponseRecorder {
	form := url.Values{"login": {id}}
	for i := 0; i+1 < len(pairs); i += 2 {
		form.Set(pairs[i], pairs[i+1])
	}
	return f.do(http.MethodPost, "/sim/Proxy2/Login", form)
}

var (
	loginRe  = regexp.MustCompile(`name="login" value="([0-9a-f]+)"`)
	idpRe    = regexp.MustCompile(`name="idp" value="([A-Z0-9]+)"`)
	certRe   = regexp.MustCompile(`value="(\d+)" data-kind="([a-z]+)" required>\s*<label for="cert-\d+">([^<]*)</label>`)
	smsRe    = regexp.MustCompile(`<output id="sms-code">(\d{6})</output>`)
	alertRe  = regexp.MustCompile(`<p class="[^"]*" role="alert" id="error">([^<]*)</p>`)
	actionRe = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	titleRe  = regexp.MustCompile(`<h1>([^<]*)</h1>`)
)

// es is the Spanish catalog's text of key (the pages' language when the
// request chooses none).
func es(key string, args ...string) string {
	b, err := i18n.Embedded()
	if err != nil {
		panic(err)
	}
	return b.Localizer("es").T(key, args...)
}

func loginID(t testing.TB, page string) string {
	t.Helper()
	m := loginRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no login id on page:\n%s", page)
	}
	return m[1]
}

func titleOf(page string) string {
	if m := titleRe.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// idpsOffered lists the IdP buttons of a selection page.
func idpsOffered(page string) []string {
	var out []string
	for _, m := range idpRe.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// certOffered returns the value of the certificate whose kind (its
// data-kind) and label have all parts, compared case-insensitively.
func certOffered(page string, parts ...string) (string, bool) {
	for _, m := range certRe.FindAllStringSubmatch(page, -1) {
		label, ok := strings.ToLower(m[2]+" "+html.UnescapeString(m[3])), true
		for _, p := range parts {
			ok = ok && strings.Contains(label, strings.ToLower(p))
		}
		if ok {
			return m[1], true
		}
	}
	return "", false
}
