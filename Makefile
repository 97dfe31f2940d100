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
# process. The e2e tests run most `reconcile` commands in-process (tests/support/cli.py);
# RECONCILE_TEST_PROCESS=1 runs each in a process of its own instead.
PYTEST_WORKERS ?= 8
PYTEST := $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

.PHONY: test demo lint typecheck unit e2e tests bench sim clean system-tools reliability lock

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
# As root here; through sudo as the normal user of GitHub's runners.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get
system-tools:
	@command -v shellcheck >/dev/null && command -v jq >/dev/null || { $(APT) update -qq && $(APT) install -y -qq shellcheck jq >/dev/null; }
	@command -v promtool >/dev/null || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends prometheus >/dev/null; }
	@test -x /usr/sbin/sshd || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends openssh-server >/dev/null; }

# GitHub Actions, in .github/ (also what `reconcile init` writes: the wheel's build copies it,
# setup.py; no second copy is committed): actionlint, and shellcheck on the scripts and on the
# composite action's `run:` steps, which actionlint does not read
# (scripts/check_action_shell.py). zizmor audits the workflows, the action and dependabot.yml
# at its default persona (regular); any finding of any severity fails (exit 11-14), so an
# ignore (`# zizmor: ignore[rule]`) goes only with its reason written beside it. --offline:
# CI has no GitHub token, so the audits that ask GitHub's API do not run (impostor-commit,
# ref-confusion, known-vulnerable-actions, stale-action-refs); Dependabot's pull requests
# bring the advisories' fixes instead.
lint: $(STAMP) system-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check reconciler tests scripts benchmarks
	shellcheck .github/scripts/*.sh
	$(BIN)/python scripts/check_action_shell.py .github/actions/*/action.yml
	$(BIN)/actionlint -shellcheck=$$(command -v shellcheck) .github/workflows/*.yml
	$(BIN)/zizmor --offline --no-progress .github

# .github/requirements.txt, what .github/scripts/install-reconcile.sh installs on the runners:
# .github/requirements.in (pyproject's dependencies and build backend) compiled with every
# pin's sha256, from PyPI alone (this machine's pip settings, local wheels and extra indexes,
# set aside). pip-compile resolves markers for the Python it runs on, so run it on 3.11, the
# workflows'; the hashes are of every file of each pinned release, so x86_64 and aarch64
# runners (and newer Pythons) install from the same lock. Pins already there are kept;
# `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest release (Dependabot's weekly
# pull request moves them in between, from this file's own header and options).
# $(call pip-lock,TARGET,IN): the recipe of `make TARGET`, compiling IN (.github/*.in) to the
# .txt beside it; `release-lock` uses it too.
LOCK_FLAGS ?=
define pip-lock
@$(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	{ echo "make $(1): needs Python 3.11 in $(VENV) (make clean; make $(1) PYTHON=python3.11)" >&2; exit 1; }
env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT \
	PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make $(1)" \
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--index-url https://pypi.org/simple --no-emit-index-url --no-emit-find-links \
	$(LOCK_FLAGS) --output-file $(2:.in=.txt) $(2)
endef
lock: $(STAMP)
	$(call pip-lock,lock,.github/requirements.in)

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
	$(BIN)/reconcile demo

sim: $(STAMP)
	$(BIN)/reconcile sim --cluster lab

# --- release (docs/release.md) -------------------------------------------------------------------
.PHONY: test-wheel release-lock image-test

# The tests against an installed wheel, not the checkout (the release's test job runs them on the
# wheel it publishes): WHEEL (default: the one wheel in dist/) goes with its dev extra into a venv
# of its own, and the checkout's tests/ imports `reconciler` from that venv's site-packages. What
# keeps the checkout's copy out of every process: pytest's append import mode (the checkout after
# site-packages, not before), PYTHONSAFEPATH (no `python -m`/`-c` puts its working directory,
# often the checkout, first), and a .pth file appending the checkout to the venv's path, which
# the tests' own `python -m tests.support.installed` needs to find tests/.
# RECONCILE_TEST_INSTALLED=1: tests/conftest.py fails the session if `reconciler` still
# resolves inside the checkout. TEST_WHEEL_ARGS: pytest's arguments (default: every test).
WHEEL ?= $(wildcard dist/*.whl)
WHEEL_VENV := .venv-wheel
TEST_WHEEL_ARGS ?=
test-wheel: system-tools
	@test "$(words $(WHEEL))" = 1 || \
		{ echo "make test-wheel: WHEEL=path/to/one.whl (dist/ has: $(WHEEL))" >&2; exit 2; }
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet "$(WHEEL)[dev]"
	$(WHEEL_VENV)/bin/python -c 'import sys, sysconfig; \
		open(sysconfig.get_path("purelib") + "/cms-reconciler-checkout.pth", "w").write(sys.argv[1])' \
		"$(CURDIR)"
	PATH="$(CURDIR)/$(WHEEL_VENV)/bin:$$PATH" PYTHONSAFEPATH=1 RECONCILE_TEST_INSTALLED=1 \
		$(WHEEL_VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist worksteal --import-mode=append \
		$(TEST_WHEEL_ARGS)

# .github/release-requirements.txt, the hash-locked build tools of the release and the image's
# build stage, compiled as `make lock` compiles .github/requirements.txt.
release-lock: $(STAMP)
	$(call pip-lock,release-lock,.github/release-requirements.in)

# The container image (Dockerfile) built from this checkout, then run: `reconcile --version` is
# __version__, its user is not root, and `reconcile demo` converges the lab with no network.
# Needs a Docker engine (test.yml's image job has one).
IMAGE ?= cms-reconciler:test
image-test:
	$(PYTHON) scripts/image_smoke.py $(IMAGE)

clean:
	rm -rf $(VENV) .venv-wheel .pytest_cache .mypy_cache .ruff_cache
