# Papo Social: the one command surface for people, git hooks and CI.
# `make demo` and `make test` bootstrap everything they need (uv, system packages, Python packages).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the product and its tests need.
APT_PACKAGES := espeak-ng libportaudio2 alsa-utils sox
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: help bootstrap system-packages uv setup demo test test-fast lint format bench clean

help: ## show the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

uv: ## install uv (the Python project manager) if it is missing
	@command -v uv >/dev/null 2>&1 || test -x "$(HOME)/.local/bin/uv" || { \
	  echo "installing uv with pip..."; \
	  python3 -m pip install --quiet --user uv 2>/dev/null || \
	  python3 -m pip install --quiet --user --break-system-packages uv; }

system-packages: ## install the Debian packages papo needs (as root), or print the command
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done | tr '\n' ' '); \
	if [ -z "$$(echo $$missing)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ]; then \
	  echo "installing system packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "papo needs these system packages: $$missing"; \
	  echo "run:  sudo apt-get install -y $$missing   and then this command again"; exit 1; \
	fi

bootstrap: uv system-packages ## install uv and the system packages

setup: bootstrap ## install everything (Python packages and models included)
	$(UV) sync --frozen

demo: setup ## take a spoken pt-BR sentence through the whole pipeline
	$(UV) run --frozen papo demo

test: setup ## run the whole test suite (slow tests included)
	$(UV) run --frozen pytest

test-fast: setup ## run the tests that need no models
	$(UV) run --frozen pytest -m "not slow"

lint: setup ## ruff and mypy
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

format: setup ## format the code
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: setup ## run the benchmarks
	$(UV) run --frozen python bench/stt.py

clean: ## remove build and test leftovers
	rm -rf .pytest_cache .mypy_cache .ruff_cache dist build
