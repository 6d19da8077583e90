#!/usr/bin/env bash
# The SpamAssassin baseline of the spam evaluation: SpamAssassin 4 (spamd + spamc, Debian's
# stock rules and plugins, network tests off) with its Bayes trained on the training split
# of the SpamAssassin public corpus, scored on the evaluation split; prints spamd's msgs/s
# and the evaluation table of bench/spam-corpus.py (precision, recall, false-positive rate
# on ham and on hard-ham).
#
# usage: bench/run-spamassassin-baseline.sh
#
# Steps (each one's wall time is printed):
#   1. corpus    scripts/fetch-spam-corpus.sh (cached), spam-corpus.py export to WORK/corpus
#   2. config    a private site config: Debian's /etc/spamassassin/*.pre and *.cf (its
#                plugin list) except local.cf, plus our local.cf: required_score THRESHOLD,
#                use_bayes 1, bayes_auto_learn 0, bayes_path in WORK, no DNS, no
#                razor/pyzor/DCC, no AWL/TxRep; checked with spamassassin --lint
#   3. train     sa-learn -L --spam train/spam, then --ham train/ham (hard-ham included)
#   4. spamd     spamd -L -x on 127.0.0.1:<free port>, --max-children 2, the same config
#   5. score     spamc -c over every evaluation message, CONCURRENCY at a time (xargs -P),
#                wall time from the first message to the last -> msgs/s
#   6. report    spam-corpus.py score (--check-coverage unless EVAL_LIMIT is set)
#
# Environment:
#   CONCURRENCY=16      spamc processes at once
#   THRESHOLD=5.0       SpamAssassin's required_score (its own default is 5.0)
#   OUT_DIR=dir         default <repo>/build/spam-eval: spamassassin.tsv (the results file
#                       for spam-corpus.py score: path<TAB>score<TAB>is_spam),
#                       spamassassin.json (the figures, msgs/s and step times), spamd.log
#   MW_SPAM_CORPUS=dir  the corpus's messages directory (default: the fetch script's cache)
#   TRAIN_LIMIT=N       train on the first N (by MD5) of each class only; 0 = all
#   EVAL_LIMIT=N        score the first N evaluation messages (by MD5) only; 0 = all
#   QUICK=1             TRAIN_LIMIT=250 EVAL_LIMIT=100: a smoke run of the script
#   MAX_RUNTIME=5400    seconds; spamd and the run are stopped after that
#   SA_USER=name        (as root) the user spamd and sa-learn run as; default debian-spamd
#                       (created by the Debian package), else nobody
#   SA_SITE_DIR=/etc/spamassassin   where the stock .pre/.cf files are copied from
#   SA_RULES_DIR=dir    rule directory; default the newest sa-update one in
#                       /var/lib/spamassassin/<version>/, else /usr/share/spamassassin
#   KEEP=1              keep the work directory (its path is printed)
#
# Needs spamassassin, spamc, spamd and sa-learn (Debian: apt-get install -y spamassassin
# spamc); installs nothing. Talks to 127.0.0.1 only. Exit status: 0 done, 1 a step failed,
# 2 bad usage, 3 SpamAssassin is not installed.

set -u -o pipefail
BENCH_NAME=run-spamassassin-baseline
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" || exit 2

