#!/usr/bin/env bash
# Export the secrets a cluster needs into the job's environment ($GITHUB_ENV).
# ENV_NAMES: JSON list of variable names (from `reconcile clusters --format json`);
# SECRET_1..SECRET_4: their values, in the same order. A name without a value stops the job
# here, naming the secret to create, rather than failing later on a node.
set -euo pipefail

# Not `< <(...)`, whose failure bash ignores: an ENV_NAMES that is not a JSON list fails here.
names_text="$(python3 -c 'import json, os; print("\n".join(json.loads(os.environ["ENV_NAMES"])))')"
mapfile -t names <<< "$names_text"
if [ "${#names[@]}" -gt 4 ]; then
  echo "::error::this cluster needs ${#names[@]} secrets; the setup action passes at most 4" >&2
  exit 1
fi
missing=()
index=0
for name in "${names[@]}"; do
  [ -n "$name" ] || continue
  index=$((index + 1))
  value_var="SECRET_${index}"
  value="${!value_var:-}"
  if [ -z "$value" ]; then
    missing+=("$name")
    continue
  fi
  delimiter="EOF_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  {
    printf '%s<<%s\n' "$name" "$delimiter"
    printf '%s\n' "$value"
    printf '%s\n' "$delimiter"
  } >> "$GITHUB_ENV"
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "::error::missing secrets: ${missing[*]} (create them under Settings > Secrets and variables > Actions, or in the job's environment)" >&2
  exit 1
fi
