#!/usr/bin/env bash
# Between planning and approval (GitHub's runner): only a cluster whose plan has changes, whose
# commit is still the newest for it, and whose plan may run now goes on to the apply job, so no
# approver is asked to approve nothing, a superseded commit, a plan that failed, or a plan its
# maintenance window would defer (the plan's clusters[].window.applies_now is false: it takes a
# serving node out of service and no window is open, or the plan does not fit before it
# closes). A deferred cluster is reported (a ::notice:: with the window's sentence, and an
# outcome comment for the merged pull request) and becomes pending (apply-pending.sh): the
# scheduled apply plans it again, and sends it on once its window is open. The run stays green.
# Usage: apply-decide.sh CLUSTERS_JSON PLANS_DIR DECIDED_DIR   (PLANS_DIR/apply-plan-NAME/ as
#   the plan jobs uploaded them; GITHUB_OUTPUT)
# Writes matrix (one line of JSON: the clusters to apply), count, and failed (true when a
# cluster's plan failed or is missing) to GITHUB_OUTPUT; one ::notice:: or ::error:: line per
# cluster; DECIDED_DIR/apply-outcome-NAME/ for the report job: `deferred` (the sentence) and
# outcome.md for a deferred cluster, `converged` for one with nothing to apply.
# Exit: 0 (the workflow's last job fails the run when failed is true, after the clusters that
# can be applied were).
set -euo pipefail

clusters="$1"
plans="$2"
decided="$3"
apply=()
failed=false

defer() {  # NAME SENTENCE: the outcome comment and the sentence for the report job
  local name="$1" says="$2" out="$decided/apply-outcome-$1"
  mkdir -p "$out"
  printf '%s\n' "$says" > "$out/deferred"
  {
    echo "<!-- cms-reconciler apply -->"
    echo "<!-- cms-reconciler apply: $name -->"
    echo "### cms-reconciler apply of \`$name\`: **deferred** ⏳"
    echo
    echo "- **Deferred:** ${says#deferred: }. Nothing was sent to this cluster."
    echo "- The scheduled apply (apply.yml on schedule) applies it once the window opens, after approval in \`cms-$name-apply\`, and comments its outcome here."
  } > "$out/outcome.md"
}

while IFS= read -r name; do
  dir="$plans/apply-plan-$name"
  code="$(cat "$dir/exit-code" 2> /dev/null || true)"
  if [ -s "$dir/superseded" ]; then
    echo "::notice::cluster $name: superseded by $(cat "$dir/superseded"); nothing to apply"
  elif [ "$code" = 2 ] && [ -s "$dir/plan.json" ]; then
    if ! window="$(jq -c --arg name "$name" \
      'first(.clusters[]? | select(.name == $name) | .window) // null' "$dir/plan.json")"; then
      echo "::error::cluster $name: its plan file cannot be read; nothing is applied to it"
      failed=true
    elif [ "$(jq -r '.applies_now == false' <<< "$window")" = true ]; then
      says="$(jq -r '.says // "deferred: outside the maintenance windows"' <<< "$window")"
      echo "::notice::cluster $name: $says; pending: the scheduled apply applies it once its window opens (no approval is asked before then)"
      defer "$name" "$says"
    else
      apply+=("$name")
    fi
  elif [ "$code" = 0 ]; then
    echo "::notice::cluster $name: converged; nothing to apply"
    mkdir -p "$decided/apply-outcome-$name"
    touch "$decided/apply-outcome-$name/converged"
  else
    echo "::error::cluster $name: its plan failed (exit ${code:-none}); nothing is applied to it: see the plan job's log"
    failed=true
  fi
done < <(jq -r '.clusters[].name' "$clusters")
matrix="$("$(dirname "$0")/select-clusters.sh" "$clusters" "${apply[@]}")"
{
  echo "matrix=$matrix"
  echo "count=$(jq length <<< "$matrix")"
  echo "failed=$failed"
} >> "$GITHUB_OUTPUT"
