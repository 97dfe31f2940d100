#!/usr/bin/env bash
# Apply exactly the approved plan of one cluster, and stop safely when the run is cancelled.
# On cancel or timeout the runner signals only the step's own process, never its children, and
# `reconcile` would be killed where it stands, its node locks left behind. So the step `exec`s
# this script (it then is the step's process), reconcile runs as its child, and the first SIGINT
# or SIGTERM this shell gets is passed on to it once, as SIGTERM: reconcile then stops at its next
# safe point (before a step, at a poll, or just before a step would change a node), ends its
# journal and releases its locks. Later signals are not passed on (a second would make reconcile
# stop at once); the runner's SIGKILL, some seconds later, ends this shell, not reconcile, which
# goes on to its safe point; apply-cancelled.sh, the job's next step, waits for it (its pid is in
# the state folder while it runs).
# State (journal, backups, the local lock) lives outside the checkout (state-dir.sh), owner-only.
# Usage: apply-cluster.sh CLUSTER PLAN_FILE SHA OUT   (the cluster's apply secrets exported;
#   after superseded.sh, whose OUT/superseded means: apply nothing)
# Exit 3 of reconcile (deferred: the maintenance window closed, or the plan no longer fits in
# it, while the approver read the plan; nothing was sent) is green: the cluster stays pending
# (OUT/deferred, for apply-pending.sh) and the scheduled apply tries again in its next window.
# Writes OUT/outcome.md (the outcome comment), OUT/exit-code (reconcile's) and OUT/journal/ (this
# apply's redacted journal).
# Exit: reconcile's (0 converged, 1 failed, 130 stopped by a signal); 0 when deferred (3) or
# superseded.
set -euo pipefail

cluster="$1"
plan="$2"
sha="$3"
out="$4"
if [ -s "$out/superseded" ]; then
  echo "cluster $cluster: superseded by $(cat "$out/superseded"): nothing is applied"
  exit 0
fi
RECONCILE_STATE_DIR="$("$(dirname "$0")/state-dir.sh")"
export RECONCILE_STATE_DIR
mkdir -p "$out/journal"
started="$out/.started"
touch "$started"

(umask 077 && mkdir -p "$RECONCILE_STATE_DIR")
pidfile="$RECONCILE_STATE_DIR/apply-$cluster.pid"
reconcile apply --plan-file "$plan" --ref "$sha" --cluster "$cluster" --auto-approve \
  --format markdown > "$out/outcome.md" &
child=$!
echo "$child" > "$pidfile"
forwarded=""
# shellcheck disable=SC2317  # called by the trap below
forward() {
  if [ -z "$forwarded" ]; then
    forwarded=yes
    echo "cancelled: asking reconcile to stop at a safe point and release its locks" >&2
    kill -TERM "$child" 2> /dev/null || true
  fi
}
trap forward INT TERM
code=0
while true; do
  set +e
  wait "$child"
  code=$?
  set -e
  # wait returns early (over 128) when a trapped signal arrives; reconcile may still run.
  if ! kill -0 "$child" 2> /dev/null; then
    break
  fi
done
trap - INT TERM
rm -f "$pidfile"

if [ -d "$RECONCILE_STATE_DIR/journal" ]; then
  find "$RECONCILE_STATE_DIR/journal" -maxdepth 1 -name "$cluster-*.jsonl" -newer "$started" \
    -exec cp {} "$out/journal/" \;
fi
rm -f "$started"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -s "$out/outcome.md" ]; then
  cat "$out/outcome.md" >> "$GITHUB_STEP_SUMMARY"
fi
echo "$code" > "$out/exit-code"
if [ "$code" -eq 3 ]; then
  says="deferred: the maintenance window closed (or the plan no longer fits in it) before the approved apply could start"
  echo "$says" > "$out/deferred"
  echo "::notice::cluster $cluster: $says; nothing was sent to it; it stays pending and the scheduled apply applies it in its next window"
  exit 0
fi
exit "$code"
