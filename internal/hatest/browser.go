package hatest

import (
	"net/http"
	"sync"

	"github.com/clavebridge/clavebridge/internal/browser"
)

// ReplicaHeader is the bridge's response header naming the replica that
// served it (server.replica_id).
const ReplicaHeader = "X-Clavebridge-Replica"

// Hop is one request the browser made and who answered it.
type Hop struct {
	Method, Path string
	Status       int
	Replica      string // the response's X-Clavebridge-Replica ("": not a bridge, e.g. the peers or HAProxy)
	Trace        string // the response's X-Trace-Id (the bridge's error pages)
}

// Recorder is an http.RoundTripper that records every hop and may steer
// each request to a replica by name (see SteerHeader).
type Recorder struct {
	// Steer names the replica a request should go to ("": HAProxy chooses).
	Steer func(*http.Request) string
	next  http.RoundTripper
	mu    sync.Mutex
	hops  []Hop
}

// RoundTrip records the hop.
func (rec *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if rec.Steer != nil {
		if name := rec.Steer(req); name != "" {
			req = req.Clone(req.Context())
			req.Header.Set(SteerHeader, name)
		}
	}
	resp, err := rec.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rec.mu.Lock()
	rec.hops = append(rec.hops, Hop{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Replica: resp.Header.Get(ReplicaHeader), Trace: resp.Header.Get("X-Trace-Id")})
	rec.mu.Unlock()
	return resp, nil
}

// Hops returns the hops so far, in order.
func (rec *Recorder) Hops() []Hop {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Hop(nil), rec.hops...)
}

// Browser returns a scripted browser (its own cookies) whose requests are
// recorded by the Recorder returned with it.
func (c *Cluster) Browser() (*browser.Browser, *Recorder) {
	rec := &Recorder{next: &http.Transport{DisableKeepAlives: true}}
	return browser.New(rec), rec
}
