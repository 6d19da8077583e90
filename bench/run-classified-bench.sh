#!/usr/bin/env bash
# Cost of the classified-documents check (rules/default.yaml, rule classified-document):
#  1. throughput on ~95 KB messages carrying a Vietnamese report as .docx (mw-mime-bench
#     --kind docx100k: about 38 KB of text in paragraphs and tables, no marking, so the
#     message is accepted and the rule reads all of it): mailwarden with the shipped rules,
#     mailwarden with the same rules minus the classified-document rule (a rule file made
#     here by taking that rule's block out of the YAML), and the null milter as the
#     baseline, measured alternately in the same run;
#  2. the time of one message carrying a 15 MB PDF (tests/data/make_pdf.py), one at a
#     time, in two shapes: (a) text pages only, as many as fit; (b) mostly incompressible
#     padding, with PDF_TEXT_PAGES text pages; against the null milter, mailwarden without
#     the rule, with it (pdf_max_pages 300, pdf_max_time 10s: the defaults), and with
#     pdf_max_pages ALL_PAGES and pdf_max_time 600s (every page, unless another limit
#     speaks: the decision log says which), alternately, PDF_REPS messages each.
#
# usage: bench/run-classified-bench.sh BUILD_DIR
#
# Environment:
#   CONCURRENCY=16      part 1: mw-milter-bench threads, one message per connection
#   DURATION=8          part 1: seconds per measured run
#   ROUNDS=3            part 1: alternations (null, without, with)
#   PDF_BYTES=15000000  part 2: size of both PDFs (attachment_size allows 15 MiB)
#   PDF_TEXT_PAGES=1000 part 2: text pages of the padded PDF
#   PDF_REPS=5          part 2: messages per PDF and milter (one per round, alternating)
#   ALL_PAGES=100000    part 2: pdf_max_pages of the "every page" milter
#   RULES=FILE          rule file (default: the source tree's rules/default.yaml)
#   MW_MILTER_BIN=path  default BUILD_DIR/milter/mailwarden-milter
#   BASE_PORT=18980     first loopback port (4 are used)
#   RESULTS=file        also append every run's JSON (with "label", "kind", "milter")
#   QUICK=1             DURATION=2 ROUNDS=1 PDF_BYTES=1500000 PDF_TEXT_PAGES=100
#                       PDF_REPS=2: a check of the script itself
#
# Needs python3 (and, for make_pdf.py, Debian's python3-reportlab, python3-pil and
# fonts-dejavu-core). Everything listens on 127.0.0.1 only; every process started here is
# bounded in time and stopped on exit.

set -u -o pipefail
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" || exit 2

