#!/usr/bin/env bash
# Installs `reconcile` into a virtual environment of its own, every package checked against a
# hash. The setup action (.github/actions/setup, used as `$/.github/actions/setup`) runs it from
# its own copy of the repository, at the workflow's commit: what is installed is what that
# commit says, whatever the job checked out (a pull request's files never choose it).
#
# - In a repository made by `reconcile init`: .github/reconcile-requirements.txt, which must
#   pin the release and each of its dependencies with --hash (pip refuses it otherwise).
# - In cms-reconciler's own repository: the dependencies and build backend that
#   .github/requirements.txt locks (`make lock`), then this checkout, built offline with them.
#
# Environment: RUNNER_TEMP (the venv is $RUNNER_TEMP/cms-reconciler, remade on every run) and
# GITHUB_PATH (its bin/ is appended) are the runner's own. pip's variables (PIP_INDEX_URL for a
# mirror of PyPI, ...) reach pip unchanged; the hashes still decide what installs.
set -euo pipefail

: "${RUNNER_TEMP:?names the runner temporary folder, where the venv goes}"
: "${GITHUB_PATH:?names the file of PATH additions for the next steps}"
venv="$RUNNER_TEMP/cms-reconciler"
cd "$(dirname "$0")/../.."
release=.github/reconcile-requirements.txt
lock=.github/requirements.txt

# --clear: exactly what the lock holds, whatever an earlier job left on a self-hosted runner.
python3 -m venv --clear "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
if [ -f "$release" ]; then
  "${pip[@]}" install --require-hashes --no-deps -r "$release"
else
  "${pip[@]}" install --require-hashes --no-deps -r "$lock"
  # A checkout has no hash to check: it is built with the locked setuptools and nothing else.
  "${pip[@]}" install --no-deps --no-build-isolation --no-index .
fi
# --no-deps trusts the lock to be complete: a dependency it lacks fails here, not mid-apply.
"$venv/bin/python" -m pip --disable-pip-version-check check  # not --quiet: it says what lacks
echo "$venv/bin" >> "$GITHUB_PATH"
"$venv/bin/reconcile" --version
