// Package i18n holds the message catalogs of the pages citizens see (the
// bridge's, the simulator's and the demo SPs') and chooses the language of
// a request.
//
// Why our own catalog and not go-i18n or x/text/message: the pages need
// plain sentences with a few named values and no plural forms, so a flat
// JSON object per language (key -> message, {name} placeholders) is all a
// translator edits, and it adds no dependency. Language negotiation
// (Accept-Language parsing, BCP 47 matching) is golang.org/x/text/language.
//
// Catalogs are embedded from catalogs/<code>.json, found by globbing: adding
// Galician or Basque is dropping gl.json or eu.json there. Spanish (es) is
// the default language and the reference: every other catalog must have
// exactly its keys, with the same placeholders, or Load fails.
package i18n

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/language"
)

// Default is the language of a request that chooses none, and the
// reference catalog.
const Default = "es"

// nameKey is the key of each language's own name, shown in the switch.
const nameKey = "lang.name"

// maxAcceptLanguage bounds the Accept-Language header parsed.
const maxAcceptLanguage = 512

//go:embed catalogs/*.json
var shipped embed.FS

// Language is one language a bundle serves.
type Language struct {
	Code string // BCP 47 code, as in <html lang>
	Name string // the language's name in itself
}

// Bundle is a set of complete catalogs.
type Bundle struct {
	catalogs   map[string]map[string]string
	localizers map[string]*Localizer // one per catalog, shared (immutable)
	langs      []Language
	matcher    language.Matcher
	tags       []string // codes in matcher order
}

var embedded = sync.OnceValues(func() (*Bundle, error) { return Load(shipped, "catalogs") })

// Embedded is the bundle of the shipped catalogs (read once; immutable).
func Embedded() (*Bundle, error) { return embedded() }

// Load reads every dir/*.json of fsys as a catalog named by its file name,
// and checks them against the Spanish one.
func Load(fsys fs.FS, dir string) (*Bundle, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("i18n: list catalogs: %w", err)
	}
	b := &Bundle{catalogs: map[string]map[string]string{}}
	for _, name := range names {
		code := strings.TrimSuffix(path.Base(name), ".json")
		tag, err := language.Parse(code)
		if err != nil || tag.String() != code {
			return nil, fmt.Errorf("i18n: catalog %s: %q is not a canonical BCP 47 code", name, code)
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("i18n: read catalog %s: %w", name, err)
		}
		var msgs map[string]string
		if err := json.Unmarshal(data, &msgs); err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", name, err)
		}
		b.catalogs[code] = msgs
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	codes := slices.Sorted(maps.Keys(b.catalogs))
	codes = slices.DeleteFunc(codes, func(c string) bool { return c == Default })
	codes = append([]string{Default}, codes...)
	tags := make([]language.Tag, len(codes))
	for i, c := range codes {
		tags[i] = language.MustParse(c)
		b.langs = append(b.langs, Language{Code: c, Name: b.catalogs[c][nameKey]})
	}
	b.tags, b.matcher = codes, language.NewMatcher(tags)
	b.localizers = make(map[string]*Localizer, len(codes))
	for _, c := range codes {
		b.localizers[c] = &Localizer{lang: c, msgs: b.catalogs[c]}
	}
	return b, nil
}

var placeholder = regexp.MustCompile(`\{[a-z][a-z0-9_]*\}`)

// check reports every catalog that differs from the reference in its keys
// or a message's placeholders, and empty messages.
func (b *Bundle) check() error {
	ref, ok := b.catalogs[Default]
	if !ok {
		return fmt.Errorf("i18n: no %s catalog (the reference)", Default)
	}
	var errs []error
	for _, code := range slices.Sorted(maps.Keys(b.catalogs)) {
		cat := b.catalogs[code]
		for _, key := range slices.Sorted(maps.Keys(ref)) {
			msg, ok := cat[key]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("i18n: catalog %s lacks key %q", code, key))
			case strings.TrimSpace(msg) == "":
				errs = append(errs, fmt.Errorf("i18n: catalog %s: key %q is empty", code, key))
			case !slices.Equal(placeholders(msg), placeholders(ref[key])):
				errs = append(errs, fmt.Errorf("i18n: catalog %s: key %q has placeholders %v, %s has %v",
					code, key, placeholders(msg), Default, placeholders(ref[key])))
			}
		}
		for _, key := range slices.Sorted(maps.Keys(cat)) {
			if _, ok := ref[key]; !ok {
				errs = append(errs, fmt.Errorf("i18n: catalog %s has key %q, which %s lacks", code, key, Default))
			}
		}
	}
	return errors.Join(errs...)
}

func placeholders(msg string) []string {
	found := placeholder.FindAllString(msg, -1)
	slices.Sort(found)
	return slices.Compact(found)
}

// Languages are the bundle's languages, Spanish first.
func (b *Bundle) Languages() []Language { return slices.Clone(b.langs) }

// Known reports whether code names one of the bundle's languages.
func (b *Bundle) Known(code string) bool {
	_, ok := b.catalogs[code]
	return ok
}

// Keys are the reference catalog's keys, sorted.
func (b *Bundle) Keys() []string { return slices.Sorted(maps.Keys(b.catalogs[Default])) }

// Choose is the language of a request: the ?lang= parameter (the
// language switch's links carry it; the adapter then keeps it in a
// cookie), else the citizen's earlier choice kept in that cookie, else the
// best match of the Accept-Language header, else Spanish. Unknown values
// are ignored.
func (b *Bundle) Choose(query, cookie, acceptLanguage string) string {
	switch {
	case b.Known(query):
		return query
	case b.Known(cookie):
		return cookie
	}
	if acceptLanguage == "" || len(acceptLanguage) > maxAcceptLanguage {
		return Default
	}
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return Default
	}
	_, i, conf := b.matcher.Match(prefs...)
	if conf == language.No {
		return Default
	}
	return b.tags[i]
}

// Localizer gives the messages of one language (unknown code: Spanish).
func (b *Bundle) Localizer(code string) *Localizer {
	if !b.Known(code) {
		code = Default
	}
	return b.localizers[code]
}

// Localizer is one language's messages.
type Localizer struct {
	lang string
	msgs map[string]string
}

// Lang is the language's code, for <html lang>.
func (l *Localizer) Lang() string { return l.lang }

// T is the message of key with its {name} placeholders filled from args,
// name-value pairs. A key the catalog lacks renders as itself (the
// catalog tests make sure none does).
func (l *Localizer) T(key string, args ...string) string {
	msg, ok := l.msgs[key]
	if !ok {
		return key
	}
	if len(args) < 2 {
		return msg
	}
	return fill(msg, args)
}

// fill replaces each {name} of msg whose name args pairs with a value, in
// one pass: a value is never scanned for placeholders itself.
func fill(msg string, args []string) string {
	var b strings.Builder
	b.Grow(len(msg) + 32)
	for {
		open := strings.IndexByte(msg, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(msg[open:], '}')
		if end < 0 {
			break
		}
		name, value, found := msg[open+1:open+end], "", false
		for i := 0; i+1 < len(args); i += 2 {
			if args[i] == name {
				value, found = args[i+1], true
				break
			}
		}
		if !found {
			b.WriteString(msg[:open+1])
			msg = msg[open+1:]
			continue
		}
		b.WriteString(msg[:open])
		b.WriteString(value)
		msg = msg[open+end+1:]
	}
	b.WriteString(msg)
	return b.String()
}

// Has reports whether the catalog has key.
func (l *Localizer) Has(key string) bool {
	_, ok := l.msgs[key]
	return ok
}
