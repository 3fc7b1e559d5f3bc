// Package apachetest runs Debian's Apache 2.4 (apache2) for the tests of
// the real SAML SPs that sit behind it (Shibboleth SP, SimpleSAMLphp,
// mod_auth_mellon): each test gets its own server root in a fresh folder, a
// generated httpd.conf (prefork MPM, its own PidFile, Mutex folder, error
// and access logs), a free port on 127.0.0.1, the modules it asks for, and
// the configuration text it adds. The server runs in the foreground as a
// child of the test, is waited for until it answers HTTP, and is stopped at
// the end of the test; when the test fails its error log is written to the
// test log. When apache2 is not installed the test is skipped, or fails
// under CI (peertest).
//
// Use it in two steps, because an SP's own configuration names the port
// (its entityID and endpoint URLs): New reserves the port and makes the
// folder, the test writes its SP's files under Server.Dir, then Start.
package apachetest

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clavebridge/clavebridge/internal/peertest"
)

// Binary and ModulesDir are where Debian installs Apache.
const (
	Binary     = "/usr/sbin/apache2"
	ModulesDir = "/usr/lib/apache2/modules"
)

// RunUser is the account Apache's worker processes switch to when the
// test runs as root (Apache refuses to serve as root). Start hands the
// server's folder to it.
const RunUser = "www-data"

// baseModules are loaded into every server: the prefork MPM (mod_php
// needs it) and what a protected location, a CGI or a PHP page need.
var baseModules = []string{
	"mpm_prefork", "authz_core", "authz_host", "authz_user", "authn_core",
	"mime", "dir", "alias", "env", "setenvif", "headers", "cgi",
}

// Config is what a test adds to the generated httpd.conf.
type Config struct {
	// Modules are further module names, loaded from ModulesDir as
	// mod_<name>.so with LoadModule <name>_module (e.g. "shib",
	// "auth_mellon", "php8.2"). A module whose symbol is not
	// <name>_module is given as "symbol=file", e.g.
	// "php_module=libphp8.2.so" or "mod_shib=mod_shib.so"; a file path
	// that is not absolute is taken in ModulesDir.
	Modules []string
	// Conf is appended verbatim to httpd.conf, after the base
	// configuration (Location blocks, module directives, Alias…).
	Conf string
	// Env is added to Apache's environment (KEY=value).
	Env []string
	// LogLevel is Apache's LogLevel (default "warn"; e.g. "debug",
	// "info auth_mellon:debug").
	LogLevel string
	// ReadyPath is the path asked until the server answers (any HTTP
	// status counts); default "/".
	ReadyPath string
	// Timeout bounds the wait until the server answers (default 20s).
	Timeout time.Duration
}

// Server is one Apache of one test.
type Server struct {
	// Dir is the server's own folder (its ServerRoot): put the files
	// Apache and the SP read here, since Apache's worker processes run
	// as RunUser and read nothing private of the test. Start hands Dir
	// and everything under it to RunUser when the test runs as root.
	Dir string
	// DocRoot is Dir/htdocs, the DocumentRoot (created empty).
	DocRoot string
	// Port is the reserved port on 127.0.0.1.
	Port int
	// URL is http://127.0.0.1:<Port> (no trailing slash).
	URL string
	// ConfFile is the generated httpd.conf (written by Start).
	ConfFile string

	t       testing.TB
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// Require returns the apache2 binary, or stops the test when Apache is not
// installed (peertest.Missing).
func Require(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		peertest.Missing(t, "apache2 is not installed (Debian: apt-get install apache2; .ci/deps installs it)")
	}
	return Binary
}

// RequireModule stops the test (peertest.Missing)
// when ModulesDir has no such file (e.g. "mod_shib.so"), naming the
// Debian package that brings it.
func RequireModule(t testing.TB, file, debianPackage string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(ModulesDir, file)); err != nil {
		peertest.Missing(t, fmt.Sprintf("Apache module %s is not installed (Debian: apt-get install %s; .ci/deps installs it)", file, debianPackage))
	}
}

