package server

// Interoperability with xmlsec1 (the reference XML-DSig implementation) and
// Debian's python3-cryptography, plus the helpers every interop test of this
// package shares (peer detection, temp files, capturing a login's messages).

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/internal/browser"
	"github.com/clavebridge/clavebridge/internal/peertest"
	"github.com/clavebridge/clavebridge/internal/samlxmltest"
)

// Real peers, as Debian bookworm installs them.
const (
	xmlsec1Bin = "xmlsec1"
	python3Bin = "/usr/bin/python3" // Debian's, with python3-pysaml2 and python3-cryptography
)

// requirePeer stops the test when a peer is missing (peertest.Missing).
func requirePeer(t *testing.T, name string, check func() bool) {
	t.Helper()
	if !check() {
		peertest.Missing(t, "interop peer "+name+" is not installed (Debian: apt-get install xmlsec1 python3-pysaml2 python3-cryptography)")
	}
}

// peerRuns reports whether name runs with args and exits 0.
func peerRuns(name string, args ...string) func() bool {
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, name, args...).Run() == nil
	}
}

var (
	haveXmlsec1       = peerRuns(xmlsec1Bin, "--version")
	havePySAML2       = pythonFinds("saml2")
	haveCryptography  = pythonFinds("cryptography")
	pySAML2AndXmlsec1 = func() bool { return havePySAML2() && peerRuns("/usr/bin/xmlsec1", "--version")() }
)

// pythonFinds reports whether Debian's python3 finds module (without
// importing it, which is slow).
func pythonFinds(module string) func() bool {
	return peerRuns(python3Bin, "-c",
		"import importlib.util, sys; sys.exit(importlib.util.find_spec(sys.argv[1]) is None)", module)
}

// runPeer executes a peer with stdin and returns stdout; the error carries stderr.
func runPeer(t *testing.T, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &peerError{err: err, stderr: stderr.String() + stdout.String()}
	}
	return stdout.Bytes(), nil
}

type peerError struct {
	err    error
	stderr string
}

func (e *peerError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }

func runXmlsec1(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := runPeer(t, nil, xmlsec1Bin, args...)
	return string(out), err
}

func writeInteropFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// repoPath is a path under the repository root.
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{samlxmltest.RepoRoot()}, parts...)...)
}

// writeInteropPair writes a test key pair as PEM files and returns their paths.
func writeInteropPair(t *testing.T, dir, name string, p samlxmltest.Pair) (certFile, keyFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeInteropFile(t, dir, name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw}))
	keyFile = writeInteropFile(t, dir, name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return certFile, keyFile
}

// fetchOK GETs u and fails the test unless it answers 200.
func fetchOK(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", u, resp.StatusCode, body)
	}
	return body
}

// interopCapture holds the three messages of one login through the bridge.
type interopCapture struct {
	UpstreamRequest  *browser.Form // bridge → simulator (SAMLRequest)
	UpstreamResponse *browser.Form // simulator → bridge /upstream/acs (SAMLResponse)
	SPResponse       *browser.Form // bridge → SP ACS (SAMLResponse), not posted
	Last             *browser.Page // the page the browser stopped on
}

// followInteropLogin follows the auto-posted forms from page, recording the
// upstream messages, and stops before posting to the SP's ACS.
func followInteropLogin(t *testing.T, h *harness, page *browser.Page, spACS string) *interopCapture {
	t.Helper()
	lc := &interopCapture{}
	stop := func(f browser.Form) bool {
		f2 := f
		switch {
		case f.Action == spACS:
			return true
		case strings.HasSuffix(f.Action, "/sim/Proxy2/ServiceProvider"):
			lc.UpstreamRequest = &f2
		case strings.HasSuffix(f.Action, "/upstream/acs"):
			lc.UpstreamResponse = &f2
		}
		return false
	}
	last, form, err := h.Browser.FollowPosts(page, stop)
	if err != nil {
		t.Fatal(err)
	}
	lc.Last, lc.SPResponse = last, form
	if form == nil {
		t.Fatalf("the login never posted to the SP's ACS %s; stopped at %s (status %d):\n%.3000s",
			spACS, last.URL, last.Status, last.Body)
	}
	return lc
}

// decodeSAMLField base64-decodes a SAML POST field.
func decodeSAMLField(t *testing.T, f *browser.Form, name string) []byte {
	t.Helper()
	if f == nil {
		t.Fatalf("no form captured carrying %s", name)
	}
	raw, err := base64.StdEncoding.DecodeString(f.Fields.Get(name))
	if err != nil || len(raw) == 0 {
		t.Fatalf("form to %s: %s is not base64 (%v)", f.Action, name, err)
	}
	return raw
}

var samlIDAttrRe = regexp.MustCompile(`<(?:[\w-]+:)?(Response|Assertion)\b[^>]*?\sID="([^"]+)"`)

