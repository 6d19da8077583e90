#!/usr/bin/env bash
# End-to-end throughput through a private Postfix on loopback: no milter, the stock null
# milter (mw-null-milter) and mailwarden-milter (the shipped rules/default.yaml), alternating
# in the same run. See bench/postfix_bench.py for what is measured; needs root, postfix,
# smtp-source and smtp-sink (Debian: postfix).
#
# usage: bench/run-postfix-bench.sh BUILD_DIR [postfix_bench.py options]
#   e.g. bench/run-postfix-bench.sh build --messages 3000 --sessions 16 --length 4096 --rounds 3
#
# Environment: MW_MILTER_BIN (default BUILD_DIR/milter/mailwarden-milter),
# MW_NULL_MILTER_BIN (default BUILD_DIR/bench/mw-null-milter),
# MWLAB_TMPDIR (where the lab directory goes, default /tmp), MWLAB_KEEP=1 (keep it).
set -euo pipefail
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
BUILD="$1"
shift
export MW_MILTER_BIN="${MW_MILTER_BIN:-$BUILD/milter/mailwarden-milter}"
if [ ! -x "$MW_MILTER_BIN" ]; then
  echo "run-postfix-bench: no mailwarden-milter at $MW_MILTER_BIN" >&2
  exit 2
fi
MW_MILTER_BIN="$(realpath "$MW_MILTER_BIN")"
export MW_NULL_MILTER_BIN="${MW_NULL_MILTER_BIN:-$BUILD/bench/mw-null-milter}"
if [ ! -x "$MW_NULL_MILTER_BIN" ]; then
  echo "run-postfix-bench: no mw-null-milter at $MW_NULL_MILTER_BIN" >&2
  exit 2
fi
MW_NULL_MILTER_BIN="$(realpath "$MW_NULL_MILTER_BIN")"
exec timeout 1800 python3 "$(dirname "$0")/postfix_bench.py" "$@"
