#!/usr/bin/env bash
# A self-hosted runner's job-started hook: the runner itself refuses any job that is not one of
# cms-reconciler's, from the default branch of the one repository it serves. Runner labels are
# not a security boundary: anyone who can push a workflow could ask for the plan or apply
# runner's labels, and that workflow's code would run as the runner's user, next to the state
# folder (backups with private keys) and before the next apply. Runner groups restricted to the
# repository and to selected workflows are the first line (see the README's checklist); this
# hook is the second, and the one a repository-level runner has.
# Install: copy this file onto the runner host (not run from a checkout: a job must not be able
# to change it) and set, in the runner's .env file:
#   ACTIONS_RUNNER_HOOK_JOB_STARTED=/path/to/runner-job-started.sh
#   CMS_RECONCILER_REPOSITORY=OWNER/REPO
#   CMS_RECONCILER_WORKFLOWS="plan.yml drift.yml expiry.yml"   (a plan runner)
#                     or     "apply.yml"                        (the apply runner)
#   CMS_RECONCILER_BRANCH=main                                  (optional; default main)
# The runner gives the hook the job's GITHUB_REPOSITORY, GITHUB_WORKFLOW_REF
# (OWNER/REPO/.github/workflows/FILE@REF) and GITHUB_EVENT_NAME.
# Exit: 0 the job may run; 1 refused, with one ::error:: line saying why (the job then fails
# before its first step).
set -euo pipefail

refuse() {
  echo "::error::this runner runs only cms-reconciler's ${CMS_RECONCILER_WORKFLOWS:-} of ${CMS_RECONCILER_REPOSITORY:-?} from ${CMS_RECONCILER_BRANCH:-main}: $*" >&2
  exit 1
}

repository="${CMS_RECONCILER_REPOSITORY:-}"
allowed="${CMS_RECONCILER_WORKFLOWS:-}"
branch="${CMS_RECONCILER_BRANCH:-main}"
if [ -z "$repository" ] || [ -z "$allowed" ]; then
  refuse "the hook is not configured (CMS_RECONCILER_REPOSITORY and CMS_RECONCILER_WORKFLOWS)"
fi
if [ "${GITHUB_REPOSITORY:-}" != "$repository" ]; then
  refuse "a job of ${GITHUB_REPOSITORY:-an unknown repository}"
fi
workflow_ref="${GITHUB_WORKFLOW_REF:-}"
prefix="$repository/.github/workflows/"
if [[ "$workflow_ref" != "$prefix"* ]]; then
  refuse "workflow ${workflow_ref:-unknown}"
fi
file_ref="${workflow_ref#"$prefix"}"
file="${file_ref%%@*}"
ref="${file_ref#*@}"
if [ "$ref" != "refs/heads/$branch" ]; then
  refuse "workflow $file at $ref, not refs/heads/$branch"
fi
for name in $allowed; do
  if [ "$file" = "$name" ]; then
    case "${GITHUB_EVENT_NAME:-}" in
      pull_request_target | push | schedule | workflow_dispatch) exit 0 ;;
      *) refuse "workflow $file started by ${GITHUB_EVENT_NAME:-an unknown event}" ;;
    esac
  fi
done
refuse "workflow $file"
