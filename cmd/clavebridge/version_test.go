package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionLine: the version from -X main.version, else the module's,
// else "dev"; the commit from -X main.commit, else the build's VCS
// revision, else "unknown"; "(modified)" only with the VCS revision of a
// dirty tree.
func TestVersionLine(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string, mainVersion string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Path: "github.com/clavebridge/clavebridge", Version: mainVersion},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	tests := []struct {
		name, version, commit string
		info                  *debug.BuildInfo
		want                  string
	}{
		{"nothing known", "", "", &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}}, "clavebridge dev commit unknown go1.99"},
		{"plain go build in a clean clone", "", "", vcs("false", "(devel)"), "clavebridge dev commit " + rev + " go1.99"},
		{"plain go build in a dirty clone", "", "", vcs("true", "(devel)"), "clavebridge dev commit " + rev + " (modified) go1.99"},
		{"go install at a tag", "", "", &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.4.0"}}, "clavebridge v1.4.0 commit unknown go1.99"},
		{"-X main.version", "1.4.0", "", vcs("false", "v1.4.0"), "clavebridge 1.4.0 commit " + rev + " go1.99"},
		{"-X main.version and main.commit", "1.4.0", "abc1234", vcs("true", "(devel)"), "clavebridge 1.4.0 commit abc1234 go1.99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine(readBuild(tt.version, tt.commit, tt.info)); got != tt.want {
				t.Errorf("versionLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionBuilt builds the binary from this checkout as an operator
// would (go build; -buildvcs=true because this machine's GOFLAGS may turn
// VCS stamping off, which a plain clone does not) and runs `version`: it
// prints the checkout's commit, and -ldflags -X main.version sets the
// version.
func TestVersionBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not inside a git checkout (git rev-parse HEAD: %v)", err)
	}
	commit := strings.TrimSpace(string(head))
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(commit) {
		t.Fatalf("git rev-parse HEAD = %q", commit)
	}
	tests := []struct {
		name  string
		flags []string
		want  *regexp.Regexp
	}{
		{"plain go build", nil, regexp.MustCompile(`^clavebridge \S+ commit ` + commit + `( \(modified\))? go1\.\S+\n$`)},
		{"-X main.version", []string{"-ldflags", "-X main.version=9.8.7"}, regexp.MustCompile(`^clavebridge 9\.8\.7 commit ` + commit + `( \(modified\))? go1\.\S+\n$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "clavebridge")
			args := append([]string{"build", "-buildvcs=true", "-o", bin}, tt.flags...)
			if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err := exec.Command(bin, "version").CombinedOutput()
			if err != nil {
				t.Fatalf("version: %v\n%s", err, out)
			}
			if !tt.want.Match(out) {
				t.Errorf("version printed %q, want %v", out, tt.want)
			}
		})
	}
}
