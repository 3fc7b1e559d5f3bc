package server

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/store"
	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
	"github.com/clavebridge/clavebridge/translate"
)

// ---------------------------------------------------------------------------
// Recording store: every pending login taken (TakePending, or the replay
// mark that takes a login kept in the browser) and every PutSession is
// counted, so a refused message that consumed a pending login or created a
// session is caught.

type recordingStore struct {
	*store.Memory
	mu       sync.Mutex
	takes    int
	sessions int
	deletes  int
}

func (r *recordingStore) TakePending(ctx context.Context, id string) ([]byte, error) {
	v, err := r.Memory.TakePending(ctx, id)
	if err == nil {
		r.mu.Lock()
		r.takes++
		r.mu.Unlock()
	}
	return v, err
}

// MarkSeen counts the pending logins taken: a login is taken by marking
// its ID in the replay cache (the login itself lives in the browser).
func (r *recordingStore) MarkSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	first, err := r.Memory.MarkSeen(ctx, key, ttl)
	if first && err == nil && strings.HasPrefix(key, "login:") {
		r.mu.Lock()
		r.takes++
		r.mu.Unlock()
	}
	return first, err
}

func (r *recordingStore) PutSession(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	err := r.Memory.PutSession(ctx, id, value, ttl)
	if err == nil {
		r.mu.Lock()
		r.sessions++
		r.mu.Unlock()
	}
	return err
}

// UpdateSession counts as PutSession what it stores (an SSO reuse records
// its SP this way) and as DeleteSession what it deletes.
func (r *recordingStore) UpdateSession(ctx context.Context, id string, update func([]byte) ([]byte, error), ttl time.Duration) error {
	var wrote, deleted bool
	err := r.Memory.UpdateSession(ctx, id, func(old []byte) ([]byte, error) {
		v, err := update(old)
		wrote, deleted = err == nil && v != nil, err == nil && v == nil && old != nil
		return v, err
	}, ttl)
	if err == nil {
		r.mu.Lock()
		if wrote {
			r.sessions++
		}
		if deleted {
			r.deletes++
		}
		r.mu.Unlock()
	}
	return err
}

func (r *recordingStore) DeleteSession(ctx context.Context, id string) error {
	r.mu.Lock()
	r.deletes++
	r.mu.Unlock()
	return r.Memory.DeleteSession(ctx, id)
}

func (r *recordingStore) deleted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deletes
}

func (r *recordingStore) counts() (takes, sessions int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.takes, r.sessions
}

// attackHarness is startHarness with the recording store injected.
func attackHarness(t testing.TB, edit func(*config.Config)) (*harness, *recordingStore) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := exampleConfig(t, base, edit)
	core, logs := observer.New(zap.InfoLevel)
	rec := &recordingStore{Memory: store.NewMemory(time.Now, 0)}
	srv, err := New(cfg, zap.New(core), Options{Store: rec})
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv}}
	hs.Start()
	t.Cleanup(hs.Close)
	return &harness{URL: base, Server: srv, Browser: browser.New(http.DefaultTransport), Logs: logs}, rec
}

// ---------------------------------------------------------------------------
// Library variants (bridge/samlxml/attacks) are plugged in by
// attack_variants_test.go when that package exists; without it the suite
// runs the semantic attacks only.

type libKeys struct {
	Attacker     crypto.Signer
	AttackerCert *x509.Certificate
	Victim       *x509.Certificate
	Trusted      crypto.Signer
	TrustedCert  *x509.Certificate
}

type libVariant struct {
	Class string
	Name  string
	Apply func([]byte) ([]byte, error)
}

var libraryVariants func(libKeys) []libVariant

// libEvilMarker is the value the library variants inject (attacks.EvilMarker).
var libEvilMarker string

// ---------------------------------------------------------------------------
// Results table.

type tally struct{ passed, total int }

type results struct {
	mu    sync.Mutex
	cells map[[2]string]*tally
	eps   []string
}

func (r *results) add(class, ep string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{class, ep}
	c := r.cells[k]
	if c == nil {
		c = &tally{}
		r.cells[k] = c
	}
	c.total++
	if ok {
		c.passed++
	}
}

