# Every target creates .venv on first use, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Lab-only credentials: the simulated lab accepts these; never use them for a real cluster.
LAB_ENV := CMS_LAB_PASSWORD=cms-lab CMS_LAB_KEY_PASSPHRASE=cms-lab

# Tests run side by side (pytest-xdist): the e2e tests mostly wait on simulated device
# operations, each on its own free loopback subnet and port. 8 workers measured fastest on
# 2 cores (docs/benchmarks.md: 4, 5, 6, 8 and 10 tried); worksteal, because the slowest e2e
# tests (10-15 s) otherwise end up queued on one worker. PYTEST_WORKERS=0 runs them in one
# process. The e2e tests' `reconcile` runs are forked from a fork server in each worker
# (tests/support/cli.py); RECONCILE_TEST_EXEC=1 starts each with exec instead.
PYTEST_WORKERS ?= 8
PYTEST := $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

.PHONY: test demo lint typecheck unit e2e tests bench sim clean system-tools reliability

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian tools the checks need; installed when missing (CI and developers run as root here).
# promtool (package prometheus) checks `reconcile certs check --format prometheus`; the
# package's own service is not started (no recommends, and no init system in CI).
# openssh-server: the interop tests run their own sshd (tests/support/sshd.py), never the
# system's (its service is not started either: no init system in CI).
system-tools:
	@command -v shellcheck >/dev/null && command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq shellcheck jq >/dev/null; }
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@test -x /usr/sbin/sshd || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null; }

lint: $(STAMP) system-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check reconciler tests scripts benchmarks
	shellcheck .github/scripts/*.sh
	$(BIN)/actionlint -shellcheck=$$(command -v shellcheck)

# The tests, scripts and benchmarks are held to the same strict settings as the product.
typecheck: $(STAMP)
	$(BIN)/mypy reconciler tests scripts benchmarks

# Every test, unit and e2e, in parallel. With PYTHONDONTWRITEBYTECODE set (as on this
# project's machines) every process would compile every module again, and every pytest worker
# would rewrite the asserts of every test module again (1.9 s of CPU per worker): compile
# them once, here, and let one collection write pytest's rewritten modules.
BYTECODE := $(BIN)/python -m compileall -q reconciler tests >/dev/null && \
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q --collect-only >/dev/null

tests: $(STAMP) system-tools
	$(BYTECODE)
	$(PYTEST)

unit: $(STAMP) system-tools
	$(BYTECODE)
	$(PYTEST) -m "not e2e"

e2e: $(STAMP) system-tools
	$(BYTECODE)
	$(PYTEST) -m e2e

test: lint typecheck tests

# The reliability-marked tests (also part of `make test`), then docs/reliability.md from their
# results; the document is written even when a test fails, and shows it failing. `python -m`
# puts the checkout on sys.path, so `-p` loads the recorder whatever conftests are found.
RELIABILITY_JSON := .pytest_cache/reliability.json
reliability: $(STAMP) system-tools
	rm -f $(RELIABILITY_JSON)
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal -p tests.support.reliability \
		-m reliability --reliability-json $(RELIABILITY_JSON); \
	status=$$?; \
	$(BIN)/python scripts/reliability_report.py $(RELIABILITY_JSON) docs/reliability.md \
		--command "make reliability" && exit $$status

# Not part of `make test`: simulated fleets, timed; rewrites docs/benchmarks.md.
bench: $(STAMP)
	$(LAB_ENV) $(BIN)/python -m benchmarks.fleet --write docs/benchmarks.md

demo: $(STAMP)
	$(LAB_ENV) $(BIN)/reconcile demo

sim: $(STAMP)
	$(LAB_ENV) $(BIN)/reconcile sim --cluster lab

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
