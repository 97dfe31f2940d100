#!/usr/bin/env bash
# Installs `reconcile` into a virtual environment of its own, every package checked against a
# hash. The setup action (.github/actions/setup, used as `$/.github/actions/setup`) runs it from
# its own copy of the repository, at the workflow's commit: what is installed is what that
# commit says, whatever the job checked out (a pull request's files never choose it).
#
# - In a repository made by `reconcile init`: .github/reconcile-requirements.txt, which pins
#   the release and each of its dependencies with --hash (pip refuses it otherwise), wheels
#   only; when init pinned a git commit (`reconcile init --requirement git+https://...@COMMIT`),
#   the hashed file holds the dependencies and the locked setuptools, and
#   .github/reconcile-git.txt the commit, built afterwards with them and nothing else.
# - In cms-reconciler's own repository: the dependencies and build backend that
#   .github/requirements.txt locks (`make lock`), then this checkout, built offline with them.
# - Anywhere else (the pin missing): an ::error:: saying how to make it, and nothing installed.
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
from_git=.github/reconcile-git.txt
lock=.github/requirements.txt

if [ ! -f "$release" ] && ! grep -Eqs '^name = "cms-reconciler"$' pyproject.toml; then
  echo "::error file=$release::$release is missing, so there is no reconcile to install: it pins the release the workflows run, every line with its --hash. Run \`reconcile init --requirement SPEC\` (SPEC: a wheel file, the https URL of one, cms-reconciler==VERSION from your package index, or git+https://HOST/PATH@COMMIT) and commit what it writes" >&2
  exit 1
fi
# Only a full commit id pins a git checkout, which has no hash (reconcile init writes no other).
if [ -f "$from_git" ] && grep -Evq '^[[:space:]]*(#|$)|@([0-9a-f]{40}|[0-9a-f]{64})[[:space:]]*$' "$from_git"; then
  echo "::error file=$from_git::every line of $from_git must end in @ and a full commit id: a branch, a tag or a short id can name another tree tomorrow" >&2
  exit 1
fi

# --clear: exactly what the lock holds, whatever an earlier job left on a self-hosted runner.
python3 -m venv --clear "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
if [ -f "$release" ]; then
  "${pip[@]}" install --require-hashes --only-binary :all: --no-deps -r "$release"
  if [ -f "$from_git" ]; then
    # Built with the setuptools just installed from the hashed file; --no-index: nothing but
    # the commit is fetched.
    "${pip[@]}" install --no-deps --no-build-isolation --no-index -r "$from_git"
  fi
else
  "${pip[@]}" install --require-hashes --only-binary :all: --no-deps -r "$lock"
  # A checkout has no hash to check: it is built with the locked setuptools and nothing else.
  "${pip[@]}" install --no-deps --no-build-isolation --no-index .
fi
# --no-deps trusts the lock to be complete: a dependency it lacks fails here, not mid-apply.
"$venv/bin/python" -m pip --disable-pip-version-check check  # not --quiet: it says what lacks
echo "$venv/bin" >> "$GITHUB_PATH"
"$venv/bin/reconcile" --version
