package samlxml

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scanner is Parse's tokenizer: the grammar encoding/xml's strict decoder
// reads (RawToken), token for token, with one deliberate difference: names
// (of elements, attributes, processing instructions and entities) must be
// ASCII, as every SAML name is. It works on one string copy of the
// document, so names, attribute values and text without references or
// carriage returns are substrings of it, not allocations of their own.
//
// Each method reads one construct at s.pos and leaves s.pos after it.
type scanner struct {
	src string
	pos int
	buf []byte // scratch for text that must be rewritten
}

// tokenKind is what next found.
type tokenKind int

const (
	tokenEOF tokenKind = iota
	tokenText
	tokenStart
	tokenEnd
	tokenComment
	tokenProcInst
)

// scanAttr is one attribute as written.
type scanAttr struct{ space, local, value string }

// token is the last token next read; attrs is reused from one start tag
// to the next.
type token struct {
	kind         tokenKind
	space, local string // element name, or the PI's target in local
	text         string // text, comment, PI data
	attrs        []scanAttr
	selfClosing  bool
}

var errUnexpectedEOF = errors.New("unexpected end of document")

// next reads the next token into t.
func (s *scanner) next(t *token) error {
	if s.pos >= len(s.src) {
		t.kind = tokenEOF
		return nil
	}
	if s.src[s.pos] != '<' {
		text, err := s.text(-1, false)
		t.kind, t.text = tokenText, text
		return err
	}
	s.pos++
	if s.pos >= len(s.src) {
		return errUnexpectedEOF
	}
	switch s.src[s.pos] {
	case '/':
		s.pos++
		space, local, err := s.nsname("expected element name after </")
		if err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.src) {
			return errUnexpectedEOF
		}
		if s.src[s.pos] != '>' {
			return fmt.Errorf("invalid characters between </%s and >", local)
		}
		s.pos++
		t.kind, t.space, t.local = tokenEnd, space, local
		return nil
	case '?':
		s.pos++
		return s.procInst(t)
	case '!':
		s.pos++
		return s.bang(t)
	}
	return s.startTag(t)
}

// procInst reads <?target data?> after the <?.
func (s *scanner) procInst(t *token) error {
	target, err := s.name("expected target name after <?")
	if err != nil {
		return err
	}
	s.space()
	end := strings.Index(s.src[s.pos:], "?>")
	if end < 0 {
		return errUnexpectedEOF
	}
	data := s.src[s.pos : s.pos+end]
	s.pos += end + 2
	if target == "xml" {
		if v := declParam("version", data); v != "" && v != "1.0" {
			return fmt.Errorf("unsupported XML version %q; only 1.0 is", v)
		}
		if enc := declParam("encoding", data); enc != "" && !strings.EqualFold(enc, "utf-8") {
			return fmt.Errorf("encoding %q declared; only UTF-8 is accepted", enc)
		}
	}
	t.kind, t.local, t.text = tokenProcInst, target, data
	return nil
}

// bang reads what follows <!: a comment or a CDATA section; anything else
// is a directive (DOCTYPE, ENTITY…), never accepted.
func (s *scanner) bang(t *token) error {
	rest := s.src[s.pos:]
	switch {
	case strings.HasPrefix(rest, "--"):
		s.pos += 2
		// encoding/xml ends a comment at the first "--", which must be
		// followed by '>'.
		end := strings.Index(s.src[s.pos:], "--")
		if end < 0 {
			return errUnexpectedEOF
		}
		data := s.src[s.pos : s.pos+end]
		s.pos += end + 2
		if s.pos >= len(s.src) {
			return errUnexpectedEOF
		}
		if s.src[s.pos] != '>' {
			return errors.New(`invalid sequence "--" in a comment`)
		}
		s.pos++
		t.kind, t.text = tokenComment, data
		return nil
	case strings.HasPrefix(rest, "["):
		if len(rest) < 7 {
			if !strings.HasPrefix("[CDATA[", rest) {
				return errors.New("invalid <![ sequence")
			}
			return errUnexpectedEOF
		}
		if rest[:7] != "[CDATA[" {
			return errors.New("invalid <![ sequence")
		}
		s.pos += 7
		text, err := s.text(-1, true)
		t.kind, t.text = tokenText, text
		return err
	case strings.HasPrefix(rest, "-"):
		if len(rest) < 2 {
			return errUnexpectedEOF
		}
		return errors.New("invalid sequence <!- not part of <!--")
	}
	return fmt.Errorf("DOCTYPE and other directives are not allowed (found <!%.20s)", rest)
}

