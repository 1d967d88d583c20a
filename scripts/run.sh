#!/usr/bin/env bash
# The README's run command: installs what is needed, builds, and runs the gateway on its embedded
# defaults (SQLite, loopback) with the sample config (gateway/odrgw.sample.yaml: demo partners).
# Stop it with Ctrl-C (graceful: in-flight requests finish, storage is drained).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target odrgw
cat >&2 <<'TXT'
odrgw: starting the gateway with gateway/odrgw.sample.yaml (database and key in gateway/var/).
Try, from another terminal:
  curl -s localhost:8080/healthz
  curl -s -H 'Authorization: Bearer demo-key-shop-1' -H 'Content-Type: application/json' \
       --data-binary @schemas/v1/examples/valid/dispute.application.json localhost:8080/v1/messages
  curl -s -H 'Authorization: Bearer demo-key-paypal-1' -H 'Content-Type: application/json' \
       --data-binary @adapters/dialects/paypal-disputes-v1/examples/dispute-inquiry.json localhost:8080/v1/messages
  curl -s -H 'Authorization: Bearer demo-key-helpdesk-1' -H 'Content-Type: application/json' \
       --data-binary @adapters/dialects/helpdesk-ticket-v1/examples/complaint.json localhost:8080/v1/messages
  build/tools/odrgw audit verify --db gateway/var/odrgw.db
TXT
exec build/tools/odrgw serve --config gateway/odrgw.sample.yaml
