package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func keys(t *testing.T, ks ...Key) *Keys {
	t.Helper()
	k, err := New(rand.Reader, ks...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	secretA = bytes.Repeat([]byte{1}, 32)
	secretB = bytes.Repeat([]byte{2}, 32)
)

func TestSealOpen(t *testing.T) {
	old := keys(t, Key{ID: "a", Secret: secretA})
	rotated := keys(t, Key{ID: "b", Secret: secretB}, Key{ID: "a", Secret: secretA})
	sealed, err := old.Seal("session:1", []byte("the DNI 99999999R"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "99999999R") || !strings.HasPrefix(sealed, "a.") {
		t.Fatalf("sealed = %q", sealed)
	}
	if len(sealed) != old.SealedLen(len("the DNI 99999999R")) {
		t.Errorf("SealedLen = %d, len = %d", old.SealedLen(17), len(sealed))
	}
	for name, k := range map[string]*Keys{"same keys": old, "after rotation": rotated} {
		got, err := k.Open("session:1", sealed)
		if err != nil || string(got) != "the DNI 99999999R" {
			t.Errorf("%s: Open = %q, %v", name, got, err)
		}
	}
	again, _ := rotated.Seal("session:1", []byte("x"))
	if !strings.HasPrefix(again, "b.") {
		t.Errorf("the first key does not seal: %q", again)
	}
	if _, err := old.Open("session:1", again); !errors.Is(err, ErrOpen) {
		t.Errorf("a value sealed by a key dropped was opened: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	for name, tc := range map[string][2]string{
		"other purpose": {"session:2", sealed},
		"tampered":      {"session:1", tampered},
		"no key id":     {"session:1", strings.TrimPrefix(sealed, "a.")},
		"unknown key":   {"session:1", "z." + strings.TrimPrefix(sealed, "a.")},
		"not base64":    {"session:1", "a.!!!"},
		"too short":     {"session:1", "a.AAAA"},
	} {
		if _, err := old.Open(tc[0], tc[1]); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: opened (%v)", name, err)
		}
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	for name, ks := range map[string][]Key{
		"none":      nil,
		"short":     {{ID: "a", Secret: []byte("short")}},
		"no id":     {{Secret: secretA}},
		"dotted id": {{ID: "a.b", Secret: secretA}},
		"same id":   {{ID: "a", Secret: secretA}, {ID: "a", Secret: secretB}},
	} {
		if _, err := New(rand.Reader, ks...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := keys(t, Key{ID: "a", Secret: secretA}).Seal("p", nil); err != nil {
		t.Fatal(err)
	}
	broken, _ := New(strings.NewReader(""), Key{ID: "a", Secret: secretA})
	if _, err := broken.Seal("p", []byte("x")); err == nil {
		t.Error("sealed without randomness")
	}
}
