#!/usr/bin/env bash
# Verifies the shipped systemd units with systemd-analyze: syntax, known directives, and
# that the hardening settings each unit needs are present; and the tmpfiles.d file, by
# creating its directories under a scratch root (modes and owners as shipped). The units
# name /usr/sbin binaries; a copy with the paths of this build is verified, since the
# binaries are not installed here.
# Usage: verify_systemd_units.sh SOURCE_DIR MILTER_BIN POLICYD_BIN
set -euo pipefail
src=$1 milter=$2 policyd=$3
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not installed: skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# The hardening the daemons need (they listen, so they keep AF_INET).
daemon_directives=(NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes RuntimeDirectory=
  'CapabilityBoundingSet=$' RestrictAddressFamilies= SystemCallFilter= ProtectHome=yes)
# The classifier's one-shot runs as mailwarden (the report learner, the monthly expiry):
# no network, and only the store's directory (and the spool) writable.
oneshot_directives=(Type=oneshot User=mailwarden NoNewPrivileges=yes ProtectSystem=strict
  PrivateTmp=yes ProtectHome=yes 'CapabilityBoundingSet=$' 'RestrictAddressFamilies=AF_UNIX$'
  'SystemCallFilter=@system-service$' 'ReadWritePaths=(.* )?/var/lib/mailwarden( |$)')
train_directives=("${oneshot_directives[@]}"
  'ReadWritePaths=(.* )?/var/spool/mailwarden/reports( |$)'
  'ExecStart=/usr/sbin/mailwarden-milter train --spool /var/spool/mailwarden/reports --quiet$')
expire_directives=("${oneshot_directives[@]}"
  'ExecStart=/usr/sbin/mailwarden-milter train --expire [0-9]+ --quiet$')
timer_directives=('OnCalendar=' 'Persistent=yes' 'Unit=mailwarden-train-expire.service$'
  'WantedBy=timers.target$')
path_directives=('PathExistsGlob=/var/spool/mailwarden/reports/spam/new/\*$'
  'PathExistsGlob=/var/spool/mailwarden/reports/ham/new/\*$'
  'Unit=mailwarden-train-reports.service$' 'WantedBy=')

units=(mailwarden-milter.service mailwarden-policyd.service
  mailwarden-train-reports.service mailwarden-train-reports.path
  mailwarden-train-expire.service mailwarden-train-expire.timer)
for unit in "${units[@]}"; do
  sed -e "s|/usr/sbin/mailwarden-milter|$milter|g" -e "s|/usr/sbin/mailwarden-policyd|$policyd|g" \
    "$src/systemd/$unit" > "$tmp/$unit"
done
for unit in "${units[@]}"; do
  # A .path or .timer unit is verified with the service it starts, found next to it.
  if ! out=$(cd "$tmp" && systemd-analyze verify "$tmp/$unit" 2>&1); then
    echo "$unit: systemd-analyze verify failed:"; echo "$out"; status=1
  elif [ -n "$out" ]; then
    # verify exits 0 on some warnings; any output is a finding to fix.
    echo "$unit: systemd-analyze verify reported:"; echo "$out"; status=1
  else
    echo "$unit: verify ok"
  fi
  case $unit in
    mailwarden-train-reports.service) directives=("${train_directives[@]}") ;;
    mailwarden-train-reports.path) directives=("${path_directives[@]}") ;;
    mailwarden-train-expire.service) directives=("${expire_directives[@]}") ;;
    mailwarden-train-expire.timer) directives=("${timer_directives[@]}") ;;
    *) directives=("${daemon_directives[@]}") ;;
  esac
  for directive in "${directives[@]}"; do
    if ! grep -qE "^$directive" "$src/systemd/$unit"; then
      echo "$unit: missing directive $directive"; status=1
    fi
  done
done

# tmpfiles.d: created under a scratch root whose passwd knows mailwarden.
root=$tmp/root
mkdir -p "$root/etc"
echo 'mailwarden:x:64990:64990::/nonexistent:/usr/sbin/nologin' > "$root/etc/passwd"
echo 'mailwarden:x:64990:' > "$root/etc/group"
if ! out=$(systemd-tmpfiles --create --root="$root" "$src/systemd/mailwarden.tmpfiles.conf" 2>&1)
then
  echo "mailwarden.tmpfiles.conf: systemd-tmpfiles failed:"; echo "$out"; status=1
elif [ -n "$out" ]; then
  echo "mailwarden.tmpfiles.conf: systemd-tmpfiles reported:"; echo "$out"; status=1
else
  spool=$root/var/spool/mailwarden/reports
  for dir in "$spool/spam/tmp" "$spool/spam/new" "$spool/ham/tmp" "$spool/ham/new"; do
    got=$(stat -c '%a %u %g' "$dir" 2>/dev/null || echo missing)
    if [ "$got" != "3733 64990 64990" ]; then
      echo "mailwarden.tmpfiles.conf: ${dir#"$root"} is '$got', not '3733 mailwarden mailwarden'"
      status=1
    fi
  done
  [ $status -ne 0 ] || echo "mailwarden.tmpfiles.conf: ok"
fi
exit $status
