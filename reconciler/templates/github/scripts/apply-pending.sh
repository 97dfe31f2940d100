#!/usr/bin/env bash
# The apply run's last word on each cluster's pending state (pending.sh: a cluster whose merged
# change waits for its maintenance window), from what the run's jobs left per cluster in
# OUTCOMES_DIR/apply-outcome-NAME/:
#   deferred   (apply-decide.sh: the plan needs a window that is not open now; or
#              apply-cluster.sh: reconcile apply exited 3): pending, with that sentence, linked
#              to the pull request the pushed commit came from (a push run; a scheduled run keeps
#              the link it has, where apply-comment.sh then comments);
#   converged  (apply-decide.sh: the plan has no changes) or exit-code 0 (applied): no longer
#              pending (success);
#   exit-code 1 (the apply failed): no longer pending (failure): a person looks, and drift
#              reports the cluster from then on, as after any failed apply;
#   anything else (superseded, not approved, cancelled, a failed plan): unchanged, so a pending
#              cluster is tried again by the next scheduled run.
# Runs in apply's report job: GitHub's runner, the bot's token with statuses: write, no
# cluster secret.
# Usage: apply-pending.sh SHA OUTCOMES_DIR   (GH_TOKEN, GITHUB_REPOSITORY,
#   CMS_RECONCILER_BOT_LOGIN, EVENT: github.event_name, GITHUB_RUN_ID; a full-history checkout, or
#   ANCHOR: see pending.sh)
# Exit: 0; gh's failure else.
set -euo pipefail

sha="$1"
outcomes="$2"
scripts="$(dirname "$0")"
when="$(date -u '+%Y-%m-%d %H:%M UTC') by apply run ${GITHUB_RUN_ID:-?}"
shopt -s nullglob
for dir in "$outcomes"/apply-outcome-*/; do
  dir="${dir%/}"
  name="${dir##*/apply-outcome-}"
  code="$(cat "$dir/exit-code" 2> /dev/null || true)"
  if [ -s "$dir/deferred" ]; then
    url=""
    if [ "${EVENT:-}" = push ]; then
      url="$(gh api "repos/$GITHUB_REPOSITORY/commits/$sha/pulls" --jq '.[0].html_url // empty')"
    fi
    "$scripts/pending.sh" set "$name" "$(head -n1 "$dir/deferred")" "$url"
  elif [ -e "$dir/converged" ]; then
    "$scripts/pending.sh" end "$name" success "converged: nothing left to apply ($when)"
  elif [ "$code" = 0 ]; then
    "$scripts/pending.sh" end "$name" success "applied ($when)"
  elif [ "$code" = 1 ]; then
    "$scripts/pending.sh" end "$name" failure "the apply failed ($when): see its outcome; no longer retried"
  fi
done
