# ecs-deploy — the commands a developer and CI run.
# `make demo` and `make test` are the two the README opens with.

CARGO      ?= cargo
MUSL       := x86_64-unknown-linux-musl
MUSL_BIN   := target/$(MUSL)/release/ecs-deploy
MAX_BYTES  := 4194304

.PHONY: build test lint unit moto-check demo musl clean

build:
	$(CARGO) build --release

## Everything CI runs: formatting, lints, unit and end-to-end tests, and
## the SigV4/IAM check against moto (an ECS implementation we did not write).
test: lint unit moto-check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

moto-check:
	$(CARGO) build --bin ecs-deploy
	python3 scripts/moto_check.py --binary target/debug/ecs-deploy

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
	  file $(MUSL_BIN) 2>/dev/null || true; \
	  [ $$size -le $(MAX_BYTES) ] || { echo "larger than 4 MiB"; exit 1; }

clean:
	$(CARGO) clean
