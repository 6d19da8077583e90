# shellcheck shell=bash
# bench-lib.sh: shell functions shared by the milter bench drivers
# (run-milter-bench.sh, run-attachment-bench.sh). Sourced, never run:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
#
# Provides
#   cleanup                 stop every PID in STARTED_PIDS (TERM, up to 10 s, then KILL),
#                           remove WORK; meant for "trap cleanup EXIT"
#   wait_gone PID           wait (at most 10 s) until PID has exited
#   wait_ready LOG PID NAME wait (at most 10 s) for "NAME: ready on" in LOG
#   watchdog PID SECONDS    SIGTERM to PID after SECONDS (run it in the background)
#   start_null SPEC ARGS... start mw-null-milter on SPEC; sets MILTER_PID
#   write_mailwarden_yaml DIR SOCKET RULE_FILES [EXTRA]
#                           DIR/mailwarden.yaml: that socket and rule_files list, every
#                           decision logged to DIR/decisions.json, EXTRA (YAML lines) added
#   launch_mailwarden DIR ARGS...
#                           check DIR/mailwarden.yaml, start mailwarden-milter with it (and
#                           ARGS), bounded by a watchdog; sets MILTER_PID
#   stop_milter PID...      SIGTERM to each PID (cleanup reaps them)
#   status_kb PID FIELD     a /proc/PID/status field in kB (VmRSS, VmHWM)
#   json_num JSON KEY       the first numeric value of "KEY": in JSON
#   json_obj JSON KEY       the flat object value of "KEY":{...} in JSON
#   error_count JSON        sum of the counters in the "errors" object
#   bench_args LINES BUILD_DIR TOOL...
#                           the usage (the script's header, sed range LINES such as "2,28p")
#                           and exit 2 when BUILD_DIR is empty; sets BUILD and BIN, checks
#                           that each bench TOOL was built
#   start_daemon NAME SOCKET ARGV...
#                           start ARGV (stdout and stderr in $WORK/NAME.out/.err), bounded
#                           by a watchdog, and wait up to 60 s for the unix SOCKET; sets
#                           DAEMON_PID; shows NAME's log ($WORK/NAME.log) if it fails
#   run_bench LABEL KIND MILTER SPEC ARGS...
#                           one mw-milter-bench run against SPEC: a row on stdout, a line in
#                           $WORK/rows, the JSON in $RESULTS
#
# Expects, set by the sourcing script before the functions are called:
#   WORK                a temporary directory of its own (logs go there; cleanup removes it)
#   STARTED_PIDS        an array; every process started here is appended to it
#   MILTER_MAX_RUNTIME  bound in seconds on every milter started (--max-runtime, watchdog)
#   NULL_MILTER         the mw-null-milter binary (start_null)
#   MW_MILTER_BIN       the mailwarden-milter binary (launch_mailwarden)
#   BENCH_NAME          prefix of error messages (default: the script's name without .sh)
#   BIN, RESULTS        run_bench: the bench binaries' directory; a file for every run's
#                       JSON ("" for none)
#
# The functions only ever signal processes they started (by PID).

BENCH_NAME="${BENCH_NAME:-$(basename "$0" .sh)}"

# Stops every process started here (by PID) and removes the work directory (KEEP=1 keeps
# it, for a post-mortem). libmilter notices SIGTERM within about 5 s, so wait a little,
# then KILL.
cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait_gone "$pid"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "${KEEP:-0}" = 1 ]; then
    echo "${BENCH_NAME:-bench}: work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}