if [ $# -ne 0 ]; then
  sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus_py=$repo/bench/spam-corpus.py
CONCURRENCY=${CONCURRENCY:-16}
THRESHOLD=${THRESHOLD:-5.0}
OUT_DIR=${OUT_DIR:-$repo/build/spam-eval}
TRAIN_LIMIT=${TRAIN_LIMIT:-0}
EVAL_LIMIT=${EVAL_LIMIT:-0}
if [ "${QUICK:-0}" = 1 ]; then
  TRAIN_LIMIT=${TRAIN_LIMIT/#0/250}
  EVAL_LIMIT=${EVAL_LIMIT/#0/100}
fi
MAX_RUNTIME=${MAX_RUNTIME:-5400}
SA_SITE_DIR=${SA_SITE_DIR:-/etc/spamassassin}

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
for v in CONCURRENCY TRAIN_LIMIT EVAL_LIMIT MAX_RUNTIME; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$BENCH_NAME: $v must be a number" >&2; exit 2; }
done
[ "$CONCURRENCY" -ge 1 ] || { echo "$BENCH_NAME: CONCURRENCY must be >= 1" >&2; exit 2; }
[[ $THRESHOLD =~ ^-?[0-9]+(\.[0-9]+)?$ ]] ||
  { echo "$BENCH_NAME: THRESHOLD must be a number" >&2; exit 2; }

SPAMD=$(command -v spamd || echo /usr/sbin/spamd)
missing=""
for tool in spamassassin spamc sa-learn "$SPAMD"; do
  command -v "$tool" >/dev/null || missing="$missing ${tool##*/}"
done
if [ -n "$missing" ]; then
  echo "$BENCH_NAME: not installed:$missing" >&2
  echo "$BENCH_NAME: install with: apt-get install -y spamassassin spamc" >&2
  exit 3
fi
sa_version=$(spamassassin --version | sed -n 's/^SpamAssassin version //p')

if [ -z "${SA_RULES_DIR:-}" ]; then
  # SpamAssassin's own choice: rules from sa-update if it ever ran, else the packaged ones.
  SA_RULES_DIR=$(ls -d /var/lib/spamassassin/[0-9]*/updates_spamassassin_org 2>/dev/null |
                 sort -V | tail -1)
  SA_RULES_DIR=${SA_RULES_DIR:-/usr/share/spamassassin}
fi
[ -d "$SA_RULES_DIR" ] || die "no rule directory $SA_RULES_DIR (set SA_RULES_DIR)"
[ -d "$SA_SITE_DIR" ] || die "no site config directory $SA_SITE_DIR (set SA_SITE_DIR)"

# As root, SpamAssassin runs as an unprivileged user that owns the private directory.
as_user=()
spamd_user=()
if [ "$(id -u)" -eq 0 ]; then
  SA_USER=${SA_USER:-$(getent passwd debian-spamd >/dev/null && echo debian-spamd || echo nobody)}
  getent passwd "$SA_USER" >/dev/null || die "no user $SA_USER (set SA_USER)"
  as_user=(runuser -u "$SA_USER" --)
  spamd_user=(-u "$SA_USER")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/spam-baseline.XXXXXX") || die "mktemp failed"
STARTED_PIDS=()
trap cleanup EXIT
trap 'exit 1' INT TERM
# The whole run is bounded: past MAX_RUNTIME this script gets SIGTERM (and stops spamd).
watchdog $$ "$MAX_RUNTIME" &
STARTED_PIDS+=($!)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
declare -A step_s
step() { # step NAME START: records and prints the step's wall time
  step_s[$1]=$(elapsed "$2" "$(now)")
  printf '%s: step %-8s %8s s\n' "$BENCH_NAME" "$1" "${step_s[$1]}"
}
mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"

echo "$BENCH_NAME: SpamAssassin $sa_version, rules $SA_RULES_DIR, concurrency $CONCURRENCY," \
  "threshold $THRESHOLD${SA_USER:+, as $SA_USER}"

# 1. corpus ---------------------------------------------------------------------------
t=$(now)
corpus_args=()
if [ -n "${MW_SPAM_CORPUS:-}" ]; then
  corpus_args=(--corpus "$MW_SPAM_CORPUS")
else
  corpus_dir=$("$repo/scripts/fetch-spam-corpus.sh" --print-dir) || die "no corpus"
  corpus_args=(--corpus "$corpus_dir")
fi
"$corpus_py" "${corpus_args[@]}" export "$WORK/corpus" >"$WORK/export.log" ||
  { cat "$WORK/export.log" >&2; die "export failed"; }
# The file lists, by MD5 (the name's third field), cut to the limits when set.
list() { # list DIR LIMIT
  find "$1" -type f -name '*.eml' | sort -t. -k3,3 -k1,1 |
    if [ "$2" -gt 0 ]; then head -n "$2"; else cat; fi
}
list "$WORK/corpus/train/spam" "$TRAIN_LIMIT" > "$WORK/train-spam.list"
list "$WORK/corpus/train/ham" "$TRAIN_LIMIT" > "$WORK/train-ham.list"
find "$WORK/corpus/eval" -type f -name '*.eml' | awk -F/ '{ print $NF "\t" $0 }' |
  sort -t. -k3,3 | cut -f2 |
  if [ "$EVAL_LIMIT" -gt 0 ]; then head -n "$EVAL_LIMIT"; else cat; fi > "$WORK/eval.list"
n_spam=$(wc -l < "$WORK/train-spam.list")
n_ham=$(wc -l < "$WORK/train-ham.list")
n_eval=$(wc -l < "$WORK/eval.list")
echo "$BENCH_NAME: training on $n_spam spam + $n_ham ham, scoring $n_eval messages"
step corpus "$t"

# 2. config ---------------------------------------------------------------------------
t=$(now)
site=$WORK/sa/site
home=$WORK/sa/home
mkdir -p "$site" "$home" "$WORK/sa/bayes"
for f in "$SA_SITE_DIR"/*.pre "$SA_SITE_DIR"/*.cf; do
  [ -f "$f" ] && [ "$(basename "$f")" != local.cf ] && cp "$f" "$site/"
done
cat > "$site/local.cf" <<EOF
# Written by bench/run-spamassassin-baseline.sh: the evaluation's settings.
required_score $THRESHOLD
report_safe 0
# Bayes: trained by sa-learn on the training split only, never by itself.
use_bayes 1
bayes_auto_learn 0
bayes_path $WORK/sa/bayes/bayes
bayes_file_mode 0700
lock_method flock
# Network tests off (with -L): no DNS, no blocklists, no hash-sharing services.
dns_available no
skip_rbl_checks 1
ifplugin Mail::SpamAssassin::Plugin::Razor2
use_razor2 0
endif
ifplugin Mail::SpamAssassin::Plugin::Pyzor
use_pyzor 0
endif
ifplugin Mail::SpamAssassin::Plugin::DCC
use_dcc 0
endif
# No per-sender memory: each message is scored on its own.
ifplugin Mail::SpamAssassin::Plugin::AWL
use_auto_whitelist 0
endif
ifplugin Mail::SpamAssassin::Plugin::TxRep
use_txrep 0
endif
EOF
chmod -R a+rX "$WORK"
if [ -n "${SA_USER:-}" ]; then
  chown -R "$SA_USER" "$WORK/sa" || die "cannot give $WORK/sa to $SA_USER"
fi
sa_paths=(--siteconfigpath="$site" --configpath="$SA_RULES_DIR")
if ! "${as_user[@]}" env HOME="$home" spamassassin -L "${sa_paths[@]}" --lint \
      >"$WORK/lint.log" 2>&1; then
  cat "$WORK/lint.log" >&2
  die "spamassassin --lint failed on the private configuration"
fi
step config "$t"

# 3. train ----------------------------------------------------------------------------
t=$(now)
for class in spam ham; do
  ts=$(now)
  if ! "${as_user[@]}" env HOME="$home" sa-learn -L "${sa_paths[@]}" \
        --dbpath "$WORK/sa/bayes" --"$class" -f "$WORK/train-$class.list" \
        >"$WORK/learn-$class.log" 2>&1; then
    cat "$WORK/learn-$class.log" >&2
    die "sa-learn --$class failed"
  fi
  echo "$BENCH_NAME: sa-learn --$class: $(tail -1 "$WORK/learn-$class.log")" \
    "($(elapsed "$ts" "$(now)") s)"
done
"${as_user[@]}" env HOME="$home" sa-learn -L "${sa_paths[@]}" --dbpath "$WORK/sa/bayes" \
  --dump magic 2>/dev/null | awk '/non-token data: (nspam|nham|ntokens)$/ {
    printf " %s=%s", $NF, $3 } END { print "" }' | sed "s/^/$BENCH_NAME: bayes:/"
step train "$t"

# 4. spamd ----------------------------------------------------------------------------
t=$(now)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SPAMD" -L -x "${spamd_user[@]}" -H "$home" "${sa_paths[@]}" \
  -i "127.0.0.1:$port" -A 127.0.0.1 --max-children 2 --min-children 2 \
  --max-spare 2 -s stderr -r "$WORK/spamd.pid" </dev/null >"$WORK/spamd.log" 2>&1 &
spamd_pid=$!
STARTED_PIDS+=("$spamd_pid")
ready=0
for _ in $(seq 1 240); do  # rule loading takes a while: up to 120 s
  if ! kill -0 "$spamd_pid" 2>/dev/null; then
    break
  fi
  if spamc -d 127.0.0.1 -p "$port" -K >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ "$ready" -ne 1 ]; then
  tail -20 "$WORK/spamd.log" >&2
  die "spamd did not come up on 127.0.0.1:$port"
fi
step spamd "$t"

# 5. score ----------------------------------------------------------------------------
# One spamc per message; -x: an error is an exit status > 1, never a silent "not spam".
cat > "$WORK/score.sh" <<'EOF'
#!/usr/bin/env bash
# score.sh PORT FILE...: "path<TAB>score<TAB>is_spam" per file (is_spam "error" on failure)
port=$1
shift
for f in "$@"; do
  out=$(spamc -d 127.0.0.1 -p "$port" -c -x -t 300 < "$f" 2>/dev/null)
  case $? in
    0) verdict=0 ;;
    1) verdict=1 ;;
    *) verdict=error ;;
  esac
  score=${out%%/*}
  printf '%s\t%s\t%s\n' "$f" "${score:-nan}" "$verdict"
done
EOF
chmod +x "$WORK/score.sh"
results=$OUT_DIR/spamassassin.tsv
: > "$results.part"
# CPU time of spamd and its children (ticks), so that a busy machine's wall-clock figure
# can be put in proportion: utime+stime+cutime+cstime of each (fields after "comm").
spamd_cpu_ticks() {
  local p total=0 ticks
  for p in "$spamd_pid" $(pgrep -P "$spamd_pid"); do
    ticks=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
    total=$((total + ${ticks:-0}))
  done
  echo "$total"
}
cpu0=$(spamd_cpu_ticks)
t=$(now)
# Lines are short and appended (O_APPEND) one write each, so parallel workers never mix.
xargs -P "$CONCURRENCY" -n 4 -d '\n' "$WORK/score.sh" "$port" < "$WORK/eval.list" \
  >> "$results.part"
score_s=$(elapsed "$t" "$(now)")
cpu_s=$(awk -v a="$cpu0" -v b="$(spamd_cpu_ticks)" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.1f", (b - a) / hz }')
step score "$t"
mv "$results.part" "$results"
cp "$WORK/spamd.log" "$OUT_DIR/spamd.log"
scored=$(wc -l < "$results")
errors=$(awk -F'\t' '$3 == "error"' "$results" | wc -l)
msgs_per_s=$(awk -v n="$scored" -v s="$score_s" 'BEGIN { printf "%.2f", (s > 0 ? n / s : 0) }')
msgs_per_cpu_s=$(awk -v n="$scored" -v s="$cpu_s" 'BEGIN { printf "%.2f", (s > 0 ? n / s : 0) }')
scantime=$(awk -F'scantime=' 'NF > 1 { split($2, a, ","); s += a[1]; n++ }
                END { printf "%.3f", (n ? s / n : 0) }' "$WORK/spamd.log")
echo "$BENCH_NAME: spamd: $scored messages in $score_s s at concurrency $CONCURRENCY" \
  "(2 children): $msgs_per_s msgs/s, $errors errors"
echo "$BENCH_NAME: spamd: $cpu_s CPU s ($msgs_per_cpu_s msgs per CPU second)," \
  "mean scantime $scantime s, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# 6. report ---------------------------------------------------------------------------
coverage=()
[ "$EVAL_LIMIT" -gt 0 ] || coverage=(--check-coverage)
echo
"$corpus_py" "${corpus_args[@]}" score --results "spamassassin=$results" "${coverage[@]}" \
  > "$WORK/score.out"
rc=$?
sed '/^{/d' "$WORK/score.out"
figures=$(grep '^{' "$WORK/score.out" | head -1)
[ -n "$figures" ] || die "spam-corpus.py score printed no figures"
python3 - "$figures" > "$OUT_DIR/spamassassin.json" <<EOF
import json, sys
out = json.loads(sys.argv[1])
out.update({"product": "SpamAssassin $sa_version", "threshold": float("$THRESHOLD"),
            "concurrency": $CONCURRENCY, "spamd_children": 2, "msgs_per_s": $msgs_per_s,
            "score_wall_s": $score_s, "spamd_cpu_s": $cpu_s,
            "msgs_per_cpu_s": $msgs_per_cpu_s, "mean_scantime_s": $scantime,
            "loadavg": "$(cut -d' ' -f1-3 /proc/loadavg)", "train_spam": $n_spam, "train_ham": $n_ham,
            "rules_dir": "$SA_RULES_DIR",
            "step_s": {$(for k in "${!step_s[@]}"; do printf '"%s": %s, ' "$k" "${step_s[$k]}"; done)}})
print(json.dumps(out, sort_keys=True))
EOF
cat "$OUT_DIR/spamassassin.json"
echo "$BENCH_NAME: results in $results, figures in $OUT_DIR/spamassassin.json"
[ "$errors" -eq 0 ] || die "$errors messages were not scored"
exit "$rc"
