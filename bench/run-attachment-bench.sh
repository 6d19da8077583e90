#!/usr/bin/env bash
# Attachment matrix: mailwarden-milter (the shipped rules: message_size, attachment_size,
# executable, encrypted_archive, macro_document) against the null milter, per message kind,
# at one concurrency, the milters measured alternately in the same run so that background
# load hits all of them alike; then the peak RSS of mailwarden-milter under concurrent
# 2 MiB zip messages.
#
# usage: bench/run-attachment-bench.sh BUILD_DIR
#
# BUILD_DIR is the top-level build directory (bench/ and milter/ below it).
#
# The baselines (both mw-null-milter, running side by side with mailwarden):
#   strict  --add-header --nodelay --no-reply: adds a header like mailwarden, negotiates
#           away every per-step reply like mailwarden; libmilter + protocol cost only.
#           The ratio "mailwarden/null" is against this one.
#   stock   the stock libmilter behaviour (a reply to every step, incl. each body chunk).
#
# Environment:
#   KINDS="plain4k pdf100k zip2m"  message kinds (mw-mime-bench --kind), as .eml files
#   CONCURRENCY=16      mw-milter-bench threads, one message per connection
#   DURATION=8          seconds per measured run
#   ROUNDS=3            alternations per kind (strict, stock, mailwarden each round)
#   RSS_CONCURRENCY=64  RSS phase: threads
#   RSS_MESSAGES=640    RSS phase: 2 MiB zip messages
#   RULES=FILE          rule file (default: the source tree's rules/default.yaml)
#   MW_MILTER_BIN=path  default BUILD_DIR/milter/mailwarden-milter
#   BASE_PORT=18960     first loopback port (4 are used)
#   RESULTS=file        also append every run's JSON (with "label", "kind", "milter")
#   QUICK=1             DURATION=2 ROUNDS=1 RSS_MESSAGES=128: a check of the script itself
#
# Everything listens on 127.0.0.1 only; every process started here is bounded in time
# and stopped on exit.

set -u -o pipefail
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" || exit 2

