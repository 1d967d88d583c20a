#!/usr/bin/env bash
# Validator benchmark, side by side on this machine: odrgw (Release build of odrgw_bench) against
# ajv 8 for JSON and xmllint (libxml2) for XML, on the same message and the same published
# per-type schemas. Prints one table with the ratios; README.md in this folder says how to read it.
#
#   bash tests/bench/run.sh
#
# Every engine is timed in CPU time (what one core spends per message: msgs/s per core) and in
# wall time; the ratios use CPU time, which a busy shared machine distorts less.
#
# Knobs (environment): ODRGW_BENCH_BUILD_DIR (default build-bench), BENCH_REPETITIONS (3),
# BENCH_MIN_TIME (0.5 s per repetition), AJV_SECONDS (3), AJV_WARMUP (1), XMLLINT_RUNS (20
# whole-process runs per round, 3 rounds), XMLLINT_COPIES (2000 messages in one process).
# Raw results are kept in $ODRGW_BENCH_BUILD_DIR/bench-results/.
set -euo pipefail
export LC_ALL=C  # decimal points, not commas, in every number we parse

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${ODRGW_BENCH_BUILD_DIR:-$root/build-bench}
reps=${BENCH_REPETITIONS:-3}
min_time=${BENCH_MIN_TIME:-0.5}
ajv_seconds=${AJV_SECONDS:-3}
ajv_warmup=${AJV_WARMUP:-1}
xml_runs=${XMLLINT_RUNS:-20}
xml_copies=${XMLLINT_COPIES:-2000}

type=dispute.application
v1=$root/schemas/v1
json_msg=$v1/examples/valid/$type.json
xml_msg=$v1/examples/valid/$type.xml
json_schema=$v1/json/$type.schema.json
xsd=$v1/xsd/$type.xsd

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=$(date +%s)

# Median of the numbers on stdin, one per line.
median() {
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1
    print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# "busy total ours": the machine's busy and total jiffies (all cores) and the CPU jiffies this
# script's finished children have used. Two snapshots tell how much the rest of the machine used.
cpu_snapshot() {
  local ours
  ours=$(sed 's/.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }')
  awk -v ours="$ours" '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9
    print busy, busy + $5 + $6, ours }' /proc/stat
}

# Times "$@" with its output discarded: prints "wall user sys" in seconds; fails if it fails.
time_of() {
  local TIMEFORMAT='%3R %3U %3S' out
  out=$({ time "$@" >/dev/null 2>&1; } 2>&1) || return 1
  echo "$out"
}

# ---- 1. odrgw_bench, Release, in its own build directory ----------------------------------------
echo "== building odrgw_bench (Release) in $build"
config=(-DCMAKE_BUILD_TYPE=Release -DODRGW_BUILD_TESTS=ON -DODRGW_BUILD_BENCH=ON
  -DODRGW_SANITIZE=OFF)
# Warnings are enforced by the normal build; a measurement should not fail on one that only -O3
# shows (GCC 12's -Wrestrict false positives) in code that is not the benchmark's.
config+=(-DODRGW_WERROR=OFF)
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then config+=(-G Ninja); fi
if ! cmake -S "$root" -B "$build" "${config[@]}" >"$tmp/configure.log" 2>&1; then
  cat "$tmp/configure.log" >&2
  echo "run.sh: configuring $build failed (is Google Benchmark installed? libbenchmark-dev)" >&2
  exit 1
fi
if ! cmake --build "$build" --target odrgw_bench >"$tmp/build.log" 2>&1; then
  tail -n 40 "$tmp/build.log" >&2
  echo "run.sh: building odrgw_bench failed" >&2
  exit 1
