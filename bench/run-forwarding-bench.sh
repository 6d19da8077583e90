#!/usr/bin/env bash
# Cost of the automatic forwarding ban: two mailwarden-milter processes side by side, one
# with the shipped attachment rules (rules/default.yaml), one with the same rules plus
# rules/forwarding.yaml (auto-forward-out and auto-forward-in, the shipped public provider
# list), measured alternately in the same run on 4 KiB messages; then the egress listener
# (milter.egress_socket: RCPT answered, header and body skipped) on its own.
#
# usage: bench/run-forwarding-bench.sh BUILD_DIR
#
# The envelope is what the forwarding rules see most: mail from outside
# (sender@bench.example) to two internal recipients (bacgiang.gov.vn). The forwarding rules
# read every header field, so each message gets the header block of mail from a large
# provider in front of mw-mime-bench's own (31 fields in all: Received, DKIM and ARC
# signatures, Authentication-Results, X-Google-*, List-Unsubscribe, ...), without traces.
#
# Environment:
#   KINDS="plain4k"     message kinds (mw-mime-bench --kind), as .eml files
#   CONCURRENCY=16      mw-milter-bench threads, one message per connection
#   DURATION=8          seconds per measured run
#   ROUNDS=5            alternations per kind (without, with the forwarding rules)
#   MW_MILTER_BIN=path  default BUILD_DIR/milter/mailwarden-milter
#   BASE_PORT=18970     first loopback port (3 are used)
#   RESULTS=file        also append every run's JSON (with "label", "kind", "milter")
#   QUICK=1             DURATION=2 ROUNDS=1: a check of the script itself
#
# Everything listens on 127.0.0.1 only; every process started here is bounded in time
# and stopped on exit.

set -u -o pipefail
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" || exit 2

[ $# -le 1 ] || set -- ""
bench_args '2,23p' "${1:-}" mw-milter-bench mw-mime-bench
SRC="$(cd "$(dirname "$0")/.." && pwd)"
MW_MILTER_BIN="${MW_MILTER_BIN:-$BUILD/milter/mailwarden-milter}"
if [ ! -x "$MW_MILTER_BIN" ]; then
  echo "run-forwarding-bench: no mailwarden-milter at $MW_MILTER_BIN" >&2
  exit 2
fi

KINDS="${KINDS:-plain4k}"
CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-5}"
BASE_PORT="${BASE_PORT:-18970}"
RESULTS="${RESULTS:-}"
if [ "${QUICK:-0}" = "1" ]; then
  DURATION=2
  ROUNDS=1
fi
MILTER_MAX_RUNTIME=$((ROUNDS * 2 * (DURATION + 30) * 2 + 900))

WORK="$(mktemp -d /tmp/mw-forwarding-bench.XXXXXX)"
STARTED_PIDS=()

trap cleanup EXIT
trap 'exit 130' INT TERM

DOMAINS=$'domains:\n  internal: [bacgiang.gov.vn]\n  state: [gov.vn]\n'
DOMAINS+="  public_providers: \"$SRC/rules/public-providers.yaml\""

# start_mailwarden PORT NAME RULE_FILES [EGRESS_PORT]: sets MILTER_PID.
start_mailwarden() {
  local port="$1" dir="$WORK/$2" rules="$3" egress="${4:-}"
  write_mailwarden_yaml "$dir" "inet:127.0.0.1:$port" "$rules" "$DOMAINS"
  if [ -n "$egress" ]; then
    sed -i "s|^milter:|milter:\n  egress_socket: inet:127.0.0.1:$egress|" "$dir/mailwarden.yaml"
  fi
  launch_mailwarden "$dir"
}

EML="$WORK/eml"
kind_args=()
for kind in $KINDS; do kind_args+=(--kind "$kind"); done
if ! "$BIN/mw-mime-bench" --write-eml "$EML" "${kind_args[@]}" >"$WORK/eml.list"; then
  echo "run-forwarding-bench: could not generate the messages" >&2
  exit 1
fi

