# clavebridge: the commands a developer and CI run.
GO        ?= go
FUZZTIME  ?= 10s
LONGFUZZ  ?= 5m
PKGS      := ./...

.PHONY: all build run check test deps vet unit pkcs11 browser ha ha-load interop fuzz-short fuzz bench load tidy security

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
test: deps vet fuzz-short security unit pkcs11 browser ha

# Installs xmlsec1, pysaml2, python3-cryptography, xml-crypto and starts a
# Redis server on loopback when they are missing (Debian, as root).
deps:
	@bash .ci/deps >/dev/null

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet $(PKGS)

unit:
	CLAVEBRIDGE_REQUIRE_PEERS=1 CLAVEBRIDGE_REDIS=127.0.0.1:6379 $(GO) test -count=1 -skip '^TestAttackSuite$$|^TestBrowserJourneys$$|^TestHA|^TestLoadThroughHAProxy$$' $(PKGS)

# The browser suite: Debian's chromium, driven by playwright-core with the
# keyboard only, through the demo logins of every dialect (JavaScript off
# and on, Spanish and English), axe-core (WCAG 2.1 AA) and the page rules on
# every page, and the dead ends (testdata/browser/README.md). Prints its time.
browser: deps
	@start=$$(date +%s); \
	  CLAVEBRIDGE_REQUIRE_PEERS=1 $(GO) test -count=1 -run '^TestBrowserJourneys$$' -v ./cmd/clavebridge/internal/server/ > /tmp/clavebridge-browser.log 2>&1; rc=$$?; \
	  cat /tmp/clavebridge-browser.log; \
	  echo "browser suite: $$(( $$(date +%s) - start )) s wall (log: /tmp/clavebridge-browser.log)"; exit $$rc

# Replicas and faults (internal/hatest): two `clavebridge serve` behind
# Debian's HAProxy on one Redis, the gateway and demo SP in a process of
# their own; hops across replicas, SIGKILL and SIGTERM of a replica, Redis
# down and back (docs/operations.md, Replicas); the fault run (three
# replicas, a Redis primary and replica under three sentinels, logins in
# the three dialects while a replica is killed, another restarted and the
# primary fails over) prints its summary line. Budget: 5 minutes, ~1 used.
ha: deps
	@start=$$(date +%s); \
	  CLAVEBRIDGE_REQUIRE_PEERS=1 $(GO) test -count=1 -timeout 5m -run '^TestHA' -v ./internal/hatest/ > /tmp/clavebridge-ha.log 2>&1; rc=$$?; \
	  grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok|[0-9]+ logins: )' /tmp/clavebridge-ha.log; \
	  echo "ha suite: $$(( $$(date +%s) - start )) s wall (log: /tmp/clavebridge-ha.log)"; exit $$rc

# Keys in a hardware module: the tests behind the pkcs11 build tag (cgo),
# each with a throwaway SoftHSM2 token (they fail when softhsm2 is missing).
# `make build` stays the static default; `go build -tags pkcs11` makes the
# binary that reaches tokens.
# The tagged build is vetted whole; in the server package only the token
# tests run again (the rest is `unit`'s, the same code either way).
pkcs11:
	CGO_ENABLED=1 $(GO) vet -tags pkcs11 $(PKGS)
	CGO_ENABLED=1 CLAVEBRIDGE_REQUIRE_PEERS=1 $(GO) test -count=1 -tags pkcs11 ./bridge/hsm/ ./bridge/config/
	CGO_ENABLED=1 CLAVEBRIDGE_REQUIRE_PEERS=1 $(GO) test -count=1 -tags pkcs11 -run 'SoftHSM|TokenKeys|TokenContexts' ./cmd/clavebridge/internal/server/

# Only the tests that drive peers we did not write.
interop: deps
	CLAVEBRIDGE_REQUIRE_PEERS=1 $(GO) test -count=1 -v -run 'PySAML2|Crewjam|InteropMellon|InteropSimpleSAMLphp|InteropShibboleth|Xmlsec|PythonCryptography|XMLCrypto|Clave2Kit|EIDASProfile|Stork' ./cmd/clavebridge/internal/server/ ./bridge/samlxml/

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

# Every benchmark; those with Login in their name are the bridge's side only
# (cmd/clavebridge/internal/server/bridgebench_test.go). Then one line per
# dialect: the process CPU per login over its private-key operations' CPU,
# RSA-2048 keys made for the run, the committed RSA-3072 ones beside.
bench:
	@$(GO) test -run '^$$' -bench . -benchmem $(PKGS) > /tmp/clavebridge-bench.log 2>&1; rc=$$?; \
	  cat /tmp/clavebridge-bench.log; \
	  awk -f .ci/bench-bounds.awk /tmp/clavebridge-bench.log; \
	  exit $$rc

# The README's load figures: complete demo logins in process (the bridge,
# the simulator and the demo SP, committed RSA-3072 test keys), saturated
# by 4 browsers, then open loop at half the rate that reached.
load:
	@$(GO) build -o /tmp/clavebridge-load ./cmd/clavebridge
	@/tmp/clavebridge-load load -c config.example.yaml --logins 600 --workers 4 | tee /tmp/clavebridge-load.log
	@rate=$$(awk '/^throughput:/ { printf "%.1f", $$2 / 2 }' /tmp/clavebridge-load.log); \
	  echo "--- open loop at half that rate: $$rate logins/s"; \
	  /tmp/clavebridge-load load -c config.example.yaml --logins 400 --workers 32 --rate $$rate

# The README's replica figures: load --target through HAProxy, one replica
# then three (internal/hatest/load_test.go; a measurement, run by hand).
ha-load: deps
	CLAVEBRIDGE_HA_LOAD=1 $(GO) test -count=1 -timeout 5m -run '^TestLoadThroughHAProxy$$' -v ./internal/hatest/

# The executable attack suite against every inbound endpoint: prints the
# attack class x entry point table (cells passed/total) and fails when any
# variant is accepted. The full log is in /tmp/clavebridge-security.log.
security:
	@CLAVEBRIDGE_SECURITY_TABLE=1 $(GO) test -count=1 -run TestAttackSuite -v ./cmd/clavebridge/internal/server/ > /tmp/clavebridge-security.log 2>&1; rc=$$?; \
	  grep -E '^SECURITY\| |^ +--- FAIL' /tmp/clavebridge-security.log | sed 's/^SECURITY| //'; exit $$rc
