# mapgate — see README.md. `make demo` runs the demo, `make test` runs the tests.
GO      ?= go
PKGS    := ./...
BIN     := bin/mapgate
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)
PREFIX  ?= /usr/local

.PHONY: all build deps test unit e2e fuzz fuzz-vitess bench bench-smoke demo vet fmt-check install deb deb-lint clean

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
	@for p in ./sqlshape/ ./mysqlcf/ ./mysqlfront/ ./pgsqlcf/; do for t in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do $(GO) test -run=^$$ -fuzz=^$$t$$ -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s $$p || exit 1; done; done

# sqlshape against vitess' MySQL grammar (a module of its own: the daemon
# never links vitess).
fuzz-vitess:
	cd tools/sqlfuzz && $(GO) test -run=^$$ -fuzz=FuzzShapeVsVitess -fuzztime=$(FUZZTIME) -parallel=1 .

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
	install -D -m 0644 contrib/mapgate-mysql.socket $(DESTDIR)/etc/systemd/system/mapgate-mysql.socket
	install -D -m 0644 contrib/mapgate-pgsql.socket $(DESTDIR)/etc/systemd/system/mapgate-pgsql.socket
	@[ -e $(DESTDIR)/etc/mapgate/mapgate.cf ] || install -D -m 0640 contrib/mapgate.cf $(DESTDIR)/etc/mapgate/mapgate.cf

# The Debian package, built with nfpm by tools/deb (a module of its own, so the
# daemon never links the packager). Native version 0~gitYYYYMMDDhhmmss.HASH
# from the last commit; the man page is the binary's own `mapgate help man`.
DEB_COMMIT  := $(shell git log -1 --format=%h 2>/dev/null || echo 0)
DEB_VERSION ?= $(shell git log -1 --format=0~git%cd.%h --date=format-local:%Y%m%d%H%M%S 2>/dev/null || echo 0~devel)
DEB_ARCH    ?= $(shell dpkg --print-architecture 2>/dev/null || $(GO) env GOARCH)
DEB_BUILD   := bin/deb# packaging/nfpm.yaml names it too
DEB_OUT     ?= bin/mapgate_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_DATE    := $(shell git log -1 --format=%cD 2>/dev/null || date -R)
deb:
	rm -rf $(DEB_BUILD) && mkdir -p $(DEB_BUILD)
	CGO_CFLAGS='-O2 -D_FORTIFY_SOURCE=2' $(GO) build -trimpath -buildmode=pie -ldflags "-s -w $(LDFLAGS) -linkmode=external -extldflags '-Wl,-z,relro -Wl,-z,now'" -o $(DEB_BUILD)/mapgate ./cmd/mapgate
	objcopy --remove-section=.comment $(DEB_BUILD)/mapgate
	$(DEB_BUILD)/mapgate help man | gzip -9n > $(DEB_BUILD)/mapgate.8.gz
	printf 'mapgate (%s) unstable; urgency=medium\n\n  * Built from commit %s (mapgate %s).\n\n -- %s  %s\n' \
	  '$(DEB_VERSION)' '$(DEB_COMMIT)' '$(VERSION)' \
	  'mapgate maintainers <maintainers@users.noreply.h-seed-aebd1e65.example>' '$(DEB_DATE)' | gzip -9n > $(DEB_BUILD)/changelog.gz
	cd tools/deb && $(GO) build -o ../../$(DEB_BUILD)/nfpm-deb .
	# libc6 (>= the newest GLIBC_ symbol version the binary uses), as dpkg-shlibdeps would.
	DEB_LIBC=$$(objdump -T $(DEB_BUILD)/mapgate | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1); \
	  [ -n "$$DEB_LIBC" ] || { echo "deb: $(DEB_BUILD)/mapgate uses no glibc symbol: build it with cgo (gcc)" >&2; exit 1; }; \
	  DEB_LIBC=$$DEB_LIBC DEB_VERSION='$(DEB_VERSION)' DEB_ARCH='$(DEB_ARCH)' $(DEB_BUILD)/nfpm-deb -config packaging/nfpm.yaml -out $(DEB_OUT)
	@echo "built $(DEB_OUT) (mapgate $(VERSION))"

# lintian's verdict on the package (apt-get install lintian).
deb-lint: deb
	lintian --info --display-info --pedantic $(DEB_OUT)

clean:
	rm -rf bin bench/out