func (r *results) table() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	classSet := map[string]bool{}
	for k := range r.cells {
		classSet[k[0]] = true
	}
	var classes []string
	for c := range classSet {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	w, cw := len("class"), 0
	for _, c := range classes {
		w = max(w, len(c))
	}
	for _, ep := range r.eps {
		cw = max(cw, len(ep))
	}
	line := fmt.Sprintf("%-*s", w, "class")
	for _, ep := range r.eps {
		line += fmt.Sprintf(" | %-*s", cw, ep)
	}
	out := []string{line, strings.Repeat("-", len(line))}
	passed, failed := 0, 0
	for _, c := range classes {
		line := fmt.Sprintf("%-*s", w, c)
		for _, ep := range r.eps {
			cell := "-"
			if t := r.cells[[2]string{c, ep}]; t != nil {
				cell = fmt.Sprintf("%d/%d", t.passed, t.total)
				if t.passed != t.total {
					cell += " !"
				}
				passed += t.passed
				failed += t.total - t.passed
			}
			line += fmt.Sprintf(" | %-*s", cw, cell)
		}
		out = append(out, line)
	}
	out = append(out, fmt.Sprintf("%d passed, %d failed", passed, failed))
	return out
}

// ---------------------------------------------------------------------------
// Judging an answer.

type verdict int

const (
	vSuccess verdict = iota // a success went onward (gateway request or Success response)
	vRefused                // 4xx page, or a SAML error status at the registered return URL
	vBad                    // 5xx, an error at an unregistered URL, or anything unexpected
)

// judge classifies page; returnURLs are the SP's registered return URLs.
func judge(page *browser.Page, returnURLs ...string) (verdict, string) {
	switch {
	case page.Status == http.StatusServiceUnavailable:
		// The explained page of an SP the bridge cannot serve right now
		// (its metadata cannot be had): a refusal, not a failure.
		return vRefused, fmt.Sprintf("status %d", page.Status)
	case page.Status >= 500:
		return vBad, fmt.Sprintf("status %d", page.Status)
	case page.Status >= 400:
		return vRefused, fmt.Sprintf("status %d", page.Status)
	case page.Status != http.StatusOK || !page.IsAutoPost():
		return vBad, fmt.Sprintf("status %d, not an auto-posting form: %.300s", page.Status, page.Body)
	}
	f := page.Forms()[0]
	action, _ := page.URL.Parse(f.Action)
	registered := false
	for _, u := range returnURLs {
		registered = registered || action.String() == u
	}
	reqField, respField := "", ""
	for name := range f.Fields {
		switch name {
		case "SAMLRequest", "logoutRequest", "samlRequestLogout":
			reqField = name
		case "SAMLResponse", "logoutResponse", "samlResponseLogout":
			respField = name
		}
	}
	if reqField != "" {
		if registered {
			return vBad, "a request posted to the SP's return URL"
		}
		return vSuccess, "request posted onward to " + action.String()
	}
	raw, err := base64.StdEncoding.DecodeString(f.Fields.Get(respField))
	if err != nil || respField == "" {
		return vBad, "form without a decodable SAML message"
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return vBad, "unparsable SAMLResponse"
	}
	code := ""
	if st, _ := samlxml.Child(doc.Root(), samlxml.NSProtocol, "Status"); st != nil {
		if sc, _ := samlxml.Child(st, samlxml.NSProtocol, "StatusCode"); sc != nil {
			code = sc.SelectAttrValue("Value", "")
		}
	}
	if !registered {
		return vBad, fmt.Sprintf("response (%s) posted to unregistered %s", code, action)
	}
	if strings.HasSuffix(code, ":Success") {
		return vSuccess, "Success response posted to " + action.String()
	}
	return vRefused, "error status " + code + " posted to the SP"
}

// ---------------------------------------------------------------------------
// The runner.

type entry struct {
	name       string
	h          *harness
	rec        *recordingStore
	returnURLs []string
	res        *results
	// takeEndsLogin: an error status posted to the SP may consume the
	// pending login it answers (/upstream/acs).
	takeEndsLogin bool
	// keepsSessions: a refused message must not end a session (logout).
	keepsSessions bool
}

