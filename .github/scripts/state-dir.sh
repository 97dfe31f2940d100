#!/usr/bin/env bash
# Where the apply runner keeps reconcile's state (journal, backups with private keys, the local
# lock): RECONCILE_STATE_DIR (the repository variable CMS_RECONCILER_STATE_DIR), else
# $HOME/.cms-reconciler/state/OWNER/REPO; always outside the workspace, which checkouts clean.
# A leading ~/ is the runner user's home; any other relative path is refused, since it would
# land in the workspace.
# Usage: state-dir.sh   (prints the absolute path)
# Exit: 1 with an ::error:: line when the setting is relative.
set -euo pipefail

dir="${RECONCILE_STATE_DIR:-$HOME/.cms-reconciler/state/${GITHUB_REPOSITORY:-repository}}"
# shellcheck disable=SC2088  # a literal ~/ in the setting, expanded here on purpose
case "$dir" in
  /*) ;;
  "~/"*) dir="$HOME/${dir#"~/"}" ;;
  *)
    echo "::error::CMS_RECONCILER_STATE_DIR must be an absolute path (or start with ~/), not '$dir': a relative one would put backups in the workspace" >&2
    exit 1
    ;;
esac
printf '%s\n' "$dir"
