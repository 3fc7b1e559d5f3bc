package stork

// Shared fixture of the STORK endpoint's unit tests: an endpoint with a fake
// upstream and an in-memory registry, hand-written request templates signed
// at test time with the committed demo-sp key in each kit's layout, and
// helpers to read the answers posted back to the SP.

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/internal/bridgetest"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

const (
	stBase     = "https://bridge.example"
	stSSOURL   = stBase + SSOPath
	stProvider = "e00000001_miapp"
	stACS      = "https://sp.example.es/SP/ReturnPage"
	stACS2     = "https://sp.example.es/SP/OtherReturnPage"
	stGateway  = "https://gateway.example/Proxy2/ServiceProvider"
)

// stT0 is the IssueInstant of every template; the fixture's clock is a few
// seconds later.
var (
	stT0  = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	stNow = stT0.Add(20 * time.Second)
)

// stFixture is the endpoint on a web server, with its SP registered.
type stFixture struct {
	web      *web.Server
	ep       *Endpoint
	registry listRegistry // the registry, which can list its SPs
	up       *bridgetest.Upstream
	store    *store.Memory
	sp       samlxmltest.Pair // the SP's (demo-sp) key
	bridge   samlxmltest.Pair // the bridge's signing key
	reg      *bridge.ServiceProvider
	logs     *observer.ObservedLogs
}

// newStFixture registers SP e00000001_miapp (demo-sp certificate, two
// ACS URLs, legal persons allowed); change may edit the registration.
func newStFixture(t testing.TB, change ...func(*bridge.ServiceProvider)) *stFixture {
	t.Helper()
	f := &stFixture{up: &bridgetest.Upstream{URL: stGateway}, sp: samlxmltest.Committed(t, "demo-sp"), bridge: samlxmltest.Committed(t, "bridge-sign")}
	now := func() time.Time { return stNow }
	f.store = store.NewMemory(now, 0)
	f.reg = &bridge.ServiceProvider{
		ID: stProvider, Name: "Mi aplicación", Dialect: DialectName, SigningCerts: []*x509.Certificate{f.sp.Cert},
		ACS:                   []bridge.Endpoint{{URL: stACS, Index: 0}, {URL: stACS2, Index: 1}},
		Policy:                bridge.Policy{MinLoA: translate.LoALow, LegalPersons: true},
		RequireSignedRequests: true, SignatureAlgorithm: samlxml.RSASHA256, AttributeNames: "friendly",
	}
	for _, c := range change {
		c(f.reg)
	}
	f.registry = listRegistry{bridgetest.Registry{DialectName + " " + stProvider: f.reg}}
	core, logs := observer.New(zap.DebugLevel)
	f.logs = logs
	log := zap.New(core)
	fl := &flow.Flow{Store: f.store, Upstream: f.up, Registry: f.registry, Log: log, Now: now, Rand: rand.Reader, PendingTTL: time.Minute, Seal: bridgetest.Seal(t)}
	f.ep = New(Config{
		Flow: fl, Registry: f.registry, Signer: samlxml.Signer{Key: f.bridge.Key, Cert: f.bridge.Cert}, SSOURL: stSSOURL,
		Guard: bridge.RequestGuard{Replay: f.store, Now: now, Skew: 30 * time.Second},
		Now:   now, Rand: rand.Reader, Log: log,
	})
	fl.Register(f.ep)
	f.web = web.New(web.Options{Log: log, Rand: rand.Reader})
	f.web.Mount(f.ep.Routes()...)
	return f
}

// listRegistry is the fixture's registry: it can list its SPs, so that
// the endpoints can find an SP by its logout URL.
type listRegistry struct{ bridgetest.Registry }

func (r listRegistry) All() []*bridge.ServiceProvider {
	var out []*bridge.ServiceProvider
	for _, sp := range r.Registry {
		out = append(out, sp)
	}
	return out
}

// postForm POSTs form to /Proxy/ServiceProvider.
func (f *stFixture) postForm(form url.Values) *httptest.ResponseRecorder {
	return f.postRaw(form.Encode())
}

// postRaw POSTs an already encoded form body (to keep keys such as
// "idpList " with their trailing space, or repeated keys).
func (f *stFixture) postRaw(body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.web.ServeHTTP(rec, newFormRequest(body))
	return rec
}

