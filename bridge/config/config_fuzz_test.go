package config

import (
	"os"
	"testing"
)

// FuzzParseConfig: any YAML is refused with errors or accepted, never a panic.
func FuzzParseConfig(f *testing.F) {
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("server: {listen: ':1'}\nservice_providers: [{id: x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data, "../..", testDialects)
	})
}
