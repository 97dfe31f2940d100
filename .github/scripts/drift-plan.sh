#!/usr/bin/env bash
# The drift check of one cluster: its plan against the default branch, whose exit code decides
# whether the cluster's drift issue is opened (2), closed (0) or left alone with a failed run.
# Usage: drift-plan.sh CLUSTER OUT   (the cluster's plan secrets exported)
# Writes OUT/exit-code and OUT/plan.md. Exit: 0 (drift-issue.sh reports a failed plan).
set -euo pipefail

cluster="$1"
out="$2"
mkdir -p "$out"
set +e
reconcile plan --cluster "$cluster" --format markdown > "$out/plan.md"
echo "$?" > "$out/exit-code"
set -e
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$out/plan.md" >> "$GITHUB_STEP_SUMMARY"
fi
