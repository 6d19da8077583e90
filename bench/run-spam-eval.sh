#!/usr/bin/env bash
# The spam evaluation (issue: spam checks measured on a public corpus) and the spam rule's
# throughput, in one run:
#   1. corpus     scripts/fetch-spam-corpus.sh (cached) and bench/spam-corpus.py export:
#                 training split (MD5 first digit 0-b) and evaluation split (c-f)
#   2. train      mailwarden-milter train on the training split only (spam, and ham with
#                 hard-ham), into a store of this run
#   3. score      mw-spam-score over the evaluation split: the shipped rules/spam.yaml rule
#                 with the shipped spam-rules.yaml and the store of step 2
#   4. baseline   bench/run-spamassassin-baseline.sh (SpamAssassin 4 + its Bayes trained on
#                 the same split, network tests off) on the same messages; gives spamd's
#                 msgs/s (SKIP_SA=1 skips it)
#   5. report     bench/spam-corpus.py score: precision, recall, false positives on ham and
#                 on hard-ham, mailwarden beside SpamAssassin
#   6. speed      mailwarden-milter at concurrency 16 (mw-milter-bench, one message per
#                 connection) with rules/default.yaml + rules/spam.yaml (all rules on)
#                 against rules/default.yaml alone, alternately, ROUNDS times, on: the
#                 evaluation messages, 4 KB and 100 KB messages; and the ratio of the
#                 first to spamd's msgs/s of step 4
#
# usage: bench/run-spam-eval.sh BUILD_DIR
#
# Environment:
#   OUT_DIR=dir         default <repo>/build/spam-eval: mailwarden.tsv, spamassassin.tsv,
#                       report.txt, report.json, speed.txt
#   SKIP_SA=1           no SpamAssassin baseline (and no throughput ratio)
#   SKIP_SPEED=1        no step 6
#   CONCURRENCY=16  DURATION=8  ROUNDS=3      step 6
#   BASE_PORT=19080     step 6 uses two loopback ports from here
#   MW_SPAM_CORPUS=dir  the corpus (default: the fetch script's cache)
#   KEEP=1              keep the work directory
#
# Needs python3, npm (the corpus), and for step 4 Debian's spamassassin, spamc and spamd.
# Talks to 127.0.0.1 only.

set -u -o pipefail
BENCH_NAME=run-spam-eval
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" || exit 2

