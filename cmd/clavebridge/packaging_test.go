package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/internal/peertest"
)

// The packaging files, relative to this package.
const (
	dockerfilePath  = "../../Dockerfile"
	dockerignore    = "../../.dockerignore"
	systemdUnitPath = "../../docs/systemd/clavebridge.service"
)

// unitFile is a systemd unit: each section's settings, every value of a
// repeated key in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u, section := unitFile{}, ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: not a setting: %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// TestSystemdUnit: the unit runs the bridge as a user of its own with the
// usual hardening, hands it its keys and secrets as credentials, reloads
// with SIGHUP and waits longer than the drain before killing.
func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, systemdUnitPath)
	svc := u["Service"]
	if svc == nil {
		t.Fatal("no [Service] section")
	}
	for _, tt := range []struct{ key, want string }{
		{"DynamicUser", "yes"},
		{"NoNewPrivileges", "yes"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"CapabilityBoundingSet", ""}, // empty: no capability at all
		{"AmbientCapabilities", ""},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"SystemCallFilter", "@system-service"},
		{"SystemCallArchitectures", "native"},
		{"ExecReload", "/bin/kill -HUP $MAINPID"},
		{"KillSignal", "SIGTERM"},
		{"UMask", "0077"},
	} {
		if !slices.Contains(svc[tt.key], tt.want) {
			t.Errorf("%s=%s missing (have %q)", tt.key, tt.want, svc[tt.key])
		}
	}
	if got := svc["ExecStart"]; len(got) != 1 || !strings.Contains(got[0], " serve -c /etc/clavebridge/config.yaml") {
		t.Errorf("ExecStart %q, want serve -c /etc/clavebridge/config.yaml", got)
	}
	// Every private key and secret of config.production.example.yaml comes
	// as a credential, read from a directory only root reads.
	creds := map[string]string{}
	for _, v := range svc["LoadCredential"] {
		id, src, _ := strings.Cut(v, ":")
		creds[id] = src
	}
	for _, id := range []string{"seal.key", "encryption.key", "state-2027a.key", "pairwise.key"} {
		if src, ok := creds[id]; !ok || !strings.HasPrefix(src, "/etc/clavebridge/private/") {
			t.Errorf("LoadCredential=%s:/etc/clavebridge/private/… missing (have %v)", id, creds)
		}
	}
	// The stop timeout exceeds the longest drain the configurations ship
	// with (and the default), so systemd never kills a drain.
	stop, err := time.ParseDuration(strings.Join(svc["TimeoutStopSec"], ""))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	drains := []time.Duration{10 * time.Second} // server.shutdown_timeout's default
	for _, f := range []string{"../../config.example.yaml", "../../config.production.example.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`(?m)^\s+shutdown_timeout:\s*(\S+)`).FindSubmatch(data); m != nil {
			d, err := time.ParseDuration(string(m[1]))
			if err != nil {
				t.Fatalf("%s: shutdown_timeout: %v", f, err)
			}
			drains = append(drains, d)
		}
	}
	if d := slices.Max(drains); stop <= d {
		t.Errorf("TimeoutStopSec=%s, not above server.shutdown_timeout %s", stop, d)
	}
}

// TestSystemdAnalyzeVerify: systemd itself finds nothing wrong with the
// unit (no unknown or misspelt setting: any output is a failure), and its
// exposure score stays low. Runs where systemd-analyze is installed; its
// absence is a failure under CI (peertest.Missing).
func TestSystemdAnalyzeVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		peertest.Missing(t, "systemd-analyze is not installed, the unit is not verified (Debian: apt-get install systemd; .ci/deps does)")
	}
	data, err := os.ReadFile(systemdUnitPath)
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart is executable: point it at one that is.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "clavebridge.service")
	text := strings.ReplaceAll(string(data), "/usr/local/bin/clavebridge", self)
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Exposure on systemd's 0–100 scale (shown as 0.0–10.0): 20 is "OK".
	out, err = exec.Command(tool, "security", "--offline=true", "--threshold=20", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: exposure above 2.0: %v\n%s", err, out)
	}
}

