package hatest_test

// The load figures of the README ("Replicas under load"): `clavebridge load
// --target` through HAProxy against one replica, then three, on the same
// box. A measurement run by hand (make ha-load), not a pass/fail check of
// speed: it asserts only that every login completed and, with three
// replicas, that the bridge's hops were spread over all of them.

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"

	"github.com/clavebridge/clavebridge/internal/hatest"
)

func TestLoadThroughHAProxy(t *testing.T) {
	if os.Getenv("CLAVEBRIDGE_HA_LOAD") != "1" {
		t.Skip("a measurement: make ha-load (CLAVEBRIDGE_HA_LOAD=1)")
	}
	logins, workers := "400", "4"
	if v := os.Getenv("CLAVEBRIDGE_HA_LOAD_LOGINS"); v != "" {
		logins = v
	}
	if v := os.Getenv("CLAVEBRIDGE_HA_LOAD_WORKERS"); v != "" {
		workers = v
	}
	byReplica := regexp.MustCompile(`(?m)^bridge hops by replica: (.*)$`)
	for _, n := range []int{1, 3} {
		t.Run(strconv.Itoa(n)+" replicas", func(t *testing.T) {
			c := hatest.Start(t, hatest.Options{Bin: bin, Replicas: n})
			out, err := exec.Command(bin.Bridge, "load", "--target", c.URL, "--logins", logins, "--workers", workers).CombinedOutput()
			t.Logf("%d replicas, %s workers:\n%s", n, workers, out)
			if err != nil {
				t.Fatalf("load --target %s: %v", c.URL, err)
			}
			m := byReplica.FindSubmatch(out)
			if m == nil {
				t.Fatal("no replica named itself")
			}
			if got := len(regexp.MustCompile(`[0-9a-f]{8} [0-9]+`).FindAll(m[1], -1)); got != n {
				t.Errorf("bridge hops went to %d replicas, want %d", got, n)
			}
		})
	}
}
