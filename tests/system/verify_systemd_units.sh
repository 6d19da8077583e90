#!/usr/bin/env bash
# Verifies the shipped systemd units with systemd-analyze: syntax, known directives, and
# that the hardening settings are present. The units name /usr/sbin binaries; a copy with
# the paths of this build is verified, since the binaries are not installed here.
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
for unit in mailwarden-milter.service mailwarden-policyd.service; do
  sed -e "s|/usr/sbin/mailwarden-milter|$milter|g" -e "s|/usr/sbin/mailwarden-policyd|$policyd|g" \
    "$src/systemd/$unit" > "$tmp/$unit"
  if ! out=$(systemd-analyze verify "$tmp/$unit" 2>&1); then
    echo "$unit: systemd-analyze verify failed:"; echo "$out"; status=1
  elif [ -n "$out" ]; then
    # verify exits 0 on some warnings; any output is a finding to fix.
    echo "$unit: systemd-analyze verify reported:"; echo "$out"; status=1
  else
    echo "$unit: verify ok"
  fi
  for directive in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes RuntimeDirectory= \
      'CapabilityBoundingSet=$' RestrictAddressFamilies= SystemCallFilter= ProtectHome=yes; do
    if ! grep -qE "^$directive" "$src/systemd/$unit"; then
      echo "$unit: missing hardening directive $directive"; status=1
    fi
  done
done
exit $status
