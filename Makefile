# ecs-deploy — the commands a developer and CI run.
# `make demo` and `make test` are the two the README opens with.

CARGO      ?= cargo
MUSL       := x86_64-unknown-linux-musl
MUSL_BIN   := target/$(MUSL)/release/ecs-deploy
ARM        := aarch64-unknown-linux-musl
ARM_BIN    := target/$(ARM)/release/ecs-deploy
# pip's --user installs (cargo-zigbuild) land here.
export PATH := $(HOME)/.local/bin:$(PATH)
# A Python package for this machine, also where the distribution's Python
# refuses a plain pip install (PEP 668).
PIP_INSTALL = python3 -m pip install --quiet $(1) || python3 -m pip install --quiet --user --break-system-packages $(1)
MAX_BYTES  := 4194304
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
TRANSCRIPT := target/fake-ecs-transcript.jsonl
# The pinned AWS models (botocore), examples (awscli) and moto, in a
# virtualenv of their own: scripts/models-requirements.txt says which.
MODELS_VENV := target/models-venv
MODELS_PY   := $(MODELS_VENV)/bin/python
MODELS_PINS := scripts/models-requirements.txt
# CI passes --require: there the empty-root check must run, not skip.
EMPTY_ROOT_FLAGS ?=

.PHONY: build test lint models-venv unit moto-check proxy-check empty-root-check empty-root-check-arm64 demo musl musl-arm64 dist dist-check action-release bench bench-quick fake-server readme image clean

build:
	$(CARGO) build --release

## Everything CI runs: formatting, lints, unit and end-to-end tests (with
## every request and answer of the fake checked against the AWS model), the
## SigV4/IAM check against moto (an ECS implementation we did not write),
## the proxy check, and the static binary in an empty root.
test: lint unit moto-check proxy-check empty-root-check empty-root-check-arm64

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## The pinned botocore, awscli and moto of scripts/models-requirements.txt
## in target/models-venv: installed when the venv is missing or was made
## from other pins (about 40 s), else nothing to do.
models-venv:
	@cmp -s $(MODELS_PINS) $(MODELS_VENV)/pins.txt 2>/dev/null || { \
	  echo "installing the pinned AWS models into $(MODELS_VENV)"; \
	  rm -rf $(MODELS_VENV) && python3 -m venv $(MODELS_VENV) && \
	  $(MODELS_PY) -m pip install --quiet --disable-pip-version-check -r $(MODELS_PINS) && \
	  cp $(MODELS_PINS) $(MODELS_VENV)/pins.txt; }

## The tests, with the fake ECS writing every request and answer to a
## transcript that model-check then holds against the pinned botocore's
## models; then the AWS CLI's examples in fixtures/awscli against the pinned
## awscli they were recorded from and the same models.
unit: models-venv
	@mkdir -p target && rm -f $(TRANSCRIPT)
	FAKE_ECS_TRANSCRIPT=$(abspath $(TRANSCRIPT)) $(CARGO) test --workspace
	$(MODELS_PY) scripts/model_check.py $(TRANSCRIPT)
	$(MODELS_PY) scripts/awscli_examples.py --check

moto-check: models-venv
	$(CARGO) build --bin ecs-deploy
	$(CARGO) build -p fake-ecs --bin fake-ecs-server
	$(MODELS_PY) scripts/moto_check.py --binary target/debug/ecs-deploy --moto-server $(MODELS_VENV)/bin/moto_server --fake-server $(FAKE_SERVER)

proxy-check:
	$(CARGO) build --bin ecs-deploy
	python3 scripts/proxy_check.py --binary target/debug/ecs-deploy

empty-root-check: musl
	python3 scripts/empty_root_check.py --binary $(MUSL_BIN) $(EMPTY_ROOT_FLAGS)

## The static arm64 binary in an empty root, run by qemu's user-mode
## emulator (Debian's qemu-user-static, installed when missing). Where it
## cannot be installed the check says so and skips, except in CI
## (EMPTY_ROOT_FLAGS=--require), where that is a failure.
empty-root-check-arm64: musl-arm64
	@command -v qemu-aarch64-static >/dev/null || { apt-get update -qq && apt-get install -y -qq qemu-user-static; } || true
	@if command -v qemu-aarch64-static >/dev/null; then \
	  python3 scripts/empty_root_check.py --binary $(ARM_BIN) --emulator "$$(command -v qemu-aarch64-static)" $(EMPTY_ROOT_FLAGS); \
	else \
	  echo "empty-root-check (arm64): skipped: qemu-aarch64-static is missing and could not be installed"; \
	  [ -z "$(EMPTY_ROOT_FLAGS)" ]; \
	fi

## The real binary deploying to the fake ECS on loopback: one rollout that
## succeeds, one that fails, is explained and is rolled back.
demo:
	$(CARGO) build --bin ecs-deploy
	$(CARGO) run --quiet --example demo -- target/debug/ecs-deploy

## The static binary: x86_64 musl, no runtime dependencies.
musl:
	@rustup target list --installed | grep -qx $(MUSL) || rustup target add $(MUSL)
	@command -v musl-gcc >/dev/null || { apt-get update -qq && apt-get install -y -qq musl-tools; }
	$(CARGO) build --release --target $(MUSL)
	@size=$$(stat -c %s $(MUSL_BIN)); \
	  echo "$(MUSL_BIN): $$size bytes ($$(( size / 1024 )) KiB)"; \
	  [ $$size -le $(MAX_BYTES) ] || { echo "larger than 4 MiB"; exit 1; }

