# mcr build, test and tooling.
#
#   make build        bin/mcrsrv and bin/mcrctl, stamped with version and commit
#   make run          build, then run bin/mcrsrv serve in the foreground (RUN_FLAGS=... adds flags)
#   make image        multi-platform OCI image layout in bin/image (no container engine)
#   make deploy-config  regenerate deploy/mcr.toml and the key table of docs/operations.md
#   make tools        pinned test tools into .tools/bin (idempotent)
#   make test         tools, build, image, k6-check and proto-check, then vet,
#                     staticcheck and every test with -race (the e2e suites too)
#   make lint         go vet + staticcheck
#   make proto        regenerate the gRPC API's Go code (http/grpcapi/mcrv1)
#   make proto-baseline  move the buf breaking-change baseline (deliberately)
#   make proto-check  buf lint, and no breaking change against the baseline
#   make bench        the load harness (bench/) against a fresh bin/mcrsrv
#   make bench-go     go test benchmarks
#   make bench-micro  hot-path microbenchmarks, -count=6, benchstat-ready file
#   make bench-compare  mcr vs distribution v3.1.2, all scenarios, 3 rounds
#   make k6-check     syntax check of the k6 scripts (part of test)
#   make conformance  only the OCI conformance runs, verbose
#   make clients      only the crane/oras/regctl/skopeo runs, verbose
#   make test-seaweedfs  the S3 blob store suite, conformance, clients and the
#                     S3 outage test against SeaweedFS instead of versitygw
#                     (not part of test: building weed takes ~10 minutes)
#   make clean        remove bin/
#
# Everything a fresh Debian machine with Go needs is installed by `make tools`:
# Go tools at pinned versions, skopeo, nginx, HAProxy, chromium, systemd
# (systemd-analyze), PostgreSQL and e2fsprogs (mkfs.ext4, for the disk-full
# test) (and node for k6-check) from Debian's packages.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# Go may live outside PATH on CI images; appending is harmless otherwise.
export PATH := $(PATH):/usr/local/go/bin

GO        ?= go
BIN       := $(CURDIR)/bin
TOOLS_BIN := $(CURDIR)/.tools/bin

# What a build says it is: the image's annotations (and version stamping).
# SOURCE_DATE_EPOCH (the commit's time unless set) is the image's creation
# time and its files' mtime, so one commit always gives the same digests.
VERSION           ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION          ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_SOURCE      := https://git.wntrmute.dev/kyle/mcr
IMAGE_DIR         := $(BIN)/image
IMAGE_ARCHS       := amd64 arm64

# Pinned tools: <binary> <module> <version> <package>.
CRANE_MOD        := github.com/google/go-containerregistry
CRANE_VER        := v0.22.1
ORAS_MOD         := oras.land/oras
ORAS_VER         := v1.3.6
REGCTL_MOD       := github.com/regclient/regclient
REGCTL_VER       := v0.11.7
CONFORMANCE_MOD  := github.com/opencontainers/distribution-spec/conformance
CONFORMANCE_VER  := v0.0.0-20260831232431-97274622c111
STATICCHECK_MOD  := honnef.co/go/tools
STATICCHECK_VER  := v0.8.2
# The S3 server the blob store tests run against (engine/blobstore/s3test).
VERSITYGW_MOD    := github.com/versity/versitygw
VERSITYGW_VER    := v1.8.0
# A second S3 server, a real distributed object store, for make
# test-seaweedfs only. Its go.mod has replace directives, which
# `go install mod@version` refuses, so the module is downloaded at the
# pinned version and built in its own directory with its own go.mod and
# go.sum; weed.version beside the binary records what was built.
SEAWEEDFS_MOD    := github.com/seaweedfs/seaweedfs
SEAWEEDFS_VER    := v0.0.0-20261109003541-7506e5f91cd6
# The gRPC API's definitions (http/grpcapi/proto): buf lints them, checks
# them for breaking changes and drives the two pinned Go plugins;
# grpcurl is the external client of the e2e test.
BUF_MOD          := github.com/bufbuild/buf
BUF_VER          := v1.75.0
PROTOC_GO_MOD    := google.golang.org/protobuf
PROTOC_GO_VER    := v1.36.12
PROTOC_GRPC_MOD  := google.golang.org/grpc/cmd/protoc-gen-go-grpc
PROTOC_GRPC_VER  := v1.6.2
GRPCURL_MOD      := github.com/fullstorydev/grpcurl
GRPCURL_VER      := v1.9.4
PROTO_DIR        := http/grpcapi/proto

