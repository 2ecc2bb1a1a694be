# mapgate — see README.md. `make demo` runs the demo, `make test` runs the tests.
GO      ?= go
PKGS    := ./...
BIN     := bin/mapgate
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)
PREFIX  ?= /usr/local

.PHONY: all build deps test unit e2e fuzz bench bench-smoke demo vet fmt-check install clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mapgate

# Installs MariaDB server binaries and Postfix's postmap + postfix-mysql when missing.
deps:
	@bash scripts/deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# The whole suite: formatting, vet, race-enabled unit, integration (private
# MariaDB per package) and end-to-end tests (real postmap, real Postfix
# smtpd), then a short benchmark smoke run that asserts correctness counts.
test: deps fmt-check vet build
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) bench-smoke

unit:
	$(GO) test -count=1 -short $(PKGS)

e2e: deps build
	$(GO) test -race -count=1 -timeout 15m -run 'E2E' ./cmd/mapgate/ ./e2e/...

# Short fuzz runs of every fuzz target (the corpora live in */testdata/fuzz).
FUZZTIME ?= 20s
fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./socketmap/ | grep ^Fuzz); do $(GO) test -run=^$$ -fuzz=^$$t$$ -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./socketmap/ || exit 1; done
	@for t in $$($(GO) test -list 'Fuzz.*' ./charset/ | grep ^Fuzz); do $(GO) test -run=^$$ -fuzz=^$$t$$ -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./charset/ || exit 1; done
	@for t in $$($(GO) test -list 'Fuzz.*' ./lookup/ | grep ^Fuzz); do $(GO) test -run=^$$ -fuzz=^$$t$$ -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./lookup/ || exit 1; done

# Full side-by-side comparison (mapgate vs Postfix's mysql: and proxy:mysql:).
bench: deps build
	$(GO) run ./bench/cmd/benchrun -out bench/out

# A few seconds; asserts answer counts, never timings. CI keeps the report.
bench-smoke: build
	$(GO) run ./bench/cmd/benchrun -smoke -out bench/out

# A private MariaDB with a latin1 PostfixAdmin schema, mapgate, and the attack.
demo: deps build
	$(GO) run ./cmd/demo -mapgate $(BIN)

install: build
	@getent passwd mapgate >/dev/null || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group mapgate
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mapgate
	sed 's|/usr/bin/mapgate|$(PREFIX)/bin/mapgate|' contrib/mapgate.service | install -D -m 0644 /dev/stdin $(DESTDIR)/etc/systemd/system/mapgate.service
	install -D -m 0644 contrib/mapgate.socket $(DESTDIR)/etc/systemd/system/mapgate.socket
	@[ -e $(DESTDIR)/etc/mapgate/mapgate.cf ] || install -D -m 0640 contrib/mapgate.cf $(DESTDIR)/etc/mapgate/mapgate.cf

clean:
	rm -rf bin bench/out