// New reserves a free port on 127.0.0.1 and makes the server's folder
// (with htdocs, logs and run below it); nothing is started yet. The
// folder is removed at the end of the test.
func New(t testing.TB) *Server {
	t.Helper()
	Require(t)
	// The folder must be reachable by RunUser: t.TempDir's parent is
	// private to root, so the server gets a folder of its own in the
	// system's temporary folder, readable by all (it holds test keys
	// only).
	dir, err := os.MkdirTemp("", "apachetest-")
	if err != nil {
		t.Fatalf("apachetest: server folder: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("apachetest: server folder: %v", err)
	}
	for _, sub := range []string{"htdocs", "logs", "run"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatalf("apachetest: server folder: %v", err)
		}
	}
	port, err := FreePort()
	if err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	return &Server{
		Dir:      dir,
		DocRoot:  filepath.Join(dir, "htdocs"),
		Port:     port,
		URL:      "http://127.0.0.1:" + strconv.Itoa(port),
		ConfFile: filepath.Join(dir, "httpd.conf"),
		t:        t,
	}
}

// FreePort returns a port on 127.0.0.1 nobody listened on a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("reserving a loopback port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("reserving a loopback port: %w", err)
	}
	return port, nil
}

// Path returns Dir joined with the given elements.
func (s *Server) Path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

// WriteFile writes a file under Dir (name relative to Dir; parents are
// created), readable by RunUser.
func (s *Server) WriteFile(name string, data []byte) string {
	s.t.Helper()
	path := s.Path(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.t.Fatalf("apachetest: %v", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		s.t.Fatalf("apachetest: %v", err)
	}
	return path
}

// Start writes httpd.conf, starts Apache in the foreground and waits until
// it answers at ReadyPath; it fails the test (with the error log) when
// Apache does not start. Apache is stopped at the end of the test, and
// its error log written to the test log when the test failed.
func (s *Server) Start(cfg Config) {
	t := s.t
	t.Helper()
	if s.cmd != nil {
		t.Fatal("apachetest: Start called twice")
	}
	conf, err := s.httpdConf(cfg)
	if err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	if err := os.WriteFile(s.ConfFile, []byte(conf), 0o644); err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	if err := s.handOver(); err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	// Check the syntax first: a mistake in the test's configuration is
	// named at once, not after the wait.
	if out, err := exec.Command(Binary, "-f", s.ConfFile, "-t").CombinedOutput(); err != nil {
		t.Fatalf("apachetest: configuration rejected: %v\n%s\n--- httpd.conf ---\n%s", err, out, conf)
	}

	cmd := exec.Command(Binary, "-f", s.ConfFile, "-DFOREGROUND")
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), cfg.Env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Its own process group, so that the workers are stopped with it;
	// and the master dies with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("apachetest: starting apache2: %v", err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("apachetest: apache2 output:\n%s", out.String())
			t.Logf("apachetest: error log (%s):\n%s", s.Path("logs", "error.log"), s.ErrorLog())
		}
	})

	ready := cfg.ReadyPath
	if ready == "" {
		ready = "/"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	if err := s.waitReady(ready, timeout); err != nil {
		t.Fatalf("apachetest: %v", err)
	}
}

// waitReady asks path until Apache answers, Apache exits, or timeout.
func (s *Server) waitReady(path string, timeout time.Duration) error {
	client := &http.Client{
		Timeout:       2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(s.URL + path)
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("apache2 exited before answering: %v", s.waitErr)
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("apache2 did not answer at %s within %v: %v", s.URL+path, timeout, err)
		}
	}
}

