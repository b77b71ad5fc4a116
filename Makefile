# Papo Social: the one command surface for people, git hooks and CI.
# `make demo` and `make test` bootstrap everything they need (uv, system packages, Python packages).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the product needs (to run, to build its Rust module against ALSA, to build systemd-python
# (sd_notify, the journal) against libsystemd, and to build llama.cpp, the embedded LLM, from llama-cpp-python's
# source: a C++ compiler; cmake comes from PyPI).
APT_PACKAGES := espeak-ng libportaudio2 alsa-utils sox libasound2-dev libsystemd-dev pkg-config g++ make
# ... and the tests: a real PulseAudio server with null sinks (reached through ALSA's pulse plugin), and the
# mosquitto and redis-server programs (the sync tests start their own broker and Redis beside the machine's);
# pg_dump (postgresql-client) searches the cloud database for erased words.
# The appliance image's amd64 twin (tests/e2e/test_image_boot.py): mmdebstrap builds its Debian root, mke2fs
# (e2fsprogs) its disk, qemu-img (qemu-utils) the test's throw-away overlay; qemu-system-x86 boots it (installed by
# image/host-qemu.sh: on this machine kind it must come from bookworm-backports, like qemu-utils); shellcheck
# checks the image scripts.
APT_TEST_PACKAGES := pulseaudio pulseaudio-utils libasound2-plugins mosquitto redis-server postgresql-client chromium systemd \
	mmdebstrap e2fsprogs qemu-utils shellcheck
# `make wheels`: papo's native module cross-built for the Raspberry Pi (aarch64) links the arm64 ALSA library
# (Debian multiarch) with the aarch64 cross toolchain; qemu-user imports the result under emulation.
APT_WHEELS_PACKAGES := gcc-aarch64-linux-gnu libc6-dev-arm64-cross libasound2-dev:arm64 unzip binutils qemu-user-static
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
export PATH := $(HOME)/.local/bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: help bootstrap system-packages test-packages wheels-packages rust uv setup demo test test-fast lint format css i18n \
	bench wheels twin image clean

help: ## show the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

uv: ## install uv (the Python project manager) if it is missing
	@command -v uv >/dev/null 2>&1 || test -x "$(HOME)/.local/bin/uv" || { \
	  echo "installing uv with pip..."; \
	  python3 -m pip install --quiet --user uv 2>/dev/null || \
	  python3 -m pip install --quiet --user --break-system-packages uv; }

system-packages: ## install the Debian packages papo needs (as root), or print the command
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-packages: ## install the Debian packages the tests need (as root), or print the command
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES) $(APT_TEST_PACKAGES)"
	@image/host-qemu.sh

wheels-packages: ## install the cross toolchain and the arm64 ALSA headers for `make wheels` (as root)
	@dpkg --print-foreign-architectures | grep -qx arm64 || { \
	  if [ "$$(id -u)" = "0" ]; then dpkg --add-architecture arm64 && apt-get update -qq; \
	  else echo "run: sudo dpkg --add-architecture arm64 && sudo apt-get update"; exit 1; fi; }
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_WHEELS_PACKAGES)"

apt-install:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done | tr '\n' ' '); \
	if [ -z "$$(echo $$missing)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ]; then \
	  echo "installing system packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "papo needs these system packages: $$missing"; \
	  echo "run:  sudo apt-get install -y $$missing   and then this command again"; exit 1; \
	fi

rust: ## check that Rust (cargo) is there to build the native module
	@command -v cargo >/dev/null 2>&1 || test -x "$(HOME)/.cargo/bin/cargo" || { \
	  echo "papo's native module needs Rust >= 1.85 (cargo). Install it with rustup (https://rustup.rs), then run this again."; exit 1; }

bootstrap: uv system-packages rust ## install uv and the system packages, check Rust

setup: bootstrap ## install everything (Python packages and models included)
	$(UV) sync --frozen

demo: setup ## take a spoken pt-BR sentence through the whole pipeline
	$(UV) run --frozen papo demo

test: setup test-packages ## run the whole test suite: Rust crates, then Python (slow tests included)
	cd native && cargo test --workspace --exclude papo-native --quiet
	$(UV) run --frozen pytest

test-fast: setup ## run the unit tier: no models, services, audio devices or browser (under a minute)
	$(UV) run --frozen pytest -n 2 tests/unit -m "not models and not services and not audio and not browser and not slow"

lint: setup ## ruff, mypy, the stub of the native module, rustfmt and clippy
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen python -m mypy.stubtest papo._native --mypy-config-file pyproject.toml
	cd native && cargo fmt --all --check
	cd native && cargo clippy --workspace --all-targets --quiet -- -D warnings

format: setup ## format the code
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

WEB := device/papo/web

css: ## rebuild the web page's CSS (static/app.css) with the Tailwind CLI from npm (Node is needed here, never on the device)
	cd $(WEB)/styles && npm ci --no-audit --no-fund --ignore-scripts && npx tailwindcss -i app.css -o ../static/app.css --minify

i18n: setup ## extract the web page's strings, update the English catalog and compile it (.mo committed)
	$(UV) run --frozen pybabel extract --no-location --sort-output -k N_ -F $(WEB)/babel.cfg -o $(WEB)/locale/papo.pot $(WEB)
	test -f $(WEB)/locale/en/LC_MESSAGES/papo.po || $(UV) run --frozen pybabel init -D papo -l en -i $(WEB)/locale/papo.pot -d $(WEB)/locale
	$(UV) run --frozen pybabel update --no-fuzzy-matching -D papo -l en -i $(WEB)/locale/papo.pot -d $(WEB)/locale
	$(UV) run --frozen pybabel compile --statistics -D papo -d $(WEB)/locale

bench: setup test-packages ## run the benchmarks
	$(UV) run --frozen python bench/stt.py
	$(UV) run --frozen python bench/native.py
	$(UV) run --frozen python bench/turn.py
	$(UV) run --frozen python bench/sync.py
	$(UV) run --frozen python bench/privacy.py
	$(UV) run --frozen python bench/alerts.py
	$(UV) run --frozen python bench/web.py
	$(UV) run --frozen python bench/companion.py
	$(UV) run --frozen python bench/footprint.py

wheels: setup wheels-packages ## papo's wheels in dist/wheels: this machine's and the Raspberry Pi's (aarch64, cross-built)
	image/wheels.sh

twin: setup test-packages ## build (or reuse, ~/.cache/papo-image) the appliance's amd64 twin image; prints its directory
	image/twin.sh

image: setup ## the Raspberry Pi OS image (pi-gen, as root; needs archive.raspberrypi.com and GitHub, see README)
	image/build-pi.sh

clean: ## remove build and test leftovers
	rm -rf .pytest_cache .mypy_cache .ruff_cache dist build native/target device/papo/_native*.so
