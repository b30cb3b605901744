# matthan — common tasks. Every target works as root on a fresh Debian 12 machine.
CARGO ?= cargo
SHARED ?= ../shared

.PHONY: setup build demo test bench eval lint

setup:
	scripts/setup

build: setup
	$(CARGO) build --release

demo: build
	target/release/matthan demo

test: setup
	$(CARGO) test --release --all-targets

bench: setup
	$(CARGO) bench

eval: build
	target/release/matthan eval $(SHARED)/eval/vn-dev
	target/release/matthan eval $(SHARED)/eval/eu

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
