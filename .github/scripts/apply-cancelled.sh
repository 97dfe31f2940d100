#!/usr/bin/env bash
# After a cancelled or timed-out apply: where its journal is, and whether it left the cluster
# locked. apply-cluster.sh asks reconcile to stop at a safe point, which releases the locks; if
# reconcile was killed before it could, its local lock record is still there, and it names the
# lock id that `reconcile unlock` needs.
# Usage: apply-cancelled.sh CLUSTER   (RECONCILE_STATE_DIR as for apply-cluster.sh)
# Exit: 0 when no lock is left; 1 (with the unlock command) when one is.
set -euo pipefail

cluster="$1"
state="$("$(dirname "$0")/state-dir.sh")"
journal="$(find "$state/journal" -maxdepth 1 -name "$cluster-*.jsonl" -printf '%T@ %p\n' 2> /dev/null \
  | sort -rn | head -n1 | cut -d' ' -f2-)"
echo "journal of the last apply of cluster $cluster: ${journal:-none} (on this runner)"
lock="$state/locks/$cluster.lock"
if [ -s "$lock" ]; then
  id="$(jq -r '.lock_id // "?"' "$lock" 2> /dev/null || echo "?")"
  echo "::error::cluster $cluster is still locked (lock id $id): the apply was killed before it could release its locks. Once no apply runs, release them with: reconcile unlock --cluster $cluster --lock-id $id ; then run reconcile plan --cluster $cluster to see where the cluster stands" >&2
  exit 1
fi
echo "cluster $cluster: the apply released its locks; run reconcile plan --cluster $cluster to see where the cluster stands"