// expectSuccess is a positive control: it fails the (sub)test when the
// message does not go through.
func (e *entry) expectSuccess(t *testing.T, what string, page *browser.Page, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("positive control %s: %v", what, err)
	}
	if v, why := judge(page, e.returnURLs...); v != vSuccess {
		t.Fatalf("positive control %s did not succeed (%s): %.500s", what, why, page.Body)
	}
}

// attack runs one variant: send must produce a refusal with a logged reason,
// no consumed pending login and no new session.
func (e *entry) attack(t *testing.T, class, name string, send func() (*browser.Page, error), extra func(*testing.T, *browser.Page)) {
	t.Helper()
	t.Run(class+"/"+name, func(t *testing.T) {
		ok := false
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("panic: %v", r)
				ok = false
			}
			e.res.add(class, e.name, ok && !t.Failed())
		}()
		logsBefore := e.h.Logs.Len()
		takes, sessions := e.rec.counts()
		deletes := e.rec.deleted()
		page, err := send()
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		v, why := judge(page, e.returnURLs...)
		switch v {
		case vSuccess:
			t.Errorf("ACCEPTED (%s): security bug", why)
		case vBad:
			t.Errorf("bad answer: %s", why)
		}
		for _, l := range e.h.Logs.All()[logsBefore:] {
			m := l.ContextMap()
			if m["reason"] != nil || m["error"] != nil {
				t.Logf("logged %q: reason=%v error=%v", l.Message, m["reason"], m["error"])
			}
		}
		t.Logf("answer: %s", why)
		if !loggedReason(e.h.Logs.All()[logsBefore:]) {
			t.Errorf("no log entry (level ≥ info) with a reason or error")
		}
		if d := e.rec.deleted() - deletes; d != 0 && e.keepsSessions {
			t.Errorf("store: %d sessions deleted by a refused logout", d)
		}
		t2, s2 := e.rec.counts()
		if s2 != sessions {
			t.Errorf("store: %d sessions created", s2-sessions)
		}
		// A validly signed gateway answer that fails a later check ends its
		// login: the bridge takes the pending login to post the error to the
		// SP (upstream.Finish, by design). Anything else must leave it.
		endsLogin := e.takeEndsLogin && v == vRefused && page.Status == http.StatusOK
		if t2 != takes && !endsLogin {
			t.Errorf("store: %d pending logins taken", t2-takes)
		}
		if extra != nil {
			extra(t, page)
		}
		ok = true
	})
}

func loggedReason(entries []observer.LoggedEntry) bool {
	for _, e := range entries {
		if e.Level < zapcore.InfoLevel {
			continue
		}
		m := e.ContextMap()
		_, reason := m["reason"]
		_, errField := m["error"]
		if reason || errField {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Message builders.

var idSeq struct {
	sync.Mutex
	n int
}

func freshID() string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("_atk%d_%d", time.Now().UnixNano(), idSeq.n)
}

func signEl(t testing.TB, el *etree.Element, key samlxmltest.Pair, method string) []byte {
	t.Helper()
	if key.Key != nil {
		if err := key.Signer(method).Sign(el); err != nil {
			t.Fatal(err)
		}
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

func b64Form(xml []byte, relay string) url.Values {
	v := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)}}
	if relay != "" {
		v.Set("RelayState", relay)
	}
	return v
}

func deflateBomb() string {
	var bomb bytes.Buffer
	w, _ := flate.NewWriter(&bomb, flate.BestCompression)
	_, _ = w.Write(bytes.Repeat([]byte("A"), 20<<20))
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(bomb.Bytes())
}

// resignXML removes the root's signature, applies edit and signs the root
// again with key (no key: unsigned), keeping the original SignatureMethod.
func resignXML(t *testing.T, raw []byte, key samlxmltest.Pair, edit func(*etree.Element)) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	root := doc.Root().Copy()
	method := samlxml.RSASHA256
	if sig, _ := samlxml.Child(root, samlxml.NSDSig, "Signature"); sig != nil {
		if si, _ := samlxml.Child(sig, samlxml.NSDSig, "SignedInfo"); si != nil {
			if sm, _ := samlxml.Child(si, samlxml.NSDSig, "SignatureMethod"); sm != nil {
				method = sm.SelectAttrValue("Algorithm", method)
			}
		}
		root.RemoveChild(sig)
	}
	if edit != nil {
		edit(root)
	}
	return signEl(t, root, key, method)
}

