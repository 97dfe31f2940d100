#!/usr/bin/env bash
# shellcheck disable=SC2016  # \(...) in single quotes is jq's string interpolation
# The apply job's first step (self-hosted runner, permissions actions: read): refuse to apply
# unless a person approved this run for the job's environment. A job tied to an environment
# with required reviewers starts only once someone approves it; but GitHub creates a missing
# environment silently on first use, without reviewers, and reviewers can be removed: either
# way the job would start, and apply, with nobody having approved. So the run's review history
# (GET repos/R/actions/runs/RUN_ID/approvals: [{state, comment, environments: [{name}],
# user: {login}}]) must hold at least one "approved" entry for ENVIRONMENT; who approved, and
# their comment, are printed.
# Opt-out, for a repository that applies without review on purpose: the repository variable
# CMS_RECONCILER_ALLOW_UNREVIEWED_APPLY=true (passed as the environment variable of that
# name) turns the refusal into a warning.
# Usage: check-approval.sh ENVIRONMENT   (GH_TOKEN, GITHUB_REPOSITORY, GITHUB_RUN_ID set;
# needs gh and python3, which the self-hosted runner has for reconcile; jq is not assumed)
# Exit: 0 approved (or the opt-out is set); 1 not approved, or the history could not be read.
set -euo pipefail

environment="$1"
run="${GITHUB_RUN_ID:?GITHUB_RUN_ID is not set}"
allow="${CMS_RECONCILER_ALLOW_UNREVIEWED_APPLY:-}"

# gh's --jq takes no --arg: the name goes into the expression as a JSON string literal
# (python3, since jq may be missing on a self-hosted runner), so no character of it can
# change the expression. A comment is printed as a JSON string: one line, whatever it holds.
environment_json="$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$environment")"
jq_program='.[] | select(.state == "approved"
  and any(.environments[]?; .name == '"$environment_json"'))
  | "approved by \(.user.login)"
    + (if (.comment // "") == "" then "" else ": \(.comment | tojson)" end)'
if ! approved="$(gh api "repos/$GITHUB_REPOSITORY/actions/runs/$run/approvals" \
  --jq "$jq_program")"; then
  if [ "$allow" = true ]; then
    echo "::warning::could not read the review history of this run; applying without it, because the repository variable CMS_RECONCILER_ALLOW_UNREVIEWED_APPLY is true" >&2
    exit 0
  fi
  echo "::error::could not read the review history of this run (gh api .../actions/runs/$run/approvals failed): the apply job needs the permission actions: read" >&2
  exit 1
fi

if [ -n "$approved" ]; then
  echo "environment $environment: this run was approved"
  while IFS= read -r line; do
    echo "  $line"
  done <<< "$approved"
  exit 0
fi
if [ "$allow" = true ]; then
  echo "::warning::nobody approved this run for environment $environment; applying anyway, because the repository variable CMS_RECONCILER_ALLOW_UNREVIEWED_APPLY is true" >&2
  exit 0
fi
echo "::error::nobody approved this run for environment $environment, so nothing is applied. GitHub waits for a review only when the environment has required reviewers, and an environment GitHub created by itself, or whose reviewers were removed, lets the job start unapproved. Add required reviewers to environment $environment (Settings > Environments), or set the repository variable CMS_RECONCILER_ALLOW_UNREVIEWED_APPLY=true to apply without review." >&2
exit 1
