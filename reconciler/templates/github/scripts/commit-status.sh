#!/usr/bin/env bash
# The plan workflow's required check, `plan-result`, as a commit status on the pull request's
# head commit. The jobs of a pull_request_target run report their checks on the default
# branch's commit, not on the pull request's, so branch protection could not require them; a
# status on the head commit it can. Pending as soon as the run starts, then the verdict.
# Usage: commit-status.sh HEAD_SHA pending|success|OTHER   (GH_TOKEN with statuses: write,
#   GITHUB_REPOSITORY, RUN_URL: the run's page, linked from the status); OTHER (failure, or a
#   step outcome such as cancelled or skipped) posts failure: only success passes.
# Exit: 1 when the verdict is failure (after it is posted), so that the job shows red too; 0
#   otherwise; gh's failure when the status cannot be posted.
set -euo pipefail

sha="$1"
state="$2"
case "$state" in
  pending) description="planning the clusters this pull request changes" ;;
  success) description="every changed cluster validated, and planned or awaiting its access" ;;
  *)
    state=failure
    description="a cluster could not be validated or planned: see its comment"
    ;;
esac
body="$(mktemp)"
trap 'rm -f "$body"' EXIT
jq -n --arg state "$state" --arg description "$description" --arg url "${RUN_URL:-}" \
  '{state: $state, context: "plan-result", description: $description}
   + (if $url == "" then {} else {target_url: $url} end)' > "$body"
gh api --method POST "repos/$GITHUB_REPOSITORY/statuses/$sha" --input "$body" > /dev/null
echo "plan-result on ${sha:0:12}: $state ($description)"
[ "$state" != failure ]
