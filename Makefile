# The project's interface: make test | lint | fuzz | bench | build
GO ?= go
FUZZTIME ?= 60s

.PHONY: test lint build fuzz
test:
	$(GO) test -race ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...

# The official Go SDK against the server: compat/sdkgo is a module of its own,
# so ./... of the main module does not reach it.
.PHONY: compat
compat:
	cd compat/sdkgo && $(GO) vet ./... && $(GO) test -race ./...

# The version "imagequota version" prints: git describe of the checkout (the
# tag, or the commit, with -dirty for uncommitted changes). Empty outside a
# git checkout, where the binary falls back to its build information.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
BINDIR ?= bin

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BINDIR)/imagequota ./cmd/imagequota

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Runs every benchmark scenario briefly against in-process servers and prints
# the table (docs/performance.md has the full runs). Scenario e (PostgreSQL)
# runs only when IMAGEQUOTA_TEST_POSTGRES is set. Extra flags: BENCHFLAGS=…
.PHONY: bench
bench:
	$(GO) run ./cmd/imagequota-bench --scenario all --duration 3s --warmup 1s $(BENCHFLAGS)

# The operator console's tests with its browser tests required (they need
# Debian's chromium), and the screenshots of docs/console.md made again.
.PHONY: console console-screenshots
console:
	IMAGEQUOTA_REQUIRE_BROWSER=1 $(GO) test -race ./internal/console/ ./e2e/ -run Console

console-screenshots:
	IMAGEQUOTA_SCREENSHOTS=docs/images $(GO) test ./e2e/ -run TestConsoleInBrowser -count=1

# The figures of docs/performance.md: a, b, c and d, then e on PostgreSQL
# (IMAGEQUOTA_TEST_POSTGRES) with one server and with two sharing its database.
.PHONY: bench-figures
bench-figures:
	$(GO) build -o bin/imagequota-bench ./cmd/imagequota-bench
	bin/imagequota-bench --scenario a,b,c,d --duration 5s --warmup 1s
	bin/imagequota-bench --scenario e --duration 5s --warmup 1s
	bin/imagequota-bench --scenario e --replicas 2 --duration 5s --warmup 1s
