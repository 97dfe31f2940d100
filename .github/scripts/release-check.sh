#!/usr/bin/env bash
# Refuses a release before anything is built when the tag, the code and the metadata disagree:
# - the tag is vX.Y.Z and X.Y.Z is reconciler/__init__.py's __version__ (the one place the
#   version is written; the wheel's metadata reads it);
# - CHANGELOG.md has a dated section `## [X.Y.Z] - YYYY-MM-DD` with something in it (it
#   becomes the GitHub release's notes: release-notes.sh);
# - every project URL in pyproject.toml is on https://github.com/$GITHUB_REPOSITORY: PyPI
#   shows them, verified, on the release's page, so a URL naming another repository would
#   send users (and their bug reports) to whoever holds that name.
# Every mismatch is reported, not only the first. Run from the checkout's root.
# Usage: release-check.sh TAG   (the workflow passes GITHUB_REF_NAME)
#   GITHUB_REPOSITORY: owner/name of the repository the release runs in.
#   GITHUB_OUTPUT (optional): version=X.Y.Z is appended to it.
# Prints: X.Y.Z. Exit: 1 with one ::error:: line a problem.
set -euo pipefail

tag="${1:?usage: release-check.sh TAG}"
: "${GITHUB_REPOSITORY:?names the repository (owner/name) the project URLs must be on}"
here="$(dirname "$0")"
problems=0
problem() {
  echo "::error::$1" >&2
  problems=$((problems + 1))
}

if [[ "$tag" =~ ^v([0-9]+\.[0-9]+\.[0-9]+)$ ]]; then
  version="${BASH_REMATCH[1]}"
else
  problem "tag '$tag' is not a release tag vX.Y.Z"
  version=""
fi

code="$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' reconciler/__init__.py)"
if [ -z "$code" ]; then
  problem "reconciler/__init__.py has no line __version__ = \"X.Y.Z\""
elif [ -n "$version" ] && [ "$code" != "$version" ]; then
  problem "tag $tag is not the code's version: reconciler/__init__.py has __version__ = \"$code\""
fi

if [ -n "$version" ]; then
  # Its own messages (absent, undated, empty) are the ones to show.
  if ! notes_error="$("$here/release-notes.sh" "$version" CHANGELOG.md 2>&1 >/dev/null)"; then
    problem "${notes_error#::error::}"
  fi
fi

# tomllib: pyproject.toml read as TOML, not guessed at line by line. One `name<TAB>url` a line.
if ! urls="$(python3 -c '
import sys, tomllib
with open("pyproject.toml", "rb") as file:
    urls = tomllib.load(file).get("project", {}).get("urls", {})
for name, url in urls.items():
    print(f"{name}\t{url}")
')"; then
  problem "pyproject.toml could not be read as TOML"
elif [ -z "$urls" ]; then
  problem "pyproject.toml has no [project.urls]: name https://github.com/$GITHUB_REPOSITORY there"
else
  # GitHub's owner and repository names are case-insensitive; so is the comparison.
  home="https://github.com/${GITHUB_REPOSITORY,,}"
  while IFS=$'\t' read -r name url; do
    case "${url,,}" in
      "$home" | "$home"/* | "$home"#*) ;;
      *) problem "pyproject.toml [project.urls] $name = $url is not on https://github.com/$GITHUB_REPOSITORY" ;;
    esac
  done <<<"$urls"
fi

if [ "$problems" -gt 0 ]; then
  echo "release $tag refused ($problems problem(s) above): nothing was built or published" >&2
  exit 1
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "version=$version" >>"$GITHUB_OUTPUT"
fi
printf '%s\n' "$version"
