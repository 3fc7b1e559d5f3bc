package archtest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// mapRow is one row of ARCHITECTURE.md's package table.
type mapRow struct {
	pkg     string
	imports []string
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readMap reads the package table of ARCHITECTURE.md: rows whose first
// cell is a backticked package path and whose third lists, backticked, the
// packages of ours it may import.
func readMap(t *testing.T, text string) map[string]mapRow {
	t.Helper()
	rows := map[string]mapRow{}
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := backticked.FindStringSubmatch(cells[1])
		if name == nil {
			continue
		}
		row := mapRow{pkg: name[1]}
		for _, m := range backticked.FindAllStringSubmatch(cells[3], -1) {
			row.imports = append(row.imports, m[1])
		}
		if _, dup := rows[row.pkg]; dup {
			t.Errorf("ARCHITECTURE.md lists %s twice", row.pkg)
		}
		rows[row.pkg] = row
	}
	return rows
}

// TestArchitectureMapIsTrue: every package of the module has its row in
// ARCHITECTURE.md, every row names a package, and no package imports one
// of ours that its row does not allow.
func TestArchitectureMapIsTrue(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(repoRoot(), "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := readMap(t, string(text))
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		seen[rel] = true
		row, ok := rows[rel]
		if !ok {
			t.Errorf("ARCHITECTURE.md has no row for %s", rel)
			continue
		}
		for _, imp := range p.Imports {
			ours, ok := strings.CutPrefix(imp, module+"/")
			if ok && !slices.Contains(row.imports, ours) {
				t.Errorf("%s imports %s, which its row in ARCHITECTURE.md does not allow", rel, ours)
			}
		}
	}
	for pkg := range rows {
		if !seen[pkg] {
			t.Errorf("ARCHITECTURE.md lists %s, which is not a package", pkg)
		}
	}
}

// TestReadMap: the table reader finds rows and their allowed imports, so
// that a broken reader fails here instead of passing everything.
func TestReadMap(t *testing.T) {
	rows := readMap(t, "| package | job | may import |\n|---|---|---|\n| `a/b` | does | `c`, `d/e` |\n| `x` | none | — |\nnot a row\n")
	if len(rows) != 2 || !slices.Equal(rows["a/b"].imports, []string{"c", "d/e"}) || len(rows["x"].imports) != 0 {
		t.Fatalf("rows = %+v", rows)
	}
}
