#!/usr/bin/env bash
# The expiry workflow's CA step, on GitHub's runner in the `cms-ca` environment: the only job
# that holds the CA's key, and it sees nothing of any cluster (no cluster file, no key, no
# passphrase): `reconcile certs sign` reads only the two CSRs certs-prepare.sh made.
#   CA_KEY              the CA's private key (PEM; the environment's secret)
#   CA_CERT             the CA's certificate, and any intermediates (PEM; a variable)
#   CA_KEY_PASSPHRASE   the key's passphrase, when it is encrypted (optional)
# Key and certificate go to mktemp files (0600), removed when the script ends, however it ends.
# A cluster whose OUT_DIR/action is not `csr` (nothing due, or a renewal under way) has
# nothing to sign: the script says so and succeeds, so the job may run for every cluster.
# Usage: certs-sign.sh OUT_DIR SIGNED_DIR   (OUT_DIR: certs-prepare.sh's, with server.csr and
# client.csr)
# Writes SIGNED_DIR/server.cer, client.cer and ca.cer (for certs-install.sh).
# Exit: 0 signed, or nothing to sign; 1 CA_KEY or CA_CERT is empty, or reconcile refused.
set -euo pipefail

out="$1"
signed="$2"
action="$(cat "$out/action" 2> /dev/null || true)"
if [ "$action" != csr ]; then
  echo "nothing to sign in $out (action: ${action:-none})"
  exit 0
fi
missing=()
[ -n "${CA_KEY:-}" ] || missing+=("CA_KEY (the CA's private key)")
[ -n "${CA_CERT:-}" ] || missing+=("CA_CERT (the CA's certificate)")
if [ "${#missing[@]}" -gt 0 ]; then
  for what in "${missing[@]}"; do
    echo "::error::$what is empty: this job signs the CSRs with the CA, whose key is a secret of the cms-ca environment" >&2
  done
  exit 1
fi

key_file=""
cert_file=""
trap 'rm -f -- "$key_file" "$cert_file"' EXIT
key_file="$(mktemp)"
cert_file="$(mktemp)"
chmod 600 "$key_file" "$cert_file"
printf '%s\n' "$CA_KEY" > "$key_file"
printf '%s\n' "$CA_CERT" > "$cert_file"
passphrase=()
if [ -n "${CA_KEY_PASSPHRASE:-}" ]; then
  passphrase=(--ca-key-passphrase-env CA_KEY_PASSPHRASE)
fi
mkdir -p "$signed"
reconcile certs sign --csr-dir "$out" --ca-cert "$cert_file" --ca-key "$key_file" \
  "${passphrase[@]}" --out "$signed"
