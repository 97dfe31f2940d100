#!/usr/bin/env bash
# The GitHub release of a version tag: the sdist and wheel the build job made, its SHA256SUMS,
# and the tag's CHANGELOG.md section as notes (release-notes.sh). The files are checked against
# SHA256SUMS first, and must be exactly the files it lists: what is attached is what was tested,
# attested and published to PyPI. --verify-tag: a release of the pushed tag only, never of a tag
# gh would otherwise create at the default branch's tip. Run from the checkout's root.
# Usage: release-github.sh TAG DIST SUMS   (vX.Y.Z, the folder of the two files, SHA256SUMS)
#   GH_TOKEN (contents: write), GITHUB_REPOSITORY.
# Exit: 1 with an ::error:: line when a file is missing, extra or altered, or the notes are
# absent; gh's own status when the release cannot be made (one already exists: delete it, not
# the tag, and re-run the job).
set -euo pipefail

tag="${1:?usage: release-github.sh TAG DIST SUMS}"
dist="${2:?usage: release-github.sh TAG DIST SUMS}"
sums="$(realpath -- "${3:?usage: release-github.sh TAG DIST SUMS}")"
: "${GITHUB_REPOSITORY:?names the repository the release is made in}"
version="${tag#v}"
here="$(dirname "$0")"

listed="$(awk '{ sub(/^\*/, "", $2); print $2 }' "$sums" | LC_ALL=C sort)"
present="$(cd "$dist" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort)"
if [ -z "$listed" ] || [ "$listed" != "$present" ]; then
  echo "::error::$dist holds [${present//$'\n'/, }], but SHA256SUMS lists [${listed//$'\n'/, }]" >&2
  exit 1
fi
if ! (cd "$dist" && sha256sum --check --strict --quiet -- "$sums"); then
  echo "::error::the files in $dist are not the ones the build job summed" >&2
  exit 1
fi

notes="$(mktemp)"
trap 'rm -f "$notes"' EXIT
"$here/release-notes.sh" "$version" CHANGELOG.md >"$notes"
files=()
while IFS= read -r name; do
  files+=("$dist/$name")
done <<<"$listed"
gh release create "$tag" "${files[@]}" "$sums" --repo "$GITHUB_REPOSITORY" --verify-tag \
  --title "cms-reconciler $version" --notes-file "$notes"