# PostgreSQL for the metadata tests (kv/pgtest runs throwaway servers from
# its initdb and postgres): Debian's package of the release's supported
# major version (15 on Debian 12), the version apt pins for the release.
PG_PACKAGE := postgresql

# The e2e suites start bin/mcrsrv and find the clients in .tools/bin.
# MCR_PG_REQUIRED=1: tests needing PostgreSQL fail instead of skipping,
# since `make tools` installed it.
E2E_ENV := MCR_E2E=1 MCR_TOOLS_BIN=$(TOOLS_BIN) MCR_BIN=$(BIN)/mcrsrv MCR_IMAGE=$(IMAGE_DIR) MCR_PG_REQUIRED=1
E2E_PKG := ./cmd/mcrsrv/e2e
TEST_TIMEOUT := 15m

.PHONY: all build run image deploy-config tools test lint bench conformance clients clean proto proto-baseline proto-check

all: build

# The build stamp of both binaries, here and in the image
# (cmd/internal/buildinfo): VERSION and REVISION above.
BUILDINFO := git.wntrmute.dev/kyle/mcr/cmd/internal/buildinfo
LDFLAGS   := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(REVISION)

# Static, as in the image: a cgo build maps libc and ld.so as well (1.1-1.4
# MiB of mcrsrv's resident set, docs/benchmarks.md "Memory, third pass"),
# so benchmarks would measure a binary that is not the one shipped.
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/mcrsrv ./cmd/mcrsrv
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/mcrctl ./cmd/mcrctl

# exec: the shell make starts becomes the server, so make's own signal
# handling (it passes SIGTERM on to its child; Ctrl-C reaches the whole
# process group) stops the server with it, and no child is left behind.
RUN_FLAGS ?=
run: build
	exec $(BIN)/mcrsrv serve $(RUN_FLAGS)

# deploy/mcr.toml is `mcrsrv config default`; the key table of
# docs/operations.md comes from the same source (cmd/mcrsrv/configkeys.go).
# TestConfigFiles fails until this is run after a key changes.
deploy-config:
	$(GO) test -count=1 -run '^TestConfigFiles$$' ./cmd/mcrsrv -update

# The container image (docs/operations.md, "Container image"): static
# binaries cross-compiled per architecture, assembled by deploy/image into
# an OCI layout; push it with `crane push bin/image host/repo:tag`.
image:
	@for arch in $(IMAGE_ARCHS); do \
	  echo "image: building linux/$$arch"; \
	  for cmd in mcrsrv mcrctl; do \
	    CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' \
	      -o $(BIN)/linux-$$arch/$$cmd ./cmd/$$cmd; \
	  done; \
	done
	$(GO) run ./deploy/image -out $(IMAGE_DIR) -version $(VERSION) -revision $(REVISION) \
	  -source $(IMAGE_SOURCE) -created $(SOURCE_DATE_EPOCH) \
	  $(foreach a,$(IMAGE_ARCHS),-platform linux/$(a)=$(BIN)/linux-$(a))

# go_tool installs $(4)@$(3) into .tools/bin unless the binary there was
# already built from module $(2) at version $(3) (read back with go version -m).
define go_tool
	@if ! $(GO) version -m $(TOOLS_BIN)/$(1) 2>/dev/null | \
	    grep -Eq '^[[:space:]]+mod[[:space:]]+$(2)[[:space:]]+$(3)([[:space:]]|$$)'; then \
	  echo "tools: installing $(4)@$(3)"; \
	  GOBIN=$(TOOLS_BIN) CGO_ENABLED=0 GOFLAGS=-buildvcs=false $(GO) install $(4)@$(3); \
	fi
endef

# apt_tool installs Debian package $(2) unless command $(1) exists (the
# e2e tests run skopeo and nginx from PATH).
define apt_tool
	@if ! command -v $(1) >/dev/null; then \
	  echo "tools: installing $(2) with apt-get"; \
	  sudo=; if [ "$$(id -u)" != 0 ]; then sudo="sudo -n"; fi; \
	  $$sudo apt-get update -qq >/dev/null; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null; \
	fi
endef

