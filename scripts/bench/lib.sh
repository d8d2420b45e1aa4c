#!/usr/bin/env bash
# Shared helpers of the benchmark commands (sourced, not run). Everything runs on loopback,
# every process started here is recorded and stopped by PID on exit, and temporary files live
# in one directory removed on exit (kept with BENCH_KEEP=1).
#
# Knobs (environment): BENCH_QUICK=1 (small and short, for smoke tests), BENCH_KEEP=1,
# CARGO_TARGET_DIR (where the release build goes; default ./target), BENCH_TMPDIR (where data
# directories and logs go; default /tmp, which is on disk here: /dev/shm takes the disk out).

# shellcheck disable=SC2034  # variables for the scripts that source this file
BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_DIR="$BENCH_ROOT/scripts/bench"
TARGET_DIR="${CARGO_TARGET_DIR:-$BENCH_ROOT/target}"
RINGMASTER="${BENCH_RINGMASTER:-$TARGET_DIR/release/ringmaster}"
BENCHKIT="$TARGET_DIR/release/benchkit"
QUICK="${BENCH_QUICK:-0}"
CLK_TCK="$(getconf CLK_TCK)"
BENCH_PIDS=()
BENCH_TMP="$(mktemp -d "${BENCH_TMPDIR:-/tmp}/ringmaster-bench.XXXXXX")"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.3
  for pid in "${BENCH_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $BENCH_TMP"
  else
    rm -rf "$BENCH_TMP"
  fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# Records a background process to stop on exit: `cmd & track $!`.
track() { BENCH_PIDS+=("$1"); }

