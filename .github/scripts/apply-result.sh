#!/usr/bin/env bash
# The apply run's verdict, after the outcomes were commented: red when a cluster's plan failed
# (apply-decide.sh left it out), when the decision itself failed, or when an apply failed or
# was cancelled; green otherwise (superseded and converged clusters included).
# Usage: apply-result.sh   (PLAN_FAILED true|false, DECIDE_RESULT and APPLY_RESULT: the jobs'
#   results, success|failure|cancelled|skipped)
# Exit: 0 or 1, with one ::error:: line per reason.
set -euo pipefail

failed=0
if [ "${DECIDE_RESULT:-}" != success ]; then
  echo "::error::deciding which clusters to apply did not succeed (${DECIDE_RESULT:-not run}); nothing was applied" >&2
  failed=1
fi
if [ "${PLAN_FAILED:-false}" = true ]; then
  echo "::error::a cluster's plan failed, so it was not applied: see the plan jobs" >&2
  failed=1
fi
case "${APPLY_RESULT:-skipped}" in
  success | skipped) ;;
  *)
    echo "::error::an apply did not succeed (${APPLY_RESULT}): see its outcome comment and job" >&2
    failed=1
    ;;
esac
exit "$failed"
