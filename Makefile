# matthan — common tasks. Every target works as root on a fresh Debian 12 machine.
CARGO ?= cargo
SHARED ?= ../shared

.PHONY: setup build demo test bench eval lint bench-video bench-streams bench-traffic train-ocr

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

# Ingest throughput on a 1080p25 H.264 file made from the toll-booth video.
bench-video: build
	mkdir -p var/bench
	ffmpeg -hide_banner -v error -y -i tests/data/vn_toll_station_cars.mp4 -vf scale=1920:1080 \
	  -r 25 -c:v libx264 -preset veryfast -b:v 4M -g 50 -an var/bench/toll1080p25.mp4
	target/release/matthan bench ingest var/bench/toll1080p25.mp4

# N cameras at once on a mostly empty road, motion gating on and off side by side.
bench-streams: build
	mkdir -p var/bench
	test -f var/bench/sparse60.mp4 || scripts/make-sparse-video var/bench/sparse60.mp4 --cycles 1 --idle 60
	target/release/matthan bench streams --cameras 1,2,3,4,5,6 var/bench/sparse60.mp4

# Generated traffic (day and night, 10 minutes, about 400 vehicles) scored against its truth,
# gating on and off side by side.
bench-traffic: build
	scripts/bench-traffic var/bench/traffic

eval: build
	target/release/matthan eval $(SHARED)/eval/vn-dev
	target/release/matthan eval $(SHARED)/eval/eu

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# Train the plate reader (training/README.md): crops of the real sets, synthetic plates,
# about an hour on 2 cores; writes models/plate_reader.onnx. Never run by CI.
train-ocr: build
	training/train-ocr
