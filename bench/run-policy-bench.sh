#!/usr/bin/env bash
# Policy daemon throughput: mailwarden-policyd (the shipped account rules and a rate limit)
# against postfwd2 (Debian package postfwd) with an equivalent rate-limit rule, all on
# loopback TCP, measured alternately in one run with mw-policy-bench: persistent
# connections, RCPT requests of many different senders. mailwarden-policyd runs twice: with
# the embedded stores (directory and counters in SQLite) and in cluster form (directory in
# PostgreSQL, counters in Redis: private servers started here, on the same machine).
#
# usage: bench/run-policy-bench.sh BUILD_DIR
#
# mailwarden-policyd: rules/accounts.yaml (account_state, mailbox_quota, password_age) and a
#   rate_limit rule keyed on the sender (60-second window, limits far above what one run
#   sends, so every answer is DUNNO and the counters are read on every request), over a
#   directory of ACCOUNTS accounts imported from CSV; every request looks up its sender
#   and its recipient.
# postfwd2: `action=rate(sender/1000000000/60/450 4.7.1 ...)`, its request cache off (-c 0,
#   as each request counts), MIN_SERVERS preforked children (one per connection).
#
# Environment:
#   CONCURRENCY=64      persistent connections
#   DURATION=8          seconds per measured run
#   ROUNDS=3            alternations (postfwd2, mailwarden)
#   ACCOUNTS=10000      accounts in the directory; senders and recipients are drawn from them
#   MIN_SERVERS=64      postfwd2 children
#   WORKERS=            policyd.workers for mailwarden-policyd (default: the daemon's, 4;
#                       0 evaluates every request on the event loop)
#   BACKENDS="sqlite cluster"  which mailwarden-policyd set-ups to measure (cluster needs
#                       PostgreSQL 15 and redis-server: scripts/install-deps.sh)
#   RATE_CACHE_MS=      rate_limits.cache_ms (default 0: the cluster form reads Redis at every
#                       request; SQLite keeps totals until another process writes, whatever
#                       this says)
#   CLIENT_THREADS=1    mw-policy-bench --threads (threads driving the connections)
#   RATE=               mw-policy-bench --rate: open loop at RATE req/s (default closed loop)
#   P99_RATE=           the open-loop rate of the p99 runs after the closed loop (default
#                       10 x postfwd2's measured rate; skipped when RATE is set)
#   MW_POLICYD_BIN=path default BUILD_DIR/policyd/mailwarden-policyd
#   BASE_PORT=18990     first loopback port (3 are used)
#   RESULTS=file        also append every run's JSON
#   QUICK=1             DURATION=2 ROUNDS=1 ACCOUNTS=500: a check of the script itself
#
# Every process started here is bounded in time and stopped on exit.

set -u -o pipefail
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" || exit 2

