package hatest

// The child processes of a cluster: started with their output kept and
// scanned for JSON log lines, signalled, waited for.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a child process whose stderr and stdout are kept in a log
// file and scanned for JSON log lines.
type Process struct {
	Name string
	Log  string // the file its output goes to
	cmd  *exec.Cmd

	mu     sync.Mutex
	lines  []map[string]any
	notify chan struct{} // closed and replaced at each line
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

func startProcess(t testing.TB, dir, name, bin string, args ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &Process{Name: name, Log: logPath, cmd: cmd, notify: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = f.Write(append(sc.Bytes(), '\n'))
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, line)
			close(p.notify)
			p.notify = make(chan struct{})
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		<-scanned
		_ = f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				t.Logf("--- %s log (last 4 KB):\n%s", name, tail(out, 4<<10))
			}
		}
	})
	return p, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// WaitLine waits (at most startTimeout) for a JSON log line that match
// accepts, and returns match's value; it fails when the process ends
// first.
func (p *Process) WaitLine(match func(map[string]any) (string, bool)) (string, error) {
	deadline := time.After(startTimeout)
	seen := 0
	for {
		p.mu.Lock()
		lines, notify := p.lines, p.notify
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if v, ok := match(lines[seen]); ok {
				return v, nil
			}
		}
		select {
		case <-notify:
		case <-p.exited:
			p.mu.Lock()
			more := len(p.lines) > seen
			p.mu.Unlock()
			if !more {
				return "", fmt.Errorf("%s exited (%v) before the line awaited; log %s", p.Name, p.err, p.Log)
			}
		case <-deadline:
			return "", fmt.Errorf("%s: no line awaited within %s; log %s", p.Name, startTimeout, p.Log)
		}
	}
}

// Lines returns the JSON log lines read so far.
func (p *Process) Lines() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.lines...)
}

// Kill sends SIGKILL.
func (p *Process) Kill() error { return p.cmd.Process.Signal(syscall.SIGKILL) }

// Term sends SIGTERM.
func (p *Process) Term() error { return p.cmd.Process.Signal(syscall.SIGTERM) }

// Wait waits at most d for the process to exit and returns its exit
// error (nil: status 0).
func (p *Process) Wait(d time.Duration) error {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	case <-time.After(d):
		return fmt.Errorf("%s still running after %s", p.Name, d)
	}
}

// Exited says whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// FreePort returns a loopback TCP port free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls cond every 50ms for at most startTimeout.
func waitFor(cond func() bool) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("hatest: condition not met within %s", startTimeout)
}