# provider_header: 21 header fields as a large provider's inbound mail carries them.
provider_header() {
  local i
  for i in 1 2 3 4; do
    printf 'Received: from mail-sor-f%d.google.com (mail-sor-f%d.google.com. [209.85.220.%d])
' "$i" "$i" "$i"
    printf '        by mx.google.com with SMTPS id a%d-20020a170902
' "$i"
    printf '        for <sender@bench.example>; Mon, 30 Nov 2026 07:00:0%d -0800 (PST)
' "$i"
  done
  printf 'ARC-Seal: i=1; a=rsa-sha256; t=1764500000; cv=none; d=google.com; s=arc-20240605;
'
  printf '        b=Qm9ndXNBcmNTZWFsU2lnbmF0dXJlRm9yVGhlQmVuY2htYXJrT25seUFBQUFBQUFBQUFB
'
  printf 'ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=google.com;
'
  printf '        h=to:subject:message-id:date:from:mime-version; bh=Ym9kaGFzaA==; b=QUJD
'
  printf 'ARC-Authentication-Results: i=1; mx.google.com; dkim=pass header.i=@bench.example
'
  printf 'Return-Path: <sender@bench.example>
'
  printf 'Received-SPF: pass (google.com: domain of sender@bench.example designates 192.0.2.10 as permitted sender) client-ip=192.0.2.10;
'
  printf 'Authentication-Results: mx.google.com; dkim=pass header.i=@bench.example; spf=pass smtp.mailfrom=sender@bench.example; dmarc=pass (p=NONE) header.from=bench.example
'
  printf 'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=bench.example; s=20230601;
'
  printf '        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject:date:message-id:reply-to;
'
  printf '        bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=YmVuY2htYXJrIHNpZ25hdHVyZQ==
'
  printf 'X-Google-DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=1e100.net; s=20230601; b=eA==
'
  printf 'X-Gm-Message-State: AOJu0YwBenchmarkStateValueOnlyForTheBenchmarkAAAAAAAAAAAAAA
'
  printf 'X-Google-Smtp-Source: AGHT+IFBenchmarkSourceValueOnlyForTheBenchmarkAAAAAAAAAAAA
'
  printf 'X-Received: by 2002:a17:902:e5c2:b0:1d4:3c57:1234 with SMTP id u2mr1.1764500000000;
'
  printf '        Mon, 30 Nov 2026 07:00:00 -0800 (PST)
'
  printf 'List-Unsubscribe: <mailto:unsubscribe@bench.example>, <https://bench.example/u>
'
  printf 'List-Unsubscribe-Post: List-Unsubscribe=One-Click
'
  printf 'Feedback-ID: bench:campaign:gmail
'
  printf 'Precedence: bulk
'
  printf 'Reply-To: Bench Sender <sender@bench.example>
'
  printf 'Thread-Topic: mailwarden benchmark
'
}
for kind in $KINDS; do
  { provider_header; cat "$EML/$kind.eml"; } >"$EML/$kind.with-header.eml"
  mv "$EML/$kind.with-header.eml" "$EML/$kind.eml"
done

PORT_WITHOUT=$BASE_PORT
PORT_WITH=$((BASE_PORT + 1))
PORT_EGRESS=$((BASE_PORT + 2))
start_mailwarden "$PORT_WITHOUT" without "\"$SRC/rules/default.yaml\"" || exit 1
start_mailwarden "$PORT_WITH" with \
  "\"$SRC/rules/default.yaml\", \"$SRC/rules/forwarding.yaml\"" "$PORT_EGRESS" || exit 1

echo "forwarding rules: concurrency $CONCURRENCY, one message per connection, $DURATION s" \
  "per run, $ROUNDS round(s) of without / with the forwarding rules per kind"
echo "machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-30s %8s %9s %8s %9s %9s %6s  %s\n' run msgs msg/s MB/s p50ms p99ms errors verdicts
envelope=(--from sender@bench.example --rcpt alice@bacgiang.gov.vn --rcpt bob@bacgiang.gov.vn)
rc=0
for kind in $KINDS; do
  file="$EML/$kind.eml"
  warm=(--warmup "$CONCURRENCY" --concurrency "$CONCURRENCY" --duration "$DURATION"
        "${envelope[@]}" "$file")
  for round in $(seq 1 "$ROUNDS"); do
    run_bench "$kind without #$round" "$kind" without "inet:127.0.0.1:$PORT_WITHOUT" "${warm[@]}" || rc=1
    run_bench "$kind with #$round" "$kind" with "inet:127.0.0.1:$PORT_WITH" "${warm[@]}" || rc=1
  done
  run_bench "$kind egress" "$kind" egress "inet:127.0.0.1:$PORT_EGRESS" "${warm[@]}" || rc=1
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "summary (msg/s = all messages of the kind's runs / their summed time)"
printf '%-9s %10s %10s %8s  %s %10s\n' kind without with ratio target egress
for kind in $KINDS; do
  awk -v kind="$kind" '
    $1 == kind { m[$2] += $3; t[$2] += $4 }
    END {
      a = t["without"] ? m["without"] / t["without"] : 0
      b = t["with"] ? m["with"] / t["with"] : 0
      e = t["egress"] ? m["egress"] / t["egress"] : 0
      r = a ? 100 * b / a : 0
      printf "%-9s %10.1f %10.1f %7.1f%%  %s %10.1f\n", kind, a, b, r,
        (r >= 90 ? ">= 90%: met" : ">= 90%: NOT met"), e
    }' "$WORK/rows"
done
if awk '$NF !~ /^accept:[0-9]+$/ {bad = 1} END {exit !bad}' "$WORK/rows"; then
  echo "WARNING: verdicts other than accept (see the verdicts column)"
fi
exit "$rc"