// startTag reads <name attr="value" …> or its self-closing form.
func (s *scanner) startTag(t *token) error {
	space, local, err := s.nsname("expected element name after <")
	if err != nil {
		return err
	}
	t.kind, t.space, t.local, t.attrs, t.selfClosing = tokenStart, space, local, t.attrs[:0], false
	for {
		s.space()
		if s.pos >= len(s.src) {
			return errUnexpectedEOF
		}
		switch s.src[s.pos] {
		case '/':
			s.pos++
			if s.pos >= len(s.src) {
				return errUnexpectedEOF
			}
			if s.src[s.pos] != '>' {
				return errors.New("expected /> in element")
			}
			s.pos++
			t.selfClosing = true
			return nil
		case '>':
			s.pos++
			return nil
		}
		aSpace, aLocal, err := s.nsname("expected attribute name in element")
		if err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.src) {
			return errUnexpectedEOF
		}
		if s.src[s.pos] != '=' {
			return errors.New("attribute name without = in element")
		}
		s.pos++
		s.space()
		if s.pos >= len(s.src) {
			return errUnexpectedEOF
		}
		quote := s.src[s.pos]
		if quote != '"' && quote != '\'' {
			return errors.New("unquoted or missing attribute value in element")
		}
		s.pos++
		value, err := s.text(int(quote), false)
		if err != nil {
			return err
		}
		if s.pos >= len(s.src) {
			return errUnexpectedEOF // the value never closed
		}
		s.pos++ // the closing quote
		t.attrs = append(t.attrs, scanAttr{space: aSpace, local: aLocal, value: value})
	}
}

// space skips XML white space.
func (s *scanner) space() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\r', '\n', '\t':
			s.pos++
		default:
			return
		}
	}
}

// name reads a name: [A-Za-z_:][A-Za-z0-9_:.-]*, as encoding/xml's names
// restricted to ASCII.
func (s *scanner) name(missing string) (string, error) {
	start := s.pos
	for s.pos < len(s.src) && isNameByte(s.src[s.pos]) {
		s.pos++
	}
	if s.pos < len(s.src) && s.src[s.pos] >= utf8.RuneSelf {
		return "", errors.New("non-ASCII names are not accepted")
	}
	if s.pos == start {
		if s.pos >= len(s.src) {
			return "", errUnexpectedEOF
		}
		return "", errors.New(missing)
	}
	n := s.src[start:s.pos]
	if c := n[0]; c >= '0' && c <= '9' || c == '.' || c == '-' {
		return "", fmt.Errorf("invalid XML name: %s", n)
	}
	if s.pos >= len(s.src) {
		return "", errUnexpectedEOF
	}
	return n, nil
}

