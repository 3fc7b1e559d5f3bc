package pairwise

import (
	"bytes"
	"testing"
)

func TestPairwise(t *testing.T) {
	k, err := New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	a, b := k.ID("sp-a", "ES/ES/99999999R"), k.ID("sp-b", "ES/ES/99999999R")
	switch {
	case a != k.ID("sp-a", "ES/ES/99999999R"):
		t.Error("not stable for one SP")
	case a == b:
		t.Error("the same for two SPs")
	case a == other.ID("sp-a", "ES/ES/99999999R"):
		t.Error("the same under another secret")
	case len(a) != 43 || bytes.Contains([]byte(a), []byte("99999999R")):
		t.Errorf("identifier %q", a)
	case k.ID("sp", "a\x00b") == k.ID("sp\x00a", "b"):
		t.Error("the SP and the subject run into each other")
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("a short secret was accepted")
	}
}
