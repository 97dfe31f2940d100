#!/usr/bin/env bash
# Prints the CHANGELOG.md section of one release, the GitHub release's notes: the lines under
# its heading `## [X.Y.Z] - YYYY-MM-DD` (keep-a-changelog) up to the next `## ` heading or
# the link definitions (`[X.Y.Z]: https://...`) that close the file, blank lines around trimmed.
# A version with no such heading, an undated one (`## [X.Y.Z]`, still being written) or an
# empty section fails here, so a release never goes out with empty or wrong notes.
# Usage: release-notes.sh X.Y.Z [CHANGELOG]   (default CHANGELOG.md)
# Exit: 1 with an ::error:: line when the section is absent, undated or empty.
set -euo pipefail

version="${1:?usage: release-notes.sh X.Y.Z [CHANGELOG]}"
changelog="${2:-CHANGELOG.md}"
if [ ! -f "$changelog" ]; then
  echo "::error::$changelog does not exist" >&2
  exit 1
fi

# awk compares the heading's text literally (a version's dots are not a pattern). Exit codes:
# 3 no heading for the version, 4 its heading has no date, 5 the section is empty.
status=0
notes="$(awk -v heading="## [$version]" '
  function dated(rest) { return rest ~ /^ - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/ }
  !found && substr($0, 1, length(heading)) == heading {
    rest = substr($0, length(heading) + 1)
    if (rest == "" || rest ~ /^ /) {
      if (!dated(rest)) { undated = 1; exit }
      found = 1
      next
    }
  }
  found && (/^## / || /^\[[^]]+\]: /) { exit }
  found {
    if ($0 ~ /^[[:space:]]*$/) { blank++; next }
    if (printed) { while (blank-- > 0) print "" }
    blank = 0
    printed = 1
    print
  }
  END {
    if (undated) exit 4
    if (!found) exit 3
    if (!printed) exit 5
  }
' "$changelog")" || status=$?
case "$status" in
  0) printf '%s\n' "$notes" ;;
  3) echo "::error::$changelog has no section '## [$version] - YYYY-MM-DD' (keep-a-changelog): add it, with the release's date, before tagging v$version" >&2 ;;
  4) echo "::error::$changelog has '## [$version]' without its release date: write it as '## [$version] - YYYY-MM-DD'" >&2 ;;
  5) echo "::error::$changelog section '## [$version]' is empty: say what the release changes" >&2 ;;
  *) echo "::error::could not read $changelog (awk exit $status)" >&2 ;;
esac
[ "$status" -eq 0 ] || exit 1
