#!/usr/bin/env bash
# The matrix of the named clusters, in CLUSTERS_JSON's order and with its fields (the literal
# secret names included): what a later job of the run works on.
# Usage: select-clusters.sh CLUSTERS_JSON [NAME...]   (prints one line of JSON; [] for none)
set -euo pipefail

clusters="$1"
shift
names="$(printf '%s\n' "$@" | jq -R 'select(length > 0)' | jq -sc .)"
jq -c --argjson names "$names" '[.clusters[] | select(.name as $n | $names | index($n))]' \
  "$clusters"