# Stops one recorded process now (TERM, then KILL after 3 s).
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Installs Debian packages whose command is missing, without letting their services start
# (a policy-rc.d for the install only), then makes sure none of them runs as a service.
ensure_pkgs() {
  local need=() cmd pkg pair
  for pair in "$@"; do
    cmd=${pair%%:*}
    pkg=${pair#*:}
    if [ "$cmd" = "$pair" ]; then pkg=$cmd; fi
    case "$cmd" in
      /*) [ -e "$cmd" ] || need+=("$pkg") ;;
      *) command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg") ;;
    esac
  done
  [ "${#need[@]}" -eq 0 ] && return 0
  log "installing ${need[*]}"
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >"$BENCH_TMP/apt.log" 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >"$BENCH_TMP/apt.log" 2>&1; } ||
    { [ "$made_policy" = 1 ] && rm -f "$policy"; die "apt-get install ${need[*]} failed (see $BENCH_TMP/apt.log)"; }
  [ "$made_policy" = 1 ] && rm -f "$policy"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now kamailio rtpengine-daemon rtpengine-recording-daemon >/dev/null 2>&1 || true
  fi
}

# Builds ringmaster and benchkit in release mode once (cargo skips what is up to date).
build_release() {
  log "building ringmaster and benchkit (release, $TARGET_DIR)"
  (cd "$BENCH_ROOT" && cargo build --release --locked -p ringmaster --bin ringmaster -p benchkit --bin benchkit >"$BENCH_TMP/build.log" 2>&1) ||
    { tail -30 "$BENCH_TMP/build.log" >&2; die "cargo build failed"; }
}

# utime+stime of a process, in clock ticks (all its threads).
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo $(( ${12} + ${13} ))
}

# CPU ticks of a process and all its children (Kamailio forks one process per worker).
tree_ticks() {
  local root=$1 total=0 p
  for p in $root $(pgrep -P "$root" 2>/dev/null || true); do
    total=$(( total + $(cpu_ticks "$p") ))
  done
  echo "$total"
}

# CPU percent (of one core) from two tick counts over SECONDS.
cpu_pct() { awk -v a="$1" -v b="$2" -v s="$3" -v t="$CLK_TCK" 'BEGIN{printf "%.0f", (b-a)/t/s*100}'; }

# Resident set size in KiB.
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

now_s() { date +%s.%N; }
elapsed_since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN{printf "%.3f", b-a}'; }

# Waits until a TCP/HTTP URL answers (up to $2 seconds).
wait_http() {
  local url=$1 limit=${2:-20} i
  for i in $(seq $((limit * 10))); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$url did not answer within ${limit}s"
}

# Waits until something listens on UDP 127.0.0.1:PORT.
wait_udp() {
  local port=$1 i
  for i in $(seq 100); do
    ss -Huln "sport = :$port" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  die "nothing listens on UDP $port"
}

# Starts ringmaster: start_ringmaster DIR SIP_PORT HTTP_PORT [extra serve args...]
# Sets RM_PID and RM_HTTP.
# All the load comes from one address (SIPp on 127.0.0.1): ringmaster's per-source limits (1,000
# messages/s, 10,000 live transactions; README "Defences") would measure the limits, not the
# engine: at 1,000 calls/s a source holds 32,000 answered INVITE transactions (RFC 6026 Timer L
# keeps each 32 s to absorb retransmitted INVITEs). Kamailio's configs here have no pike
# either. Bans on failed authentication stay on.
BENCH_DEFENCE_TOML=$'[defence]\nrate_per_source = 0\n[sip]\nmax_transactions_per_source = 1000000'

start_ringmaster() {
  local dir=$1 sip=$2 http=$3
  shift 3
  mkdir -p "$dir"
  RUST_LOG=${RUST_LOG:-warn} "$RINGMASTER" serve --data-dir "$dir" \
    --sip-listen "127.0.0.1:$sip" --http-listen "127.0.0.1:$http" \
    --sip-domain bench.local --ws-listen off --wss-listen off --sip-tls-listen off \
    "$@" >"$dir/server.log" 2>&1 &
  RM_PID=$!
  track "$RM_PID"
  RM_HTTP="http://127.0.0.1:$http"
  wait_http "$RM_HTTP/health" 30
}

# Creates an app; sets APP_ID and APP_SECRET.
create_app() {
  local dir=$1 answer_url=$2 json
  json=$("$RINGMASTER" app create --name bench --answer-url "$answer_url" --json \
    --server "$RM_HTTP" --data-dir "$dir")
  APP_ID=$(printf '%s' "$json" | sed -E 's/.*"appid": *"?([0-9]+).*/\1/')
  APP_SECRET=$(printf '%s' "$json" | sed -E 's/.*"secret": *"([^"]+)".*/\1/')
  if [ -z "$APP_ID" ] || [ -z "$APP_SECRET" ]; then die "app create printed $json"; fi
}

# Adds one endpoint with password pass-USER.
add_endpoint() {
  curl -fsS -o /dev/null -X POST "$RM_HTTP/v1/endpoint/add_sip" -H 'content-type: application/json' \
    -d "{\"appid\": $APP_ID, \"secret\": \"$APP_SECRET\", \"username\": \"$1\", \"password\": \"pass-$1\"}" ||
    die "add_sip $1 failed"
}

# A SQLite database with Kamailio's tables (version, subscriber, location...).
kamailio_db() {
  local db=$1 f
  for f in standard-create.sql auth_db-create.sql usrloc-create.sql; do
    sqlite3 "$db" <"/usr/share/kamailio/db_sqlite/$f"
  done
}

# Percentiles of one numeric column (1-based) of a file, separated by SEP: prints "p50 p99".
percentiles() {
  local file=$1 col=$2 sep=${3:-;}
  awk -F"$sep" -v c="$col" '$c ~ /^[0-9.]+$/ {print $c}' "$file" | sort -n |
    awk '{v[NR]=$1} END { if (NR==0) {print "nan nan"; exit}
      i50=int(NR*0.50+0.999); i99=int(NR*0.99+0.999); if (i50<1) i50=1; if (i99<1) i99=1;
      printf "%.2f %.2f\n", v[i50], v[i99] }'
}

# Picks a free-looking port pair base for SIPp (-p and -mp).
# -buff_size: SIPp's own socket buffers default to 64 KiB; a 100-response burst (one group
# commit's worth of 200s) overflowed SIPp's receive buffer while it was busy, and the lost
# responses came back as 500 ms retransmissions charged to the server (seen in /proc/net/udp
# drops of SIPp's port). 4 MiB for every server alike.
sipp_common=(-nostdin -i 127.0.0.1 -max_socket 50000 -buff_size 4194304)

# Waits (bounded) for other sessions' compilers to finish before a measured run, if asked.
wait_quiet_machine() {
  [ "${BENCH_WAIT_QUIET:-0}" = 1 ] || return 0
  local i
  for i in $(seq 45); do
    pgrep -x rustc >/dev/null || return 0
    log "other rustc processes running; waiting (minute $i of 45)"
    sleep 60
  done
  log "machine still busy after 45 minutes; measuring anyway"
}

machine_line() {
  printf '%s, %s cores, kernel %s' "$(lscpu | awk -F: '/Model name/{gsub(/^ +/,"",$2); print $2; exit}')" \
    "$(nproc)" "$(uname -r)"
}

