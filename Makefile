# clavebridge: the commands a developer and CI run.
GO        ?= go
FUZZTIME  ?= 10s
LONGFUZZ  ?= 5m
PKGS      := ./...

.PHONY: all build run check test deps vet unit interop fuzz-short fuzz bench load tidy security

all: build

build:
	$(GO) build -o bin/clavebridge ./cmd/clavebridge

# Start the bridge with the embedded Cl@ve 2.0 simulator and the demo SP.
run:
	$(GO) run ./cmd/clavebridge serve -c config.example.yaml

check:
	$(GO) run ./cmd/clavebridge check -c config.example.yaml

# The whole suite: static checks, a short fuzzing pass over every fuzz
# target, the attack suite with its table, then every other test including
# the interop tests against real peers
# (pysaml2, xmlsec1, python3-cryptography, node's xml-crypto, crewjam/saml),
# which fail rather than skip when a peer is missing.
test: deps vet fuzz-short security unit

# Installs xmlsec1, pysaml2, python3-cryptography, xml-crypto and starts a
# Redis server on loopback when they are missing (Debian, as root).
deps:
	@bash .ci/deps >/dev/null

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet $(PKGS)

unit:
	CLAVEBRIDGE_REQUIRE_PEERS=1 CLAVEBRIDGE_REDIS=127.0.0.1:6379 $(GO) test -count=1 -skip '^TestAttackSuite$$' $(PKGS)

# Only the tests that drive peers we did not write.
interop: deps
	CLAVEBRIDGE_REQUIRE_PEERS=1 $(GO) test -count=1 -v -run 'PySAML2|Crewjam|Xmlsec|PythonCryptography|XMLCrypto|Clave2Kit|EIDASProfile|Stork' ./cmd/clavebridge/internal/server/ ./bridge/samlxml/

# Every fuzz target for FUZZTIME each (CI); `make fuzz` runs them for LONGFUZZ.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz LONGFUZZ=$(FUZZTIME)

fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target ($(LONGFUZZ))"; \
	    bash .ci/fuzz-one $$pkg $$target $(LONGFUZZ); \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

load:
	$(GO) run ./cmd/clavebridge load -c config.example.yaml --logins 500 --workers 4

# The executable attack suite against every inbound endpoint: prints the
# attack class x entry point table (cells passed/total) and fails when any
# variant is accepted. The full log is in /tmp/clavebridge-security.log.
security:
	@CLAVEBRIDGE_SECURITY_TABLE=1 $(GO) test -count=1 -run TestAttackSuite -v ./cmd/clavebridge/internal/server/ > /tmp/clavebridge-security.log 2>&1; rc=$$?; \
	  grep -E '^SECURITY\| |^ +--- FAIL' /tmp/clavebridge-security.log | sed 's/^SECURITY| //'; exit $$rc
