#!/usr/bin/env bash
# The OpenAPI contract check: starts the server on a loopback port with a
# fresh SQLite database, a known admin token and an API key; checks
# /api/openapi.json with openapi-spec-validator; runs Schemathesis with every
# check against it; fails on any failure. .ci/run calls it.
#
# Usage: scripts/check-openapi.sh [SERVER_BINARY]
#   SERVER_BINARY  default: target/debug/essay-grader, built first.
# Environment:
#   CONTRACT_VENV         where the Python tools live (default target/contract-venv)
#   CONTRACT_MAX_EXAMPLES examples per operation (default 30)
#   CONTRACT_SEED         Schemathesis's seed (default: a random one, printed)
set -euo pipefail
cd "$(dirname "$0")/.."

binary="${1:-}"
if [ -z "$binary" ]; then
  # The debug build, brought up to date (a no-op after `cargo test`): a
  # release binary lying around may be older than the code.
  cargo build --locked --bin essay-grader
  binary=target/debug/essay-grader
fi

venv="${CONTRACT_VENV:-target/contract-venv}"
if [ ! -x "$venv/bin/st" ] || ! cmp -s scripts/contract/requirements.txt "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/contract/requirements.txt
  cp scripts/contract/requirements.txt "$venv/requirements.txt"
fi

work="$(mktemp -d)"
admin_token="contract-admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
api_key="contract-key-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# Schemathesis probes every route with missing and wrong credentials, on
# purpose and often: the throttle of failed attempts (tested by
# tests/api/admission.rs) would turn those probes into 429s, so it is set out
# of reach here. Loopback clients are not rate limited by default.
ESSAY_GRADER_ADMIN_TOKEN="$admin_token" ESSAY_GRADER_API_KEYS="$api_key" \
  ESSAY_GRADER_AUTH_FAILURE_LIMIT=1000000 \
  "$binary" serve --addr "127.0.0.1:$port" --database "sqlite://$work/contract.db" \
  >"$work/server.log" 2>&1 &
server=$!
stop_server() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap stop_server EXIT

for _ in $(seq 1 120); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; echo "the server did not start" >&2; exit 1; }
  sleep 0.5
done

curl -fsS "$base/api/openapi.json" -o "$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

seed="${CONTRACT_SEED:-$(python3 -c 'import random; print(random.randrange(2**31))')}"
echo "schemathesis: seed $seed (rerun with CONTRACT_SEED=$seed)"
status=0
# From the temporary folder, so that Schemathesis's cache stays out of the
# repository and goes with the folder.
config="$PWD/scripts/contract/schemathesis.toml"
st="$(cd "$venv" && pwd)/bin/st"
(cd "$work" && "$st" --config-file "$config" run "$base/api/openapi.json" \
  --checks all \
  -H "Authorization: Bearer $admin_token" \
  -H "X-Api-Key: $api_key" \
  --max-examples "${CONTRACT_MAX_EXAMPLES:-30}" \
  --seed "$seed" \
  --workers 2 \
  --generation-database none \
  --no-color) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 40 lines) ---"
  tail -n 40 "$work/server.log"
fi
exit "$status"
