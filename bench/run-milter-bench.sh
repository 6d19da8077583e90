#!/usr/bin/env bash
# Milter benchmark matrix: mw-null-milter (inet with/without --add-header and
# --nodelay, and unix) and, when MW_MILTER_BIN is executable, mailwarden-milter,
# each at concurrency 1 and 16 with one message per connection (as Postfix
# does), plus the milter's RSS before and after a long run.
#
# usage: bench/run-milter-bench.sh BUILD_DIR          full matrix, prints a table
#        bench/run-milter-bench.sh --smoke BUILD_DIR  quick protocol checks (ctest)
#
# BUILD_DIR is the top-level build directory (binaries in BUILD_DIR/bench) or
# the directory holding the bench binaries itself.
#
# Environment:
#   MESSAGES=500        messages per measured run
#   LONG=1              RSS run with 100000 messages (default 10000)
#   MW_MILTER_BIN=path  also benchmark mailwarden-milter (see run_mailwarden)
#   BASE_PORT=18900     first loopback port to use (about 10 are used)
#   RESULTS=file        also append every run's JSON result to this file
#   ONLY=null|mailwarden  run only that part of the matrix
#
# Everything listens on and connects to 127.0.0.1 or unix sockets in a
# temporary directory; every process started here is bounded in time and
# stopped on exit.

set -u -o pipefail
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" || exit 2

SMOKE=0
if [ "${1:-}" = "--smoke" ]; then
  SMOKE=1
  shift
