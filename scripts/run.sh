#!/usr/bin/env bash
# The README's run command: installs, builds and shows odrgw at work on the bundled examples.
# (The HTTP gateway, `odrgw serve`, arrives with the server issue; until then this is the
# validator and translator demo.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target odrgw
odrgw=build/tools/odrgw
ex=schemas/v1/examples

echo "== odrgw schemas list"
"$odrgw" schemas list
echo
echo "== odrgw validate (a valid application, JSON and XML)"
"$odrgw" validate "$ex/valid/dispute.application.json" "$ex/valid/dispute.application.xml"
echo
echo "== odrgw validate (three broken messages; exit status 1 expected)"
"$odrgw" validate "$ex/invalid/dispute.application--bad-currency.json" \
  "$ex/invalid/dispute.application--purchase-date-feb-30.json" \
  "$ex/invalid/dispute.application--xml-missing-currency.xml" || echo "(exit status $?)"
echo
echo "== odrgw translate --from canonical-json --to canonical-xml (first lines)"
"$odrgw" translate --from canonical-json --to canonical-xml "$ex/valid/negotiation.offer.json" | head -n 20
