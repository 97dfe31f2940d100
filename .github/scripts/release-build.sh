#!/usr/bin/env bash
# Builds the release's sdist and wheel, once, and their SHA256SUMS: every later job (the tests,
# the provenance attestation, PyPI, the GitHub release) takes these very files, never a rebuild.
# --no-isolation: the build uses the interpreter's own `build` and setuptools, which the
# workflow installed hash-checked from .github/release-requirements.txt, so pip fetches nothing
# unchecked at build time. Refuses a dist/ that is not empty (a stale file would be published)
# and any output but exactly the two files named for VERSION. Run from the checkout's root.
# Usage: release-build.sh VERSION   (X.Y.Z, as release-check.sh printed it)
#   PYTHON (default python3): the interpreter with build and setuptools installed.
# Writes: dist/<name>-VERSION.tar.gz, dist/<name>-VERSION-py3-none-any.whl, and SHA256SUMS
# (sha256sum's format, file names relative to dist/), which it also prints.
# Exit: 1 with an ::error:: line on any of the above.
set -euo pipefail

version="${1:?usage: release-build.sh VERSION}"
python="${PYTHON:-python3}"
if [ -n "$(ls -A dist 2>/dev/null)" ]; then
  echo "::error::dist/ is not empty: the release builds into an empty one" >&2
  exit 1
fi
# No --sdist/--wheel: the sdist first, then the wheel built from it, which proves the sdist whole.
"$python" -m build --no-isolation --outdir dist .

# The distribution name as the files spell it (PEP 625/427: lower case, runs of -_. as _).
name="$("$python" -c '
import re, tomllib
with open("pyproject.toml", "rb") as file:
    print(re.sub(r"[-_.]+", "_", tomllib.load(file)["project"]["name"]).lower())
')"
wheel="$name-$version-py3-none-any.whl"
sdist="$name-$version.tar.gz"
expected="$(printf '%s\n' "$wheel" "$sdist" | LC_ALL=C sort)"
built="$(cd dist && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort)"
if [ "$built" != "$expected" ]; then
  echo "::error::the build made [${built//$'\n'/, }], not [${expected//$'\n'/, }]: is __version__ $version?" >&2
  exit 1
fi
(cd dist && sha256sum -- "$wheel" "$sdist") >SHA256SUMS
cat SHA256SUMS
