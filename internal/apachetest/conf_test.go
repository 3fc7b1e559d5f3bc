package apachetest

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestModuleLine(t *testing.T) {
	for _, tc := range []struct{ in, symbol, file string }{
		{"shib", "shib_module", filepath.Join(ModulesDir, "mod_shib.so")},
		{"auth_mellon", "auth_mellon_module", filepath.Join(ModulesDir, "mod_auth_mellon.so")},
		{"php_module=libphp8.2.so", "php_module", filepath.Join(ModulesDir, "libphp8.2.so")},
		{"x_module=/opt/x.so", "x_module", "/opt/x.so"},
	} {
		symbol, file := moduleLine(tc.in)
		if symbol != tc.symbol || file != tc.file {
			t.Errorf("moduleLine(%q) = %q, %q; want %q, %q", tc.in, symbol, file, tc.symbol, tc.file)
		}
	}
}

func TestHTTPDConf(t *testing.T) {
	s := New(t)
	if _, err := s.httpdConf(Config{Modules: []string{"no_such_thing"}}); err == nil || !strings.Contains(err.Error(), "no_such_thing") {
		t.Errorf("a missing module: err = %v, want one naming it", err)
	}
	conf, err := s.httpdConf(Config{Modules: []string{"headers"}, Conf: "# mine", LogLevel: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Listen 127.0.0.1:" + strconv.Itoa(s.Port), "PidFile", "Mutex file:" + s.Path("run"),
		"LoadModule mpm_prefork_module", "LogLevel debug", "# mine",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("httpd.conf lacks %q:\n%s", want, conf)
		}
	}
	if n := strings.Count(conf, "LoadModule headers_module"); n != 1 {
		t.Errorf("headers loaded %d times", n)
	}
}
