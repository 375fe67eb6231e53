# ocsd: three user-facing targets.
#   make demo   the daemon on loopback with conf/demo.toml (Redis + PostgreSQL started if needed)
#   make test   lint (ruff), types (mypy), tests (pytest) against real Redis + PostgreSQL
#   make bench  every bench/*.py, figures beside same-run baselines, written to docs/benchmarks.md
# All work on a fresh Debian/Ubuntu machine: they create .venv and, as root, apt-get what is missing.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench venv services lint typecheck pytest stop-services clean

venv:
	scripts/venv.sh

services:
	scripts/ensure-services.sh

demo: venv services
	. var/services.env && scripts/create-db.sh ocsd_demo
	$(BIN)/ocsd db migrate -c conf/demo.toml
	exec $(BIN)/ocsd run -c conf/demo.toml

test: venv services
	$(BIN)/ruff check .
	$(BIN)/mypy ocs auc radius
	. var/services.env && $(BIN)/pytest -q

bench: venv services
	. var/services.env && $(BIN)/python scripts/bench.py

# the three steps of `make test` on their own (no install, no service check)
lint:
	$(BIN)/ruff check .

typecheck:
	$(BIN)/mypy ocs auc radius

pytest:
	$(BIN)/pytest -q

stop-services:
	scripts/stop-services.sh

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