[ $# -le 1 ] || set -- ""
bench_args '2,33p' "${1:-}" mw-milter-bench mw-spam-score
SRC="$(cd "$(dirname "$0")/.." && pwd)"
MW_MILTER_BIN="${MW_MILTER_BIN:-$BUILD/milter/mailwarden-milter}"
[ -x "$MW_MILTER_BIN" ] || { echo "$BENCH_NAME: no mailwarden-milter at $MW_MILTER_BIN" >&2; exit 2; }
OUT_DIR="${OUT_DIR:-$SRC/build/spam-eval}"
CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
BASE_PORT="${BASE_PORT:-19080}"
MILTER_MAX_RUNTIME=$((ROUNDS * 6 * (DURATION + 30) + 600))
RESULTS=""
WORK="$(mktemp -d /tmp/mw-spam-eval.XXXXXX)"
STARTED_PIDS=()
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT_DIR"
corpus_py="$SRC/bench/spam-corpus.py"

step() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

step "1. corpus"
t=$(now)
python3 "$corpus_py" export "$WORK/corpus" >/dev/null || { echo "$BENCH_NAME: export failed" >&2; exit 1; }
python3 "$corpus_py" split
echo "($(since "$t") s)"

# The shipped spam rule with this run's store; the rule files are linked beside it, as a
# rule file names its lists relative to itself.
CONF="$WORK/conf"
mkdir -p "$CONF/rules"
for f in "$SRC"/rules/*; do ln -sf "$f" "$CONF/rules/"; done
rm -f "$CONF/rules/spam.yaml"
sed "s|bayes_db: .*|bayes_db: $WORK/bayes.sqlite|" "$SRC/rules/spam.yaml" >"$CONF/rules/spam.yaml"
write_mailwarden_yaml "$CONF" "inet:127.0.0.1:$BASE_PORT" "rules/spam.yaml" \
  $'domains:\n  internal: [corpus.example]'

step "2. train (training split only)"
t=$(now)
"$MW_MILTER_BIN" train --config "$CONF/mailwarden.yaml" --db "$WORK/bayes.sqlite" \
  --spam "$WORK/corpus/train/spam" --ham "$WORK/corpus/train/ham" || exit 1
echo "($(since "$t") s)"

step "3. score the evaluation split with mailwarden"
t=$(now)
"$BIN/mw-spam-score" --config "$CONF/mailwarden.yaml" --client-ip 198.51.100.7 \
  "$WORK/corpus/eval" >"$OUT_DIR/mailwarden.tsv"
n=$(wc -l <"$OUT_DIR/mailwarden.tsv")
el=$(since "$t")
echo "$n messages in $el s ($(awk -v n="$n" -v s="$el" 'BEGIN {printf "%.0f", n / s}') msgs/s, $(nproc) threads)"

results=(--results "mailwarden=$OUT_DIR/mailwarden.tsv")
spamd_rate=""
if [ "${SKIP_SA:-0}" != 1 ]; then
  step "4. SpamAssassin baseline (same split, same machine)"
  if OUT_DIR="$OUT_DIR" "$SRC/bench/run-spamassassin-baseline.sh"; then
    results+=(--results "spamassassin=$OUT_DIR/spamassassin.tsv")
    spamd_rate=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["msgs_per_s"])' \
      "$OUT_DIR/spamassassin.json" 2>/dev/null)
  else
    echo "$BENCH_NAME: the SpamAssassin baseline failed; reporting mailwarden alone" >&2
  fi
fi

step "5. evaluation split: mailwarden (tag_score 5) beside SpamAssassin (required_score 5)"
python3 "$corpus_py" score --check-coverage "${results[@]}" | tee "$OUT_DIR/report.txt"

[ "${SKIP_SPEED:-0}" = 1 ] && exit 0
step "6. milter throughput, concurrency $CONCURRENCY, all rules on vs without the spam rule"
SPEED="$WORK/speed"
mkdir -p "$SPEED/with/rules" "$SPEED/without/rules"
for d in with without; do
  for f in "$CONF"/rules/*; do ln -sf "$(readlink -f "$f")" "$SPEED/$d/rules/"; done
  rm -f "$SPEED/$d/rules/spam.yaml"
done
cp "$CONF/rules/spam.yaml" "$SPEED/with/rules/spam.yaml"
write_mailwarden_yaml "$SPEED/with" "inet:127.0.0.1:$BASE_PORT" \
  "rules/default.yaml, rules/spam.yaml" $'domains:\n  internal: [bench.example]'
write_mailwarden_yaml "$SPEED/without" "inet:127.0.0.1:$((BASE_PORT + 1))" \
  "rules/default.yaml" $'domains:\n  internal: [bench.example]'
launch_mailwarden "$SPEED/with" || exit 1
launch_mailwarden "$SPEED/without" || exit 1
echo "machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-30s %8s %9s %8s %9s %9s %6s  %s\n' run msgs msg/s MB/s p50ms p99ms errors verdicts
rc=0
common=(--warmup "$CONCURRENCY" --concurrency "$CONCURRENCY" --duration "$DURATION"
        --from sender@outside.example --rcpt user@bench.example)
for round in $(seq 1 "$ROUNDS"); do
  for kind in corpus 4k 100k; do
    case $kind in
      corpus) input=("$WORK/corpus/eval/spam" "$WORK/corpus/eval/ham" "$WORK/corpus/eval/hard-ham") ;;
      4k) input=(--message-size 4096) ;;
      100k) input=(--message-size 102400) ;;
    esac
    run_bench "$kind with spam #$round" "$kind" with "inet:127.0.0.1:$BASE_PORT" \
      "${common[@]}" "${input[@]}" || rc=1
    run_bench "$kind without #$round" "$kind" without "inet:127.0.0.1:$((BASE_PORT + 1))" \
      "${common[@]}" "${input[@]}" || rc=1
  done
done
{
  echo "median msgs/s over $ROUNDS round(s):"
  for kind in corpus 4k 100k; do
    w=$(awk -v k="$kind" '$1 == k && $2 == "with" {print $3 / $4}' "$WORK/rows" | sort -g |
      awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    wo=$(awk -v k="$kind" '$1 == k && $2 == "without" {print $3 / $4}' "$WORK/rows" | sort -g |
      awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    printf '  %-7s with spam %9.1f   without %9.1f   (%.1f%%)\n' "$kind" "$w" "$wo" \
      "$(awk -v a="$w" -v b="$wo" 'BEGIN {print 100 * a / b}')"
    if [ "$kind" = corpus ] && [ -n "$spamd_rate" ]; then
      printf '  spamd on the same messages: %.2f msgs/s -> mailwarden is %.0fx\n' "$spamd_rate" \
        "$(awk -v a="$w" -v b="$spamd_rate" 'BEGIN {print a / b}')"
    fi
  done
} | tee "$OUT_DIR/speed.txt"
exit $rc
