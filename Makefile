# ecs-deploy — the commands a developer and CI run.
# `make demo` and `make test` are the two the README opens with.

CARGO      ?= cargo
MUSL       := x86_64-unknown-linux-musl
MUSL_BIN   := target/$(MUSL)/release/ecs-deploy
MAX_BYTES  := 4194304
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
TRANSCRIPT := target/fake-ecs-transcript.jsonl
# CI passes --require: there the empty-root check must run, not skip.
EMPTY_ROOT_FLAGS ?=

.PHONY: build test lint unit moto-check proxy-check empty-root-check demo musl bench readme image clean

build:
	$(CARGO) build --release

## Everything CI runs: formatting, lints, unit and end-to-end tests (with
## every request and answer of the fake checked against the AWS model), the
## SigV4/IAM check against moto (an ECS implementation we did not write),
## the proxy check, and the static binary in an empty root.
test: lint unit moto-check proxy-check empty-root-check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## The tests, with the fake ECS writing every request and answer to a
## transcript that model-check then holds against botocore's ECS model.
unit:
	@mkdir -p target && rm -f $(TRANSCRIPT)
	FAKE_ECS_TRANSCRIPT=$(abspath $(TRANSCRIPT)) $(CARGO) test --workspace
	python3 scripts/model_check.py $(TRANSCRIPT)

moto-check:
	$(CARGO) build --bin ecs-deploy
	python3 scripts/moto_check.py --binary target/debug/ecs-deploy

proxy-check:
	$(CARGO) build --bin ecs-deploy
	python3 scripts/proxy_check.py --binary target/debug/ecs-deploy

empty-root-check: musl
	python3 scripts/empty_root_check.py --binary $(MUSL_BIN) $(EMPTY_ROOT_FLAGS)

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

## ecs-deploy against `aws ecs` + jq on moto; writes bench/results.md and
## copies it into the README.
bench: musl
	python3 scripts/bench.py --binary $(MUSL_BIN)
	python3 scripts/readme.py

## The README's benchmark table from bench/results.md (tests/readme.rs checks it).
readme:
	python3 scripts/readme.py

## The FROM scratch image, where a Docker engine exists.
image: musl
	@command -v docker >/dev/null || { echo "make image needs a Docker engine"; exit 1; }
	docker build -t ecs-deploy:$(VERSION) -t ecs-deploy:latest .

clean:
	$(CARGO) clean
