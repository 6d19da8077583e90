#!/usr/bin/env bash
# Runs mailwarden-milter and mailwarden-policyd in front of a private Postfix instance on
# loopback (smtpd 127.0.0.1:2525 when free) and prints swaks commands to try: a clean
# message (250), an oversize one (552 5.3.4), a blocklisted sender (5.7.1).  Installs the
# dependencies and builds first (both steps are quick when already done).
# Ctrl-C stops everything it started; the run directory (default /tmp/mailwarden-demo) keeps
# the decision log and Postfix's log.  The host's own Postfix configuration is not touched.
#
# Options (see scripts/demo.py --help): --run-dir DIR, --smtpd-port N, --sink-port N,
# --milter-port N, --policyd-port N, --check (run the scenarios itself and exit 0/1).
# MW_MILTER_BIN / MW_POLICYD_BIN select other binaries (default: build/...).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root: it starts a private Postfix instance (try: sudo $0)" >&2
  exit 1
fi
PATH="$PATH:/usr/sbin:/sbin"
if [ -z "${MW_MILTER_BIN:-}" ]; then
  "$repo/scripts/install-deps.sh"
  "$repo/scripts/build.sh" release
fi
missing=()
for tool in postfix smtp-sink swaks python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "demo: missing ${missing[*]}; run scripts/install-deps.sh" >&2
  exit 1
fi

export MW_MILTER_BIN="${MW_MILTER_BIN:-$repo/build/milter/mailwarden-milter}"
export MW_POLICYD_BIN="${MW_POLICYD_BIN:-$repo/build/policyd/mailwarden-policyd}"
export PYTHONDONTWRITEBYTECODE=1
exec python3 "$repo/scripts/demo.py" "$@"