// nsname reads prefix:local as encoding/xml does: a second colon is an
// error, an empty prefix or local part leaves the whole name local (the
// parser's name check refuses it then).
func (s *scanner) nsname(missing string) (space, local string, err error) {
	n, err := s.name(missing)
	if err != nil {
		return "", "", err
	}
	if strings.Count(n, ":") > 1 {
		return "", "", fmt.Errorf("invalid qualified name %s", n)
	}
	if p, l, ok := strings.Cut(n, ":"); ok && p != "" && l != "" {
		return p, l, nil
	}
	return "", n, nil
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// text reads character data up to '<' (quote < 0, not cdata), the closing
// quote of an attribute value (left unread), or "]]>" (cdata, consumed):
// references replaced, CR and CRLF read as LF, then every character
// checked. Without references or CRs it is a substring of the document.
func (s *scanner) text(quote int, cdata bool) (string, error) {
	start := s.pos
	end, rewrite := s.pos, false
	for ; end < len(s.src); end++ {
		c := s.src[end]
		if c == '<' && !cdata {
			if quote >= 0 {
				return "", errors.New("unescaped < inside quoted string")
			}
			break
		}
		if quote >= 0 && int(c) == quote {
			break
		}
		if c == '>' && quote < 0 && end-start >= 2 && s.src[end-2:end] == "]]" {
			if cdata {
				if end-start == 2 {
					// as the round-trip validator the parser replaced did
					return "", errors.New("empty CDATA section")
				}
				s.pos = end + 1
				return s.finishText(start, end-2, rewrite, cdata)
			}
			return "", errors.New("unescaped ]]> not in CDATA section")
		}
		if c == '\r' || c == '&' && !cdata {
			rewrite = true
		}
	}
	if cdata {
		return "", errors.New("unexpected end of document in a CDATA section")
	}
	s.pos = end
	return s.finishText(start, end, rewrite, cdata)
}

// finishText returns s.src[start:end] as text, rewritten if it has
// references or CRs, after checking each character.
func (s *scanner) finishText(start, end int, rewrite, cdata bool) (string, error) {
	raw := s.src[start:end]
	if !rewrite {
		if err := checkChars(raw); err != nil {
			return "", err
		}
		return raw, nil
	}
	b := s.buf[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\r':
			b = append(b, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		case c == '&' && !cdata:
			repl, n, err := reference(raw[i:])
			if err != nil {
				return "", err
			}
			b = append(b, repl...)
			i += n - 1
		default:
			b = append(b, c)
		}
	}
	s.buf = b
	if err := checkChars(string(b)); err != nil {
		return "", err
	}
	return string(b), nil
}

// reference decodes the reference at the start of r (which starts with
// '&'): the five predefined entities and character references, as
// encoding/xml does (a surrogate or too large a code point becomes
// U+FFFD). It returns the text and the reference's length.
func reference(r string) (string, int, error) {
	semi := strings.IndexByte(r, ';')
	if semi < 0 {
		return "", 0, fmt.Errorf("invalid character entity %.12s (no semicolon)", r)
	}
	body := r[1:semi]
	if strings.HasPrefix(body, "#") {
		digits, base := body[1:], 10
		if strings.HasPrefix(digits, "x") {
			digits, base = digits[1:], 16
		}
		if digits == "" || strings.IndexFunc(digits, func(c rune) bool { return !isDigit(c, base) }) >= 0 {
			return "", 0, fmt.Errorf("invalid character entity &%.12s;", body)
		}
		n, err := strconv.ParseUint(digits, base, 64)
		if err != nil || n > utf8.MaxRune {
			return "", 0, fmt.Errorf("invalid character entity &%.12s;", body)
		}
		return string(rune(n)), semi + 1, nil
	}
	switch body {
	case "lt":
		return "<", semi + 1, nil
	case "gt":
		return ">", semi + 1, nil
	case "amp":
		return "&", semi + 1, nil
	case "apos":
		return "'", semi + 1, nil
	case "quot":
		return `"`, semi + 1, nil
	}
	return "", 0, fmt.Errorf("invalid character entity &%.12s;", body)
}

func isDigit(c rune, base int) bool {
	return '0' <= c && c <= '9' || base == 16 && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')
}

// checkChars refuses invalid UTF-8 and characters XML does not allow.
func checkChars(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return fmt.Errorf("illegal character code %U", rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return errors.New("invalid UTF-8")
		}
		if !isXMLChar(r) {
			return fmt.Errorf("illegal character code %U", r)
		}
		i += size
	}
	return nil
}

// declParam is a parameter of the XML declaration's data, read as
// encoding/xml reads it (name="value" or name='value').
func declParam(param, s string) string {
	param += "="
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || len(param)+k >= len(sub) {
			return ""
		}
		i += len(param) + k + 1
		if c := sub[len(param)+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}
