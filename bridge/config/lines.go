package config

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// lines maps the YAML paths written in a configuration file
// (service_providers[3].certs[0]) to the lines they are written on. It is
// built from a second decoding of the file into a yaml.Node tree.
type lines struct {
	paths map[string]int
	// keys finds a mapping key by its line and name: how the decoder
	// names an unknown key.
	keys map[lineKey][]string
	// values lists the paths whose scalar value is on a line.
	values map[int][]valueAt
}

type lineKey struct {
	line int
	name string
}

type valueAt struct {
	path, value string
}

// indexLines reads data into a node tree and records where each path is;
// a document that does not parse gives an empty index.
func indexLines(data []byte) lines {
	l := lines{paths: map[string]int{}, keys: map[lineKey][]string{}, values: map[int][]valueAt{}}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return l
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		l.walk("", doc.Content[0], doc.Content[0].Line, 0)
	}
	return l
}

// walk records node at path; line is where the path is written (a
// mapping key's line, a sequence item's own line).
func (l *lines) walk(path string, n *yaml.Node, line, depth int) {
	if depth > 64 { // aliases may nest; a configuration never does
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		if _, seen := l.paths[path]; !seen {
			l.paths[path] = line
		}
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Tag == "!!merge" { // merged keys belong to this mapping
				l.walk(path, v, line, depth+1)
				continue
			}
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			lk := lineKey{k.Line, k.Value}
			l.keys[lk] = append(l.keys[lk], child)
			l.walk(child, v, k.Line, depth+1)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			l.walk(fmt.Sprintf("%s[%d]", path, i), item, item.Line, depth+1)
		}
	case yaml.ScalarNode:
		l.values[n.Line] = append(l.values[n.Line], valueAt{path, n.Value})
	}
}

// written reports whether path is written in the file.
func (l lines) written(path string) bool {
	_, ok := l.paths[path]
	return ok
}

// line is where path is written, or where its nearest written ancestor
// is (a key left out is reported where it belongs); 1 when none is.
func (l lines) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if n, ok := l.paths[p]; ok {
			return n
		}
	}
	return 1
}

// parent drops the last step of a path: a.b[3].c → a.b[3] → a.b → a.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// unknownKey finds the path of a key the decoder found no field for.
func (l lines) unknownKey(line int, name string) string {
	if paths := l.keys[lineKey{line, name}]; len(paths) > 0 {
		return paths[0]
	}
	return name
}

// valueOn finds the path of the scalar on line that a decoder message
// quotes ("10", `abc`), else the line's only scalar.
func (l lines) valueOn(line int, msg string) string {
	vals := l.values[line]
	for _, v := range vals {
		if v.value != "" && (strings.Contains(msg, fmt.Sprintf("%q", v.value)) || strings.Contains(msg, "`"+v.value+"`")) {
			return v.path
		}
	}
	if len(vals) == 1 {
		return vals[0].path
	}
	return ""
}
