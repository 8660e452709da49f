# hull — top-level targets. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR ?= $(CURDIR)/target
BIN_DIR := $(TARGET_DIR)/debug
RELEASE_BIN_DIR := $(TARGET_DIR)/release
export CARGO_TARGET_DIR := $(TARGET_DIR)

.PHONY: build release test unit integration bench demo deps lint fmt clean

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --workspace --release
	# The shim, one per container, is linked statically: its RSS drops by
	# the shared libc pages (3.3 → 2.3 MiB idle, see bench/shim_rss.sh).
	$(CARGO) rustc --release -p hull-shim --bin containerd-shim-hull-v2 -- -C target-feature=+crt-static
	# So is hull-log-driver, one per container too: no dynamic loader, no
	# relocated libc data of its own (bench/cri.sh counts it per pod).
	$(CARGO) rustc --release -p hull-manager --bin hull-log-driver -- -C target-feature=+crt-static
	# And hullc, run four times per CRI pod (create and start of the pause
	# and of the container; create re-executes itself once more): without
	# the dynamic loader each start is ~0.5 ms shorter. It reads /etc/passwd
	# as text (hull-linux's passwd), never through NSS.
	$(CARGO) rustc --release -p hull-runtime --bin hullc -- -C target-feature=+crt-static

# Everything: unit tests, then the integration suites against the binaries
# built once above. Integration tests need root. scripts/deps.sh installs
# what is missing first (Debian packages, cargo-nextest).
test: deps build
	$(CARGO) nextest run --workspace --no-fail-fast --exclude hull-integration
	HULL_BIN_DIR=$(BIN_DIR) $(CARGO) nextest run -p hull-integration --no-fail-fast --test-threads 2

deps:
	bash scripts/deps.sh test

unit:
	$(CARGO) nextest run --workspace --exclude hull-integration

integration: deps build
	HULL_BIN_DIR=$(BIN_DIR) $(CARGO) nextest run -p hull-integration --no-fail-fast --test-threads 2

bench: release
	bash scripts/deps.sh bench
	HULL_BIN_DIR=$(RELEASE_BIN_DIR) bash bench/run.sh

demo:
	bash scripts/demo.sh

lint:
	$(CARGO) run -q -p hull-importcheck -- .
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