## The static arm64 (Graviton) binary, cross-built with zig: `pip install
## ziglang cargo-zigbuild` brings the C cross toolchain ring needs, musl
## headers included, with no Debian cross packages.
musl-arm64:
	@rustup target list --installed | grep -qx $(ARM) || rustup target add $(ARM)
	@command -v cargo-zigbuild >/dev/null || { $(call PIP_INSTALL,ziglang cargo-zigbuild); }
	$(CARGO) zigbuild --release --target $(ARM)
	@size=$$(stat -c %s $(ARM_BIN)); \
	  echo "$(ARM_BIN): $$size bytes ($$(( size / 1024 )) KiB)"; \
	  [ $$size -le $(MAX_BYTES) ] || { echo "larger than 4 MiB"; exit 1; }

## Release artifacts: both static binaries as dist/ecs-deploy-VERSION-ARCH-linux-musl
## and dist/SHA256SUMS, built in their own target directory with paths
## remapped, so that two builds of one commit give the same bytes.
DIST_TARGET ?= target/dist
DIST_FLAGS = --remap-path-prefix=$(CURDIR)=/src \
	--remap-path-prefix=$(abspath $(DIST_TARGET))=/target \
	--remap-path-prefix=$${CARGO_HOME:-$(HOME)/.cargo}=/cargo
dist:
	@rustup target list --installed | grep -qx $(MUSL) || rustup target add $(MUSL)
	@rustup target list --installed | grep -qx $(ARM) || rustup target add $(ARM)
	@command -v musl-gcc >/dev/null || { apt-get update -qq && apt-get install -y -qq musl-tools; }
	@command -v cargo-zigbuild >/dev/null || { $(call PIP_INSTALL,ziglang cargo-zigbuild); }
	RUSTFLAGS="$(DIST_FLAGS)" CARGO_TARGET_DIR=$(DIST_TARGET) $(CARGO) build --release --locked --target $(MUSL)
	RUSTFLAGS="$(DIST_FLAGS)" CARGO_TARGET_DIR=$(DIST_TARGET) $(CARGO) zigbuild --release --locked --target $(ARM)
	@rm -rf dist && mkdir -p dist
	cp $(DIST_TARGET)/$(MUSL)/release/ecs-deploy dist/ecs-deploy-$(VERSION)-x86_64-linux-musl
	cp $(DIST_TARGET)/$(ARM)/release/ecs-deploy dist/ecs-deploy-$(VERSION)-aarch64-linux-musl
	cd dist && sha256sum ecs-deploy-* > SHA256SUMS && cat SHA256SUMS

## Two `make dist` builds of this commit from scratch, in two target
## directories, must give the same bytes. (Not part of `make test`: four
## release builds take longer than the test budget.)
dist-check:
	$(MAKE) dist DIST_TARGET=target/dist-a && cp dist/SHA256SUMS target/SHA256SUMS.a
	$(MAKE) dist DIST_TARGET=target/dist-b && cp dist/SHA256SUMS target/SHA256SUMS.b
	diff target/SHA256SUMS.a target/SHA256SUMS.b && echo "dist-check: both builds are byte for byte the same"

## The GitHub Action's record of the release in dist/: action/release/VERSION
## (its tag) and action/release/SHA256SUMS (dist's). The release workflow
## commits them and tags that commit, so an action pinned to the tag's SHA
## knows its version and checks its download against its own tree.
action-release:
	@test -f dist/SHA256SUMS || { echo "action-release: no dist/SHA256SUMS; run make dist first"; exit 1; }
	mkdir -p action/release
	echo "v$(VERSION)" > action/release/VERSION
	cp dist/SHA256SUMS action/release/SHA256SUMS

FAKE_SERVER := target/debug/fake-ecs-server

## ecs-deploy against fabfuel's ecs-deploy and `aws ecs` + jq on the fake ECS:
## round trips against the floor, one deploy, many services, wait reaction.
## Writes bench/results.md and copies it into the README (about 9 minutes).
bench: musl fake-server
	python3 scripts/bench.py --binary $(MUSL_BIN) --fake-server $(FAKE_SERVER)
	python3 scripts/readme.py

## The same tables with fewer runs, written to target/bench-quick.md (about a
## minute; never part of `make test`: benchmarks do not fail tests).
bench-quick: musl fake-server
	python3 scripts/bench.py --binary $(MUSL_BIN) --fake-server $(FAKE_SERVER) --quick

## The fake ECS as a process, for the bench.
fake-server:
	$(CARGO) build -p fake-ecs --bin fake-ecs-server

## The README's benchmark table from bench/results.md (tests/e2e/readme.rs checks it).
readme:
	python3 scripts/readme.py

## The FROM scratch image for amd64 and arm64, where a Docker engine with
## buildx exists.
image: musl musl-arm64
	@command -v docker >/dev/null || { echo "make image needs a Docker engine"; exit 1; }
	@mkdir -p target/image/amd64 target/image/arm64
	cp $(MUSL_BIN) target/image/amd64/ecs-deploy
	cp $(ARM_BIN) target/image/arm64/ecs-deploy
	docker buildx build --platform linux/amd64,linux/arm64 -t ecs-deploy:$(VERSION) -t ecs-deploy:latest .

clean:
	$(CARGO) clean
