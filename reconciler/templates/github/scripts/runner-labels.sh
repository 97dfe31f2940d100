#!/usr/bin/env bash
# Refuse to go on unless the self-hosted runner labels a job needs are set explicitly: there is
# no default `self-hosted`, so a repository never sends a secret-bearing job to whatever
# self-hosted runner happens to be registered. Plans (pull requests, drift, the expiry check)
# and applies run on different runners: each label list must have a label the other lacks, so
# a runner carrying only one of them can never take the other's jobs.
# Usage: runner-labels.sh plan|apply   (PLAN_RUNNER and APPLY_RUNNER: the repository variables
#   CMS_RECONCILER_PLAN_RUNNER and CMS_RECONCILER_APPLY_RUNNER, JSON lists of labels)
# Exit: 0 usable; 1 with one ::error:: line saying what to set.
set -euo pipefail

kind="${1:-}"
case "$kind" in
  plan) wanted=(PLAN_RUNNER) ;;
  apply) wanted=(PLAN_RUNNER APPLY_RUNNER) ;;
  *)
    echo "usage: runner-labels.sh plan|apply" >&2
    exit 2
    ;;
esac

labels() {  # the labels of a JSON list of non-empty strings, one per line; fails otherwise
  jq -er 'if type == "array" and length > 0 and all(.[]; type == "string" and length > 0)
          then .[] else error("not a list") end' <<< "$1" 2> /dev/null
}

for name in "${wanted[@]}"; do
  value="${!name:-}"
  variable="CMS_RECONCILER_${name}"
  if [ -z "$value" ]; then
    hint="cms-plan"
    [ "$name" = APPLY_RUNNER ] && hint="cms-apply"
    echo "::error::repository variable $variable is not set: set it to the JSON list of labels of the self-hosted runner for these jobs, e.g. [\"self-hosted\", \"$hint\"] (there is no default)" >&2
    exit 1
  fi
  if ! labels "$value" > /dev/null; then
    echo "::error::repository variable $variable is not a JSON list of labels: $value" >&2
    exit 1
  fi
done
if [ "$kind" = apply ]; then
  plan_only="$(comm -23 <(labels "$PLAN_RUNNER" | sort -u) <(labels "$APPLY_RUNNER" | sort -u))"
  apply_only="$(comm -13 <(labels "$PLAN_RUNNER" | sort -u) <(labels "$APPLY_RUNNER" | sort -u))"
  if [ -z "$plan_only" ] || [ -z "$apply_only" ]; then
    echo "::error::CMS_RECONCILER_PLAN_RUNNER and CMS_RECONCILER_APPLY_RUNNER must each have a label the other lacks (e.g. cms-plan and cms-apply), so that a plan runner never takes an apply job, nor an apply runner a plan: plan $PLAN_RUNNER, apply $APPLY_RUNNER" >&2
    exit 1
  fi
fi