fi
results=$build/bench-results
mkdir -p "$results"
rm -f "$results"/*.json

snapshot_before=$(cpu_snapshot)
echo "== odrgw_bench: $reps repetitions of each benchmark, medians"
"$build/tests/bench/odrgw_bench" --data="$v1" --benchmark_format=json \
  --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_min_time="$min_time" >"$results/odrgw.json"

# ---- 2. ajv ------------------------------------------------------------------------------------
ajv_status="unavailable: node/npm not found"
if command -v node >/dev/null && command -v npm >/dev/null; then
  if [[ ! -f $here/ajv/node_modules/ajv/package.json ||
    ! -f $here/ajv/node_modules/ajv-formats/package.json ]]; then
    echo "== npm install (ajv, ajv-formats) in tests/bench/ajv"
    if ! (cd "$here/ajv" && npm install --no-audit --no-fund >"$tmp/npm.log" 2>&1); then
      tail -n 20 "$tmp/npm.log" >&2
      ajv_status="unavailable: npm install failed"
    fi
  fi
  if [[ -f $here/ajv/node_modules/ajv-formats/package.json ]]; then
    echo "== ajv: ${ajv_warmup} s warm-up, ${ajv_seconds} s measured"
    if node "$here/ajv/ajv_bench.mjs" --schema="$json_schema" --message="$json_msg" \
      --seconds="$ajv_seconds" --warmup="$ajv_warmup" >"$results/ajv.json" 2>"$tmp/ajv.err"; then
      ajv_status=ok
    else
      cat "$tmp/ajv.err" >&2
      ajv_status="unavailable: ajv_bench.mjs failed"
      rm -f "$results/ajv.json"
    fi
  fi
fi

# ---- 3. xmllint --------------------------------------------------------------------------------
xmllint_loop() {
  for ((i = 0; i < xml_runs; ++i)); do xmllint --noout --schema "$xsd" "$xml_msg" || return 1; done
}
xmllint_many() { (cd "$tmp/copies" && xmllint --noout --schema "$xsd" m*.xml); }

xml_status="unavailable: xmllint not found (Debian: libxml2-utils)"
if command -v xmllint >/dev/null; then
  if ! xmllint --noout --schema "$xsd" "$xml_msg" 2>"$tmp/xmllint.err"; then
    cat "$tmp/xmllint.err" >&2
    xml_status="unavailable: xmllint does not accept the message"
  else
    xml_status=ok
    # Whole process: start, compile the XSD, parse and validate one message, exit.
    if command -v hyperfine >/dev/null; then
      echo "== xmllint whole process: hyperfine, $((3 * xml_runs)) runs"
      hyperfine -N --warmup 3 --runs "$((3 * xml_runs))" --export-json "$tmp/hyperfine.json" \
        "xmllint --noout --schema $xsd $xml_msg" >/dev/null 2>&1
      read -r whole_wall_ms whole_cpu_ms < <(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["median"] * 1e3, (r["user"] + r["system"]) * 1e3)' "$tmp/hyperfine.json")
      whole_how="hyperfine: median wall, mean CPU of $((3 * xml_runs)) runs"
    else
      echo "== xmllint whole process: 3 rounds of $xml_runs runs"
      xmllint_loop >/dev/null 2>&1
      for _ in 1 2 3; do time_of xmllint_loop; done >"$tmp/whole.txt"
      whole_wall_ms=$(awk -v n="$xml_runs" '{ print $1 * 1e3 / n }' "$tmp/whole.txt" | median)
      whole_cpu_ms=$(awk -v n="$xml_runs" '{ print ($2 + $3) * 1e3 / n }' "$tmp/whole.txt" | median)
      whole_how="median of 3 rounds of $xml_runs runs"
    fi
    # Per message: one process validates many copies; the single-message run is its fixed cost.
    echo "== xmllint per message: $xml_copies copies in one process, 3 runs"
    mkdir "$tmp/copies"
    for ((i = 0; i < xml_copies; ++i)); do ln -s "$xml_msg" "$tmp/copies/m$i.xml"; done
    for _ in 1 2 3; do
      time_of xmllint_many || { echo "run.sh: xmllint rejected a copy of the message" >&2; exit 1; }
    done >"$tmp/many.txt"
    many_wall_ms=$(awk '{ print $1 * 1e3 }' "$tmp/many.txt" | median)
    many_cpu_ms=$(awk '{ print ($2 + $3) * 1e3 }' "$tmp/many.txt" | median)
    printf '{"whole_wall_ms": %s, "whole_cpu_ms": %s, "whole_how": "%s", "copies": %s, %s}\n' \
      "$whole_wall_ms" "$whole_cpu_ms" "$whole_how" "$xml_copies" \
      "\"many_wall_ms\": $many_wall_ms, \"many_cpu_ms\": $many_cpu_ms" >"$results/xmllint.json"
  fi
fi

# ---- 4. the table ------------------------------------------------------------------------------
# Cores kept busy by other processes while we measured (0 = a quiet machine; 2 = all of it).
other_cores=$(echo "$snapshot_before $(cpu_snapshot)" | awk -v n="$(nproc)" '{
  busy = $4 - $1; total = $5 - $2; ours = $6 - $3
  o = total > 0 ? (busy - ours) / total * n : 0; printf "%.2f", o < 0 ? 0 : o }')
cat >"$results/context.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "host": "$(uname -srm)",
 "cpu": "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)", "cores": $(nproc),
 "other_cores": $other_cores, "loadavg": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "ajv_status": "$ajv_status", "xml_status": "$xml_status", "seconds": $(($(date +%s) - started))}
EOF

if ! command -v python3 >/dev/null; then
  echo "python3 not found: raw results are in $results" >&2
  exit 0
fi
python3 - "$results" <<'PY'
import json, os, sys

d = sys.argv[1]
def load(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None

gb, ajv, xl, ctx = load("odrgw.json"), load("ajv.json"), load("xmllint.json"), load("context.json")
unit = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
# Medians of the repetitions; with a single repetition there are none, so take the run itself.
med = {b["run_name"]: b for b in gb["benchmarks"] if b.get("run_type") == "iteration"}
med.update({b["run_name"]: b for b in gb["benchmarks"] if b.get("aggregate_name") == "median"})

def gbt(name):  # (CPU µs, wall µs) per message; for threaded runs, summed over the threads
    b = med.get(name)
    return (b["cpu_time"] * unit[b["time_unit"]], b["real_time"] * unit[b["time_unit"]]) if b else None

rows = []  # (engine, (cpu µs, wall µs) or None, note)
def row(engine, t, note=""):
    rows.append((engine, t, note))

row("odrgw JSON parse only (RapidJSON + limits)", gbt("BM_json_parse"))
row("odrgw JSON parse+validate, fast path", gbt("BM_json_validate_fast"), "<- headline")
row("odrgw JSON parse+validate, valijson", gbt("BM_json_validate_valijson"))
ajv_t = (ajv["cpu_us_per_msg"], ajv["us_per_msg"]) if ajv else None
row("ajv %s JSON.parse+validate" % (ajv["ajv"] if ajv else "8"), ajv_t,
    ("node " + ajv["node"]) if ajv else ctx["ajv_status"])
row("  odrgw fast path, validate only", gbt("BM_json_validate_only_fast"))
row("  odrgw valijson, validate only", gbt("BM_json_validate_only_valijson"))
if ajv:
    row("  ajv, validate only",
        (ajv["validate_only_cpu_us_per_msg"], ajv["validate_only_us_per_msg"]))
row("odrgw XML parse only (libxml2)", gbt("BM_xml_parse"))
row("odrgw XML parse+XSD validate", gbt("BM_xml_validate"))
row("  odrgw XSD validate only", gbt("BM_xml_validate_only"))
xl_per = xl_whole = None
if xl:
    n = xl["copies"] - 1
    xl_per = ((xl["many_cpu_ms"] - xl["whole_cpu_ms"]) * 1e3 / n,
              (xl["many_wall_ms"] - xl["whole_wall_ms"]) * 1e3 / n)
    xl_whole = (xl["whole_cpu_ms"] * 1e3, xl["whole_wall_ms"] * 1e3)
    row("xmllint per message (%d in one process)" % xl["copies"], xl_per)
    row("xmllint whole process (1 message)", xl_whole, xl["whole_how"])
else:
    row("xmllint", None, ctx["xml_status"])
row("odrgw translate JSON -> XML (validated)", gbt("BM_translate_json_to_xml"))
row("odrgw translate XML -> JSON (validated)", gbt("BM_translate_xml_to_json"))
t1 = med.get("BM_json_validate_fast/real_time/threads:1")
t2 = med.get("BM_json_validate_fast/real_time/threads:2")
if t2:
    row("odrgw fast path, 2 threads", gbt("BM_json_validate_fast/real_time/threads:2"),
        "%s msgs/s for both (wall)" % "{:,.0f}".format(t2["items_per_second"]))

print()
print("Validator benchmark %s, %s, %s, %d cores; other processes kept %.2f cores busy" %
      (ctx["date"], ctx["host"], ctx["cpu"], ctx["cores"], ctx["other_cores"]))
c = gb["context"]
print("message %s: %s bytes JSON, %s bytes XML; medians; msgs/s per core = 1 / CPU time" %
      (c.get("message_type"), c.get("message_json_bytes"), c.get("message_xml_bytes")))
if c.get("published_schemas_match_builtin") != "yes":
    print("WARNING: the published schemas differ from the built-in ones")
if ctx["other_cores"] > 0.25:
    print("NOTE: the machine was busy while we measured: wall times are inflated; read the CPU"
          " columns")
print()
w = max(len(r[0]) for r in rows)
print("%-*s  %11s  %10s  %10s" % (w, "engine", "msgs/s/core", "CPU us/msg", "wall us/msg"))
print("  ".join(["-" * w, "-" * 11, "-" * 10, "-" * 10]))
for engine, t, note in rows:
    if t is None:
        print("%-*s  %11s  %10s  %10s  %s" % (w, engine, "n/a", "n/a", "n/a", note))
    else:
        print("%-*s  %11s  %10.2f  %10.2f  %s" %
              (w, engine, "{:,.0f}".format(1e6 / t[0]), t[0], t[1], note))

def ratio(label, a, b, goal=None):
    # a, b: (CPU µs, wall µs) per message of odrgw and of the other engine; msgs/s ratio = b / a.
    if a is None or b is None:
        print("  %-34s  %7s  %7s" % (label, "n/a", "n/a"))
        return
    r = b[0] / a[0]
    mark = "" if goal is None else ("  goal >= %.1f: %s" % (goal, "met" if r >= goal else "NOT MET"))
    print("  %-34s  %7.2f  %7.2f%s" % (label, r, b[1] / a[1], mark))

print()
print("ratios: odrgw msgs/s over the other engine's (> 1: odrgw is faster)")
print("  %-34s  %7s  %7s" % ("", "CPU", "wall"))
ratio("odrgw fast path / ajv", gbt("BM_json_validate_fast"), ajv_t, goal=1.0)
ratio("odrgw valijson path / ajv", gbt("BM_json_validate_valijson"), ajv_t)
ratio("odrgw XML / xmllint per message", gbt("BM_xml_validate"), xl_per)
ratio("odrgw XML / xmllint whole process", gbt("BM_xml_validate"), xl_whole)
if t1 and t2:
    eff = t1["cpu_time"] / t2["cpu_time"]
    print("  %-34s  %7.2f  %7.2f  CPU: 1.00 = no per-message cost added;"
          " wall: 2.00 = perfect (idle machine only)" %
          ("fast path 2-thread scaling", eff, t2["items_per_second"] / t1["items_per_second"]))
if ajv is None:
    print("\najv column %s" % ctx["ajv_status"])
if xl is None:
    print("\nxmllint column %s" % ctx["xml_status"])
print("\nraw results: %s (run took %d s)" % (d, ctx["seconds"]))
PY