// Stop stops Apache now (it is stopped at the end of the test anyway).
func (s *Server) Stop() { s.stop() }

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	// Workers that outlived the master.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// ErrorLog returns Apache's error log so far.
func (s *Server) ErrorLog() string {
	b, err := os.ReadFile(s.Path("logs", "error.log"))
	if err != nil {
		return fmt.Sprintf("(no error log: %v)", err)
	}
	return string(b)
}

// AccessLog returns Apache's access log so far.
func (s *Server) AccessLog() string {
	b, err := os.ReadFile(s.Path("logs", "access.log"))
	if err != nil {
		return fmt.Sprintf("(no access log: %v)", err)
	}
	return string(b)
}

// runAsRoot tells whether Apache starts as root and so needs a User.
func runAsRoot() bool { return os.Geteuid() == 0 }

// handOver gives Dir to RunUser when the test runs as root, so that
// Apache's workers (and the SP's code running in them) may read it and
// write its run-time files.
func (s *Server) handOver() error {
	if !runAsRoot() {
		return nil
	}
	u, err := user.Lookup(RunUser)
	if err != nil {
		return fmt.Errorf("looking up Apache's user %s: %w", RunUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("uid of %s: %w", RunUser, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("gid of %s: %w", RunUser, err)
	}
	return filepath.WalkDir(s.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSocket != 0 {
			return nil // a peer's socket (shibd's) keeps its owner
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("handing %s to %s: %w", path, RunUser, err)
		}
		return nil
	})
}

// httpdConf is the generated configuration.
func (s *Server) httpdConf(cfg Config) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by internal/apachetest for one test.\n")
	fmt.Fprintf(&b, "ServerRoot %q\n", s.Dir)
	fmt.Fprintf(&b, "DefaultRuntimeDir %q\n", s.Path("run"))
	fmt.Fprintf(&b, "PidFile %q\n", s.Path("run", "httpd.pid"))
	fmt.Fprintf(&b, "Mutex file:%s default\n", s.Path("run"))
	fmt.Fprintf(&b, "Listen 127.0.0.1:%d\n", s.Port)
	fmt.Fprintf(&b, "ServerName 127.0.0.1:%d\n", s.Port)
	fmt.Fprintf(&b, "ServerAdmin root@localhost\n")
	seen := map[string]bool{}
	for _, m := range append(append([]string{}, baseModules...), cfg.Modules...) {
		symbol, file := moduleLine(m)
		if seen[symbol] {
			continue
		}
		seen[symbol] = true
		if _, err := os.Stat(file); err != nil {
			return "", fmt.Errorf("module %s: %w", m, err)
		}
		fmt.Fprintf(&b, "LoadModule %s %q\n", symbol, file)
	}
	if runAsRoot() {
		fmt.Fprintf(&b, "User %s\nGroup %s\n", RunUser, RunUser)
	}
	level := cfg.LogLevel
	if level == "" {
		level = "warn"
	}
	fmt.Fprintf(&b, `ErrorLog %q
LogLevel %s
LogFormat "%%h %%l %%u %%t \"%%r\" %%>s %%b" common
CustomLog %q common
TypesConfig /etc/mime.types
DocumentRoot %q
DirectoryIndex index.html
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 16
KeepAlive On
Timeout 30
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory %q>
    AllowOverride None
    Require all granted
</Directory>
`, s.Path("logs", "error.log"), level, s.Path("logs", "access.log"), s.DocRoot, s.Dir)
	if cfg.Conf != "" {
		b.WriteString("\n# The test's configuration.\n")
		b.WriteString(cfg.Conf)
		b.WriteString("\n")
	}
	return b.String(), nil
}

// moduleLine splits a Config.Modules entry into the LoadModule symbol and
// file.
func moduleLine(m string) (symbol, file string) {
	if sym, f, ok := strings.Cut(m, "="); ok {
		if !filepath.IsAbs(f) {
			f = filepath.Join(ModulesDir, f)
		}
		return sym, f
	}
	return m + "_module", filepath.Join(ModulesDir, "mod_"+m+".so")
}