[ $# -le 1 ] || set -- ""
bench_args '2,32p' "${1:-}" mw-milter-bench mw-null-milter mw-mime-bench
NULL_MILTER="$BIN/mw-null-milter"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
MW_MILTER_BIN="${MW_MILTER_BIN:-$BUILD/milter/mailwarden-milter}"
if [ ! -x "$MW_MILTER_BIN" ]; then
  echo "run-attachment-bench: no mailwarden-milter at $MW_MILTER_BIN" >&2
  exit 2
fi
RULES="$(realpath "${RULES:-$SRC/rules/default.yaml}")"

KINDS="${KINDS:-plain4k pdf100k zip2m}"
CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
RSS_CONCURRENCY="${RSS_CONCURRENCY:-64}"
RSS_MESSAGES="${RSS_MESSAGES:-640}"
BASE_PORT="${BASE_PORT:-18960}"
RESULTS="${RESULTS:-}"
if [ "${QUICK:-0}" = "1" ]; then
  DURATION=2
  ROUNDS=1
  RSS_MESSAGES=128
fi
MILTER_MAX_RUNTIME=$((ROUNDS * 3 * (DURATION + 30) * 4 + 900))

WORK="$(mktemp -d /tmp/mw-attachment-bench.XXXXXX)"
STARTED_PIDS=()

trap cleanup EXIT
trap 'exit 130' INT TERM

# start_mailwarden PORT NAME: the shipped rules, decisions logged (accepted ones too, as
# conf/mailwarden.yaml does); sets MILTER_PID.
start_mailwarden() {
  local port="$1" dir="$WORK/$2"
  write_mailwarden_yaml "$dir" "inet:127.0.0.1:$port" "\"$RULES\"" \
    $'domains:\n  internal: [bench.example]'
  launch_mailwarden "$dir"
}

# ---------------------------------------------------------------------------------------
EML="$WORK/eml"
kind_args=()
for kind in $KINDS; do kind_args+=(--kind "$kind"); done
if ! "$BIN/mw-mime-bench" --write-eml "$EML" "${kind_args[@]}" >"$WORK/eml.list"; then
  echo "run-attachment-bench: could not generate the messages" >&2
  exit 1
fi

PORT_STRICT=$BASE_PORT
PORT_STOCK=$((BASE_PORT + 1))
PORT_MW=$((BASE_PORT + 2))
PORT_RSS=$((BASE_PORT + 3))
start_null "inet:127.0.0.1:$PORT_STRICT" --add-header --nodelay --no-reply || exit 1
PID_STRICT=$MILTER_PID
start_null "inet:127.0.0.1:$PORT_STOCK" || exit 1
PID_STOCK=$MILTER_PID
start_mailwarden "$PORT_MW" mw || exit 1
PID_MW=$MILTER_PID

echo "attachment matrix: concurrency $CONCURRENCY, one message per connection, $DURATION s" \
  "per run, $ROUNDS round(s) of strict null / stock null / mailwarden per kind"
echo "machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rules: $RULES"
printf '%-30s %8s %9s %8s %9s %9s %6s  %s\n' run msgs msg/s MB/s p50ms p99ms errors verdicts
rc=0
for kind in $KINDS; do
  file="$EML/$kind.eml"
  warm=(--warmup "$CONCURRENCY" --concurrency "$CONCURRENCY" --duration "$DURATION" "$file")
  for round in $(seq 1 "$ROUNDS"); do
    run_bench "$kind null-strict #$round" "$kind" strict "inet:127.0.0.1:$PORT_STRICT" "${warm[@]}" || rc=1
    run_bench "$kind null-stock #$round" "$kind" stock "inet:127.0.0.1:$PORT_STOCK" "${warm[@]}" || rc=1
    run_bench "$kind mailwarden #$round" "$kind" mailwarden "inet:127.0.0.1:$PORT_MW" "${warm[@]}" || rc=1
  done
done
echo "load at end of matrix: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "summary (msg/s = all messages of the kind's runs / their summed time)"
printf '%-9s %10s %10s %10s %8s %9s %9s  %s\n' kind strict stock mailwarden MB/s \
  "mw/strict" "mw/stock" "target"
for kind in $KINDS; do
  awk -v kind="$kind" '
    $1 == kind { m[$2] += $3; t[$2] += $4; b[$2] = $5 }
    END {
      s = t["strict"] ? m["strict"] / t["strict"] : 0
      k = t["stock"] ? m["stock"] / t["stock"] : 0
      w = t["mailwarden"] ? m["mailwarden"] / t["mailwarden"] : 0
      target = kind == "plain4k" ? 85 : (kind == "pdf100k" ? 80 : 0)
      verdict = target ? sprintf(">= %d%%: %s", target, (s && 100 * w / s >= target) ? "met" : "NOT met") : "(reported)"
      printf "%-9s %10.1f %10.1f %10.1f %8.1f %8.1f%% %8.1f%%  %s\n", kind, s, k, w,
        w * b["mailwarden"] / 1e6, s ? 100 * w / s : 0, k ? 100 * w / k : 0, verdict
    }' "$WORK/rows"
done
if awk '$2 == "mailwarden" && $NF !~ /^accept:[0-9]+$/ {bad = 1} END {exit !bad}' "$WORK/rows"; then
  echo "WARNING: mailwarden gave verdicts other than accept (see the verdicts column)"
fi

# Peak RSS under concurrent 2 MiB zips: fresh processes, so VmHWM is this phase's.
stop_milter "$PID_STRICT" "$PID_STOCK" "$PID_MW"
ZIP="$EML/zip2m.eml"
if [ ! -f "$ZIP" ]; then
  "$BIN/mw-mime-bench" --write-eml "$EML" --kind zip2m >/dev/null || exit 1
fi
echo
echo "peak RSS, $RSS_MESSAGES x 2 MiB zip at concurrency $RSS_CONCURRENCY (fresh processes)"
printf '%-30s %8s %9s %8s %9s %9s %6s  %s\n' run msgs msg/s MB/s p50ms p99ms errors verdicts
for which in mailwarden null-strict; do
  if [ "$which" = mailwarden ]; then
    start_mailwarden "$PORT_RSS" mw-rss || exit 1
  else
    start_null "inet:127.0.0.1:$PORT_RSS" --add-header --nodelay --no-reply || exit 1
  fi
  pid=$MILTER_PID
  before=$(status_kb "$pid" VmRSS)
  run_bench "zip2m $which c=$RSS_CONCURRENCY" zip2m "rss-$which" "inet:127.0.0.1:$PORT_RSS" \
    --concurrency "$RSS_CONCURRENCY" --messages "$RSS_MESSAGES" --timeout 60 "$ZIP" || rc=1
  printf '  %s: VmRSS before %s kB, after %s kB, VmHWM (peak) %s kB\n' "$which" \
    "${before:-?}" "$(status_kb "$pid" VmRSS)" "$(status_kb "$pid" VmHWM)"
  stop_milter "$pid"
  # libmilter notices SIGTERM within about 5 s; the port is needed again.
  wait_gone "$pid"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$rc"