fi
if [ $# -ne 1 ]; then
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
if [ -x "$1/bench/mw-milter-bench" ]; then
  BIN="$1/bench"
elif [ -x "$1/mw-milter-bench" ]; then
  BIN="$1"
else
  echo "run-milter-bench: no mw-milter-bench under $1" >&2
  exit 2
fi
BENCH="$BIN/mw-milter-bench"
NULL_MILTER="$BIN/mw-null-milter"

MESSAGES="${MESSAGES:-500}"
BASE_PORT="${BASE_PORT:-18900}"
RESULTS="${RESULTS:-}"
# Upper bound on any milter process started here (seconds).
MILTER_MAX_RUNTIME="${MILTER_MAX_RUNTIME:-1800}"

WORK="$(mktemp -d /tmp/mw-milter-bench.XXXXXX)"
STARTED_PIDS=()
NEXT_PORT="$BASE_PORT"

trap cleanup EXIT
trap 'exit 130' INT TERM

next_port() {
  PORT="$NEXT_PORT"
  NEXT_PORT=$((NEXT_PORT + 1))
}

# make_message FILE BYTES: a plain-text message of about BYTES bytes.
make_message() {
  local file="$1" bytes="$2"
  {
    printf 'From: Bench Sender <sender@bench.example>\r\n'
    printf 'To: Bench Recipient <rcpt@bench.example>\r\n'
    printf 'Subject: mailwarden benchmark message\r\n'
    printf 'Date: Mon, 30 Nov 2026 07:00:00 +0700\r\n'
    printf 'Message-ID: <bench-%s@bench.example>\r\n' "$bytes"
    printf 'MIME-Version: 1.0\r\n'
    printf 'Content-Type: text/plain; charset=us-ascii\r\n'
    printf '\r\n'
  } >"$file"
  local line='The quick brown fox jumps over the lazy dog while the benchmark counts.'
  local size
  size=$(stat -c %s "$file")
  local n=$(((bytes - size) / (${#line} + 2)))
  [ "$n" -lt 0 ] && n=0
  local i=0
  {
    while [ "$i" -lt "$n" ]; do
      printf '%s\r\n' "$line"
      i=$((i + 1))
    done
  } >>"$file"
}

LAST_JSON=""
BENCH_RC=0
# bench LABEL SPEC ARGS...: runs mw-milter-bench --json, prints a table row.
bench() {
  local label="$1" spec="$2"
  shift 2
  LAST_JSON=$(timeout 900 "$BENCH" --socket "$spec" --json "$@" \
    2>"$WORK/bench.err")
  BENCH_RC=$?
  if [ -n "$RESULTS" ] && [ -n "$LAST_JSON" ]; then
    printf '{"label":"%s",%s\n' "$label" "${LAST_JSON#\{}" >>"$RESULTS"
  fi
  if [ -z "$LAST_JSON" ]; then
    printf '%-34s  (no result, exit %d)\n' "$label" "$BENCH_RC"
    sed 's/^/    /' "$WORK/bench.err" | head -5
    return
  fi
  local lat
  lat=$(json_obj "$LAST_JSON" latency_ms)
  printf '%-34s %5s %7s %9.1f %8.3f %8.3f %8.3f %8.3f %6s  %s\n' \
    "$label" "$(json_num "$LAST_JSON" concurrency)" \
    "$(json_num "$LAST_JSON" messages)" \
    "$(json_num "$LAST_JSON" msgs_per_s)" \
    "$(json_num "$lat" p50)" "$(json_num "$lat" p90)" \
    "$(json_num "$lat" p99)" "$(json_num "$lat" max)" \
    "$(error_count "$LAST_JSON")" \
    "$(json_obj "$LAST_JSON" verdicts | tr -d '{}"')"
  if [ "$BENCH_RC" -ne 0 ]; then
    sed 's/^/    /' "$WORK/bench.err" | head -5
  fi
}

table_header() {
  printf '%-34s %5s %7s %9s %8s %8s %8s %8s %6s  %s\n' \
    config conc msgs msg/s p50ms p90ms p99ms maxms errors verdicts
}

# rss_run LABEL PID SPEC MESSAGE ARGS...: RSS before and after a long run.
rss_run() {
  local label="$1" pid="$2" spec="$3" msg="$4"
  shift 4
  local n=10000
  [ "${LONG:-0}" = "1" ] && n=100000
  # A short warm run first, so that "before" includes the steady-state
  # thread stacks and allocator arenas rather than the bare process.
  timeout 300 "$BENCH" --socket "$spec" --messages 200 --concurrency 16 \
    "$msg" "$@" >/dev/null 2>&1
  local before after
  before=$(status_kb "$pid" VmRSS)
  bench "$label ($n msgs)" "$spec" --messages "$n" --concurrency 16 "$msg" "$@"
  after=$(status_kb "$pid" VmRSS)
  printf '  RSS %s: before %s kB, after %s kB, growth %s kB over %s messages\n' \
    "$label" "${before:-?}" "${after:-?}" \
    "$(( ${after:-0} - ${before:-0} ))" "$n"
}

# ---------------------------------------------------------------------------
# mailwarden-milter. This is the hook for the real milter: it runs only when
# MW_MILTER_BIN is an executable. The configuration is generated here with a
# single message_size rule (format: docs/configuration.md).
# ---------------------------------------------------------------------------
MW_MAX_SIZE="1MiB"

write_mailwarden_config() {
  local dir="$1" socket="$2"
  mkdir -p "$dir"
  cat >"$dir/rules.yaml" <<EOF
version: 1
rules:
  - id: message-size
    check: message_size
    max_size: $MW_MAX_SIZE
    action: reject
EOF
  write_mailwarden_yaml "$dir" "$socket" rules.yaml
}

# start_mailwarden SPEC CONFIG_DIR: sets MILTER_PID.
start_mailwarden() {
  local spec="$1" dir="$2"
  write_mailwarden_config "$dir" "$spec"
  launch_mailwarden "$dir" --socket "$spec"
}

run_mailwarden() {
  if [ -z "${MW_MILTER_BIN:-}" ] || [ ! -x "${MW_MILTER_BIN:-}" ]; then
    echo "(mailwarden-milter: set MW_MILTER_BIN to an executable to include it)"
    return 0
  fi
  local spec
  next_port
  spec="inet:127.0.0.1:$PORT"
  if start_mailwarden "$spec" "$WORK/mw-inet"; then
    bench "mailwarden inet" "$spec" --messages "$MESSAGES" --concurrency 1 "$MSG"
    bench "mailwarden inet" "$spec" --messages "$MESSAGES" --concurrency 16 "$MSG"
    # SIZE= above max_size: expect a 552 at MAIL FROM.
    bench "mailwarden inet, SIZE>max" "$spec" --messages 100 --concurrency 4 "$BIG_MSG"
    rss_run "mailwarden inet" "$MILTER_PID" "$spec" "$MSG"
    stop_milter "$MILTER_PID"
  fi
  spec="unix:$WORK/mw.sock"
  if start_mailwarden "$spec" "$WORK/mw-unix"; then
    bench "mailwarden unix" "$spec" --messages "$MESSAGES" --concurrency 1 "$MSG"
    bench "mailwarden unix" "$spec" --messages "$MESSAGES" --concurrency 16 "$MSG"
    stop_milter "$MILTER_PID"
  fi
}

# ---------------------------------------------------------------------------
# Smoke test: the bench and the null milter agree on the protocol.
# ---------------------------------------------------------------------------
PASSED=0
FAILED=0
check() {
  local name="$1"
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "ok   $name"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $name"
    echo "     json: $LAST_JSON"
    sed 's/^/     /' "$WORK/bench.err" | head -5
  fi
}
expect_clean() {  # exit 0, all messages done
  [ "$BENCH_RC" -eq 0 ] && [ "$(json_num "$LAST_JSON" messages)" = "$1" ]
}
expect_json() {  # the JSON contains the literal fragment
  printf '%s' "$LAST_JSON" | grep -qF "$1"
}
p50_below_ms() {
  local p50
  p50=$(json_num "$(json_obj "$LAST_JSON" latency_ms)" p50)
  awk -v v="$p50" -v lim="$1" 'BEGIN {exit !(v != "" && v < lim)}'
}

# Expectations of the smoke cases, one function each.
t_accepted()   { expect_clean 50 && expect_json '"verdicts":{"accept":50}'; }
t_reused()     { expect_clean 30 && expect_json '"connections":3,'; }
t_modified()   {
  expect_clean 40 && expect_json '"header_mods":40,' &&
    expect_json '"quarantined":40,'
}
t_no_reply()   { expect_clean 30; }
t_mail_552()   {
  expect_clean 20 && expect_json '"replycodes":{"552":20}' &&
    expect_json '"stages":{"mail":20}'
}
t_rcpt_refused() {
  expect_clean 10 && expect_json '"rcpt_rejects":20,' &&
    expect_json '"stages":{"rcpt":10}'
}
t_no_stall()   { expect_clean 20 && p50_below_ms 20; }
t_refused()    { [ "$BENCH_RC" -eq 1 ] && expect_json '"connect":3'; }

run_smoke() {
  local spec
  next_port; spec="inet:127.0.0.1:$PORT"
  start_null "$spec" || return 1
  bench "smoke: null inet" "$spec" --messages 50 --concurrency 2 "$MSG" >/dev/null
  check "inet, 50 messages accepted" t_accepted
  bench "smoke: null inet reuse" "$spec" --messages 30 --per-connection 10 \
    --rcpt a@x.example --rcpt b@x.example "$MSG" >/dev/null
  check "inet, 10 messages per connection" t_reused
  stop_milter "$MILTER_PID"

  spec="unix:$WORK/smoke.sock"
  start_null "$spec" --add-header --quarantine || return 1
  bench "smoke: null unix" "$spec" --messages 40 --concurrency 4 "$MSG" >/dev/null
  check "unix, header added and quarantined" t_modified
  stop_milter "$MILTER_PID"

  next_port; spec="inet:127.0.0.1:$PORT"
  start_null "$spec" --no-reply --skip-steps || return 1
  bench "smoke: no-reply" "$spec" --messages 30 --per-connection 3 "$MSG" >/dev/null
  check "no-reply and skipped steps honoured" t_no_reply
  stop_milter "$MILTER_PID"

  next_port; spec="inet:127.0.0.1:$PORT"
  start_null "$spec" --reject-at mail --reply "552 5.3.4 Message too big" || return 1
  bench "smoke: reject at mail" "$spec" --messages 20 --per-connection 4 "$MSG" >/dev/null
  check "reply code 552 at MAIL" t_mail_552
  stop_milter "$MILTER_PID"

  next_port; spec="inet:127.0.0.1:$PORT"
  start_null "$spec" --reject-at rcpt || return 1
  bench "smoke: reject at rcpt" "$spec" --messages 10 --rcpt a@x.example \
    --rcpt b@x.example "$MSG" >/dev/null
  check "all recipients refused ends the message at RCPT" t_rcpt_refused
  stop_milter "$MILTER_PID"

  next_port; spec="inet:127.0.0.1:$PORT"
  start_null "$spec" --add-header --nodelay || return 1
  bench "smoke: add-header nodelay" "$spec" --messages 20 --concurrency 1 "$MSG" >/dev/null
  check "no delayed-ACK stall with --nodelay (p50 < 20 ms)" t_no_stall
  stop_milter "$MILTER_PID"

  next_port
  bench "smoke: nothing listening" "inet:127.0.0.1:$PORT" --messages 3 \
    --timeout 2 "$MSG" >/dev/null
  check "connection refused is an error (exit 1)" t_refused

  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# ---------------------------------------------------------------------------
MSG="$WORK/message-4k.eml"
BIG_MSG="$WORK/message-2m.eml"
make_message "$MSG" 4096

if [ "$SMOKE" = "1" ]; then
  run_smoke
  exit $?
fi

make_message "$BIG_MSG" $((2 * 1024 * 1024))
ONLY="${ONLY:-}"
echo "mw-milter-bench matrix: $MESSAGES messages per run, 4 KiB message, one" \
  "message per connection; latency from TCP connect to the final reply"
table_header
if [ "$ONLY" = "mailwarden" ]; then
  run_mailwarden
  exit 0
fi
# null_rows LABEL SPEC VARIANT: a null milter started with the flags in
# VARIANT, measured at concurrency 1 and 16.
null_rows() {
  local label="$1" spec="$2" variant="$3" conc
  # shellcheck disable=SC2086 # $variant is a list of flags
  if start_null "$spec" $variant; then
    for conc in 1 16; do
      bench "$label ${variant:-(plain)}" "$spec" --messages "$MESSAGES" \
        --concurrency "$conc" "$MSG"
    done
    stop_milter "$MILTER_PID"
  fi
}
for variant in "" "--add-header" "--nodelay" "--add-header --nodelay"; do
  next_port
  null_rows "null inet" "inet:127.0.0.1:$PORT" "$variant"
done
for variant in "" "--add-header"; do
  null_rows "null unix" "unix:$WORK/null-${variant:+addhdr}.sock" "$variant"
done

next_port
spec="inet:127.0.0.1:$PORT"
if start_null "$spec"; then
  rss_run "null inet" "$MILTER_PID" "$spec" "$MSG"
  stop_milter "$MILTER_PID"
fi

[ "$ONLY" = "null" ] || run_mailwarden