# A SIPp injection file of users u1..uN (password pass-uN) in DOMAIN.
users_csv() {
  local file=$1 n=$2 domain=$3
  {
    echo SEQUENTIAL
    awk -v n="$n" -v d="$domain" 'BEGIN { for (i = 1; i <= n; i++)
      printf "u%d;%s;[authentication username=u%d password=pass-u%d]\n", i, d, i, i }'
  } >"$file"
}

# A value of SIPp's last -trace_stat line, by column name: stat_value FILE COLUMN.
stat_value() {
  awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    { last = $c } END { print (last == "" ? 0 : last) + 0 }' "$1"
}

# Runs SIPp in DIR (its stat and rtt files land there), bounded by LIMIT seconds:
# run_sipp DIR LIMIT args...; prints the wall time it took.
run_sipp() {
  local dir=$1 limit=$2 t0 rc
  shift 2
  mkdir -p "$dir"
  t0=$(now_s)
  rc=0
  (cd "$dir" && timeout -s KILL "$limit" sipp "${sipp_common[@]}" "$@" \
    -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 1 \
    -trace_err -error_file errors.log >sipp.out 2>&1) || rc=$?
  echo "$rc" >"$dir/rc"
  elapsed_since "$t0"
}

# A one-user SIPp injection file: user_csv FILE USER DOMAIN (password pass-USER).
user_csv() {
  printf 'SEQUENTIAL\n%s;%s;[authentication username=%s password=pass-%s]\n' "$2" "$3" "$2" "$2" >"$1"
}

# Registers USER from UDP PORT at SERVER (host:port) with SIPp; fails the run if not 200.
register_phone() {
  local server=$1 user=$2 port=$3 domain=$4 csv="$BENCH_TMP/phone-$2-$3.csv"
  user_csv "$csv" "$user" "$domain"
  (cd "$BENCH_TMP" && timeout -s KILL 20 sipp "${sipp_common[@]}" "$server" -sf "$BENCH_DIR/sipp/register.xml" \
    -inf "$csv" -m 1 -p "$port" -timeout 10s -timeout_error >/dev/null 2>&1) ||
    die "SIPp could not register $user at $server"
}

# Starts a SIPp phone (sipp/uas.xml) on PORT; sets PHONE_PID. Extra SIPp args follow.
start_phone() {
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && exec sipp "${sipp_common[@]}" -sf "$BENCH_DIR/sipp/uas.xml" -p "$port" \
    -trace_stat -stf stat.csv -fd 1 -trace_err -error_file errors.log \
    -max_recv_loops 100000 -max_sched_loops 100000 "$@" >sipp.out 2>&1) &
  PHONE_PID=$!
  track "$PHONE_PID"
  wait_udp "$port"
}

# Kamailio with one of our configs: start_kamailio DIR CFG PORT USERS... (password pass-USER).
# Sets KAM_PID.
start_kamailio() {
  local dir=$1 cfg=$2 port=$3 u
  shift 3
  mkdir -p "$dir"
  kamailio_db "$dir/kamailio.db"
  {
    echo "BEGIN;"
    for u in "$@"; do
      printf "INSERT INTO subscriber (username, domain, password) VALUES ('%s', 'bench.local', 'pass-%s');\n" "$u" "$u"
    done
    echo "COMMIT;"
  } | sqlite3 "$dir/kamailio.db"
  sed -e "s|@CHILDREN@|$(nproc)|; s|@PORT@|$port|; s|@DOMAIN@|bench.local|; s|@DB@|$dir/kamailio.db|" \
    "$BENCH_DIR/kamailio/$cfg" >"$dir/kamailio.cfg"
  kamailio -DD -E -f "$dir/kamailio.cfg" -Y "$dir" -m 512 -M 32 >"$dir/log" 2>&1 &
  KAM_PID=$!
  track "$KAM_PID"
  wait_udp "$port"
}

# Optional profiling (BENCH_PERF=DIR): perf records ringmaster while it is measured, and the
# flat and call-graph reports land in DIR. perf_start PID NAME, then perf_stop.
PERF_PID=
perf_start() {
  [ -n "${BENCH_PERF:-}" ] || return 0
  ensure_pkgs perf:linux-perf
  mkdir -p "$BENCH_PERF"
  PERF_NAME=$2
  perf record -F 999 --call-graph "${BENCH_PERF_CALLGRAPH:-fp}" -p "$1" -o "$BENCH_PERF/$2.data" >/dev/null 2>&1 &
  PERF_PID=$!
  track "$PERF_PID"
}
perf_stop() {
  [ -n "$PERF_PID" ] || return 0
  kill -TERM "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=
  perf report -i "$BENCH_PERF/$PERF_NAME.data" --no-children --sort dso,symbol --percent-limit 0.7 \
    --stdio -g none >"$BENCH_PERF/$PERF_NAME-flat.txt" 2>/dev/null || true
  perf report -i "$BENCH_PERF/$PERF_NAME.data" --children --sort symbol --percent-limit 3 \
    --stdio -g none >"$BENCH_PERF/$PERF_NAME-children.txt" 2>/dev/null || true
  log "profile: $BENCH_PERF/$PERF_NAME-flat.txt"
}