func newFormRequest(body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, SSOPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// stLayout is how a kit lays out and signs its request.
type stLayout struct {
	name   string
	method string // signature method
	digest string // digest method
	// sigFirst moves the Signature before the Issuer, as RedIRIS' old
	// calculateXMLDsig did.
	sigFirst bool
	// xmlDecl prefixes the XML declaration, as the Java engine writes.
	xmlDecl bool
}

var (
	// layoutJava: the Java STORK engine (OpenSAML 2): rsa-sha256 over a SHA-1 digest.
	layoutJava = stLayout{name: "java", method: samlxml.RSASHA256, digest: samlxml.DigestSHA1, xmlDecl: true}
	// layoutRedIRIS: the RedIRIS SimpleSAMLphp module: rsa-sha512 + sha512, Signature first.
	layoutRedIRIS = stLayout{name: "rediris", method: samlxml.RSASHA512, digest: samlxml.DigestSHA512, sigFirst: true}
	// layoutPlain: rsa-sha256 + sha256, Signature after the Issuer.
	layoutPlain = stLayout{name: "plain", method: samlxml.RSASHA256, digest: samlxml.DigestSHA256}
)

// stTemplate parses testdata/requests/<name>.xml.
func stTemplate(t testing.TB, name string) *etree.Element {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "requests", name+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	root := doc.Root()
	doc.RemoveChildAt(root.Index())
	return root
}

// stSign signs el with key in layout l and serializes it.
func stSign(t testing.TB, el *etree.Element, key samlxmltest.Pair, l stLayout) []byte {
	t.Helper()
	signer := key.Signer(l.method)
	signer.Digest = l.digest
	if err := signer.Sign(el); err != nil {
		t.Fatal(err)
	}
	if l.sigFirst {
		sig := el.SelectElement("Signature")
		el.RemoveChild(sig)
		el.InsertChildAt(0, sig)
	}
	return stSerialize(t, el, l)
}

func stSerialize(t testing.TB, el *etree.Element, l stLayout) []byte {
	t.Helper()
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	if l.xmlDecl {
		xml = append([]byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"), xml...)
	}
	return xml
}

// stSigned loads template name, applies the changes and signs it with the
// SP's key in layout l.
func (f *stFixture) stSigned(t testing.TB, name string, l stLayout, changes ...func(*etree.Element)) []byte {
	t.Helper()
	el := stTemplate(t, name)
	for _, c := range changes {
		c(el)
	}
	return stSign(t, el, f.sp, l)
}

// samlForm is a form carrying xml as SAMLRequest plus the extra parameters
// (key, value pairs).
func samlForm(xml []byte, kv ...string) url.Values {
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return form
}

// setAttr changes (or removes, with value "") an attribute of the root.
func setAttr(key, value string) func(*etree.Element) {
	return func(el *etree.Element) {
		if value == "" {
			el.RemoveAttr(key)
			return
		}
		el.CreateAttr(key, value)
	}
}

// removeChild removes the first descendant element {ns}tag.
func removeChild(ns, tag string) func(*etree.Element) {
	return func(el *etree.Element) {
		var walk func(*etree.Element) bool
		walk = func(e *etree.Element) bool {
			for _, c := range e.ChildElements() {
				if samlxml.Is(c, ns, tag) {
					e.RemoveChild(c)
					return true
				}
				if walk(c) {
					return true
				}
			}
			return false
		}
		walk(el)
	}
}

// setText changes the text of the first descendant element {ns}tag.
func setText(ns, tag, text string) func(*etree.Element) {
	return func(el *etree.Element) {
		var walk func(*etree.Element) bool
		walk = func(e *etree.Element) bool {
			for _, c := range e.ChildElements() {
				if samlxml.Is(c, ns, tag) {
					c.SetText(text)
					return true
				}
				if walk(c) {
					return true
				}
			}
			return false
		}
		walk(el)
	}
}

var stFieldRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`)

// stPosted reads the auto-posting form of page: its action and fields.
func stPosted(t testing.TB, page string) (string, url.Values) {
	t.Helper()
	m := regexp.MustCompile(`<form[^>]*action="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no POST form in the page:\n%.600s", page)
	}
	fields := url.Values{}
	for _, fm := range stFieldRe.FindAllStringSubmatch(page, -1) {
		fields.Add(html.UnescapeString(fm[1]), html.UnescapeString(fm[2]))
	}
	return html.UnescapeString(m[1]), fields
}

// stAnswer reads the STORK answer a page posts to the SP's ACS and
// verifies the Response signature with the bridge's certificate.
func (f *stFixture) stAnswer(t testing.TB, rec *httptest.ResponseRecorder) (*etree.Element, url.Values) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %.600s", rec.Code, rec.Body)
	}
	action, fields := stPosted(t, rec.Body.String())
	if action != stACS && action != stACS2 {
		t.Fatalf("answer posted to %q, not to a registered ACS", action)
	}
	return f.verifyAnswer(t, fields.Get("SAMLResponse")), fields
}

// verifyAnswer decodes a SAMLResponse and verifies its signature.
func (f *stFixture) verifyAnswer(t testing.TB, b64 string) *etree.Element {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) == 0 {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := samlxml.Verifier{Certs: []*x509.Certificate{f.bridge.Cert}}.Verify(doc.Root())
	if err != nil {
		t.Fatalf("response signature: %v\n%s", err, raw)
	}
	return v.Element
}