// dockerStage is one FROM … stage of a Dockerfile: its base, its name and
// its instructions (continuation lines joined).
type dockerStage struct {
	from, name string
	instr      [][2]string // instruction (upper case), arguments
}

func parseDockerfile(t *testing.T, path string) (args map[string]string, stages []*dockerStage) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	args = map[string]string{}
	var logical []string
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		logical = append(logical, cur+trimmed)
		cur = ""
	}
	for _, l := range logical {
		op, rest, _ := strings.Cut(l, " ")
		op, rest = strings.ToUpper(op), strings.TrimSpace(rest)
		switch {
		case op == "FROM":
			f := strings.Fields(rest)
			st := &dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		case len(stages) == 0 && op == "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case len(stages) == 0:
			t.Fatalf("%s before the first FROM", op)
		default:
			s := stages[len(stages)-1]
			s.instr = append(s.instr, [2]string{op, rest})
		}
	}
	return args, stages
}

func (s *dockerStage) all(op string) []string {
	var out []string
	for _, i := range s.instr {
		if i[0] == op {
			out = append(out, i[1])
		}
	}
	return out
}

// TestDockerfile lints the Dockerfile (it cannot be built here: no
// registry): a build stage that makes a static, trimmed binary stamped with
// its version and commit, on the Go of go.mod; a distroless or scratch
// runtime stage with that binary only, run as a non-root user, with no
// shell step and nothing fetched from a URL; a build context without the
// test keys.
func TestDockerfile(t *testing.T) {
	args, stages := parseDockerfile(t, dockerfilePath)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	build, run := stages[0], stages[len(stages)-1]
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if !strings.HasPrefix(build.from, "golang:") || goLine == nil || args["GO_VERSION"] != string(goLine[1]) {
		t.Errorf("build stage FROM %s with GO_VERSION %q, want golang: at go.mod's %s", build.from, args["GO_VERSION"], goLine)
	}
	buildRun := strings.Join(build.all("RUN"), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "./cmd/clavebridge"} {
		if !strings.Contains(buildRun, want) {
			t.Errorf("the build does not use %s", want)
		}
	}
	if !strings.HasPrefix(run.from, "gcr.io/distroless/static") && run.from != "scratch" {
		t.Errorf("runtime stage FROM %s, want distroless/static or scratch", run.from)
	}
	if got := run.all("RUN"); len(got) > 0 {
		t.Errorf("runtime stage runs %q: it has no shell", got)
	}
	for _, c := range run.all("COPY") {
		if !strings.HasPrefix(c, "--from="+build.name+" ") {
			t.Errorf("runtime stage copies %q: only the binary from the build stage", c)
		}
	}
	users := run.all("USER")
	if len(users) == 0 {
		t.Fatal("runtime stage has no USER: it would run as root")
	}
	user, _, _ := strings.Cut(users[len(users)-1], ":")
	if user == "root" || user == "0" || user == "" {
		t.Errorf("runtime stage USER %s, want a non-root user", users[len(users)-1])
	}
	if ep := run.all("ENTRYPOINT"); len(ep) != 1 || !strings.HasPrefix(ep[0], `["/usr/local/bin/clavebridge"`) {
		t.Errorf("ENTRYPOINT %q, want the exec form of /usr/local/bin/clavebridge", ep)
	}
	for _, st := range stages {
		for _, a := range st.all("ADD") {
			if strings.Contains(a, "://") || strings.Contains(a, "git@") {
				t.Errorf("ADD %s fetches from the network", a)
			}
		}
	}
	ignore, err := os.ReadFile(dockerignore)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ignore), "\n")
	for _, want := range []string{".git", "testdata", "bin"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}