// samlMessageIDs returns the ID attributes of the Response and Assertion elements.
func samlMessageIDs(t *testing.T, doc []byte) (response, assertion string) {
	t.Helper()
	for _, m := range samlIDAttrRe.FindAllStringSubmatch(string(doc), -1) {
		switch {
		case m[1] == "Response" && response == "":
			response = m[2]
		case m[1] == "Assertion" && assertion == "":
			assertion = m[2]
		}
	}
	if response == "" {
		t.Fatalf("no Response ID in:\n%s", doc)
	}
	return response, assertion
}

// replaceOnce replaces old once and fails the test if old is absent.
func replaceOnce(t *testing.T, doc []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(doc, []byte(old)) {
		t.Fatalf("%q not found in:\n%s", old, doc)
	}
	return bytes.Replace(doc, []byte(old), []byte(new), 1)
}

const (
	xmlnsSAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
	xmlnsSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	xmlnsMD    = "urn:oasis:names:tc:SAML:2.0:metadata"
)

// xmlsecVerify runs xmlsec1 --verify with ID attributes declared for the
// SAML elements, trusting only certFile; node, if set, is the ID of the
// element whose own signature must be checked (else the first one found).
func xmlsecVerify(t *testing.T, file, certFile, node string) (string, error) {
	t.Helper()
	args := []string{"--verify",
		"--id-attr:ID", xmlnsSAMLP + ":Response",
		"--id-attr:ID", xmlnsSAMLP + ":AuthnRequest",
		"--id-attr:ID", xmlnsSAML + ":Assertion",
		"--id-attr:ID", xmlnsMD + ":EntityDescriptor",
		"--pubkey-cert-pem", certFile,
	}
	if node != "" {
		args = append(args, "--node-id", node)
	}
	return runXmlsec1(t, append(args, file)...)
}

// expectXmlsecVerify asserts xmlsec1's verdict on file.
func expectXmlsecVerify(t *testing.T, what, file, certFile, node string, ok bool) {
	t.Helper()
	out, err := xmlsecVerify(t, file, certFile, node)
	switch {
	case ok && err != nil:
		data, _ := os.ReadFile(file)
		t.Errorf("xmlsec1 rejected %s (node %q, cert %s): %v\n%s\n%.4000s", what, node, filepath.Base(certFile), err, out, data)
	case !ok && err == nil:
		t.Errorf("xmlsec1 accepted %s (node %q, cert %s), want a refusal:\n%s", what, node, filepath.Base(certFile), out)
	}
}

