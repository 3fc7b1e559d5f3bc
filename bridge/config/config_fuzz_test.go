package config

import (
	"os"
	"testing"
	"time"
)

// FuzzParseConfig: any YAML is refused with errors or accepted, never a
// panic; Check accepts exactly what Parse does, and puts every finding on
// a line.
func FuzzParseConfig(f *testing.F) {
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("server: {listen: ':1'}\nservice_providers: [{id: x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse(data, "../..", testDialects)
		r := Check(data, "../..", testDialects, time.Unix(0, 0))
		if (err == nil) != (r.Config != nil) {
			t.Fatalf("Parse: %v, but Check's config is %v: %v", err, r.Config != nil, r.Findings)
		}
		for _, f := range r.Findings {
			if f.Line < 1 {
				t.Fatalf("finding without a line: %+v", f)
			}
		}
	})
}