tools:
	@mkdir -p $(TOOLS_BIN)
	$(call go_tool,crane,$(CRANE_MOD),$(CRANE_VER),$(CRANE_MOD)/cmd/crane)
	$(call go_tool,oras,$(ORAS_MOD),$(ORAS_VER),$(ORAS_MOD)/cmd/oras)
	$(call go_tool,regctl,$(REGCTL_MOD),$(REGCTL_VER),$(REGCTL_MOD)/cmd/regctl)
	$(call go_tool,conformance,$(CONFORMANCE_MOD),$(CONFORMANCE_VER),$(CONFORMANCE_MOD))
	$(call go_tool,staticcheck,$(STATICCHECK_MOD),$(STATICCHECK_VER),$(STATICCHECK_MOD)/cmd/staticcheck)
	$(call go_tool,versitygw,$(VERSITYGW_MOD),$(VERSITYGW_VER),$(VERSITYGW_MOD)/cmd/versitygw)
	$(call go_tool,buf,$(BUF_MOD),$(BUF_VER),$(BUF_MOD)/cmd/buf)
	$(call go_tool,protoc-gen-go,$(PROTOC_GO_MOD),$(PROTOC_GO_VER),$(PROTOC_GO_MOD)/cmd/protoc-gen-go)
	$(call go_tool,protoc-gen-go-grpc,$(PROTOC_GRPC_MOD),$(PROTOC_GRPC_VER),$(PROTOC_GRPC_MOD))
	$(call go_tool,grpcurl,$(GRPCURL_MOD),$(GRPCURL_VER),$(GRPCURL_MOD)/cmd/grpcurl)
	$(call apt_tool,skopeo,skopeo)
	$(call apt_tool,systemd-analyze,systemd)
	$(call apt_tool,nginx,nginx)
	@# The replicas test (cmd/mcrsrv/e2e) runs deploy/haproxy/haproxy.cfg:
	@# Debian's package, at the release's version (2.6 on Debian 12).
	$(call apt_tool,haproxy,haproxy)
	@# The disk-full test (cmd/mcrsrv/e2e) makes and loop-mounts an ext4 image.
	$(call apt_tool,mkfs.ext4,e2fsprogs)
	$(call apt_tool,chromium,chromium)
	# initdb is not on PATH on Debian: look in its versioned directory too.
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "tools: installing $(PG_PACKAGE) with apt-get"; \
	  sudo=; if [ "$$(id -u)" != 0 ]; then sudo="sudo -n"; fi; \
	  $$sudo apt-get update -qq >/dev/null; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PG_PACKAGE) >/dev/null; \
	fi

test: tools build image k6-check proto-check
	$(GO) vet ./...
	$(TOOLS_BIN)/staticcheck ./...
	$(E2E_ENV) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

lint: tools
	$(GO) vet ./...
	$(TOOLS_BIN)/staticcheck ./...

# make proto regenerates http/grpcapi/mcrv1 from the definitions with the
# pinned local plugins (a test fails when the committed code is stale).
# proto-check lints them and refuses breaking changes against the
# committed baseline image, which only make proto-baseline updates: run
# it deliberately, when a change to mcr.v1 is meant to break (or when
# adding to it, to move the baseline on).
proto: tools
	PATH="$(TOOLS_BIN):$$PATH" $(TOOLS_BIN)/buf generate $(PROTO_DIR) --template $(PROTO_DIR)/buf.gen.yaml

proto-baseline: tools
	$(TOOLS_BIN)/buf build $(PROTO_DIR) -o $(PROTO_DIR)/baseline.binpb

proto-check: tools
	$(TOOLS_BIN)/buf lint $(PROTO_DIR)
	$(TOOLS_BIN)/buf breaking $(PROTO_DIR) --against $(PROTO_DIR)/baseline.binpb
	@echo "proto: lint and breaking checks ok"

# The load harness (bench/, docs/benchmarks.md). `make bench` runs every
# scenario against a fresh bin/mcrsrv, or against BENCH_REGISTRY=host:port;
# BENCH_SCENARIO=a,b picks scenarios, BENCH_QUICK=1 makes it a smoke run,
# BENCH_FLAGS passes other flags (go run ./bench -h).
BENCH_SCENARIO ?= all
BENCH_FLAGS    ?=
BENCH_QUICK_FLAG = $(if $(filter 1 true yes,$(BENCH_QUICK)),-quick)
REFERENCE_MOD  := github.com/distribution/distribution/v3
REFERENCE_VER  := v3.1.2

