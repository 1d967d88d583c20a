#!/usr/bin/env bash
# Gateway load benchmark: `odrgw serve` with its durable SQLite audit log against nginx
# (`return 200`) on the same machine in the same run, both loaded by wrk over 127.0.0.1.
#
#   bash tests/bench/gateway/run.sh
#
# 1. Builds odrgw in Release in its own build directory (default build-bench/, shared with the
#    validator benchmark; only the target odrgw is built).
# 2. Starts `odrgw serve` on 127.0.0.1:0 with a temporary config (SQLite database and PII key in a
#    temporary directory on disk, threads: 2, one merchant partner with a demo key), warms it up,
#    then runs wrk with post.lua (a fresh messageId per request: every 202 is a new durable write)
#    at -c16, -c64 and -c256, then once more at -c64 with time-ordered ids (BENCH_ID_KIND=v7 in
#    post.lua: random v4 ids should cost the idempotency table no more). Stops it with SIGTERM, checks that it exits 0, that
#    `odrgw audit verify` says intact and that the number of inbound records matches the answers.
# 3. Starts nginx (nginx-light) as the current user on a free loopback port (`return 200` to the
#    POST, access_log off, worker_processes 2) and runs the same load with plain.lua (the same
#    body as one pre-built request), plus one run with post.lua (the same client work as odrgw's).
# 4. Prints accepted msgs/s, p50/p99 latency and server and client CPU per request for each run,
#    the ratio odrgw/nginx at -c64 (goal >= 0.25), whether odrgw's p99 there is <= 10 ms, and the
#    CPU per message odrgw may spend to reach the goal on this machine.
#
# Exit status: 0 when every measurement is valid (every answer was the expected status, no socket
# errors, audit log intact, records match), whether or not the goals are met; 1 otherwise.
#
# Knobs (environment): ODRGW_BENCH_BUILD_DIR (default build-bench), BENCH_MAIN_CONNECTIONS (64),
# BENCH_CURVE_CONNECTIONS ("16 256"), BENCH_SECONDS (15, the -c64 runs), BENCH_CURVE_SECONDS (10),
# BENCH_WARMUP_SECONDS (3), BENCH_WRK_THREADS (1), BENCH_GATEWAY_THREADS (2),
# BENCH_NGINX_WORKERS (2), BENCH_KEEP=1 (keep the temporary directory: logs, database, wrk output).
# About 110 s after the first build; everything listens on 127.0.0.1 only.
set -euo pipefail
export LC_ALL=C  # decimal points, not commas, in every number we parse

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${ODRGW_BENCH_BUILD_DIR:-$root/build-bench}
main_c=${BENCH_MAIN_CONNECTIONS:-64}
curve_c=${BENCH_CURVE_CONNECTIONS:-16 256}
main_secs=${BENCH_SECONDS:-15}
curve_secs=${BENCH_CURVE_SECONDS:-10}
warmup_secs=${BENCH_WARMUP_SECONDS:-3}
wrk_threads=${BENCH_WRK_THREADS:-1}
gw_threads=${BENCH_GATEWAY_THREADS:-2}
nginx_workers=${BENCH_NGINX_WORKERS:-2}
body=$root/schemas/v1/examples/valid/dispute.application.json
key=bench-demo-key-shop-1  # a demo key: this config lives for one run, on loopback only
goal_ratio=0.25
goal_p99_ms=10

# ---- 0. tools -----------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
for t in cmake sha256sum ss; do command -v "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
  echo "run.sh: missing: ${missing[*]}" >&2
  echo "  on Debian/Ubuntu: sudo apt-get install wrk nginx-light   (ss: iproute2)" >&2
  exit 1
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/odrgw-gwbench.XXXXXX")
gw_pid=
nginx_pid=
cleanup() {
  # Only the processes this script started, by their pid.
  if [[ -n $gw_pid ]] && kill -0 "$gw_pid" 2>/dev/null; then kill -KILL "$gw_pid" 2>/dev/null || true; fi
  if [[ -n $nginx_pid ]] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill -QUIT "$nginx_pid" 2>/dev/null || true
    sleep 1
    kill -KILL "$nginx_pid" 2>/dev/null || true
  fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept: $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
started=$(date +%s)

# "busy total ours": the machine's busy and total jiffies (all cores) and the CPU jiffies this
# script's finished children have used. Two snapshots tell how much the rest of the machine used.
cpu_snapshot() {
  local ours
  ours=$(sed 's/.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }')
  awk -v ours="$ours" '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9
    print busy, busy + $5 + $6, ours }' /proc/stat
}

