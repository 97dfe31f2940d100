#!/usr/bin/env bash
# Comment each cluster's apply outcome on the pull request that the applied commit came from
# (one comment per cluster, edited in place by sticky-comment.sh, only the bot's own). A
# scheduled run applies pending clusters at the branch's tip, whose pull request is not theirs:
# each goes to the pull request its pending status links to (pending.sh), and a cluster merely
# deferred again (its window still closed) is not commented again.
# Usage: apply-comment.sh SHA OUTCOMES_DIR   (OUTCOMES_DIR/apply-outcome-NAME/outcome.md as
#   the decide and apply jobs uploaded them; GH_TOKEN, GITHUB_REPOSITORY; EVENT:
#   github.event_name; PENDING: on schedule, `pending.sh read`'s JSON)
# Exit: 0 (also when the commit has no pull request or nothing was applied); gh's failure else.
set -euo pipefail

sha="$1"
outcomes="$2"
scripts="$(dirname "$0")"
shopt -s nullglob
if [ "${EVENT:-}" = schedule ]; then
  pending="${PENDING:-}"
  [ -n "$pending" ] || pending="{}"
  for outcome in "$outcomes"/apply-outcome-*/outcome.md; do
    dir="$(dirname "$outcome")"
    name="${dir##*/apply-outcome-}"
    if [ ! -s "$outcome" ] || { [ -e "$dir/deferred" ] && [ ! -e "$dir/exit-code" ]; }; then
      continue
    fi
    url="$(jq -r --arg n "$name" '.[$n].target_url // ""' <<< "$pending")"
    if [[ "$url" =~ ^https://[^/]+/"$GITHUB_REPOSITORY"/pull/([0-9]+)$ ]]; then
      "$scripts/sticky-comment.sh" "${BASH_REMATCH[1]}" "$outcome"
    else
      echo "cluster $name: its pending status links to no pull request: the outcome is in the apply job's summary"
    fi
  done
  exit 0
fi
pr="$(gh api "repos/$GITHUB_REPOSITORY/commits/$sha/pulls" --jq '.[0].number // empty')"
if [ -z "$pr" ]; then
  echo "commit $sha came from no pull request: the outcomes are in the job summaries"
  exit 0
fi
for outcome in "$outcomes"/apply-outcome-*/outcome.md; do
  if [ -s "$outcome" ]; then
    "$scripts/sticky-comment.sh" "$pr" "$outcome"
  fi
done