bench: build
	$(GO) run ./bench -scenario $(BENCH_SCENARIO) $(if $(BENCH_REGISTRY),-registry $(BENCH_REGISTRY),-mcr $(BIN)/mcrsrv) $(BENCH_QUICK_FLAG) $(BENCH_FLAGS)

bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# The hot-path microbenchmarks (manifest GET and tag list handlers
# in-process, kv tag lookup and scans, actor round trip, digest
# verification, in-process push, upload pool), BENCH_MICRO_COUNT runs each,
# in benchstat's input format: `benchstat old.txt new.txt`.
BENCH_MICRO_PKGS  ?= ./actors ./kv ./engine ./jobs ./http/server
BENCH_MICRO_COUNT ?= 6
BENCH_MICRO_OUT   ?= bench/results/micro.txt
BENCH_MICRO_FLAGS ?=

bench-micro:
	@mkdir -p $(dir $(BENCH_MICRO_OUT))
	$(GO) test -run='^$$' -bench=. -benchmem -count=$(BENCH_MICRO_COUNT) $(BENCH_MICRO_FLAGS) $(BENCH_MICRO_PKGS) | tee $(BENCH_MICRO_OUT)
	@echo "bench-micro: wrote $(BENCH_MICRO_OUT)"

# mcr against the pinned reference registry on loopback: every scenario,
# three rounds, medians, ratios, peak RSS and machine limits; writes
# bench/results/ and docs/benchmarks-throughput.svg. BENCH_QUICK=1: < 1 min.
# mixed's with-GC case POSTs mcr's /api/v1/gc in a loop (the harness's
# -gc-url default for mcr; BENCH_GC_URL=none turns it off).
bench-compare: build
	@mkdir -p $(TOOLS_BIN)
	$(call go_tool,registry,$(REFERENCE_MOD),$(REFERENCE_VER),$(REFERENCE_MOD)/cmd/registry)
	$(GO) run ./bench compare -mcr $(BIN)/mcrsrv -reference $(TOOLS_BIN)/registry $(BENCH_QUICK_FLAG) $(BENCH_FLAGS)

# The k6 scripts are not run in CI (no k6 here); node parses them as the
# ES modules k6 reads.
k6-check:
	$(call apt_tool,node,nodejs)
	@for f in bench/k6/*.js bench/k6/lib/*.js; do node --check "$$f" || exit 1; done
	@echo "k6 scripts: syntax ok"

.PHONY: bench-go bench-micro bench-compare k6-check

# The S3 tests (s3test chooses the server by MCR_S3_SERVER) against
# SeaweedFS: the blob store suite, both conformance profiles and the four
# clients on S3 + PostgreSQL, and the S3 outage test.
S3_E2E_TESTS := ^(TestConformanceS3|TestClientsS3|TestS3Outage)$$

weed:
	@mkdir -p $(TOOLS_BIN)
	@if [ ! -x $(TOOLS_BIN)/weed ] || [ "$$(cat $(TOOLS_BIN)/weed.version 2>/dev/null)" != "$(SEAWEEDFS_VER)" ]; then \
	  echo "tools: building weed from $(SEAWEEDFS_MOD)@$(SEAWEEDFS_VER) (about 10 minutes)"; \
	  dir=$$(cd / && $(GO) mod download -json $(SEAWEEDFS_MOD)@$(SEAWEEDFS_VER) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  test -n "$$dir"; \
	  (cd "$$dir" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false $(GO) build -o $(TOOLS_BIN)/weed ./weed); \
	  echo "$(SEAWEEDFS_VER)" > $(TOOLS_BIN)/weed.version; \
	fi

test-seaweedfs: tools build weed
	MCR_S3_SERVER=seaweedfs $(E2E_ENV) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -v ./engine/blobstore/s3store
	MCR_S3_SERVER=seaweedfs $(E2E_ENV) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -v -run '$(S3_E2E_TESTS)' $(E2E_PKG)

.PHONY: weed test-seaweedfs

conformance: tools build
	$(E2E_ENV) $(GO) test -count=1 -v -timeout $(TEST_TIMEOUT) -run '^TestConformance$$' $(E2E_PKG)

clients: tools build
	$(E2E_ENV) $(GO) test -count=1 -v -timeout $(TEST_TIMEOUT) -run '^TestClients$$' $(E2E_PKG)

clean:
	rm -rf $(BIN)