[ $# -le 1 ] || set -- ""
bench_args '2,32p' "${1:-}" mw-policy-bench
SRC="$(cd "$(dirname "$0")/.." && pwd)"
MW_POLICYD_BIN="${MW_POLICYD_BIN:-$BUILD/policyd/mailwarden-policyd}"
if [ ! -x "$MW_POLICYD_BIN" ]; then
  echo "run-policy-bench: no mailwarden-policyd at $MW_POLICYD_BIN" >&2
  exit 2
fi
if ! command -v postfwd2 >/dev/null; then
  echo "run-policy-bench: postfwd2 is missing (apt-get install postfwd)" >&2
  exit 2
fi

CONCURRENCY="${CONCURRENCY:-64}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
ACCOUNTS="${ACCOUNTS:-10000}"
MIN_SERVERS="${MIN_SERVERS:-64}"
WORKERS="${WORKERS:-}"
CLIENT_THREADS="${CLIENT_THREADS:-1}"
RATE="${RATE:-}"
BASE_PORT="${BASE_PORT:-18990}"
RESULTS="${RESULTS:-}"
if [ "${QUICK:-0}" = "1" ]; then
  DURATION=2
  ROUNDS=1
  ACCOUNTS=500
fi
MILTER_MAX_RUNTIME=$((ROUNDS * 2 * (DURATION + 30) + 900))
BACKENDS="${BACKENDS:-sqlite cluster}"
PORT_MW=$BASE_PORT
PORT_PF=$((BASE_PORT + 1))
PORT_CL=$((BASE_PORT + 2))

WORK="$(mktemp -d /tmp/mw-policy-bench.XXXXXX)"
chmod 0755 "$WORK"
STARTED_PIDS=()
# postfwd2 daemonizes into a session of its own (master, cache daemon, children): the
# whole session is stopped, never anything of ours.
stop_postfwd() {
  local pid sid
  pid=$(cat "$WORK/postfwd.pid" 2>/dev/null) || return 0
  sid=$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')
  if [ -n "$sid" ] && [ "$sid" != "$(ps -o sid= -p $$ | tr -d ' ')" ]; then
    pkill -TERM -s "$sid" 2>/dev/null
    sleep 1
    pkill -KILL -s "$sid" 2>/dev/null
  fi
  return 0
}
# The cluster's private PostgreSQL and Redis (tests/integration/mwpostgres.py, mwredis.py).
CLUSTER_STOPPED=0
stop_cluster_servers() {
  [ "$CLUSTER_STOPPED" = 1 ] && return 0
  CLUSTER_STOPPED=1
  [ -d "$WORK/postgres" ] && python3 "$SRC/tests/integration/mwpostgres.py" stop "$WORK/postgres"
  [ -d "$WORK/redis" ] && python3 "$SRC/tests/integration/mwredis.py" stop "$WORK/redis"
  return 0
}
trap 'stop_postfwd; stop_cluster_servers; cleanup' EXIT
trap 'exit 130' INT TERM

# wait_port PORT PID NAME: until PORT accepts connections (PID still alive).
wait_port() {
  local _
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    [ -n "$2" ] && ! kill -0 "$2" 2>/dev/null && break
    sleep 0.1
  done
  echo "run-policy-bench: $3 did not start" >&2
  cat "$WORK/$3.err" >&2 2>/dev/null
  return 1
}

# The accounts, and the sender/recipient files the load generator draws from.
{
  echo "address,kind,role,state,quota,password_changed_at,last_login_at,created_at,aliases"
  today=$(date -u +%F)
  for i in $(seq 1 "$ACCOUNTS"); do
    echo "user$i@bacgiang.gov.vn,personal,user,active,,$today,$today,$today,"
  done
} >"$WORK/accounts.csv"
seq 1 "$ACCOUNTS" | sed 's/.*/user&@bacgiang.gov.vn/' >"$WORK/senders"
seq 1 "$ACCOUNTS" | sort -R | sed 's/.*/user&@bacgiang.gov.vn/' >"$WORK/recipients"

cat >"$WORK/rules.yaml" <<EOF2
version: 1
rules:
  - id: bench-rate
    check: rate_limit
    key: sender
    window: 60s
    max_messages: 1000000000
EOF2
# start_policyd NAME PORT ACCOUNTS_DB RATE_DB: a mailwarden-policyd with those stores, its
# directory filled from accounts.csv.
start_policyd() {
  cat >"$WORK/$1.yaml" <<EOF2
version: 1
rule_files: ["$SRC/rules/accounts.yaml", "$WORK/rules.yaml"]
domains:
  internal: [bacgiang.gov.vn]
accounts:
  database: "$3"
rate_limits:
  database: "$4"
${RATE_CACHE_MS:+  cache_ms: $RATE_CACHE_MS}
policyd:
  listen: inet:127.0.0.1:$2
${WORKERS:+  workers: $WORKERS}
log:
  output: file
  path: $WORK/$1-decisions.json
EOF2
  if ! "$MW_POLICYD_BIN" --config "$WORK/$1.yaml" accounts import "$WORK/accounts.csv" \
      >"$WORK/$1-import.out" 2>&1; then
    echo "run-policy-bench: accounts import ($1) failed:" >&2
    cat "$WORK/$1-import.out" >&2
    return 1
  fi
  "$MW_POLICYD_BIN" --config "$WORK/$1.yaml" >"$WORK/$1.out" 2>"$WORK/$1.err" &
  local pid=$!
  echo "$pid" >"$WORK/$1.pid"
  STARTED_PIDS+=("$pid")
  watchdog "$pid" "$MILTER_MAX_RUNTIME" &
  STARTED_PIDS+=("$!")
  wait_port "$2" "$pid" "$1"
}
MEASURED=()
if [[ " $BACKENDS " == *" sqlite "* ]]; then
  start_policyd mailwarden "$PORT_MW" "sqlite:$WORK/accounts.db" "sqlite:$WORK/ratelimits.db" \
    || exit 1
  MEASURED+=("sqlite:$PORT_MW")
fi
if [[ " $BACKENDS " == *" cluster "* ]]; then
  python3 "$SRC/tests/integration/mwpostgres.py" start "$WORK/postgres" >/dev/null || exit 1
  python3 "$SRC/tests/integration/mwredis.py" start "$WORK/redis" >/dev/null || exit 1
  start_policyd cluster "$PORT_CL" "$(cat "$WORK/postgres/dsn")" "$(cat "$WORK/redis/url")" \
    || exit 1
  MEASURED+=("cluster:$PORT_CL")
fi

echo "id=RATE01; protocol_state==RCPT; action=rate(sender/1000000000/60/450 4.7.1 rate limit exceeded)" \
  >"$WORK/postfwd.cf"
postfwd2 --daemon -f "$WORK/postfwd.cf" -i 127.0.0.1 -p "$PORT_PF" -c 0 -u nobody -g nogroup \
  --pidfile "$WORK/postfwd.pid" --min_servers "$MIN_SERVERS" --max_servers $((MIN_SERVERS + 8)) \
  --min_spare_servers 1 --max_spare_servers "$MIN_SERVERS" >"$WORK/postfwd.out" 2>"$WORK/postfwd.err"
wait_port "$PORT_PF" "" postfwd || exit 1
# postfwd2 forks its children after the port is open: give them time to come up.
sleep 3

echo "policy daemons: $CONCURRENCY persistent connections, $DURATION s per run, $ROUNDS" \
  "round(s) of postfwd2 / mailwarden; $ACCOUNTS accounts; policyd.workers ${WORKERS:-default};" \
  "client threads $CLIENT_THREADS; ${RATE:+open loop at $RATE req/s}${RATE:-closed loop}"
echo "machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %9s %10s %8s %8s %8s %6s  %s\n' run requests req/s p50ms p99ms maxms errors actions
load=(--concurrency "$CONCURRENCY" --threads "$CLIENT_THREADS" --duration "$DURATION"
      --senders-file "$WORK/senders" --recipients-file "$WORK/recipients" --json)
# measure LABEL DAEMON PORT [RATE]: one run; rows go to $WORK/rows, or $WORK/p99-rows with
# a rate. mailwarden-policyd is measured warm, as a running daemon is: ACCOUNTS unmeasured
# requests first touch every sender and recipient once, so its caches hold them (postfwd2
# keeps nothing between requests, -c 0: its warm-up is one request per connection).
measure() {
  local json warmup=$CONCURRENCY rows=$WORK/rows
  [ "$2" != postfwd ] && warmup=$ACCOUNTS
  local args=("${load[@]}" --warmup "$warmup")
  if [ -n "${4:-}" ]; then
    args+=(--rate "$4")
    rows=$WORK/p99-rows
  fi
  json=$(timeout 300 "$BIN/mw-policy-bench" --socket "inet:127.0.0.1:$3" "${args[@]}" \
    2>"$WORK/bench.err")
  if [ -z "$json" ]; then
    printf '%-26s (no result)\n' "$1"
    head -5 "$WORK/bench.err"
    return 1
  fi
  [ -n "$RESULTS" ] && printf '{"label":"%s","daemon":"%s",%s\n' "$1" "$2" "${json#\{}" >>"$RESULTS"
  local lat
  lat=$(json_obj "$json" latency_ms)
  printf '%-26s %9s %10.1f %8.2f %8.2f %8.2f %6s  %s\n' "$1" "$(json_num "$json" requests)" \
    "$(json_num "$json" req_per_s)" "$(json_num "$lat" p50)" "$(json_num "$lat" p99)" \
    "$(json_num "$lat" max)" "$(error_count "$json")" "$(json_obj "$json" actions | tr -d '{}"')"
  echo "$2 $(json_num "$json" requests) $(json_num "$json" elapsed_s) $(json_num "$lat" p99)" \
    >>"$rows"
}
rc=0
for round in $(seq 1 "$ROUNDS"); do
  measure "postfwd2 #$round" postfwd "$PORT_PF" "$RATE" || rc=1
  for m in "${MEASURED[@]}"; do
    measure "mailwarden ${m%%:*} #$round" "${m%%:*}" "${m#*:}" "$RATE" || rc=1
  done
done
# p99 at a given load, for the SQLite set-up (the one the p99 target is about): the open
# loop at P99_RATE requests/s over the same connections. By default 10 x what postfwd2
# served above: the load mailwarden-policyd must carry to be the 10 x replacement, at which
# its p99 is what a Postfix in front of it sees. (A closed loop keeps CONCURRENCY requests
# in flight whatever the speed, so its p99 is mostly the queue the client builds: mean
# latency = CONCURRENCY / throughput.) postfwd2 and the cluster's servers are stopped
# first: on 2 cores their housekeeping (PostgreSQL's background workers, Redis's timer,
# the idle daemon's threads) is noise in a tail of a few milliseconds.
if [ -z "$RATE" ] && [ -s "$WORK/rows" ] && [[ " $BACKENDS " == *" sqlite "* ]]; then
  P99_RATE=${P99_RATE:-$(awk '$1 == "postfwd" { n += $2; t += $3 }
                              END { if (t) printf "%d", 10 * n / t }' "$WORK/rows")}
  if [ -n "$P99_RATE" ] && [ "$P99_RATE" -gt 0 ]; then
    stop_postfwd
    if [ -f "$WORK/cluster.pid" ]; then
      kill "$(cat "$WORK/cluster.pid")" 2>/dev/null
      stop_cluster_servers
    fi
    # Their last writes (PostgreSQL's shutdown checkpoint) reach the disk before measuring.
    sync
    sleep 3
    echo "open loop at $P99_RATE req/s (P99_RATE; default 10 x postfwd2's rate above)," \
      "postfwd2 and the cluster stopped:"
    for round in $(seq 1 "$ROUNDS"); do
      measure "mailwarden sqlite @$P99_RATE #$round" sqlite "$PORT_MW" "$P99_RATE" || rc=1
    done
  fi
fi
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "summary (req/s = all requests / summed time; p99 = worst round)"
awk '
  { n[$1] += $2; t[$1] += $3; if ($4 > p[$1]) p[$1] = $4 }
  END {
    pf = t["postfwd"] ? n["postfwd"] / t["postfwd"] : 0
    printf "postfwd2                       %10.1f req/s  p99 %6.2f ms\n", pf, p["postfwd"]
    split("sqlite cluster", names, " ")
    for (i = 1; i <= 2; i++) {
      b = names[i]
      if (!t[b]) continue
      mw = n[b] / t[b]
      printf "mailwarden %-19s %10.1f req/s  p99 %6.2f ms  (%.1fx postfwd2: %s)\n",
        (b == "sqlite" ? "(sqlite)" : "(postgresql+redis)"), mw, p[b], pf ? mw / pf : 0,
        (pf && mw / pf >= 10) ? "met" : "NOT met"
    }
    if (t["sqlite"] && !rate) printf "p99 < 2 ms with SQLite, closed loop: %s\n", (p["sqlite"] < 2) ? "met" : "NOT met"
  }' rate="$RATE" "$WORK/rows"
if [ -s "$WORK/p99-rows" ]; then
  awk '{ if ($4 > p[$1]) p[$1] = $4; r[$1] = $2 / $3 }
    END {
      for (b in p) printf "mailwarden (%s) at %s req/s offered: p99 %.2f ms (worst round)\n",
        b, rate, p[b]
      if ("sqlite" in p) printf "p99 target < 2 ms with SQLite at %s req/s: %s\n", rate,
        (p["sqlite"] < 2) ? "met" : "NOT met"
    }' rate="$P99_RATE" "$WORK/p99-rows"
fi
exit "$rc"
