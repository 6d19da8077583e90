#!/usr/bin/env bash
# Virus scanning: mailwarden-milter (the shipped rule files, rules/default.yaml,
# rules/antivirus.yaml and rules/forwarding.yaml, libclamav in process) against clamav-milter + clamd, both with the same signature directory, both on
# unix sockets (so that no TCP stall flatters either), measured alternately in one run;
# then a 15 MB attachment (its scan time, and whether other connections are served
# meanwhile), and mailwarden's memory with the signatures loaded and during a reload.
#
# usage: bench/run-antivirus-bench.sh BUILD_DIR
#
# The signature directory is made here (ClamAV's official database is not available): the
# EICAR test string (.ndb), clam.exe from clamav-testfiles (sigtool --md5, .hdb), and
# SYNTH_HASHES random MD5 signatures (.hdb) and SYNTH_PATTERNS random 16-byte body
# patterns (.ndb), so that both of libclamav's matchers carry a load.
#
# Environment:
#   KINDS="plain4k pdf100k"  message kinds (mw-mime-bench --kind)
#   CONCURRENCY=16      mw-milter-bench threads, one message per connection
#   DURATION=8          seconds per measured run
#   ROUNDS=3            alternations per kind (clamav-milter, mailwarden)
#   SYNTH_HASHES=100000 SYNTH_PATTERNS=20000
#   BIG_MB=15           the large attachment, MB of random (incompressible) bytes
#   MW_MILTER_BIN=path  default BUILD_DIR/milter/mailwarden-milter
#   RESULTS=file        also append every run's JSON
#   QUICK=1             DURATION=2 ROUNDS=1 SYNTH_HASHES=1000 SYNTH_PATTERNS=100 BIG_MB=2
#
# Needs clamd and clamav-milter (Debian packages clamav-daemon, clamav-milter) and sigtool
# (clamav). Every process started here is bounded in time and stopped on exit.

set -u -o pipefail
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" || exit 2

