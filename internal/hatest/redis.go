package hatest

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// Redis is a single-node redis-server on a loopback port of its own, with
// no persistence (a restart starts empty, as a lost node does).
type Redis struct {
	Addr string
	t    testing.TB
	dir  string
	port int
	proc *Process
	runs int
}

// StartRedis starts a Redis for t (stopped at t's cleanup).
func StartRedis(t testing.TB, dir string) (*Redis, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t, dir: dir, port: port}
	return r, r.Start()
}

// Start starts the server again on the same port (after Stop).
func (r *Redis) Start() error {
	r.runs++
	p, err := startProcess(r.t, r.dir, fmt.Sprintf("redis-%d", r.runs), "redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--maxmemory-policy", "noeviction")
	if err != nil {
		return err
	}
	r.proc = p
	return waitFor(func() bool {
		conn, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err != nil {
			return false
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		buf := make([]byte, 7)
		n, _ := conn.Read(buf)
		return string(buf[:n]) == "+PONG\r\n"
	})
}

// Stop kills the server (SIGKILL: Redis gone at once, as when its host
// dies) and waits for it to exit.
func (r *Redis) Stop() error {
	if err := r.proc.Kill(); err != nil {
		return err
	}
	_ = r.proc.Wait(startTimeout)
	return nil
}
