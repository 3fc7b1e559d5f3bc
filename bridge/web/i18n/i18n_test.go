package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestShippedCatalogs: the shipped catalogs load (each has exactly the
// Spanish keys, with the same placeholders), Spanish first, each language
// named in itself.
func TestShippedCatalogs(t *testing.T) {
	b, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"es": "Español", "en": "English", "ca": "Català"}
	langs := b.Languages()
	if len(langs) < len(want) || langs[0].Code != Default {
		t.Fatalf("languages %v", langs)
	}
	for _, l := range langs {
		if name, ok := want[l.Code]; ok && l.Name != name {
			t.Errorf("%s is named %q, want %q", l.Code, l.Name, name)
		}
		delete(want, l.Code)
	}
	if len(want) != 0 {
		t.Errorf("not shipped: %v", want)
	}
	if len(b.Keys()) < 50 {
		t.Errorf("only %d keys", len(b.Keys()))
	}
}

func catalogs(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys["cat/"+name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

const esRef = `{"lang.name": "Español", "a": "uno {n}", "b": "dos"}`

// TestLoadRefuses: a catalog that lacks a key of es, has one es lacks,
// changes a placeholder or leaves a message empty fails the load, naming
// the catalog and the key; so do a missing es and a file not named by a
// canonical language code.
func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"missing key", map[string]string{"es.json": esRef, "gl.json": `{"lang.name": "Galego", "a": "un {n}"}`}, `catalog gl lacks key "b"`},
		{"extra key", map[string]string{"es.json": esRef, "eu.json": `{"lang.name": "Euskara", "a": "bat {n}", "b": "bi", "c": "hiru"}`}, `catalog eu has key "c"`},
		{"placeholder", map[string]string{"es.json": esRef, "en.json": `{"lang.name": "English", "a": "one {m}", "b": "two"}`}, `key "a" has placeholders`},
		{"empty", map[string]string{"es.json": esRef, "en.json": `{"lang.name": "English", "a": "one {n}", "b": " "}`}, `key "b" is empty`},
		{"no reference", map[string]string{"en.json": `{"lang.name": "English"}`}, "no es catalog"},
		{"bad name", map[string]string{"es.json": esRef, "EN_gb.json": `{}`}, "canonical"},
		{"not json", map[string]string{"es.json": `{"a": 1}`}, "catalog cat/es.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(catalogs(tt.files), "cat")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// TestAddingALanguageIsOneFile: a complete gl.json is all Galician needs.
func TestAddingALanguageIsOneFile(t *testing.T) {
	b, err := Load(catalogs(map[string]string{"es.json": esRef, "gl.json": `{"lang.name": "Galego", "a": "un {n}", "b": "dous"}`}), "cat")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Choose("", "", "gl-ES,gl;q=0.9"); got != "gl" {
		t.Fatalf("chose %q", got)
	}
	if got := b.Localizer("gl").T("a", "n", "1"); got != "un 1" {
		t.Fatalf("T = %q", got)
	}
}

// TestChoose: ?lang= (the switch's choice), else the cookie (the choice
// kept), else Accept-Language, else Spanish; unknown values count as none.
func TestChoose(t *testing.T) {
	b, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query, cookie, accept, want string
	}{
		{"nothing", "", "", "", "es"},
		{"accept en", "", "", "en-GB,en;q=0.9", "en"},
		{"accept ca region", "", "", "ca-ES", "ca"},
		{"accept valencian", "", "", "ca-ES-valencia", "ca"},
		{"accept order", "", "", "de-DE, en;q=0.5, es;q=0.4", "en"},
		{"accept unknown", "", "", "fr-FR, de", "es"},
		{"accept garbage", "", "", ";;;q=x,", "es"},
		{"accept overlong", "", "", strings.Repeat("en,", 300), "es"},
		{"cookie over accept", "", "ca", "en", "ca"},
		{"query over cookie", "en", "ca", "es", "en"},
		{"unknown query", "xx", "ca", "en", "ca"},
		{"unknown cookie", "", "<x>", "en", "en"},
		{"query case matters", "EN", "", "", "es"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Choose(tt.query, tt.cookie, tt.accept); got != tt.want {
				t.Fatalf("Choose(%q, %q, %q) = %q, want %q", tt.query, tt.cookie, tt.accept, got, tt.want)
			}
		})
	}
}

// TestLocalizer: placeholders are filled by name; a missing key shows as
// itself; an unknown language is Spanish.
func TestLocalizer(t *testing.T) {
	b, err := Load(catalogs(map[string]string{"es.json": esRef}), "cat")
	if err != nil {
		t.Fatal(err)
	}
	l := b.Localizer("zz")
	if l.Lang() != "es" || l.T("a", "n", "<1>") != "uno <1>" || l.T("b") != "dos" || l.T("nope") != "nope" || l.Has("nope") {
		t.Fatalf("%s %q %q %q", l.Lang(), l.T("a", "n", "<1>"), l.T("b"), l.T("nope"))
	}
}

// TestFill: placeholders are filled in one pass (a value that looks like a
// placeholder stays as it is), unknown ones and stray braces are kept.
func TestFill(t *testing.T) {
	tests := []struct {
		msg  string
		args []string
		want string
	}{
		{"plain", nil, "plain"},
		{"{a} and {b}", []string{"a", "1", "b", "2"}, "1 and 2"},
		{"{a}{a}", []string{"a", "x"}, "xx"},
		{"{a} {b}", []string{"a", "{b}", "b", "2"}, "{b} 2"},
		{"{unknown} {a}", []string{"a", "1"}, "{unknown} 1"},
		{"{ {a} }", []string{"a", "1"}, "{ 1 }"},
		{"open { only", []string{"a", "1"}, "open { only"},
		{"{a", []string{"a", "1"}, "{a"},
	}
	for _, tt := range tests {
		if got := fill(tt.msg, tt.args); got != tt.want {
			t.Errorf("fill(%q, %q) = %q, want %q", tt.msg, tt.args, got, tt.want)
		}
	}
}
