package config

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// CheckFile reads the configuration at path and reports everything wrong
// or risky in it, each finding with its YAML path and line: what cannot be
// read or decoded (unknown keys too), what Validate refuses, and the rules
// of the modes (test keys, the demo SPs, the simulator, auto-login: errors
// in production, warnings in development; plain http on a public host:
// errors; SHA-1, legacy switches, certificates past or within
// ExpiryNotice of their end at now: warnings).
func CheckFile(path string, dialects DialectSet, now time.Time) *Report {
	data, err := os.ReadFile(path)
	if err != nil {
		r := &Report{File: path}
		r.Add(Finding{Severity: Error, Message: err.Error(), Advice: "name the configuration file with -c"})
		return r
	}
	r := Check(data, filepath.Dir(path), dialects, now)
	r.File = path
	return r
}

// Check is CheckFile on the content of a file in dir.
func Check(data []byte, dir string, dialects DialectSet, now time.Time) *Report {
	r := &Report{File: "config", lines: indexLines(data)}
	cfg, err := decode(data, dir, dialects)
	var typeErr *yaml.TypeError
	switch {
	case err == nil, errors.Is(err, io.EOF): // an empty file: Validate says what is missing
	case errors.As(err, &typeErr):
		for _, msg := range typeErr.Errors {
			r.Add(r.decodeFinding(msg))
		}
	default: // a syntax error: nothing was decoded
		r.Add(r.decodeFinding(err.Error()))
		return r
	}
	cfg.applyDefaults()
	r.Mode = cfg.Mode
	decoded := len(r.Findings) == 0
	for _, err := range cfg.Validate() {
		r.Add(validationFinding(err))
	}
	if len(r.Findings) == 0 && decoded {
		r.Config = cfg
	}
	r.Add(cfg.review(now, r.lines.written)...)
	return r
}

var (
	lineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type`)
)

// decodeFinding turns one of the decoder's messages ("line 7: field x not
// found in type …") into a finding at its line and, when it can be told,
// its path.
func (r *Report) decodeFinding(msg string) Finding {
	f := Finding{Severity: Error, Message: msg, Advice: "fix the YAML"}
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return f
	}
	f.Line, _ = strconv.Atoi(m[1])
	f.Message = m[2]
	if u := unknownRE.FindStringSubmatch(m[2]); u != nil {
		f.Path = r.lines.unknownKey(f.Line, u[1])
		f.Message = "unknown key " + u[1]
		f.Advice = "remove it, or correct its spelling or its place: README.md lists every key"
		return f
	}
	if strings.HasPrefix(msg, "yaml: ") { // syntax
		f.Message = "YAML syntax: " + m[2]
		return f
	}
	f.Path = r.lines.valueOn(f.Line, m[2])
	f.Advice = "write a value of the kind README.md gives for the key"
	return f
}

// validationFinding is an error of Validate as a finding at its path.
func validationFinding(err error) Finding {
	f := Finding{Severity: Error, Message: err.Error(), Advice: "see the key in README.md's configuration table"}
	var fe *FieldError
	if errors.As(err, &fe) {
		f.Path, f.Message = fe.Path, fe.Err.Error()
	}
	if errors.Is(err, fs.ErrNotExist) {
		f.Advice = "relative names are read from the configuration file's folder"
	}
	return f
}
