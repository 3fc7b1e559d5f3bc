package config

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Severity is how much a finding weighs: an error stops `check` and
// `serve`; a warning is printed (and `check --strict` counts it as an
// error).
type Severity string

// The severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one thing checking a configuration found: where (the YAML
// path and its line in the file), what, and what to do about it.
type Finding struct {
	Severity Severity
	// Path is the YAML path, as service_providers[3].certs[0]; empty for
	// the file as a whole (a YAML syntax error).
	Path string
	// Line is where Path is written, or its nearest written ancestor; 0
	// until the finding is added to a Report.
	Line    int
	Message string
	Advice  string
}

// Format writes the finding as `check` prints it:
// <file>:<line>: <severity>: <path>: <message> (<advice>).
func (f Finding) Format(file string) string {
	s := fmt.Sprintf("%s:%d: %s: ", file, f.Line, f.Severity)
	if f.Path != "" {
		s += f.Path + ": "
	}
	s += f.Message
	if f.Advice != "" {
		s += " (" + f.Advice + ")"
	}
	return s
}

// Report is everything checking one configuration file found.
type Report struct {
	File     string
	Mode     string // the configuration's mode, once decoded
	Findings []Finding
	// Config is the decoded configuration, nil when it could not be read,
	// decoded or validated; it may still have findings of the mode rules.
	Config *Config
	lines  lines
}

// Add records findings, each at the line of its path.
func (r *Report) Add(fs ...Finding) {
	for _, f := range fs {
		if f.Line == 0 {
			f.Line = r.lines.line(f.Path)
		}
		r.Findings = append(r.Findings, f)
	}
}

// Count returns how many findings have the severity.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Failed reports whether the configuration must not run: an error, or
// under strict any warning.
func (r *Report) Failed(strict bool) bool {
	return r.Count(Error) > 0 || (strict && r.Count(Warning) > 0)
}

// Sorted returns the findings in the order of their lines.
func (r *Report) Sorted() []Finding {
	fs := slices.Clone(r.Findings)
	slices.SortStableFunc(fs, func(a, b Finding) int { return cmp.Compare(a.Line, b.Line) })
	return fs
}

// Write prints every finding, one a line, in the order of the file.
func (r *Report) Write(w io.Writer) {
	for _, f := range r.Sorted() {
		fmt.Fprintln(w, f.Format(r.File))
	}
}

// Summary is one line: the counts, and whether the file may run.
func (r *Report) Summary(strict bool) string {
	e, wn := r.Count(Error), r.Count(Warning)
	mode := r.Mode
	if mode == "" {
		mode = "unknown"
	}
	switch {
	case e > 0:
		return fmt.Sprintf("%s: %s, %s (mode %s): not valid", r.File, plural(e, "error"), plural(wn, "warning"), mode)
	case strict && wn > 0:
		return fmt.Sprintf("%s: %s, which --strict counts as errors (mode %s): not valid", r.File, plural(wn, "warning"), mode)
	}
	return fmt.Sprintf("%s: valid, %s (mode %s)", r.File, plural(wn, "warning"), mode)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
