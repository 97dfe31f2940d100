#!/usr/bin/env bash
# After a cancelled or timed-out apply: wait for reconcile to reach its safe stop, then say where
# its journal is and whether it left the cluster locked. apply-cluster.sh asked reconcile to stop
# at a safe point, which releases the locks; the runner may have killed the step's shell before
# reconcile got there, so while reconcile's pid (in the state folder) still runs, this waits for
# it, up to APPLY_STOP_WAIT seconds (default 300). If reconcile was killed before it could
# release the locks, its local lock record is still there, and it names the lock id that
# `reconcile unlock` needs.
# Usage: apply-cancelled.sh CLUSTER   (RECONCILE_STATE_DIR as for apply-cluster.sh)
# Exit: 0 when reconcile ended and cleared its lock record; 1 (with the unlock command) when the
# record is still there, or reconcile still runs.
set -euo pipefail

cluster="$1"
state="$("$(dirname "$0")/state-dir.sh")"
pidfile="$state/apply-$cluster.pid"
pid="$(cat "$pidfile" 2> /dev/null || true)"
if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2> /dev/null; then
  echo "reconcile (pid $pid) is stopping at a safe point; waiting for it"
  deadline=$((SECONDS + ${APPLY_STOP_WAIT:-300}))
  while kill -0 "$pid" 2> /dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "::error::reconcile (pid $pid) is still applying cluster $cluster after ${APPLY_STOP_WAIT:-300} s: it holds the cluster's locks; let it finish (see its journal), or stop it and then release them with reconcile unlock" >&2
      exit 1
    fi
    sleep 1
  done
fi
rm -f "$pidfile"
journal="$(find "$state/journal" -maxdepth 1 -name "$cluster-*.jsonl" -printf '%T@ %p\n' 2> /dev/null \
  | sort -rn | head -n1 | cut -d' ' -f2-)"
echo "journal of the last apply of cluster $cluster: ${journal:-none} (on this runner)"
lock="$state/locks/$cluster.lock"
if [ -s "$lock" ]; then
  id="$(jq -r '.lock_id // "?"' "$lock" 2> /dev/null || echo "?")"
  echo "::error::cluster $cluster is still locked (lock id $id): the apply was killed before it could release its locks. Once no apply runs, release them with: reconcile unlock --cluster $cluster --lock-id $id ; then run reconcile plan --cluster $cluster to see where the cluster stands" >&2
  exit 1
fi
# An empty record says reconcile ended and tried every node's lock, not that each was removed:
# one it could not remove, it named in the apply step's log with the unlock command.
echo "cluster $cluster: reconcile ended and cleared its lock record, removing the lock of every node it could reach (the apply step's log names any it could not, with the unlock command); run reconcile plan --cluster $cluster to see where the cluster stands"