# wait_gone PID: waits (at most 10 s) until PID has exited.
wait_gone() {
  local waited=0
  while kill -0 "$1" 2>/dev/null && [ "$waited" -lt 100 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
}

# wait_ready LOGFILE PID NAME: waits (at most 10 s) for "NAME: ready on".
wait_ready() {
  local log="$1" pid="$2" name="$3" i=0
  while [ "$i" -lt 100 ]; do
    if grep -q "$name: ready on" "$log" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$BENCH_NAME: $name exited early:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
  echo "$BENCH_NAME: $name not ready after 10 s" >&2
  return 1
}

# watchdog PID SECONDS: sends SIGTERM to PID after SECONDS unless it is gone.
# It polls, so it ends within 30 s of PID (sooner when cleanup stops it), and holds no
# stdio (a lone "sleep N" would outlive the script and keep pipes open). Not every
# second: on a 2-core VM the fork and exec of each `sleep` preempts a measured process for
# about a millisecond, which showed in a policy daemon's p99 (1.2-1.6 ms with a
# one-second loop beside it, 0.3-0.8 ms without).
watchdog() {
  local pid="$1" limit="$2" i=0 step
  exec </dev/null >/dev/null 2>&1
  while [ "$i" -lt "$limit" ] && kill -0 "$pid" 2>/dev/null; do
    step=$((limit - i < 30 ? limit - i : 30))
    sleep "$step"
    i=$((i + step))
  done
  kill -TERM "$pid" 2>/dev/null
}

NULL_LOGS=0
# start_null SPEC ARGS...: starts mw-null-milter on SPEC with ARGS, bounded by
# --max-runtime; sets MILTER_PID.
start_null() {
  local spec="$1"
  shift
  NULL_LOGS=$((NULL_LOGS + 1))
  local log="$WORK/null-$NULL_LOGS.log"
  "$NULL_MILTER" --socket "$spec" --max-runtime "$MILTER_MAX_RUNTIME" "$@" \
    2>"$log" &
  MILTER_PID=$!
  STARTED_PIDS+=("$MILTER_PID")
  wait_ready "$log" "$MILTER_PID" mw-null-milter
}

# write_mailwarden_yaml DIR SOCKET RULE_FILES [EXTRA]: writes DIR/mailwarden.yaml
# listening on SOCKET, with "rule_files: [RULE_FILES]", the EXTRA top-level YAML
# lines if any, tempfail on internal errors and timeouts, and every decision
# (accepted ones too) logged to DIR/decisions.json.
write_mailwarden_yaml() {
  local dir="$1" socket="$2" rules="$3" extra="${4:-}"
  mkdir -p "$dir"
  {
    printf 'version: 1\nrule_files: [%s]\n' "$rules"
    if [ -n "$extra" ]; then
      printf '%s\n' "$extra"
    fi
    cat <<EOF
milter:
  socket: $socket
  on_internal_error: tempfail
  on_timeout: tempfail
log:
  output: file
  path: $dir/decisions.json
  log_accepted: true
EOF
  } >"$dir/mailwarden.yaml"
}

# launch_mailwarden DIR ARGS...: checks DIR/mailwarden.yaml (--check-config),
# then starts mailwarden-milter with it and ARGS, its stderr in DIR/milter.log;
# sets MILTER_PID.
launch_mailwarden() {
  local dir="$1"
  shift
  if ! "$MW_MILTER_BIN" --config "$dir/mailwarden.yaml" --check-config \
      >"$dir/check.log" 2>&1; then
    echo "$BENCH_NAME: generated config rejected:" >&2
    cat "$dir/check.log" >&2
    return 1
  fi
  "$MW_MILTER_BIN" --config "$dir/mailwarden.yaml" "$@" 2>"$dir/milter.log" &
  MILTER_PID=$!
  STARTED_PIDS+=("$MILTER_PID")
  # mailwarden-milter runs until SIGTERM: bound it like the null milter.
  watchdog "$MILTER_PID" "$MILTER_MAX_RUNTIME" &
  STARTED_PIDS+=("$!")
  wait_ready "$dir/milter.log" "$MILTER_PID" mailwarden-milter
}

# stop_milter PID...: asks each milter to stop; cleanup() reaps them.
stop_milter() {
  local pid
  for pid in "$@"; do
    kill -TERM "$pid" 2>/dev/null
  done
}

# status_kb PID FIELD: VmRSS / VmHWM (or another kB field) of PID.
status_kb() {
  awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null
}

# json_num JSON KEY: the first numeric value of "KEY": in JSON.
json_num() {
  printf '%s' "$1" | grep -o "\"$2\":[-0-9.]*" | head -n1 | cut -d: -f2
}

# json_obj JSON KEY: the flat object value of "KEY":{...}.
json_obj() {
  printf '%s' "$1" | grep -o "\"$2\":{[^}]*}" | head -n1 | cut -d: -f2-
}

# error_count JSON: sum of the error counters.
error_count() {
  json_obj "$1" errors | grep -o '[0-9]\+' | awk '{s += $1} END {print s + 0}'
}

# run_bench LABEL KIND MILTER SPEC ARGS...: one mw-milter-bench run against the milter on
# socket SPEC; prints a row and appends "kind milter messages elapsed bytes_avg p50 p99
# errors verdicts" to $WORK/rows (and the run's JSON to $RESULTS when set).
run_bench() {
  local label="$1" kind="$2" milter="$3" spec="$4"
  shift 4
  local json rc
  json=$(timeout 600 "$BIN/mw-milter-bench" --socket "$spec" --json "$@" \
    2>"$WORK/bench.err")
  rc=$?
  if [ -z "$json" ]; then
    printf '%-30s (no result, exit %d)\n' "$label" "$rc"
    sed 's/^/    /' "$WORK/bench.err" | head -5
    return 1
  fi
  if [ -n "$RESULTS" ]; then
    printf '{"label":"%s","kind":"%s","milter":"%s",%s\n' "$label" "$kind" "$milter" \
      "${json#\{}" >>"$RESULTS"
  fi
  local lat errors verdicts
  lat=$(json_obj "$json" latency_ms)
  errors=$(error_count "$json")
  verdicts=$(json_obj "$json" verdicts | tr -d '{}"')
  local msgs elapsed bytes rate
  msgs=$(json_num "$json" messages)
  elapsed=$(json_num "$json" elapsed_s)
  bytes=$(json_num "$json" message_bytes_avg)
  rate=$(json_num "$json" msgs_per_s)
  printf '%-30s %8s %9.1f %8.1f %9.2f %9.2f %6s  %s\n' "$label" "$msgs" "$rate" \
    "$(awk -v r="$rate" -v b="$bytes" 'BEGIN {printf "%.1f", r * b / 1e6}')" \
    "$(json_num "$lat" p50)" "$(json_num "$lat" p99)" "$errors" "$verdicts"
  echo "$kind $milter $msgs $elapsed $bytes $(json_num "$lat" p50) $(json_num "$lat" p99) $errors $verdicts" \
    >>"$WORK/rows"
  [ "$rc" -eq 0 ]
}

# bench_args LINES BUILD_DIR TOOL...: the usage (the script's header, sed range LINES) unless
# BUILD_DIR is given; sets BUILD and BIN, checks that every bench TOOL was built.
bench_args() {
  local lines="$1" build="${2:-}"
  if [ -z "$build" ]; then
    sed -n "$lines" "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
  fi
  BUILD="$build"
  BIN="$BUILD/bench"
  shift 2
  local tool
  for tool in "$@"; do
    if [ ! -x "$BIN/$tool" ]; then
      echo "$BENCH_NAME: no $BIN/$tool (build first)" >&2
      exit 2
    fi
  done
}

# start_daemon NAME SOCKET ARGV...: starts ARGV (a daemon in the foreground), bounded by a
# watchdog, and waits up to 60 s for its unix socket SOCKET; sets DAEMON_PID.
start_daemon() {
  local name="$1" socket="$2"
  shift 2
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  DAEMON_PID=$!
  STARTED_PIDS+=("$DAEMON_PID")
  watchdog "$DAEMON_PID" "$MILTER_MAX_RUNTIME" &
  STARTED_PIDS+=("$!")
  local _
  for _ in $(seq 1 600); do
    [ -S "$socket" ] && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "$BENCH_NAME: $name did not start:" >&2
  cat "$WORK/$name.log" "$WORK/$name.err" >&2 2>/dev/null
  return 1
}
