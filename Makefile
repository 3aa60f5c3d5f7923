# runcage. `make demo` and `make test` work on a fresh Debian 12 machine as
# root: `deps` installs what is missing with apt-get, and Go fetches modules.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/runcage/runcage/runtime.Version=$(VERSION)
APT_PKGS  := libseccomp-dev pkg-config gcc g++ libc6-dev iproute2 busybox-static runc apparmor bats strace jq \
             debootstrap curl redis-tools docker.io containerd podman crun \
             containernetworking-plugins uidmap gawk
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all build deps demo test unit fuzz integration validation runc-bats bench lint clean

all: build

deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(GO) mod download

build: deps $(BIN)/runcage $(BIN)/runc $(BIN)/containerd-shim-runcage-v2 $(BIN)/runcage-landlock

# The Landlock helper runcage binds into containers whose profile has
# Landlock rules (docs/landlock.md): static, so it runs in any image.
$(BIN)/runcage-landlock: cmd/runcage-landlock/main.c
	gcc -static -O2 -Wall -Wextra -o $@ $<

# runcage's containerd shim (task API v2): the create transaction in-process.
# no_dynamic_plugins leaves out containerd's Go plugin loader, which a shim
# never uses and which keeps every exported method in the binary (26.5 MB
# instead of 18.4, 5 MB more resident per shim).
$(BIN)/containerd-shim-runcage-v2: $(shell find cmd runtime profiles internal -name '*.go' -o -name '*.json' -o -name '*.[ch]' 2>/dev/null) go.mod go.sum
	CGO_ENABLED=1 $(GO) build -trimpath -tags "seccomp no_dynamic_plugins" -ldflags '$(LDFLAGS)' -o $@ ./cmd/containerd-shim-runcage-v2

# runcage is linked statically (glibc and libseccomp): every runc verb an
# engine runs starts it once, and a static binary starts about 0.5 ms
# sooner (no dynamic loader, no relocations; docs/benchmarks.md). netgo and
# osusergo keep glibc's NSS, which a static binary cannot load, out of it.
$(BIN)/runcage: $(shell find cmd runtime profiles internal -name '*.go' -o -name '*.json' -o -name '*.[ch]' 2>/dev/null) go.mod go.sum
	CGO_ENABLED=1 $(GO) build -trimpath -tags "seccomp urfave_cli_no_docs netgo osusergo" -ldflags '$(LDFLAGS) -linkmode external -extldflags -static' -o $@ ./cmd/runcage

# The delegate: runc built from the version pinned in go.mod, with seccomp.
$(BIN)/runc: go.mod go.sum
	CGO_ENABLED=1 $(GO) build -trimpath -tags seccomp -o $@ github.com/opencontainers/runc

demo: build
	./hack/demo.sh

test: build lint unit fuzz integration validation runc-bats

lint:
	@out=$$(gofmt -l cmd runtime profiles internal integration deploy); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet -tags seccomp ./...
	$(GO) vet -tags integration ./integration/...

unit:
	$(GO) test -race -tags seccomp ./cmd/... ./runtime/... ./profiles/... ./internal/... $(if $(wildcard deploy),./deploy/...)

# FuzzHarden feeds mutated config.json files through the whole create path
# (without runc) and checks the result never widens what the input asked
# for. Its seed corpus also runs in `unit`.
fuzz:
	$(GO) test -tags seccomp -run '^$$' -fuzz FuzzHarden -fuzztime 60s -fuzzminimizetime 5s -parallel 1 ./profiles/policy/

# The containerd releases the shim is also tested against (shimVersions in
# integration/containerd/shim_versions_test.go), built first so their build
# (about 5 minutes each) does not count against the test timeout.
integration: build
	./integration/rootfs/containerd.sh 1.7.35 >/dev/null
	./integration/rootfs/containerd.sh 2.4.2 >/dev/null
	$(GO) test -tags integration -count=1 -timeout 20m ./integration/...

validation: build
	./integration/validation/run.sh

# runc's own bats suites against runc, runcage-passthrough and (for the
# files that matter to it) runcage's default profile.
runc-bats: build
	./integration/runc-bats/run.sh userns.bats create.bats start.bats run.bats exec.bats delete.bats kill.bats ps.bats pause.bats list.bats spec.bats help.bats

bench: build
	$(GO) run ./integration/bench -n 100
	$(GO) run -tags integration ./integration/bench/recordbench -n 5000 -rounds 3
	$(GO) run -tags integration ./integration/bench/denialbench -n 10
	$(GO) run -tags integration ./integration/bench/enginebench -n 30
	$(GO) run -tags integration ./integration/bench/landlockbench -n 30

clean:
	rm -rf $(BIN)