[ $# -le 1 ] || set -- ""
bench_args '2,28p' "${1:-}" mw-milter-bench mw-mime-bench
for tool in clamd clamav-milter sigtool; do
  if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
    echo "run-antivirus-bench: no $tool (apt-get install clamav clamav-daemon clamav-milter)" >&2
    exit 2
  fi
done
PATH="$PATH:/usr/sbin"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
MW_MILTER_BIN="${MW_MILTER_BIN:-$BUILD/milter/mailwarden-milter}"
RULES="$(realpath "$SRC/rules/default.yaml")"
AV_RULES="$(realpath "$SRC/rules/antivirus.yaml")"
FW_RULES="$(realpath "$SRC/rules/forwarding.yaml")"

KINDS="${KINDS:-plain4k pdf100k}"
CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
SYNTH_HASHES="${SYNTH_HASHES:-100000}"
SYNTH_PATTERNS="${SYNTH_PATTERNS:-20000}"
BIG_MB="${BIG_MB:-15}"
RESULTS="${RESULTS:-}"
if [ "${QUICK:-0}" = "1" ]; then
  DURATION=2
  ROUNDS=1
  SYNTH_HASHES=1000
  SYNTH_PATTERNS=100
  BIG_MB=2
fi
MILTER_MAX_RUNTIME=$((ROUNDS * 2 * (DURATION + 30) * 4 + 900))

WORK="$(mktemp -d /tmp/mw-antivirus-bench.XXXXXX)"
chmod 755 "$WORK"
STARTED_PIDS=()
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- signatures and messages ------------------------------------------------------------
DB="$WORK/db"
EML="$WORK/eml"
mkdir -p "$DB" "$EML"
python3 - "$DB" "$EML" "$SYNTH_HASHES" "$SYNTH_PATTERNS" "$BIG_MB" <<'PY' || exit 1
import base64, os, random, sys
db, eml, hashes, patterns, big_mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
rnd = random.Random(20261130)
open(f"{db}/eicar.ndb", "w").write(f"Mw-Eicar:0:*:{eicar.hex()}\n")
with open(f"{db}/synth.hdb", "w") as f:
    for i in range(hashes):
        f.write(f"{rnd.getrandbits(128):032x}:{rnd.randint(1000, 10**6)}:Mw-Synth-H{i}\n")
with open(f"{db}/synth.ndb", "w") as f:
    for i in range(patterns):
        f.write(f"Mw-Synth-N{i}:0:*:{rnd.getrandbits(128):032x}\n")
def message(name, payload, filename):
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    raw = (b"From: bench@bench.example\r\nTo: rcpt@bench.example\r\nSubject: " + name.encode() +
           b"\r\nMessage-ID: <" + name.encode() + b"@bench.example>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n"
           b"see the attachment\r\n--BB\r\nContent-Type: application/octet-stream; name=" +
           filename.encode() + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--BB--\r\n")
    open(f"{eml}/{name}.eml", "wb").write(raw)
message("eicar", eicar, "eicar.txt")
message("big", rnd.randbytes(big_mb * 10**6), "data.bin")
PY
sigtool --md5 /usr/share/clamav-testfiles/clam.exe | sed 's/:[^:]*$/:Mw-Clam-Exe/' >"$DB/clam.hdb" ||
  exit 1
kind_args=()
for kind in $KINDS; do kind_args+=(--kind "$kind"); done
"$BIN/mw-mime-bench" --write-eml "$EML" "${kind_args[@]}" --kind plain4k >/dev/null || exit 1

# --- the two milters ----------------------------------------------------------------------
cat >"$WORK/clamd.conf" <<EOF
LocalSocket $WORK/clamd.sock
DatabaseDirectory $DB
Foreground yes
LogFile $WORK/clamd.log
PidFile $WORK/clamd.pid
MaxThreads 16
SelfCheck 0
EOF
start_daemon clamd "$WORK/clamd.sock" clamd -c "$WORK/clamd.conf" || exit 1
CLAMD_PID=$DAEMON_PID

cat >"$WORK/clamav-milter.conf" <<EOF
MilterSocket unix:$WORK/clamav-milter.sock
MilterSocketMode 666
ClamdSocket unix:$WORK/clamd.sock
Foreground yes
PidFile $WORK/clamav-milter.pid
LogFile $WORK/clamav-milter.log
OnClean Accept
OnInfected Reject
OnFail Defer
AddHeader No
MaxFileSize 25M
EOF
start_daemon clamav-milter "$WORK/clamav-milter.sock" \
  clamav-milter -c "$WORK/clamav-milter.conf" || exit 1
CM_PID=$DAEMON_PID

write_mailwarden_yaml "$WORK/mw" "unix:$WORK/mw.sock" \
  "\"$RULES\", \"$AV_RULES\", \"$FW_RULES\"" \
  "domains:
  internal: [bench.example]
  public_providers: \"$SRC/rules/public-providers.yaml\"
antivirus:
  database: $DB
  self_check: 0s"
started=$(date +%s.%N)
launch_mailwarden "$WORK/mw" || exit 1
MW_PID=$MILTER_PID
# The milter says "ready" once the signatures are loaded (the engine is built first).
load_s=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
CM_SPEC="unix:$WORK/clamav-milter.sock"
MW_SPEC="unix:$WORK/mw.sock"

echo "antivirus bench: concurrency $CONCURRENCY, one message per connection, $DURATION s per" \
  "run, $ROUNDS round(s) of clamav-milter+clamd / mailwarden per kind, unix sockets"
echo "machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "signatures: $(grep -h 'signatures loaded' "$WORK/mw/milter.log" | head -1 | sed 's/^[^:]*: //')"
echo "  mailwarden-milter ready ${load_s} s after start; clamd: $(grep -h 'Loaded' "$WORK/clamd.log" | tail -1)"
printf '%-30s %8s %9s %8s %9s %9s %6s  %s\n' run msgs msg/s MB/s p50ms p99ms errors verdicts
rc=0
# Both must refuse EICAR: the signatures really are loaded on both sides.
run_bench "eicar clamav-milter" eicar check-cm "$CM_SPEC" --messages 4 "$EML/eicar.eml" || rc=1
run_bench "eicar mailwarden" eicar check-mw "$MW_SPEC" --messages 4 "$EML/eicar.eml" || rc=1
for kind in $KINDS; do
  args=(--warmup "$CONCURRENCY" --concurrency "$CONCURRENCY" --duration "$DURATION" "$EML/$kind.eml")
  for round in $(seq 1 "$ROUNDS"); do
    run_bench "$kind clamav-milter #$round" "$kind" clamav-milter "$CM_SPEC" "${args[@]}" || rc=1
    run_bench "$kind mailwarden #$round" "$kind" mailwarden "$MW_SPEC" "${args[@]}" || rc=1
  done
done
echo "load at end of matrix: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "summary (msg/s = all messages of the kind's runs / their summed time)"
printf '%-9s %14s %11s %14s  %s\n' kind clamav-milter mailwarden mw/clamav-milter target
for kind in $KINDS; do
  awk -v kind="$kind" '
    $1 == kind { m[$2] += $3; t[$2] += $4 }
    END {
      c = t["clamav-milter"] ? m["clamav-milter"] / t["clamav-milter"] : 0
      w = t["mailwarden"] ? m["mailwarden"] / t["mailwarden"] : 0
      printf "%-9s %14.1f %11.1f %13.1f%%  >= 100%%: %s\n", kind, c, w, c ? 100 * w / c : 0,
        (c && w >= c) ? "met" : "NOT met"
    }' "$WORK/rows"
done
awk '$1 == "eicar" && $NF !~ /^(replycode|reject):[0-9]+$/ {bad = 1} END {exit !bad}' "$WORK/rows" &&
  echo "WARNING: a milter did not refuse EICAR (see the verdicts column)"

# --- a large attachment, and the connections served meanwhile ---------------------------
echo
echo "${BIG_MB} MB attachment (random bytes, base64): alone, then mailwarden again while plain4k"
echo "runs at concurrency 4 (that load alone first, for comparison)"
printf '%-30s %8s %9s %8s %9s %9s %6s  %s\n' run msgs msg/s MB/s p50ms p99ms errors verdicts
big=(--concurrency 1 --messages 3 --timeout 120 "$EML/big.eml")
run_bench "big clamav-milter" big clamav-milter "$CM_SPEC" "${big[@]}" || rc=1
run_bench "big mailwarden" big mailwarden "$MW_SPEC" "${big[@]}" || rc=1
run_bench "plain4k c=4 alone" side alone "$MW_SPEC" --concurrency 4 --duration 4 \
  "$EML/plain4k.eml" || rc=1
run_bench "plain4k c=4 during big" side during "$MW_SPEC" --concurrency 4 --duration 4 \
  "$EML/plain4k.eml" &
SIDE_PID=$!
sleep 0.3
run_bench "big mailwarden, with plain4k" big mailwarden "$MW_SPEC" "${big[@]}" || rc=1
wait "$SIDE_PID" || rc=1

# --- memory ---------------------------------------------------------------------------------
echo
rss=$(status_kb "$MW_PID" VmRSS)
peak=$rss
since=$(wc -l <"$WORK/mw/milter.log")
kill -HUP "$MW_PID"
for _ in $(seq 1 3000); do
  now=$(status_kb "$MW_PID" VmRSS)
  [ -n "$now" ] && [ "$now" -gt "$peak" ] && peak=$now
  tail -n +"$((since + 1))" "$WORK/mw/milter.log" | grep -q 'signatures loaded (reload)' && break
  sleep 0.01
done
echo "memory: mailwarden-milter VmRSS ${rss} kB with the signatures loaded (after the runs);" \
  "peak during a reload $peak kB (+$((peak - rss)) kB); clamd VmRSS $(status_kb "$CLAMD_PID" VmRSS) kB," \
  "clamav-milter VmRSS $(status_kb "$CM_PID" VmRSS) kB"
tail -n +"$((since + 1))" "$WORK/mw/milter.log" | grep 'signatures loaded' | sed 's/^/  /'
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$rc"
