# Mixun: `make run` to try it, `make test` to check it. Everything installs into the repository.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= var
export MIXUN_DATA_DIR ?= $(abspath $(DATA))

.PHONY: install install-python install-web install-browser run test test-fast lint bench clean

install: install-python install-web

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install-python: $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"

install-web:
	@if [ -f web/package.json ]; then \
	  cd web && (npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error) \
	  && npm run build --silent; \
	else echo "no web client source"; fi

# Debian's Chromium for the browser tests (never a browser download), ClamAV for the scanner tests, a
# CJK font so the screenshots show Chinese, SoftHSM for the key tests' HSM (PKCS#11), nginx for the
# multi-node tests and slapd for the directory-sync tests (both run as child processes of the tests).
install-browser:
	@if [ ! -x /usr/bin/chromium ] || ! command -v clamd >/dev/null || [ ! -d /usr/share/fonts/opentype/noto ] || ! command -v softhsm2-util >/dev/null || [ ! -x /usr/sbin/nginx ] || [ ! -x /usr/sbin/slapd ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium clamav-daemon clamav fonts-noto-cjk softhsm2 nginx-light slapd ldap-utils >/dev/null; \
	  else echo "chromium/clamav missing and not root: those tests will skip"; fi; \
	fi

run: install
	$(BIN)/mixun init
	$(BIN)/mixun demo
	$(BIN)/mixun serve --host 127.0.0.1 --port 8300

test: install install-browser lint
	$(BIN)/python -m pytest -q

test-fast: install-python
	$(BIN)/python -m pytest -q -m "not e2e"

# ruff, the import contracts and mypy, as set in pyproject.toml (docs/adr/0004-layers.md, docs/adr/0010-*.md).
lint: install-python
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy

# All three harnesses (about 30 minutes): core server, DLP engine (against Presidio), compliance archive.
bench: install
	$(BIN)/pip install -q -e ".[test,bench]"
	$(BIN)/python -m bench.run
	$(BIN)/python bench/bench_dlp.py
	BENCH_ARCHIVE_N=$${BENCH_ARCHIVE_N:-200000} $(BIN)/python -m bench.archive

clean:
	rm -rf $(VENV) web/node_modules src/mixun/web/dist
