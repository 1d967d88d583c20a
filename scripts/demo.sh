#!/usr/bin/env bash
# The escalation demo (README, "Demo"): a dispute filed through PayPal's dialect travels
#   T1 platform negotiation -> escalation -> T2 platform review -> the review lapses -> appeal ->
#   T3 external provider (odrgw mock-provider, XML) -> the parties, on the provider's platform,
#   ask for mediation (T4) -> mediation lapses -> arbitration (T5) -> award
# and PayPal's callback endpoint receives the award in PayPal's shape, signed; the audit log
# verifies. The case clock runs 432000x (5 days a second) so deadlines lapse in seconds.
# Everything runs on 127.0.0.1 in a temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${ODRGW_DEMO_SKIP_BUILD:-}" != 1 ]]; then
  bash scripts/install-deps.sh
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$(nproc)" --target odrgw >/dev/null
fi
ODRGW="$PWD/build/tools/odrgw"
ROOT="$PWD"
PORT="${ODRGW_DEMO_PORT:-18080}"
work=$(mktemp -d /tmp/odrgw-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ "${ODRGW_DEMO_KEEP:-}" == 1 ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
port_of() {  # waits for "listening on HOST:PORT" in a log, prints PORT
  for _ in $(seq 100); do
    if grep -q 'listening on' "$1" 2>/dev/null; then
      grep -m1 'listening on' "$1" | sed 's/.*://'
      return
    fi
    sleep 0.1
  done
  echo "no 'listening on' in $1" >&2
  cat "$1" >&2
  exit 1
}

openssl rand -hex 32 >"$work/paypal.secret"
openssl rand -hex 32 >"$work/provider.secret"

step "PayPal's callback endpoint (odrgw callback listen) and the external provider (odrgw mock-provider, canonical XML)"
"$ODRGW" callback listen --listen 127.0.0.1:0 --secret-file "$work/paypal.secret" \
  >"$work/callbacks.jsonl" 2>"$work/callbacks.err" &
pids+=($!)
cb_port=$(port_of "$work/callbacks.jsonl")
"$ODRGW" mock-provider --listen 127.0.0.1:0 --gateway "http://127.0.0.1:$PORT" \
  --token demo-key-provider --party-id odr-body-1 --dialect canonical-xml --relay-parties \
  --secret-file "$work/provider.secret" --delay-ms 100 >"$work/mock.out" 2>"$work/mock.err" &
pids+=($!)
mock_port=$(port_of "$work/mock.out")
echo "callbacks on 127.0.0.1:$cb_port, provider on 127.0.0.1:$mock_port"

cat >"$work/odrgw.yaml" <<YAML
listen: 127.0.0.1:$PORT
storage: { sqlite: ./odrgw.db }
audit: { pii_key_file: ./pii.key }
adapters: { dir: $ROOT/adapters/dialects }
routing:
  default_provider: odr-body-1
  clock_scale: 432000
  timer_interval_ms: 100
delivery: { backoff_initial_ms: 200, backoff_max_ms: 2000 }
partners:
  - id: paypal
    role: platform
    dialect: paypal-disputes-v1
    api_key_sha256: $(printf %s demo-key-paypal | sha256sum | cut -d' ' -f1)
    callback_url: http://127.0.0.1:$cb_port/paypal/odr-results
    callback_secret_file: ./paypal.secret
  - id: odr-body-1
    role: odr-provider
    dialect: canonical-xml
    api_key_sha256: $(printf %s demo-key-provider | sha256sum | cut -d' ' -f1)
    callback_url: http://127.0.0.1:$mock_port/odr/messages
    callback_secret_file: ./provider.secret
YAML
step "odrgw serve on 127.0.0.1:$PORT"
"$ODRGW" serve --config "$work/odrgw.yaml" >"$work/odrgw.out" 2>"$work/odrgw.log" &
pids+=($!)
port_of "$work/odrgw.out" >/dev/null

post() {  # post FILE QUERY REQUEST-ID
  curl -sS -H 'Authorization: Bearer demo-key-paypal' -H 'Content-Type: application/json' \
    -H "PayPal-Request-Id: $3" --data-binary @"$1" "http://127.0.0.1:$PORT/v1/messages$2"
}
field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
show_case() {
  local v
  v=$(curl -sS -H 'Authorization: Bearer demo-key-paypal' "http://127.0.0.1:$PORT/v1/cases/$case_id?limit=1000")
  echo "   case $case_id: tier $(echo "$v" | field tier), state $(echo "$v" | field state)$(
    p=$(echo "$v" | field provider); [[ -n $p ]] && echo ", provider $p")"
}
wait_state() {  # wait_state STATE: the case is, or has been, in STATE (a stage.changed to it)
  for _ in $(seq 150); do
    curl -sS -H 'Authorization: Bearer demo-key-paypal' "http://127.0.0.1:$PORT/v1/cases/$case_id?limit=1000" |
      grep -q -e "\"state\":\"$1\"" -e "\"toState\":\"$1\"" && return
    sleep 0.1
  done
  echo "the case did not reach state $1" >&2
  exit 1
}

