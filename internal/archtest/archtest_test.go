package archtest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/clavebridge/clavebridge"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

// listPackages lists every package of the module with its imports and
// transitive dependencies (tests excluded).
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", "./...")
	cmd.Dir = repoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// isCore reports whether a package is part of the login core: every
// package under bridge/ outside internal/, except the HTTP adapter and the
// simulator (paths naming web, http, server or simulator).
func isCore(path string) bool {
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok || (rel != "bridge" && !strings.HasPrefix(rel, "bridge/")) || strings.Contains(rel, "internal") {
		return false
	}
	for _, word := range []string{"web", "http", "server", "simulator"} {
		if strings.Contains(rel, word) {
			return false
		}
	}
	return true
}

// TestCoreKnowsNoHTTP: no core package imports net/http (or one of its
// subpackages) or echo, and none depends on echo even indirectly.
func TestCoreKnowsNoHTTP(t *testing.T) {
	var core []string
	for _, p := range listPackages(t) {
		if !isCore(p.ImportPath) {
			continue
		}
		core = append(core, p.ImportPath)
		for _, imp := range p.Imports {
			if imp == "net/http" || strings.HasPrefix(imp, "net/http/") || strings.Contains(imp, "labstack/echo") {
				t.Errorf("core package %s imports %s", p.ImportPath, imp)
			}
		}
		for _, dep := range p.Deps {
			if strings.Contains(dep, "labstack/echo") {
				t.Errorf("core package %s depends on %s", p.ImportPath, dep)
			}
		}
	}
	for _, want := range []string{"bridge", "bridge/flow", "bridge/session", "bridge/store", "bridge/upstream", "bridge/samlxml", "bridge/config"} {
		if !slices.Contains(core, module+"/"+want) {
			t.Errorf("%s is not counted as core: the rule checks nothing there", want)
		}
	}
}

// flowCore are the packages that must not name any dialect's wire: the
// model and policy, the flow, the sessions.
var flowCore = []string{"bridge", "bridge/flow", "bridge/session"}

// wireWords are what a string literal in the flow core must not contain:
// URIs, the dialects' form parameters and the gateways' paths.
var wireWords = []string{
	"urn:", "http://", "https://", "/Proxy", "/saml2/", "/sim/",
	"SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature",
	"logoutRequest", "logoutResponse", "samlRequestLogout", "samlResponseLogout",
	"excludedIdPList", "forcedIdP", "idpList", "allowLegalPerson",
	"stork", "eidas", "clave", "minhafp", "europa.eu",
}

// TestFlowCoreNamesNoWire: no string literal in the flow core's code
// names a URI, a dialect's parameter or a gateway's path.
func TestFlowCoreNamesNoWire(t *testing.T) {
	for _, rel := range flowCore {
		dir := filepath.Join(repoRoot(), filepath.FromSlash(rel))
		for _, lit := range stringLiterals(t, dir) {
			for _, w := range wireWords {
				if strings.Contains(strings.ToLower(lit.value), strings.ToLower(w)) {
					t.Errorf("%s: the flow core names %q in %q", lit.pos, w, lit.value)
				}
			}
		}
	}
}

type literal struct {
	pos   token.Position
	value string
}

// stringLiterals are the string literals of a folder's non-test Go files,
// struct tags and import paths left out.
func stringLiterals(t *testing.T, dir string) []literal {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	var out []literal
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		tags := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			if field, ok := n.(*ast.Field); ok && field.Tag != nil {
				tags[field.Tag] = true
			}
			if spec, ok := n.(*ast.ImportSpec); ok {
				tags[spec.Path] = true
			}
			lit, ok := n.(*ast.BasicLit)
			if ok && lit.Kind == token.STRING && !tags[lit] {
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
				}
				out = append(out, literal{pos: fset.Position(lit.Pos()), value: v})
			}
			return true
		})
	}
	return out
}

// TestRulesCatchViolations: the checks above find what they look for, so
// that a broken check shows as a failure here rather than as silence.
func TestRulesCatchViolations(t *testing.T) {
	for path, want := range map[string]bool{
		module + "/bridge":                 true,
		module + "/bridge/flow":            true,
		module + "/bridge/web":             false,
		module + "/bridge/simulator":       false,
		module + "/bridge/internal/x":      false,
		module + "/endpoints/saml2":        false,
		module + "/cmd/clavebridge":        false,
		module + "/bridgeworks":            false,
		module + "/bridge/samlxml":         true,
		module + "/bridge/httpsomething/x": false,
	} {
		if isCore(path) != want {
			t.Errorf("isCore(%s) = %v, want %v", path, !want, want)
		}
	}
	dir := t.TempDir()
	src := "package x\n\nimport _ \"github.com/clavebridge/x\"\n\ntype T struct{ A string `json:\"relay_state\"` }\n\nconst p = \"logoutRequest\"\n"
	if err := writeFile(filepath.Join(dir, "x.go"), src); err != nil {
		t.Fatal(err)
	}
	lits := stringLiterals(t, dir)
	if len(lits) != 1 || lits[0].value != "logoutRequest" {
		t.Fatalf("literals = %+v: want the constant, not the struct tag or the import", lits)
	}
}
