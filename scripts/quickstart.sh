#!/usr/bin/env bash
# Runs the quickstart on loopback: starts local-kms, encrypts a sample
# payload with sfn-decrypt, shows the ciphertext, decrypts it back and checks
# that the round trip is exact. Needs bin/local-kms and bin/sfn-decrypt
# (make tools build).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=examples/quickstart
tmp=$(mktemp -d)
mkdir -p "$tmp/data"
kms_pid=
cleanup() { [ -n "$kms_pid" ] && kill "$kms_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

PORT=0 KMS_REGION=eu-west-2 KMS_ACCOUNT_ID=111122223333 KMS_DATA_PATH="$tmp/data" \
  KMS_SEED_PATH="$dir/seed.yaml" bin/local-kms >"$tmp/kms.log" 2>&1 &
kms_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*Local KMS started on [^ ]*:\([0-9]*\).*/\1/p' "$tmp/kms.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "local-kms did not start:" >&2; cat "$tmp/kms.log" >&2; exit 1; }

export AWS_ENDPOINT_URL_KMS="http://127.0.0.1:$port" AWS_REGION=eu-west-2 \
  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true
echo "== local-kms on 127.0.0.1:$port"
echo "== payload ($dir/payload.json)"
cat "$dir/payload.json"
echo "== encrypted: what Step Functions would store"
bin/sfn-decrypt encrypt --config "$dir/config.json" "$dir/payload.json" | tee "$tmp/encrypted.json"
echo "== decrypted back"
bin/sfn-decrypt decrypt --config "$dir/config.json" "$tmp/encrypted.json" | tee "$tmp/decrypted.json"
if cmp -s <(cat "$dir/payload.json") "$tmp/decrypted.json"; then
  echo "== round trip exact: the decrypted payload equals the original byte for byte"
else
  echo "== round trip differs" >&2
  exit 1
fi
