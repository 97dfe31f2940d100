#!/usr/bin/env bash
# Talk to origin from a checkout made with persist-credentials: false. The token reaches git
# only through this process's environment (GIT_CONFIG_*), never a file or an argument, so a
# checkout on a self-hosted runner keeps no credential once the step ends.
# Usage: git-origin.sh fetch REFSPEC...    (no tags, no submodules)
#        git-origin.sh ls-remote PATTERN... (branches only)
#   GH_TOKEN optional (public repositories need none); GITHUB_SERVER_URL (default
#   https://github.com) names the host the token is for.
# Exit: git's own (non-zero when a ref or commit is not on origin).
set -euo pipefail

command="${1:-}"
shift || true
case "$command" in
  fetch | ls-remote) ;;
  *)
    echo "usage: git-origin.sh fetch REFSPEC... | git-origin.sh ls-remote PATTERN..." >&2
    exit 2
    ;;
esac
if [ -n "${GH_TOKEN:-}" ]; then
  header="$(printf 'x-access-token:%s' "$GH_TOKEN" | base64 | tr -d '\n')"
  export GIT_CONFIG_COUNT=1
  export GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader"
  export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $header"
fi
if [ "$command" = fetch ]; then
  git fetch --quiet --no-tags --no-recurse-submodules origin "$@"
else
  git ls-remote --heads origin "$@"
fi