# Calls per second of one server, rate stepping up (RATES, STEP_SECS, HOLD_MS, UAC_PORT and
# alice.csv set by the caller script): bench_calls NAME SERVER_PORT PID [EXTRA_PID] (the answer
# server). Sets BEST_RATE, BEST_CPU, BEST_P50, BEST_P99, BEST_XCPU, FAST_RATE, FAST_P99.
bench_calls() {
  local name=$1 port=$2 pid=$3 extra=${4:-} rate n dir wall ok fail achieved cpu0 cpu1 cpu
  local x0=0 x1=0 xcpu=0 p50 p99 pfail0 pfail1
  BEST_RATE=0 BEST_CPU=0 BEST_P50=nan BEST_P99=nan BEST_XCPU=0 FAST_RATE=0 FAST_P99=nan
  for rate in $RATES; do
    n=$((rate * STEP_SECS))
    dir="$BENCH_TMP/$name-calls-$rate"
    pfail0=$(stat_value "$BENCH_TMP/$name-phone/stat.csv" 'FailedCall(C)')
    cpu0=$(tree_ticks "$pid")
    [ -n "$extra" ] && x0=$(cpu_ticks "$extra")
    wall=$(run_sipp "$dir" $((STEP_SECS + 40)) "127.0.0.1:$port" -sf "$BENCH_DIR/sipp/uac.xml" \
      -inf "$BENCH_TMP/alice.csv" -s bob -set hold_ms "$HOLD_MS" -set media_port 6000 \
      -r "$rate" -rp 1000 -m "$n" -l $((rate * 6 + 100)) -p "$UAC_PORT" \
      -recv_timeout 10000 -max_recv_loops 100000 -max_sched_loops 100000 -timeout $((STEP_SECS + 35))s)
    cpu1=$(tree_ticks "$pid")
    [ -n "$extra" ] && x1=$(cpu_ticks "$extra")
    sleep 1
    pfail1=$(stat_value "$BENCH_TMP/$name-phone/stat.csv" 'FailedCall(C)')
    cpu=$(cpu_pct "$cpu0" "$cpu1" "$wall")
    [ -n "$extra" ] && xcpu=$(cpu_pct "$x0" "$x1" "$wall")
    ok=$(stat_value "$dir/stat.csv" 'SuccessfulCall(C)')
    fail=$(( $(stat_value "$dir/stat.csv" 'FailedCall(C)') + pfail1 - pfail0 ))
    achieved=$(awk -v o="$ok" -v w="$wall" -v h="$HOLD_MS" 'BEGIN{ d = w - h / 1000; if (d < 0.1) d = 0.1; printf "%.0f", o / d }')
    read -r p50 p99 < <(cat "$dir"/*_rtt.csv 2>/dev/null | percentiles /dev/stdin 2 ';')
    log "$name: target ${rate}/s: ${ok} ok, ${fail} failed (caller+phone) in ${wall}s = ${achieved} calls/s; CPU server ${cpu}%${extra:+, answer server ${xcpu}%}; setup p50 ${p50} ms p99 ${p99} ms"
    if [ "$fail" -eq 0 ] && awk -v o="$ok" -v n="$n" -v a="$achieved" -v r="$rate" \
      'BEGIN{ exit !(o == n && a >= 0.95 * r) }'; then
      BEST_RATE=$achieved BEST_CPU=$cpu BEST_P50=$p50 BEST_P99=$p99 BEST_XCPU=$xcpu
      # The target's second half: the highest passing step whose setup p99 is under 10 ms.
      if awk -v p="$p99" 'BEGIN{ exit !(p + 0 < 10) }'; then
        FAST_RATE=$achieved FAST_P99=$p99
      fi
    else
      if [ -s "$dir/errors.log" ]; then head -5 "$dir/errors.log" >&2; fi
      break
    fi
    sleep 2
  done
  log "$name: best ${BEST_RATE} calls/s (CPU ${BEST_CPU}%, setup p50 ${BEST_P50} ms, p99 ${BEST_P99} ms); with p99 < 10 ms: ${FAST_RATE} calls/s (p99 ${FAST_P99} ms)"
}