# CPU jiffies (user + system, all threads) used so far by the given live processes.
proc_jiffies() {
  local total=0 p j
  for p in "$@"; do
    j=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }') || j=0
    total=$((total + ${j:-0}))
  done
  echo "$total"
}

# Nanoseconds the threads of the given live processes have spent runnable but waiting for a CPU
# (schedstat): how much the machine's other load held the servers back.
proc_rqwait() {
  local p
  for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{ s += $2 } END { printf "%.0f", s }'
}

# The value of KEY in the RESULT line of FILE.
field() { sed -n 's/^RESULT //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# Runs wrk: wrk_run OUT CONNECTIONS SECONDS SCRIPT URL [ARGS...]; the server's CPU jiffies during
# the run go to OUT.cpu (pids in $server_pids).
server_pids=()
wrk_run() {
  local out=$1 c=$2 secs=$3 script=$4 url=$5 before after
  shift 5
  local args=()
  (($#)) && args=(-- "$@")
  before=$(proc_jiffies "${server_pids[@]}")
  local rq0
  rq0=$(proc_rqwait "${server_pids[@]}")
  local TIMEFORMAT='%3U %3S'  # wrk's own CPU time (user, system) goes to OUT.client
  { time BENCH_BODY=$body wrk -t"$wrk_threads" -c"$c" -d"${secs}s" --timeout 10s --latency \
    -s "$script" "$url" "${args[@]}" >"$out" 2>&1; } 2>"$out.client" ||
    { cat "$out" >&2; return 1; }
  after=$(proc_jiffies "${server_pids[@]}")
  echo $((after - before)) >"$out.cpu"
  awk -v a="$rq0" -v b="$(proc_rqwait "${server_pids[@]}")" -v s="$secs" \
    'BEGIN { printf "%.2f\n", (b - a) / 1e9 / s }' >"$out.rqwait"
  if ! grep -q '^RESULT ' "$out"; then cat "$out" >&2; echo "run.sh: wrk printed no RESULT" >&2; return 1; fi
  printf '   %-6s -c%-4s %5ss: %s\n' "$(basename "$out" .txt | cut -d- -f1)" "$c" "$secs" \
    "$(grep '^statuses:' "$out")"
}

# ---- 1. build odrgw (Release) -------------------------------------------------------------------
echo "== building odrgw (Release) in $build"
config=(-DCMAKE_BUILD_TYPE=Release -DODRGW_WERROR=OFF -DODRGW_SANITIZE=OFF)
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then config+=(-G Ninja); fi
if ! cmake -S "$root" -B "$build" "${config[@]}" >"$tmp/configure.log" 2>&1; then
  cat "$tmp/configure.log" >&2
  echo "run.sh: configuring $build failed" >&2
  exit 1
fi
if ! cmake --build "$build" --target odrgw >"$tmp/build.log" 2>&1; then
  tail -n 40 "$tmp/build.log" >&2
  echo "run.sh: building odrgw failed" >&2
  exit 1
fi
odrgw=$build/tools/odrgw
[[ -x $odrgw ]] || { echo "run.sh: no $odrgw after the build" >&2; exit 1; }

valid=1
invalid() { echo "INVALID: $*" >&2; valid=0; }
snap0=$(cpu_snapshot)
t0=$(date +%s.%N)

# ---- 2. odrgw serve -----------------------------------------------------------------------------
mkdir -p "$tmp/gw"
hash=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
cat >"$tmp/gw/odrgw.yaml" <<EOF
listen: 127.0.0.1:0
threads: $gw_threads
storage:
  sqlite: ./var/odrgw.db
audit:
  pii_key_file: ./var/pii.key
partners:
  - id: shop-1
    role: merchant
    dialect: canonical-json
    api_key_sha256: $hash
EOF
echo "== odrgw serve (threads: $gw_threads, SQLite in $tmp/gw/var)"
"$odrgw" serve --config "$tmp/gw/odrgw.yaml" >"$tmp/gw/stdout" 2>"$tmp/gw/stderr" &
gw_pid=$!
port=
for _ in $(seq 1 100); do  # up to 10 s
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/gw/stdout")
  [[ -n $port ]] && break
  kill -0 "$gw_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $port ]]; then
  cat "$tmp/gw/stderr" >&2
  echo "run.sh: odrgw serve did not print 'listening on 127.0.0.1:PORT'" >&2
  exit 1
fi
gw_url=http://127.0.0.1:$port/v1/messages
server_pids=("$gw_pid")
wrk_run "$tmp/warmup-gw.txt" "$main_c" "$warmup_secs" "$here/post.lua" "$gw_url" "$body" "$key" 202
# Ascending number of connections, the -c$main_c run among them.
# shellcheck disable=SC2086 # a list of numbers
conns=$(printf "%s\n" $curve_c "$main_c" | sort -n | uniq)
for c in $conns; do
  secs=$curve_secs
  [[ $c == "$main_c" ]] && secs=$main_secs
  wrk_run "$tmp/odrgw-c$c.txt" "$c" "$secs" "$here/post.lua" "$gw_url" "$body" "$key" 202
done
# The same load with time-ordered message ids, on the database the runs above filled.
BENCH_ID_KIND=v7 wrk_run "$tmp/odrgwv7-c$main_c.txt" "$main_c" "$main_secs" "$here/post.lua" \
  "$gw_url" "$body" "$key" 202
gw_peak_rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$gw_pid/status")

kill -TERM "$gw_pid"
gw_rc=
for _ in $(seq 1 300); do  # up to 30 s
  if ! kill -0 "$gw_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if kill -0 "$gw_pid" 2>/dev/null; then
  invalid "odrgw serve still running 30 s after SIGTERM"
  kill -KILL "$gw_pid"
fi
wait "$gw_pid" && gw_rc=0 || gw_rc=$?
gw_pid=
[[ $gw_rc == 0 ]] || invalid "odrgw serve exited with $gw_rc after SIGTERM"

# The audit log: intact, one record per exchange the server logged, no acknowledged one missing.
verify_out=$("$odrgw" audit verify --db "$tmp/gw/var/odrgw.db" 2>&1) && verify_rc=0 || verify_rc=$?
records=$(sed -n 's/.*intact: \([0-9]*\) records.*/\1/p' <<<"$verify_out")
[[ $verify_rc == 0 && -n $records ]] || { invalid "audit verify: $verify_out"; records=0; }
server_posts=$(grep -c '"route":"/v1/messages"' "$tmp/gw/stderr" || true)
server_202=$(grep -c '"route":"/v1/messages","status":202' "$tmp/gw/stderr" || true)
client_202=0
max_in_flight=0
for f in "$tmp/warmup-gw.txt" "$tmp"/odrgw*-c*.txt; do
  client_202=$((client_202 + $(field "$f" ok)))
  c=$(sed -n 's/^ *[0-9]* threads and \([0-9]*\) connections.*/\1/p' "$f")
  max_in_flight=$((max_in_flight + c))
done
# Each POST is one inbound (or rejected) record; the state machine adds records of the gateway's
# own messages (a filing emits stage.changed and deadline.notice), which are not POSTs.
posts_recorded=$(sqlite3 "$tmp/gw/var/odrgw.db" \
  "SELECT count(*) FROM audit WHERE kind IN ('inbound', 'rejected')" 2>&1) || true
[[ $posts_recorded == "$server_posts" ]] ||
  invalid "audit records of POSTs ($posts_recorded) != POSTs the server logged ($server_posts)"
((client_202 <= server_202)) || invalid "wrk saw $client_202 x 202, the server logged $server_202"
((server_202 - client_202 <= max_in_flight)) ||
  invalid "$((server_202 - client_202)) more 202s logged than wrk saw (at most $max_in_flight in flight)"
echo "   audit verify: $verify_out; server logged $server_posts POSTs ($server_202 x 202)," \
  "wrk saw $client_202 x 202 (the rest were in flight when wrk stopped)"

# ---- 3. nginx -----------------------------------------------------------------------------------
ng=$tmp/nginx
mkdir -p "$ng/logs" "$ng/tmp"
user_line=
[[ $(id -u) == 0 ]] && user_line="user $(id -un);"  # otherwise workers would run as nobody
nginx_port=
for _ in $(seq 1 10); do
  p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  [[ -z $(ss -Hltn "sport = :$p") ]] || continue
  cat >"$ng/nginx.conf" <<EOF
$user_line
worker_processes $nginx_workers;
daemon off;
pid $ng/nginx.pid;
error_log $ng/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $ng/tmp/body;
  proxy_temp_path $ng/tmp/proxy;
  fastcgi_temp_path $ng/tmp/fastcgi;
  uwsgi_temp_path $ng/tmp/uwsgi;
  scgi_temp_path $ng/tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$p;
    location / { return 200; }
  }
}
EOF
  "$nginx_bin" -p "$ng" -e "$ng/logs/error.log" -c "$ng/nginx.conf" >"$ng/logs/stdout" 2>&1 &
  nginx_pid=$!
  for _ in $(seq 1 50); do  # up to 5 s
    kill -0 "$nginx_pid" 2>/dev/null || break
    [[ -n $(ss -Hltn "sport = :$p") ]] && { nginx_port=$p; break; }
    sleep 0.1
  done
  [[ -n $nginx_port ]] && break
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=
done
if [[ -z $nginx_port ]]; then
  cat "$ng/logs/error.log" "$ng/logs/stdout" >&2 2>/dev/null || true
  echo "run.sh: nginx did not start on a loopback port" >&2
  exit 1
fi
sleep 0.3  # let the workers start
mapfile -t workers < <(ps -o pid= --ppid "$nginx_pid" | tr -d ' ')
server_pids=("$nginx_pid" "${workers[@]}")
echo "== nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///') on 127.0.0.1:$nginx_port" \
  "(worker_processes $nginx_workers, pid $nginx_pid)"
ng_url=http://127.0.0.1:$nginx_port/v1/messages
wrk_run "$tmp/warmup-nginx.txt" "$main_c" "$warmup_secs" "$here/plain.lua" "$ng_url"
for c in $conns; do
  secs=$curve_secs
  [[ $c == "$main_c" ]] && secs=$main_secs
  wrk_run "$tmp/nginx-c$c.txt" "$c" "$secs" "$here/plain.lua" "$ng_url"
done
# The same per-request client work as odrgw's runs (Lua builds each request): fairer to odrgw.
wrk_run "$tmp/nginxlua-c$main_c.txt" "$main_c" "$main_secs" "$here/post.lua" "$ng_url" "$body" "" 200
kill -QUIT "$nginx_pid"  # graceful stop
for _ in $(seq 1 100); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=

# ---- 4. report ----------------------------------------------------------------------------------
t1=$(date +%s.%N)
snap1=$(cpu_snapshot)
for f in "$tmp"/warmup-*.txt "$tmp"/odrgw*-c*.txt "$tmp"/nginx*-c*.txt; do
  [[ $(field "$f" other) == 0 ]] || invalid "$(basename "$f" .txt): $(grep '^statuses:' "$f")"
  errs=$(($(field "$f" err_connect) + $(field "$f" err_read) + $(field "$f" err_write) + $(field "$f" err_timeout)))
  ((errs == 0)) || invalid "$(basename "$f" .txt): $(grep '^statuses:' "$f")"
done
hz=$(getconf CLK_TCK)
others=$(awk -v a="$snap0" -v b="$snap1" -v hz="$hz" \
  -v secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
  'BEGIN { split(a, x, " "); split(b, y, " ")
    printf "%.2f", ((y[1] - x[1]) - (y[3] - x[3])) / hz / secs }')

echo
echo "== Gateway load: wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }') -t$wrk_threads, POST" \
  "$(wc -c <"$body") B dispute.application, 127.0.0.1, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "   other processes kept ${others} cores busy during the runs (wrk and the servers excluded)"
# CPU us/req: the server's CPU time (all threads, user + system) per answered request; wrk's own
# beside it. Run-queue wait: server threads that were runnable but had no CPU, on average (0 on
# an idle machine).
printf '%-26s %6s %10s %8s %8s %8s %11s %8s %8s\n' server conns 'ok/s' 'p50 ms' 'p99 ms' 'max ms' \
  'CPU us/req' 'wrk us' 'rq wait'
row() {  # row LABEL FILE
  local f=$2 n cpu client
  n=$(field "$f" requests)
  cpu=$(awk -v j="$(cat "$f.cpu")" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.1f", n ? j / hz * 1e6 / n : 0 }')
  client=$(awk -v n="$n" '{ printf "%.1f", n ? ($1 + $2) * 1e6 / n : 0 }' "$f.client")
  printf '%-26s %6s %10.0f %8.2f %8.2f %8.2f %11s %8s %8s\n' "$1" \
    "$(sed -n 's/^ *[0-9]* threads and \([0-9]*\) connections.*/\1/p' "$f")" \
    "$(field "$f" ok_rate)" "$(field "$f" p50_ms)" "$(field "$f" p99_ms)" "$(field "$f" max_ms)" "$cpu" \
    "$client" "$(cat "$f.rqwait")"
}
for c in $conns; do row "odrgw (202, durable)" "$tmp/odrgw-c$c.txt"; done
row "odrgw, time-ordered ids" "$tmp/odrgwv7-c$main_c.txt"
for c in $conns; do row "nginx return 200" "$tmp/nginx-c$c.txt"; done
row "nginx, post.lua client" "$tmp/nginxlua-c$main_c.txt"

gw_rate=$(field "$tmp/odrgw-c$main_c.txt" ok_rate)
gw_p99=$(field "$tmp/odrgw-c$main_c.txt" p99_ms)
ng_rate=$(field "$tmp/nginx-c$main_c.txt" ok_rate)
ngl_rate=$(field "$tmp/nginxlua-c$main_c.txt" ok_rate)
echo
awk -v g="$gw_rate" -v n="$ng_rate" -v nl="$ngl_rate" -v p="$gw_p99" -v c="$main_c" \
  -v gr="$goal_ratio" -v gp="$goal_p99_ms" 'BEGIN {
  r = g / n
  printf "odrgw / nginx at -c%d: %.0f / %.0f = %.3f   (goal >= %.2f: %s)\n", c, g, n, r, gr,
    (r >= gr ? "met" : "NOT met")
  printf "odrgw / nginx with the same post.lua client: %.0f / %.0f = %.3f\n", g, nl, g / nl
  printf "odrgw p99 at -c%d: %.2f ms   (goal <= %d ms at that load: %s)\n", c, p, gp,
    (p <= gp ? "met" : "NOT met") }'
# What the goal leaves odrgw on this machine, whatever the neighbours do: at 0.25 x nginx's rate,
# the cores minus wrk's share (post.lua's CPU per request, from the run against nginx, where wrk
# is busiest), divided by that rate; beside it what odrgw used per message at -c$main_c.
gw_f=$tmp/odrgw-c$main_c.txt
ngl_f=$tmp/nginxlua-c$main_c.txt
awk -v n="$ng_rate" -v gr="$goal_ratio" -v cores="$(nproc)" \
  -v wrk_cpu="$(awk '{ print $1 + $2 }' "$ngl_f.client")" -v wrk_reqs="$(field "$ngl_f" requests)" \
  -v reqs="$(field "$gw_f" requests)" -v gw_cpu="$(cat "$gw_f.cpu")" -v hz="$hz" 'BEGIN {
  g = gr * n; w = wrk_cpu / wrk_reqs; used = gw_cpu / hz / reqs
  printf "CPU budget at the goal (%.0f msgs/s on %d cores, wrk %.1f us/req): %.0f us per message;" \
    " odrgw used %.0f\n", g, cores, w * 1e6, (cores - g * w) / g * 1e6, used * 1e6 }'
echo "odrgw peak RSS: $((gw_peak_rss / 1024)) MiB; database $(du -sh "$tmp/gw/var" | cut -f1)" \
  "after $records records; run took $(($(date +%s) - started)) s"
if ((valid)); then
  echo "measurement valid: every answer as expected, audit log intact ($records records)"
else
  echo "measurement INVALID (see above)" >&2
  exit 1
fi