func setAttr(name, value string) func(*etree.Element) {
	return func(r *etree.Element) { r.CreateAttr(name, value) }
}

func removeAttr(name string) func(*etree.Element) {
	return func(r *etree.Element) { r.RemoveAttr(name) }
}

var traceRE = regexp.MustCompile(`[0-9a-fA-F-]{16,}`)

// visibleError is what an observer learns from a refusal: the error page
// without its trace id, or the status of the SAML error posted to the SP.
func visibleError(p *browser.Page) string {
	fs := p.Forms()
	if len(fs) != 1 || fs[0].Fields.Get("SAMLResponse") == "" {
		return traceRE.ReplaceAllString(p.Body, "TRACE")
	}
	raw, _ := base64.StdEncoding.DecodeString(fs[0].Fields.Get("SAMLResponse"))
	doc := etree.NewDocument()
	if doc.ReadFromBytes(raw) != nil || doc.Root() == nil {
		return "unparsable"
	}
	st, _ := samlxml.Child(doc.Root(), samlxml.NSProtocol, "Status")
	if st == nil {
		return "no status"
	}
	out := ""
	for _, el := range st.FindElements(".//*") {
		out += el.Tag + "=" + el.SelectAttrValue("Value", "") + strings.TrimSpace(el.Text()) + ";"
	}
	return fmt.Sprintf("form to %s: %s", fs[0].Action, out)
}

// ---------------------------------------------------------------------------

func TestAttackSuite(t *testing.T) {
	res := &results{cells: map[[2]string]*tally{}, eps: []string{"saml2-post", "saml2-redirect", "clave2-post", "clave2-redirect", "stork-post", "upstream-acs", "saml2-slo", "saml2-slo-redirect", "clave2-logout", "stork-logout"}}
	res.eps = append(res.eps, moreEndpoints...)
	t.Run("saml2", func(t *testing.T) { attackSAML2(t, res) })
	t.Run("clave2", func(t *testing.T) { attackClave2(t, res) })
	t.Run("stork", func(t *testing.T) { attackStork(t, res) })
	t.Run("upstream-acs", func(t *testing.T) { attackUpstreamACS(t, res) })
	t.Run("logout", func(t *testing.T) { attackLogouts(t, res) })
	t.Run("more", func(t *testing.T) { attackMore(t, res) })
	slices.SortFunc(classAttacks, func(a, b classAttack) int { return strings.Compare(a.name, b.name) })
	for _, a := range classAttacks {
		t.Run(a.name, func(t *testing.T) { a.run(t, res) })
	}
	lines := res.table()
	table := os.Getenv("CLAVEBRIDGE_SECURITY_TABLE") == "1"
	for _, l := range lines {
		t.Log(l)
		if table {
			fmt.Println("SECURITY| " + l)
		}
	}
}

// classAttack is an attack class kept in a file of its own
// (attack_<class>_test.go), which registers it with registerClass.
type classAttack struct {
	name string
	run  func(*testing.T, *results)
}

// classAttacks are the registered classes, run after the others.
var classAttacks []classAttack

// registerClass adds an attack class to the suite (call it from init).
func registerClass(name string, run func(*testing.T, *results)) {
	classAttacks = append(classAttacks, classAttack{name: name, run: run})
}