step "PayPal reports a dispute (item damaged): filed at T1, PayPal's own desk, which accepts it by filing"
receipt=$(post adapters/dialects/paypal-disputes-v1/examples/dispute-claim-damaged.json "" demo-1)
echo "   receipt: $receipt"
case_id=$(echo "$receipt" | field caseId)
show_case

step "negotiation fails: the buyer escalates to PayPal's claim review (T2)"
post adapters/dialects/paypal-disputes-v1/examples/escalate.json \
  "?operation=escalate&reference=PP-D-31544&caseId=$case_id" demo-2 >/dev/null
show_case

step "PayPal's review lapses (10 case-days): the gateway notifies the outcome and opens the appeal window"
wait_state outcome-notified
show_case

step "the buyer appeals to an external ODR provider (PayPal dispute, channel EXTERNAL)"
post scripts/demo/paypal-appeal-external.json "?caseId=$case_id" demo-3 >/dev/null
show_case

step "the gateway delivers the case to the provider (XML); the provider accepts; on its platform the merchant rejects the claim and the buyer asks for mediation (both agree to arbitration)"
wait_state mediation
show_case

step "mediation fails: its 10 case-days lapse, and the case is eligible: on to arbitration (T5), where the provider awards"
wait_state outcome-notified
show_case
for _ in $(seq 100); do
  grep -q '"messageType":"arbitration.award"' "$work/callbacks.jsonl" && break
  sleep 0.1
done

step "what PayPal's callback endpoint received (signature verdict, type, content type)"
sed -n 's/.*"verdict":"\([^"]*\)".*"messageType":"\([^"]*\)".*"contentType":"\([^"]*\)".*/   \1  \2  (\3)/p' \
  "$work/callbacks.jsonl"
award=$(grep '"verdict":"valid","target":"/paypal/odr-results","messageId":"[^"]*","messageType":"arbitration.award"' \
  "$work/callbacks.jsonl") || { echo "the award did not reach PayPal's callback" >&2; exit 1; }
echo "   the award, as PayPal's endpoint got it:"
echo "$award" | sed 's/.*"body":"\(.*\)"}$/\1/; s/\\"/"/g; s/\\n/\n/g' | head -14 | sed 's/^/     /'

step "what the provider received"
curl -sS "http://127.0.0.1:$mock_port/mock/log" | grep -o '"messageType":"[^"]*"' | sort | uniq -c |
  sed 's/^/  /'

step "the case's path, from the gateway's stage.changed messages"
curl -sS -H 'Authorization: Bearer demo-key-paypal' "http://127.0.0.1:$PORT/v1/cases/$case_id?limit=1000" |
  grep -o '"toTier":"[^"]*",\("fromState":"[^"]*",\)\{0,1\}"toState":"[^"]*","reason":"[^"]*"' |
  sed 's/"toTier":"\([^"]*\)",\("fromState":"[^"]*",\)\{0,1\}"toState":"\([^"]*\)","reason":"\([^"]*\)"/   \1 \3  (\4)/'

step "the outbox and the audit log"
"$ODRGW" outbox list --db "$work/odrgw.db" | sed 's/^/   /'
kill "${pids[2]}"
wait "${pids[2]}" 2>/dev/null || true
"$ODRGW" audit verify --db "$work/odrgw.db"
