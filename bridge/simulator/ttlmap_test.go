package simulator

import (
	"errors"
	"testing"
	"time"
)

func TestTTLMap(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newTTLMap[int](time.Minute, 2)
	steps := []struct {
		name string
		run  func() error
		want error
	}{
		{"put a", func() error { return m.put("a", 1, t0) }, nil},
		{"put a again", func() error { return m.put("a", 2, t0) }, errExists},
		{"put b", func() error { return m.put("b", 2, t0.Add(30*time.Second)) }, nil},
		{"full", func() error { return m.put("c", 3, t0.Add(30*time.Second)) }, errFull},
		{"a expired, swept", func() error { return m.put("c", 3, t0.Add(time.Minute)) }, nil},
		{"a free again", func() error { return m.put("a", 4, t0.Add(90*time.Second)) }, nil},
	}
	for _, st := range steps {
		if err := st.run(); !errors.Is(err, st.want) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.want)
		}
	}
	now := t0.Add(100 * time.Second)
	if v, ok := m.get("c", now); !ok || v != 3 {
		t.Errorf("get c = %d %v", v, ok)
	}
	if !m.update("c", 5, now) {
		t.Error("update c failed")
	}
	if v, ok := m.take("c", now); !ok || v != 5 {
		t.Errorf("take c = %d %v", v, ok)
	}
	if _, ok := m.take("c", now); ok {
		t.Error("c taken twice")
	}
	if m.update("c", 6, now) {
		t.Error("update of a taken key succeeded")
	}
	if _, ok := m.get("a", t0.Add(150*time.Second)); ok {
		t.Error("expired a still visible")
	}
}