// attackSAML2: /saml2/sso, POST and Redirect, as the demo SP.
func attackSAML2(t *testing.T, res *results) {
	h, rec := attackHarness(t, nil)
	sp := samlxmltest.Committed(t, "demo-sp")
	bridgeKey := samlxmltest.Committed(t, "bridge-sign")
	simKey := samlxmltest.Committed(t, "simulator-sign")
	attacker := samlxmltest.NewRSA(t, "attacker")
	sso := h.URL + "/saml2/sso"
	acs := h.URL + "/demo/saml2/acs"
	issuer := h.URL + "/demo/saml2/metadata"
	request := func(edit func(*clave2msg.AuthnRequest)) *clave2msg.AuthnRequest {
		ar := &clave2msg.AuthnRequest{
			ID: freshID(), IssueInstant: time.Now().UTC(), Destination: sso, ACS: acs, Issuer: issuer,
			NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", Comparison: "minimum",
			LoAs: []string{translate.LoASubstantial.EIDAS()},
		}
		if edit != nil {
			edit(ar)
		}
		return ar
	}
	post := func(v url.Values) func() (*browser.Page, error) {
		return func() (*browser.Page, error) { return browser.New(http.DefaultTransport).Post(sso, v) }
	}
	get := func(rawQuery string) func() (*browser.Page, error) {
		return func() (*browser.Page, error) {
			return browser.New(http.DefaultTransport).Get(sso + "?" + rawQuery)
		}
	}
	redirectQuery := func(t *testing.T, ar *clave2msg.AuthnRequest, relay string, key samlxmltest.Pair, method string) string {
		xml := signEl(t, ar.Element(), samlxmltest.Pair{}, "")
		var signer *samlxml.Signer
		if key.Key != nil {
			s := key.Signer(method)
			signer = &s
		}
		loc, err := samlxml.EncodeRedirect(sso, "SAMLRequest", xml, relay, signer)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(loc)
		return u.RawQuery
	}

	// semantic variants common to both bindings: (class, name, request edit, key)
	type semantic struct {
		class, name string
		edit        func(*clave2msg.AuthnRequest)
		key         samlxmltest.Pair
		relay       string
		extra       func(*testing.T, *browser.Page)
	}
	// escapedEcho: the RelayState comes back in the SP's form as exactly
	// one field with the same value, byte for byte (CR and LF are escaped as
	// character references, so the browser's normalisation keeps them),
	// never as markup or a header.
	escapedEcho := func(relay, raw string) func(*testing.T, *browser.Page) {
		return func(t *testing.T, p *browser.Page) {
			if raw != "" && strings.Contains(p.Body, raw) {
				t.Errorf("RelayState %q echoed unescaped", raw)
			}
			fs := p.Forms()
			if len(fs) != 1 || fs[0].Fields.Get("SAMLResponse") == "" {
				return // refused with a page: nothing echoed
			}
			if got := fs[0].Fields["RelayState"]; len(got) != 1 || got[0] != relay {
				t.Errorf("RelayState echoed as %q, want %q", got, relay)
			}
		}
	}
	passive := func(a *clave2msg.AuthnRequest) { a.IsPassive = true }
	semantics := []semantic{
		{"DestinationMismatch", "other destination", func(a *clave2msg.AuthnRequest) { a.Destination = "https://evil.example/saml2/sso" }, sp, "", nil},
		{"DestinationMismatch", "empty destination", func(a *clave2msg.AuthnRequest) { a.Destination = "" }, sp, "", nil},
		{"TimeWindow", "IssueInstant 1h ago", func(a *clave2msg.AuthnRequest) { a.IssueInstant = time.Now().Add(-time.Hour) }, sp, "", nil},
		{"TimeWindow", "IssueInstant 1h ahead", func(a *clave2msg.AuthnRequest) { a.IssueInstant = time.Now().Add(time.Hour) }, sp, "", nil},
		{"ACSOpenRedirect", "unregistered ACS", func(a *clave2msg.AuthnRequest) { a.ACS = "https://evil.example/acs" }, sp, "", nil},
		{"ACSOpenRedirect", "javascript ACS", func(a *clave2msg.AuthnRequest) { a.ACS = "javascript:alert(1)" }, sp, "", nil},
		{"ACSOpenRedirect", "ACS prefix of registered", func(a *clave2msg.AuthnRequest) { a.ACS = acs + ".evil.example" }, sp, "", nil},
		{"ACSOpenRedirect", "unregistered ACS index", func(a *clave2msg.AuthnRequest) { a.ACS, a.ACSIndex = "", "9" }, sp, "", nil},
		{"KeyConfusion", "signed with the bridge's key", nil, bridgeKey, "", nil},
		{"KeyConfusion", "signed with the simulator's key", nil, simKey, "", nil},
		{"SignatureExclusion", "attacker key", nil, attacker, "", nil},
		{"SignatureExclusion", "unsigned", nil, samlxmltest.Pair{}, "", nil},
		{"Issuer", "unknown issuer", func(a *clave2msg.AuthnRequest) { a.Issuer = "https://evil.example/metadata" }, sp, "", nil},
		{"FieldBounds", "ID of 257 bytes", func(a *clave2msg.AuthnRequest) { a.ID = "_" + strings.Repeat("a", clave2msg.MaxIDBytes) }, sp, "", nil},
		{"FieldBounds", "65 requested attributes", func(a *clave2msg.AuthnRequest) {
			for i := range clave2msg.MaxAttributes + 1 {
				a.Attributes = append(a.Attributes, clave2msg.RequestedAttribute{Name: fmt.Sprintf("urn:x:%d", i)})
			}
		}, sp, "", nil},
		{"FieldBounds", "ProviderName of 257 bytes", func(a *clave2msg.AuthnRequest) { a.ProviderName = strings.Repeat("p", clave2msg.MaxNameBytes+1) }, sp, "", nil},
		{"RelayState", "81 bytes", nil, sp, strings.Repeat("r", 81), nil},
		{"RelayState", "10 KiB", nil, sp, strings.Repeat("r", 10<<10), nil},
		{"RelayState", "quotes echoed escaped", passive, sp, `a"b'c`, escapedEcho(`a"b'c`, `a"b'c`)},
		{"RelayState", "script echoed escaped", passive, sp, `"><script>alert(1)</script>`, escapedEcho(`"><script>alert(1)</script>`, `<script>alert(1)`)},
		{"RelayState", "CRLF echoed escaped", passive, sp, "a\r\nSet-Cookie: x=1", escapedEcho("a\r\nSet-Cookie: x=1", "")},
	}

	t.Run("post", func(t *testing.T) {
		e := &entry{name: "saml2-post", h: h, rec: rec, returnURLs: []string{acs}, res: res}
		valid := signEl(t, request(nil).Element(), sp, samlxml.RSASHA256)
		page, err := post(b64Form(valid, "rs"))()
		e.expectSuccess(t, "signed POST AuthnRequest", page, err)
		e.attack(t, "Replay", "same request twice", post(b64Form(valid, "rs")), nil)
		for _, s := range semantics {
			xml := signEl(t, request(s.edit).Element(), s.key, samlxml.RSASHA256)
			e.attack(t, s.class, s.name, post(b64Form(xml, s.relay)), s.extra)
		}
		e.attack(t, "AlgorithmDowngrade", "rsa-sha1 by the SP's key", post(b64Form(signEl(t, request(nil).Element(), sp, samlxml.RSASHA1), "")), nil)
		e.attack(t, "DTD", "doctype", post(b64Form([]byte(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`), "")), nil)
		if libraryVariants != nil {
			keys := libKeys{Attacker: attacker.Key, AttackerCert: attacker.Cert, Victim: sp.Cert, Trusted: sp.Key, TrustedCert: sp.Cert}
			for _, v := range libraryVariants(keys) {
				msg, err := v.Apply(signEl(t, request(nil).Element(), sp, samlxml.RSASHA256))
				if err != nil {
					continue
				}
				e.attack(t, v.Class, v.Name, post(b64Form(msg, "")), nil)
			}
		}
	})

	t.Run("redirect", func(t *testing.T) {
		e := &entry{name: "saml2-redirect", h: h, rec: rec, returnURLs: []string{acs}, res: res}
		q := redirectQuery(t, request(nil), "rs", sp, samlxml.RSASHA256)
		page, err := get(q)()
		e.expectSuccess(t, "signed Redirect AuthnRequest", page, err)
		e.attack(t, "Replay", "same query twice", get(q), nil)
		for _, s := range semantics {
			e.attack(t, s.class, s.name, get(redirectQuery(t, request(s.edit), s.relay, s.key, samlxml.RSASHA256)), s.extra)
		}
		e.attack(t, "AlgorithmDowngrade", "SigAlg rsa-sha1 by the SP's key", get(redirectQuery(t, request(nil), "", sp, samlxml.RSASHA1)), nil)
		e.attack(t, "Size", "deflate bomb", get("SAMLRequest="+url.QueryEscape(deflateBomb())), nil)
		e.attack(t, "Size", "tampered after signing", get(strings.Replace(redirectQuery(t, request(nil), "abc", sp, samlxml.RSASHA256), "RelayState=abc", "RelayState=abd", 1)), nil)
	})
}

// ---------------------------------------------------------------------------
// /upstream/acs: intercept the simulator's answer and mutate it.

func attackUpstreamACS(t *testing.T, res *results) {
	h, rec := attackHarness(t, autoLogin("SEGSOC", "00000000T", ""))
	sim := samlxmltest.Committed(t, "simulator-sign")
	bridgeKey := samlxmltest.Committed(t, "bridge-sign")
	attacker := samlxmltest.NewRSA(t, "attacker")
	acs := h.URL + "/upstream/acs"
	e := &entry{name: "upstream-acs", h: h, rec: rec, returnURLs: []string{h.URL + "/demo/saml2/acs"}, res: res, takeEndsLogin: true}

	// intercept starts a demo login in a fresh browser and returns the form
	// the simulator posts to /upstream/acs.
	intercept := func(t *testing.T) (*browser.Browser, browser.Form, []byte) {
		t.Helper()
		b := browser.New(http.DefaultTransport)
		page, err := b.Post(h.URL+"/demo/saml2/login", url.Values{"loa": {"substantial"}, "binding": {"post"}})
		if err != nil {
			t.Fatal(err)
		}
		_, form, err := b.FollowPosts(page, func(f browser.Form) bool { return f.Action == acs })
		if err != nil || form == nil {
			t.Fatalf("no form posted to %s (err %v)", acs, err)
		}
		raw, err := base64.StdEncoding.DecodeString(form.Fields.Get("SAMLResponse"))
		if err != nil {
			t.Fatal(err)
		}
		return b, *form, raw
	}
	postWith := func(b *browser.Browser, form browser.Form, xml []byte) func() (*browser.Page, error) {
		f := url.Values{}
		for k, v := range form.Fields {
			f[k] = v
		}
		f.Set("SAMLResponse", base64.StdEncoding.EncodeToString(xml))
		return func() (*browser.Page, error) { return b.Post(form.Action, f) }
	}
	resign := resignXML
	cipherValues := func(r *etree.Element) []*etree.Element {
		return r.FindElements("//CipherValue")
	}

	// Positive controls: as received, and re-signed by the simulator's key.
	b, form, raw := intercept(t)
	page, err := postWith(b, form, raw)()
	e.expectSuccess(t, "simulator response", page, err)
	e.attack(t, "Replay", "same response twice", postWith(b, form, raw), nil)
	b2, form2, raw2 := intercept(t)
	page, err = postWith(b2, form2, resign(t, raw2, sim, nil))()
	e.expectSuccess(t, "re-signed simulator response", page, err)

	b3, form3, raw3 := intercept(t)
	page, err = postWith(b3, form3, reencrypt(t, raw3, sim, nil))()
	e.expectSuccess(t, "re-encrypted and re-signed simulator response", page, err)

	type variant = struct {
		class, name string
		build       func(t *testing.T, raw []byte) []byte
	}
	variants := []variant{
		{"InResponseTo", "mismatch", func(t *testing.T, raw []byte) []byte {
			return resign(t, raw, sim, setAttr("InResponseTo", "_not-the-pending-id"))
		}},
		{"InResponseTo", "absent (unsolicited)", func(t *testing.T, raw []byte) []byte {
			return resign(t, raw, sim, removeAttr("InResponseTo"))
		}},
		{"DestinationMismatch", "other destination", func(t *testing.T, raw []byte) []byte {
			return resign(t, raw, sim, setAttr("Destination", "https://evil.example/upstream/acs"))
		}},
		{"TimeWindow", "IssueInstant 1h ago", func(t *testing.T, raw []byte) []byte {
			return resign(t, raw, sim, setAttr("IssueInstant", samlxml.FormatTime(time.Now().Add(-time.Hour))))
		}},
		{"TimeWindow", "IssueInstant 1h ahead", func(t *testing.T, raw []byte) []byte {
			return resign(t, raw, sim, setAttr("IssueInstant", samlxml.FormatTime(time.Now().Add(time.Hour))))
		}},
		{"KeyConfusion", "signed with the bridge's key", func(t *testing.T, raw []byte) []byte { return resign(t, raw, bridgeKey, nil) }},
		{"SignatureExclusion", "attacker key", func(t *testing.T, raw []byte) []byte { return resign(t, raw, attacker, nil) }},
		{"SignatureExclusion", "unsigned", func(t *testing.T, raw []byte) []byte { return resign(t, raw, samlxmltest.Pair{}, nil) }},
		{"SignatureExclusion", "tampered after signing", func(t *testing.T, raw []byte) []byte {
			return bytes.Replace(raw, []byte(`Destination="`), []byte(`Destination="x`), 1)
		}},
	}
	variants = append(variants, assertionVariants(sim)...)
	for _, v := range variants {
		b, form, raw := intercept(t)
		e.attack(t, v.class, v.name, postWith(b, form, v.build(t, raw)), nil)
	}
	if libraryVariants != nil {
		keys := libKeys{Attacker: attacker.Key, AttackerCert: attacker.Cert, Victim: sim.Cert, Trusted: sim.Key, TrustedCert: sim.Cert}
		for _, v := range libraryVariants(keys) {
			b, form, raw := intercept(t)
			msg, err := v.Apply(raw)
			if err != nil {
				continue // does not apply; the pending login just expires
			}
			e.attack(t, v.Class, v.Name, postWith(b, form, msg), nil)
		}
	}
	{
		b, form, raw := intercept(t)
		tampered := form
		tampered.Fields = url.Values{}
		for k, v := range form.Fields {
			tampered.Fields[k] = v
		}
		tampered.Fields.Set("RelayState", form.Fields.Get("RelayState")+"x")
		e.attack(t, "RelayState", "RelayState field changed", postWith(b, tampered, raw), nil)
	}
	{
		_, form, raw := intercept(t)
		e.attack(t, "InResponseTo", "posted from another browser", postWith(browser.New(http.DefaultTransport), form, raw), nil)
	}

	// Encryption oracles: three different decryption failures, validly
	// signed by the simulator, must be indistinguishable.
	oracle := []variant{
		{"EncryptionOracle", "tampered data CipherValue", func(t *testing.T, raw []byte) []byte {
			return resign(t, raw, sim, func(r *etree.Element) {
				cv := cipherValues(r)
				last := cv[len(cv)-1]
				data, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(last.Text()))
				if len(data) > 20 {
					data[len(data)/2] ^= 0x55
				}
				last.SetText(base64.StdEncoding.EncodeToString(data))
			})
		}},
		{"EncryptionOracle", "wrong transport key", func(t *testing.T, raw []byte) []byte {
			return resign(t, raw, sim, func(r *etree.Element) {
				cv := cipherValues(r)
				first := cv[0]
				data, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(first.Text()))
				for i := range data {
					data[i] ^= byte(i)
				}
				first.SetText(base64.StdEncoding.EncodeToString(data))
			})
		}},
		{"EncryptionOracle", "CBC data algorithm", func(t *testing.T, raw []byte) []byte {
			return resign(t, raw, sim, func(r *etree.Element) {
				for _, em := range r.FindElements("//EncryptionMethod") {
					if strings.Contains(em.SelectAttrValue("Algorithm", ""), "gcm") {
						em.CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmlenc#aes256-cbc")
					}
				}
			})
		}},
	}
	var bodies []string
	var statuses []int
	for _, v := range oracle {
		b, form, raw := intercept(t)
		xml := v.build(t, raw)
		e.attack(t, v.class, v.name, postWith(b, form, xml), func(t *testing.T, p *browser.Page) {
			statuses = append(statuses, p.Status)
			bodies = append(bodies, visibleError(p))
		})
	}
	same := len(bodies) == len(oracle)
	for i := 1; same && i < len(bodies); i++ {
		same = bodies[i] == bodies[0] && statuses[i] == statuses[0]
	}
	res.add("EncryptionOracle", e.name, same)
	if !same {
		t.Errorf("encryption failures are distinguishable: statuses %v, bodies:\n%s", statuses, strings.Join(bodies, "\n----\n"))
	}
}