[ $# -le 1 ] || set -- ""
bench_args '2,35p' "${1:-}" mw-milter-bench mw-null-milter mw-mime-bench
NULL_MILTER="$BIN/mw-null-milter"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
MW_MILTER_BIN="${MW_MILTER_BIN:-$BUILD/milter/mailwarden-milter}"
if [ ! -x "$MW_MILTER_BIN" ]; then
  echo "run-classified-bench: no mailwarden-milter at $MW_MILTER_BIN" >&2
  exit 2
fi
if ! "$MW_MILTER_BIN" --print-defaults | grep -c '^# check: classified_document' >/dev/null; then
  echo "run-classified-bench: $MW_MILTER_BIN has no classified_document check" >&2
  exit 2
fi
RULES="$(realpath "${RULES:-$SRC/rules/default.yaml}")"
RULE_ID=classified-document

CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
PDF_BYTES="${PDF_BYTES:-15000000}"
PDF_TEXT_PAGES="${PDF_TEXT_PAGES:-1000}"
PDF_REPS="${PDF_REPS:-5}"
ALL_PAGES="${ALL_PAGES:-100000}"
BASE_PORT="${BASE_PORT:-18980}"
USER_RESULTS="${RESULTS:-}"
if [ "${QUICK:-0}" = "1" ]; then
  DURATION=2
  ROUNDS=1
  PDF_BYTES=1500000
  PDF_TEXT_PAGES=100
  PDF_REPS=2
fi
# Part 1, then part 2: 2 shapes x PDF_REPS rounds x 4 milters, up to 600 s for one message
# read to its end (pdf_max_time 600s) in the worst case; the watchdogs are a backstop.
MILTER_MAX_RUNTIME=$((ROUNDS * 3 * (DURATION + 30) + PDF_REPS * 2 * 700 + 900))

WORK="$(mktemp -d /tmp/mw-classified-bench.XXXXXX)"
STARTED_PIDS=()
# Every run's JSON is kept here (the PDF summary reads it), and appended to $RESULTS at the
# end when that is set.
RESULTS="$WORK/runs.jsonl"

trap 'finish' EXIT
trap 'exit 130' INT TERM
# shellcheck disable=SC2317  # called by the EXIT trap
finish() {
  if [ -n "$USER_RESULTS" ] && [ -f "$RESULTS" ]; then
    cat "$RESULTS" >>"$USER_RESULTS"
  fi
  cleanup
}

# rule_file OUT MODE: OUT is $RULES with the classified-document rule taken out (MODE
# "drop") or given pdf_max_pages ALL_PAGES and pdf_max_time 600s (MODE "all-pages"). The
# other files of the rule directory are linked beside OUT, since a rule file names its lists
# (executables.yaml, ...) relative to itself.
rule_file() {
  local out="$1" mode="$2" f
  mkdir -p "$(dirname "$out")"
  for f in "$(dirname "$RULES")"/*; do
    [ "$f" = "$RULES" ] || ln -sf "$f" "$(dirname "$out")/"
  done
  python3 - "$RULES" "$RULE_ID" "$mode" "$ALL_PAGES" >"$out" <<'PY'
import sys
path, rule_id, mode, all_pages = sys.argv[1:5]
lines = open(path, encoding="utf-8").read().split("\n")
indent_of = lambda s: len(s) - len(s.lstrip())
out, i, found = [], 0, 0
while i < len(lines):
    line = lines[i]
    if line.strip() not in ("- id: " + rule_id, '- id: "%s"' % rule_id):
        out.append(line)
        i += 1
        continue
    found += 1
    indent = indent_of(line)
    end = i + 1  # the block: the item's more deeply indented lines
    while end < len(lines) and lines[end].strip() and indent_of(lines[end]) > indent:
        end += 1
    if mode == "drop":
        while out and out[-1].strip().startswith("#") and indent_of(out[-1]) == indent:
            out.pop()  # the rule's own comment goes with it
        while end < len(lines) and not lines[end].strip():
            end += 1
    else:
        block = [l for l in lines[i:end] if l.strip().split(":")[0]
                 not in ("pdf_max_pages", "pdf_max_time")]
        pad = " " * (indent + 2)
        out += block + [pad + "pdf_max_pages: " + all_pages, pad + "pdf_max_time: 600s"]
    i = end
if found != 1:
    sys.exit("run-classified-bench: %d rules '%s' in %s (need exactly one)"
             % (found, rule_id, path))
sys.stdout.write("\n".join(out))
PY
}

# start_mailwarden PORT NAME RULE_FILE: decisions logged (accepted ones too); sets MILTER_PID.
start_mailwarden() {
  local port="$1" dir="$WORK/$2"
  write_mailwarden_yaml "$dir" "inet:127.0.0.1:$port" "\"$3\"" \
    $'domains:\n  internal: [bench.example]'
  launch_mailwarden "$dir"
}

# decisions NAME: the number of decisions milter NAME has logged.
decisions() {
  wc -l <"$WORK/$1/decisions.json" 2>/dev/null || echo 0
}

# pdf_limits NAME BEFORE: the limits (classified_incomplete) named by the decision milter NAME
# logs after its first BEFORE ones (waited for up to 5 s: the line may follow the reply), or
# "-".
pdf_limits() {
  local i l
  for i in $(seq 1 50); do
    [ "$(decisions "$1")" -gt "$2" ] && break
    sleep 0.1
  done
  l=$(sed -n "$(($2 + 1))p" "$WORK/$1/decisions.json" 2>/dev/null | grep -o '"limit":"[^"]*"' |
    cut -d'"' -f4 | sort -u | tr '\n' ' ')
  echo "${l:--}"
}

# ---------------------------------------------------------------------------------------
rule_file "$WORK/rules-without/$(basename "$RULES")" drop || exit 1
rule_file "$WORK/rules-all-pages/$(basename "$RULES")" all-pages || exit 1
RULES_WITHOUT="$WORK/rules-without/$(basename "$RULES")"
RULES_ALL="$WORK/rules-all-pages/$(basename "$RULES")"

EML="$WORK/eml"
if ! "$BIN/mw-mime-bench" --write-eml "$EML" --kind docx100k >"$WORK/eml.list"; then
  echo "run-classified-bench: could not generate the messages" >&2
  exit 1
fi

PORT_NULL=$BASE_PORT
PORT_WITHOUT=$((BASE_PORT + 1))
PORT_WITH=$((BASE_PORT + 2))
PORT_ALL=$((BASE_PORT + 3))
start_null "inet:127.0.0.1:$PORT_NULL" --add-header --nodelay --no-reply || exit 1
start_mailwarden "$PORT_WITHOUT" without "$RULES_WITHOUT" || exit 1
start_mailwarden "$PORT_WITH" with "$RULES" || exit 1
start_mailwarden "$PORT_ALL" all-pages "$RULES_ALL" || exit 1

echo "classified documents, part 1: docx100k, concurrency $CONCURRENCY, one message per" \
  "connection, $DURATION s per run, $ROUNDS round(s) of null / without / with the rule"
echo "machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rules: $RULES (without: the same minus '$RULE_ID')"
printf '%-30s %8s %9s %8s %9s %9s %6s  %s\n' run msgs msg/s MB/s p50ms p99ms errors verdicts
rc=0
kind=docx100k
warm=(--warmup "$CONCURRENCY" --concurrency "$CONCURRENCY" --duration "$DURATION"
      "$EML/$kind.eml")
for round in $(seq 1 "$ROUNDS"); do
  run_bench "$kind null-strict #$round" "$kind" null "inet:127.0.0.1:$PORT_NULL" \
    "${warm[@]}" || rc=1
  run_bench "$kind without #$round" "$kind" without "inet:127.0.0.1:$PORT_WITHOUT" \
    "${warm[@]}" || rc=1
  run_bench "$kind with #$round" "$kind" with "inet:127.0.0.1:$PORT_WITH" "${warm[@]}" || rc=1
done
echo "load at end of part 1: $(cut -d' ' -f1-3 /proc/loadavg)"
if awk '$1 == "docx100k" && $2 != "null" && $NF !~ /^accept:[0-9]+$/ {bad = 1} END {exit !bad}' \
    "$WORK/rows"; then
  echo "WARNING: mailwarden gave verdicts other than accept (see the verdicts column)"
fi
if grep -q '"classified_incomplete"\|"classified_document"' "$WORK/with/decisions.json"; then
  echo "WARNING: the rule did not read the docx100k messages cleanly (see a decision:)"
  grep -m1 '"classified_' "$WORK/with/decisions.json" | cut -c1-400
fi

# --- part 2: the 15 MB PDFs ----------------------------------------------------------------
# make_pdf.py draws a page of DejaVu text in about 1.2 KB (compressed): sample 20 and 40
# pages, size the text-only PDF by proportion and correct once.
MAKE_PDF="$SRC/tests/data/make_pdf.py"
PDF_TEXT=(--line "BÁO CÁO TỔNG HỢP, TRANG {page}" --prose-lines 60)
make_pdf() {
  local out="$1"
  shift
  if ! python3 "$MAKE_PDF" "$out" "${PDF_TEXT[@]}" "$@" 2>"$WORK/make_pdf.err"; then
    echo "run-classified-bench: make_pdf.py failed:" >&2
    cat "$WORK/make_pdf.err" >&2
    return 1
  fi
}
size_of() { stat -c %s "$1"; }
PDF_DIR="$WORK/pdf"
mkdir -p "$PDF_DIR"
echo
echo "part 2: generating the PDFs ($PDF_BYTES bytes each)"
t0=$(date +%s)
make_pdf "$PDF_DIR/sample.pdf" --pages 20 || exit 1
s20=$(size_of "$PDF_DIR/sample.pdf")
make_pdf "$PDF_DIR/sample.pdf" --pages 40 || exit 1
s40=$(size_of "$PDF_DIR/sample.pdf")
per_page=$(((s40 - s20) / 20))
pages=$(((PDF_BYTES - (s20 - 20 * per_page)) / per_page))
make_pdf "$PDF_DIR/text.pdf" --pages "$pages" || exit 1
size=$(size_of "$PDF_DIR/text.pdf")
if [ "$size" -gt "$PDF_BYTES" ] || [ $((PDF_BYTES - size)) -gt $((PDF_BYTES / 50)) ]; then
  pages=$((pages * PDF_BYTES / size))
  make_pdf "$PDF_DIR/text.pdf" --pages "$pages" || exit 1
fi
TEXT_PAGES=$pages
# The padded one: PDF_TEXT_PAGES text pages, the rest an image of random pixels.
text_part=$((s20 - 20 * per_page + PDF_TEXT_PAGES * per_page))
pad=$((PDF_BYTES - text_part > 0 ? PDF_BYTES - text_part : 0))
make_pdf "$PDF_DIR/padded.pdf" --pages "$PDF_TEXT_PAGES" --pad-bytes "$pad" || exit 1
size=$(size_of "$PDF_DIR/padded.pdf")
if [ "$size" -gt "$PDF_BYTES" ]; then
  make_pdf "$PDF_DIR/padded.pdf" --pages "$PDF_TEXT_PAGES" \
    --pad-bytes $((pad - (size - PDF_BYTES) * 11 / 10)) || exit 1
fi
echo "generated in $(($(date +%s) - t0)) s: text.pdf $(size_of "$PDF_DIR/text.pdf") bytes," \
  "$TEXT_PAGES pages; padded.pdf $(size_of "$PDF_DIR/padded.pdf") bytes, $PDF_TEXT_PAGES pages"

# pdf_message SHAPE: $EML/pdf-SHAPE.eml carrying $PDF_DIR/SHAPE.pdf (base64).
pdf_message() {
  python3 - "$PDF_DIR/$1.pdf" "$EML/pdf-$1.eml" "$1" <<'PY'
import base64, sys
pdf, out, shape = sys.argv[1], sys.argv[2], sys.argv[3]
b64 = base64.encodebytes(open(pdf, "rb").read()).replace(b"\n", b"\r\n")
head = ("From: Bench Sender <sender@bench.example>\r\nTo: <rcpt@bench.example>\r\n"
        "Subject: =?UTF-8?B?" + base64.b64encode("Báo cáo tổng hợp".encode()).decode() +
        "?=\r\nDate: Mon, 30 Nov 2026 07:00:00 +0700\r\n"
        "Message-ID: <pdf-" + shape + "@bench.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"=_mwbench_pdf\"\r\n\r\n"
        "--=_mwbench_pdf\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "The report is attached.\r\n--=_mwbench_pdf\r\n"
        "Content-Type: application/pdf; name=\"bao-cao-" + shape + ".pdf\"\r\n"
        "Content-Disposition: attachment; filename=\"bao-cao-" + shape + ".pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n")
open(out, "wb").write(head.encode() + b64 + b"--=_mwbench_pdf--\r\n")
PY
}
pdf_message text || exit 1
pdf_message padded || exit 1

echo "one message at a time (concurrency 1), $PDF_REPS round(s) of null / without / with /" \
  "all pages (pdf_max_pages $ALL_PAGES, pdf_max_time 600s); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-30s %8s %9s %8s %9s %9s %6s  %s\n' run msgs msg/s MB/s p50ms p99ms errors verdicts
: >"$WORK/limits"
for shape in text padded; do
  one=(--concurrency 1 --messages 1 --timeout 700 "$EML/pdf-$shape.eml")
  for round in $(seq 1 "$PDF_REPS"); do
    run_bench "pdf-$shape null-strict #$round" "pdf-$shape" null "inet:127.0.0.1:$PORT_NULL" \
      "${one[@]}" || rc=1
    for m in without with all-pages; do
      case $m in
        without) port=$PORT_WITHOUT ;;
        with) port=$PORT_WITH ;;
        *) port=$PORT_ALL ;;
      esac
      before=$(decisions "$m")
      run_bench "pdf-$shape $m #$round" "pdf-$shape" "$m" "inet:127.0.0.1:$port" "${one[@]}" || rc=1
      echo "pdf-$shape $m $(pdf_limits "$m" "$before")" >>"$WORK/limits"
    done
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- summaries ---------------------------------------------------------------------------
echo
echo "summary, part 1 (msg/s = all messages of the runs / their summed time; p50: median of"
echo "the rounds' p50, p99: the worst round's)"
printf '%-12s %10s %9s %9s %10s %10s\n' milter msg/s p50ms p99ms "vs without" "vs null"
awk '
  $1 == "docx100k" { m[$2] += $3; t[$2] += $4; n[$2]++; p50[$2, n[$2]] = $6
                     if ($7 > p99[$2]) p99[$2] = $7 }
  function median(k,   i, j, v, c, a) {
    c = n[k]
    for (i = 1; i <= c; i++) a[i] = p50[k, i]
    for (i = 1; i <= c; i++)
      for (j = i + 1; j <= c; j++)
        if (a[j] < a[i]) { v = a[i]; a[i] = a[j]; a[j] = v }
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
  }
  END {
    r0 = t["without"] ? m["without"] / t["without"] : 0
    rn = t["null"] ? m["null"] / t["null"] : 0
    split("null without with", order, " ")
    for (i = 1; i <= 3; i++) {
      k = order[i]
      r = t[k] ? m[k] / t[k] : 0
      printf "%-12s %10.1f %9.2f %9.2f %9.1f%% %9.1f%%\n", k, r, median(k), p99[k],
        r0 ? 100 * r / r0 : 0, rn ? 100 * r / rn : 0
    }
  }' "$WORK/rows"

echo
echo "summary, part 2: time of one message in ms (median and max of $PDF_REPS), the limits"
echo "the decision log named"
python3 - "$RESULTS" "$WORK/limits" "$TEXT_PAGES" "$PDF_TEXT_PAGES" <<'PY'
import json, statistics, sys
runs, limits_file, text_pages, padded_pages = sys.argv[1:5]
times = {}
for line in open(runs):
    r = json.loads(line)
    if r["kind"].startswith("pdf-") and r.get("messages"):
        times.setdefault((r["kind"], r["milter"]), []).append(r["latency_ms"]["max"])
limits = {}
for line in open(limits_file):
    kind, milter, *names = line.split()
    limits.setdefault((kind, milter), set()).update(n for n in names if n != "-")
pages = {"pdf-text": text_pages, "pdf-padded": padded_pages}
print("%-11s %6s %-10s %10s %10s  %s" % ("pdf", "pages", "milter", "median", "max", "limits hit"))
for kind in ("pdf-text", "pdf-padded"):
    for milter in ("null", "without", "with", "all-pages"):
        t = times.get((kind, milter), [])
        if not t:
            print("%-11s %6s %-10s %10s" % (kind, pages[kind], milter, "(no result)"))
            continue
        lim = ", ".join(sorted(limits.get((kind, milter), ()))) or "-"
        print("%-11s %6s %-10s %10.1f %10.1f  %s" % (kind, pages[kind], milter,
              statistics.median(t), max(t), lim if milter not in ("null",) else ""))
PY
exit "$rc"