func TestXmlsec1VerifiesMetadataAndResponses(t *testing.T) {
	requirePeer(t, "xmlsec1", haveXmlsec1)
	h := startHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	dir := t.TempDir()
	bridgeCert := repoPath("testdata", "keys", "bridge-sign.crt")
	simCert := repoPath("testdata", "keys", "simulator-sign.crt")
	otherCert := repoPath("testdata", "keys", "demo-sp.crt")

	t.Run("metadata", func(t *testing.T) {
		for _, path := range []string{"/saml2/metadata", "/upstream/metadata"} {
			md := fetchOK(t, h.URL+path)
			name := strings.ReplaceAll(strings.Trim(path, "/"), "/", "-")
			file := writeInteropFile(t, dir, name+".xml", md)
			expectXmlsecVerify(t, path, file, bridgeCert, "", true)
			entityID := `entityID="` + h.URL + path + `"`
			tampered := replaceOnce(t, md, entityID, `entityID="`+h.URL+path+`-evil"`)
			expectXmlsecVerify(t, path+" with a changed entityID", writeInteropFile(t, dir, name+"-tampered.xml", tampered), bridgeCert, "", false)
			expectXmlsecVerify(t, path+" against another certificate", file, otherCert, "", false)
		}
	})

	lc := followInteropLogin(t, h, h.demoLoginPage(t, url.Values{"loa": {"low"}, "binding": {"post"}}), h.URL+"/demo/saml2/acs")

	t.Run("bridge Response and Assertion to the SP", func(t *testing.T) {
		doc := decodeSAMLField(t, lc.SPResponse, "SAMLResponse")
		respID, assertID := samlMessageIDs(t, doc)
		if assertID == "" {
			t.Fatalf("the Response carries no plain Assertion:\n%s", doc)
		}
		if n := bytes.Count(doc, []byte(`SignatureValue>`)); n != 4 { // open+close, twice
			t.Fatalf("want a Response signature and an Assertion signature, found %d SignatureValue tags:\n%s", n/2, doc)
		}
		file := writeInteropFile(t, dir, "sp-response.xml", doc)
		// Both signatures, each checked on its own by pointing xmlsec1 at
		// the signed element.
		expectXmlsecVerify(t, "the Response signature", file, bridgeCert, respID, true)
		expectXmlsecVerify(t, "the Assertion signature", file, bridgeCert, assertID, true)
		expectXmlsecVerify(t, "the Response against another certificate", file, otherCert, respID, false)
		expectXmlsecVerify(t, "the Assertion against another certificate", file, otherCert, assertID, false)

		// A change inside the Assertion breaks both signatures.
		inside := writeInteropFile(t, dir, "sp-response-inside.xml", replaceOnce(t, doc, ">JUAN<", ">JUANA<"))
		expectXmlsecVerify(t, "the Response with a changed FirstName", inside, bridgeCert, respID, false)
		expectXmlsecVerify(t, "the Assertion with a changed FirstName", inside, bridgeCert, assertID, false)
		// A change outside it breaks the Response's only, which proves the
		// two runs check different signatures.
		outside := writeInteropFile(t, dir, "sp-response-outside.xml",
			replaceOnce(t, doc, `Destination="`+h.URL+`/demo/saml2/acs"`, `Destination="https://evil.example/acs"`))
		expectXmlsecVerify(t, "the Response with a changed Destination", outside, bridgeCert, respID, false)
		expectXmlsecVerify(t, "the Assertion of a Response with a changed Destination", outside, bridgeCert, assertID, true)
	})

	t.Run("bridge AuthnRequest to the gateway", func(t *testing.T) {
		doc := decodeSAMLField(t, lc.UpstreamRequest, "SAMLRequest")
		if !bytes.Contains(doc, []byte(`Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"`)) {
			t.Errorf("the upstream AuthnRequest is not signed with rsa-sha512:\n%s", doc)
		}
		file := writeInteropFile(t, dir, "upstream-request.xml", doc)
		expectXmlsecVerify(t, "the upstream AuthnRequest", file, bridgeCert, "", true)
		expectXmlsecVerify(t, "the upstream AuthnRequest against the simulator certificate", file, simCert, "", false)
		tampered := replaceOnce(t, doc, `AssertionConsumerServiceURL="`+h.URL+`/upstream/acs"`,
			`AssertionConsumerServiceURL="https://evil.example/acs"`)
		expectXmlsecVerify(t, "a tampered upstream AuthnRequest", writeInteropFile(t, dir, "upstream-request-tampered.xml", tampered), bridgeCert, "", false)
	})

	t.Run("simulator Response to the bridge", func(t *testing.T) {
		doc := decodeSAMLField(t, lc.UpstreamResponse, "SAMLResponse")
		if !bytes.Contains(doc, []byte("EncryptedAssertion")) {
			t.Errorf("the simulator's Response has no EncryptedAssertion:\n%s", doc)
		}
		file := writeInteropFile(t, dir, "upstream-response.xml", doc)
		expectXmlsecVerify(t, "the simulator's Response", file, simCert, "", true)
		expectXmlsecVerify(t, "the simulator's Response against the bridge certificate", file, bridgeCert, "", false)
		tampered := replaceOnce(t, doc, `Destination="`+h.URL+`/upstream/acs"`, `Destination="https://evil.example/acs"`)
		expectXmlsecVerify(t, "a tampered simulator Response", writeInteropFile(t, dir, "upstream-response-tampered.xml", tampered), simCert, "", false)
	})
}

// demoLoginPage starts the demo SP's login and returns the bridge's first
// page (the auto-posted request to the bridge).
func (h *harness) demoLoginPage(t *testing.T, options url.Values) *browser.Page {
	t.Helper()
	page, err := h.Browser.Post(h.URL+"/demo/saml2/login", options)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func TestPythonCryptographyDecryptsUpstreamAssertion(t *testing.T) {
	requirePeer(t, "python3-cryptography", haveCryptography)
	h := startHarness(t, autoLogin("AFIRMA", "99999999R", "dnie"))
	lc := followInteropLogin(t, h, h.demoLoginPage(t, url.Values{"loa": {"low"}, "binding": {"post"}}), h.URL+"/demo/saml2/acs")
	doc := decodeSAMLField(t, lc.UpstreamResponse, "SAMLResponse")
	for _, want := range []string{
		`Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"`,
		`Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"`,
	} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("the simulator's EncryptedAssertion lacks %s", want)
		}
	}
	if bytes.Contains(doc, []byte("99999999R")) {
		t.Fatalf("the simulator's Response shows the identifier in clear:\n%s", doc)
	}
	dir := t.TempDir()
	file := writeInteropFile(t, dir, "upstream-response.xml", doc)
	script := repoPath("testdata", "interop", "decrypt_assertion.py")

	out, err := runPeer(t, nil, python3Bin, script, "--key", repoPath("testdata", "keys", "bridge-sign.key"), file)
	if err != nil {
		t.Fatalf("python3-cryptography could not decrypt the simulator's assertion: %v", err)
	}
	plain := string(out)
	for _, want := range []string{"Assertion", "ES/ES/99999999R", "http://eidas.europa.eu/LoA/high"} {
		if !strings.Contains(plain, want) {
			t.Errorf("decrypted assertion lacks %q:\n%s", want, plain)
		}
	}

	// The bridge's encryption key is not the one the simulator encrypted to
	// (it encrypts to the certificate that verified the request): the
	// script must fail rather than print anything.
	if out, err := runPeer(t, nil, python3Bin, script, "--key", repoPath("testdata", "keys", "bridge-enc.key"), file); err == nil {
		t.Errorf("decryption with the wrong key succeeded:\n%s", out)
	}
}
