package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/internal/peertest"
)

// The browser suite: testdata/browser/journeys.mjs drives Debian's chromium
// (playwright-core, axe-core from testdata/browser/package-lock.json) through
// a real bridge with its simulator and demo SPs on a loopback port, with the
// keyboard only, and reports every page it reached and every check it made
// as JSON; this test asserts that report. See testdata/browser/README.md.

const (
	// browserSuiteBudget bounds the node process (the suite's budget in CI
	// is 3 minutes of wall time, the bridge's start included).
	browserSuiteBudget = 170 * time.Second
	defaultChromium    = "/usr/bin/chromium"
)

// browserReport is what journeys.mjs prints.
type browserReport struct {
	Base        string           `json:"base"`
	Chromium    string           `json:"chromium"`
	Axe         string           `json:"axe"`
	MS          int64            `json:"ms"`
	SelfTest    []browserCheck   `json:"selfTest"`
	NonLoopback []string         `json:"nonLoopback"`
	Journeys    []browserJourney `json:"journeys"`
}

type browserJourney struct {
	Name        string          `json:"name"`
	Lang        string          `json:"lang"`
	JS          bool            `json:"js"`
	OK          bool            `json:"ok"`
	Error       string          `json:"error"`
	MS          int64           `json:"ms"`
	Pages       []browserPage   `json:"pages"`
	Navigations []browserNavHop `json:"navigations"`
}

type browserPage struct {
	Step   int            `json:"step"`
	Kind   string         `json:"kind"`
	URL    string         `json:"url"`
	Method string         `json:"method"`
	Status int            `json:"status"`
	Title  string         `json:"title"`
	Checks []browserCheck `json:"checks"`
}

type browserCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type browserNavHop struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Status int    `json:"status"`
}

// requireBrowserPeers finds node, chromium and the suite's node modules. A
// missing one fails the test under CI or CLAVEBRIDGE_REQUIRE_PEERS=1 and
// skips it otherwise.
func requireBrowserPeers(t *testing.T) (node, chromium, dir string) {
	t.Helper()
	dir = repoPath("testdata", "browser")
	chromium = defaultChromium
	if c := os.Getenv("CLAVEBRIDGE_CHROMIUM"); c != "" {
		chromium = c
	}
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (the machine's nodejs)")
	}
	if !peerRuns(chromium, "--version")() {
		missing = append(missing, chromium+" (Debian: apt-get install chromium)")
	}
	for _, mod := range []string{"playwright-core", "axe-core"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", mod, "package.json")); err != nil {
			missing = append(missing, mod+" (npm ci --prefix testdata/browser)")
		}
	}
	if len(missing) == 0 {
		return node, chromium, dir
	}
	peertest.Missing(t, "browser suite peers missing: "+strings.Join(missing, ", ")+"; bash .ci/deps installs them")
	return "", "", ""
}