// statusOf returns the top-level and second-level status codes and the message.
func statusOf(resp *etree.Element) (code, sub, msg string) {
	st, _ := samlxml.Child(resp, samlxml.NSProtocol, "Status")
	if st == nil {
		return "", "", ""
	}
	sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode")
	if sc != nil {
		code = sc.SelectAttrValue("Value", "")
		if s2, _ := samlxml.Child(sc, samlxml.NSProtocol, "StatusCode"); s2 != nil {
			sub = s2.SelectAttrValue("Value", "")
		}
	}
	msg, _ = samlxml.ChildText(st, samlxml.NSProtocol, "StatusMessage")
	return code, sub, msg
}

// storkAttr is one attribute of an answer, by its short name.
type storkAttr struct {
	Status string
	Values []string
}

// answerAttributes reads the first Assertion's attributes by the name after
// the last '/', as the kits do.
func answerAttributes(t testing.TB, resp *etree.Element) map[string]storkAttr {
	t.Helper()
	out := map[string]storkAttr{}
	as := samlxml.Children(resp, samlxml.NSAssertion, "Assertion")
	if len(as) == 0 {
		t.Fatal("no Assertion")
	}
	st, _ := samlxml.Child(as[0], samlxml.NSAssertion, "AttributeStatement")
	if st == nil {
		return out
	}
	for _, at := range samlxml.Children(st, samlxml.NSAssertion, "Attribute") {
		full := at.SelectAttrValue("Name", "")
		name := full[strings.LastIndex(full, "/")+1:]
		a := storkAttr{}
		for _, attr := range at.Attr {
			if attr.Key == "AttributeStatus" && attr.NamespaceURI() == NSStork {
				a.Status = attr.Value
			}
		}
		for _, v := range samlxml.Children(at, samlxml.NSAssertion, "AttributeValue") {
			a.Values = append(a.Values, v.Text())
		}
		if _, dup := out[name]; dup {
			t.Fatalf("attribute %s appears twice", name)
		}
		out[name] = a
	}
	return out
}

// stPartialAfirma builds a PartialAfirma value the way the simulator does
// (Cl@ve 2.0's partial @firma answer): base64 of a Partial_Afirma_Response
// with dss:Result and afxp:ReadableCertificateInfo.
func stPartialAfirma(t testing.TB, fields ...string) string {
	t.Helper()
	root := etree.NewElement("Partial_Afirma_Response")
	root.CreateAttr("xmlns:dss", "urn:oasis:names:tc:dss:1.0:core:schema")
	root.CreateAttr("xmlns:afxp", "urn:afirma:dss:1.0:profile:XSS:schema")
	root.CreateElement("dss:Result").CreateElement("dss:ResultMajor").SetText("urn:oasis:names:tc:SAML:1.0:status:Success")
	info := root.CreateElement("afxp:ReadableCertificateInfo")
	for i := 0; i+1 < len(fields); i += 2 {
		rf := info.CreateElement("afxp:ReadableField")
		rf.CreateElement("afxp:FieldIdentity").SetText(fields[i])
		rf.CreateElement("afxp:FieldValue").SetText(fields[i+1])
	}
	data, err := samlxml.Serialize(root)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(data)
}

// Certificate policy OIDs the simulator uses.
const (
	oidDNIe     = "2.16.724.1.2.2.2.3"
	oidSoftware = "1.3.6.1.4.1.5734.3.10.1"
	oidLegal    = "1.3.6.1.4.1.5734.3.11.1"
)

// attrs builds result attributes from name, value pairs.
func attrs(kv ...string) []bridge.Attribute {
	var out []bridge.Attribute
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, bridge.Attribute{Name: translate.Attr(kv[i]), Values: []string{kv[i+1]}})
	}
	return out
}

// stRequest is a canonical request as normalize builds it for these STORK
// attributes (name, required pairs as "name" or "name!").
func stRequest(t testing.TB, allowLegal bool, storkAttrs ...string) *bridge.Request {
	t.Helper()
	var requested []RequestedAttribute
	for _, a := range storkAttrs {
		requested = append(requested, RequestedAttribute{Name: strings.TrimSuffix(a, "!"), Required: strings.HasSuffix(a, "!")})
	}
	state, err := bridge.EncodeState(requestState{Issuer: "http://S-PEPS.gov.xx", Attributes: requested, AllowLegalPerson: allowLegal})
	if err != nil {
		t.Fatal(err)
	}
	req := &bridge.Request{
		SP: stProvider, Dialect: DialectName, ID: "_request1", ReturnURL: stACS, MinLoA: translate.LoALow,
		State: state,
	}
	if allowLegal {
		req.LegalPerson = true
	}
	return req
}
