#!/usr/bin/env bash
# Comment each cluster's apply outcome on the pull request that the applied commit came from
# (one comment per cluster, edited in place by sticky-comment.sh, only the bot's own).
# Usage: apply-comment.sh SHA OUTCOMES_DIR   (OUTCOMES_DIR/apply-outcome-NAME/outcome.md as
#   the apply jobs uploaded them; GH_TOKEN, GITHUB_REPOSITORY)
# Exit: 0 (also when the commit has no pull request or nothing was applied); gh's failure else.
set -euo pipefail

sha="$1"
outcomes="$2"
scripts="$(dirname "$0")"
pr="$(gh api "repos/$GITHUB_REPOSITORY/commits/$sha/pulls" --jq '.[0].number // empty')"
if [ -z "$pr" ]; then
  echo "commit $sha came from no pull request: the outcomes are in the job summaries"
  exit 0
fi
shopt -s nullglob
for outcome in "$outcomes"/apply-outcome-*/outcome.md; do
  if [ -s "$outcome" ]; then
    "$scripts/sticky-comment.sh" "$pr" "$outcome"
  fi
done