// TestBrowserJourneys runs the browser suite against a bridge on loopback:
// a demo login in each dialect with the keyboard only, with JavaScript off
// and on; English chosen on the first page and kept through the gateway and
// back; the back button and reload on the bridge's ACS after a login; an
// unknown SP's error page. Every page reached is checked: axe-core finds no
// WCAG 2.1 A/AA violation, <html lang> is the chosen language, a viewport
// meta, a stylesheet, the language switch and the accessibility link, no
// horizontal scroll at 320 CSS px (with WCAG 1.4.12 text spacing too), a
// visible focus indicator on every element the keyboard reached, an HTTP
// status below 500; error pages show the trace id, no SAML URN, and (after
// a login) a link back to the service.
func TestBrowserJourneys(t *testing.T) {
	node, chromium, dir := requireBrowserPeers(t)
	h := startHarness(t, nil)

	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), browserSuiteBudget)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "journeys.mjs"), h.URL)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CLAVEBRIDGE_CHROMIUM="+chromium)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	elapsed := time.Since(started)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the browser suite ran over its budget of %s; stderr:\n%s", browserSuiteBudget, tailOf(stderr.String(), 4000))
	}
	var report browserReport
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("journeys.mjs gave no report (%v, exit %v); stderr:\n%s\nstdout:\n%s",
			err, runErr, tailOf(stderr.String(), 4000), tailOf(stdout.String(), 2000))
	}
	if runErr != nil {
		t.Errorf("journeys.mjs exited with %v; stderr:\n%s", runErr, tailOf(stderr.String(), 4000))
	}
	pages, failed := 0, 0
	for _, j := range report.Journeys {
		pages += len(j.Pages)
	}
	defer func() {
		t.Logf("browser suite: chromium %s, axe-core %s, %d journeys, %d pages, %d failed checks, %.1fs (browser %.1fs)",
			report.Chromium, report.Axe, len(report.Journeys), pages, failed, elapsed.Seconds(), float64(report.MS)/1000)
	}()

	if len(report.SelfTest) == 0 {
		t.Error("the report has no axe-core self-test")
	}
	for _, c := range report.SelfTest {
		if !c.OK {
			t.Errorf("self-test %q: %s", c.Name, c.Detail)
		}
	}
	for _, u := range report.NonLoopback {
		t.Errorf("the browser asked for something off loopback: %s", u)
	}
	if len(report.Journeys) == 0 {
		t.Fatal("the report has no journeys")
	}
	for _, missing := range browserCoverageGaps(report) {
		t.Errorf("the suite did not cover: %s", missing)
	}
	for _, j := range report.Journeys {
		t.Run(j.Name, func(t *testing.T) {
			if j.Error != "" {
				t.Errorf("journey stopped after %d pages: %s\n  navigations: %s", len(j.Pages), j.Error, navigations(j.Navigations))
			}
			if len(j.Pages) == 0 {
				t.Error("the journey reached no page")
			}
			for _, hop := range j.Navigations {
				if hop.Status >= 500 {
					t.Errorf("%s %s answered HTTP %d", hop.Method, hop.URL, hop.Status)
				}
			}
			for _, p := range j.Pages {
				var fails []string
				for _, c := range p.Checks {
					if !c.OK {
						fails = append(fails, c.Name+": "+c.Detail)
					}
				}
				if len(fails) > 0 {
					failed += len(fails)
					t.Errorf("page %d, %s (%s %s, HTTP %d, title %q) fails %d of %d checks:\n  - %s",
						p.Step, p.Kind, p.Method, p.URL, p.Status, p.Title, len(fails), len(p.Checks), strings.Join(fails, "\n  - "))
				}
			}
		})
	}
}

// browserCoverageGaps names what the issue asks the suite to cover and the
// report does not show: a finished login of each dialect with JavaScript
// off and on, one in English, the dead ends after a login, an error page.
func browserCoverageGaps(report browserReport) []string {
	seen := map[string]bool{}
	for _, j := range report.Journeys {
		for _, p := range j.Pages {
			switch {
			case p.Kind == "demo SP result":
				seen[fmt.Sprintf("a login ending at %s with JavaScript %s", p.URL, onOff(j.JS))] = true
				if j.Lang == "en" {
					seen["a login in English"] = true
				}
			case strings.HasPrefix(p.Kind, "dead end"):
				seen["a dead end after a login"] = true
			case strings.HasPrefix(p.Kind, "error page"):
				seen["an error page"] = true
			}
		}
	}
	var gaps []string
	for _, d := range []string{"saml2", "clave2", "stork"} {
		for _, js := range []bool{false, true} {
			if k := fmt.Sprintf("a login ending at /demo/%s/acs with JavaScript %s", d, onOff(js)); !seen[k] {
				gaps = append(gaps, k)
			}
		}
	}
	for _, k := range []string{"a login in English", "a dead end after a login", "an error page"} {
		if !seen[k] {
			gaps = append(gaps, k)
		}
	}
	return gaps
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// navigations is the chain of documents a journey loaded, for a message.
func navigations(hops []browserNavHop) string {
	var b strings.Builder
	for i, hop := range hops {
		if i > 0 {
			b.WriteString(" → ")
		}
		u := hop.URL
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i] + "?…"
		}
		b.WriteString(hop.Method + " " + u + " " + strconv.Itoa(hop.Status))
	}
	return b.String()
}

// tailOf is the last n bytes of s.
func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
