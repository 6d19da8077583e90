#!/usr/bin/env bash
# pyflakes over every Python file of the project: the test fixtures, the benchmark drivers and
# the scripts are only run on the paths a test takes, so a name left undefined on another
# path (a service's kill after a refactor, say) would otherwise surface only when that path
# is first taken. Any report fails.
set -euo pipefail
root=${1:?usage: check_python.sh SOURCE_DIR}
if ! command -v pyflakes3 > /dev/null; then
  echo "check_python: pyflakes3 is missing (Debian: apt-get install pyflakes3)" >&2
  exit 1
fi
mapfile -d '' files < <(find "$root" \( -name 'build*' -o -name '.git' -o -name node_modules \) \
                             -prune -o -name '*.py' -type f -print0 | sort -z)
echo "check_python: ${#files[@]} files"
pyflakes3 "${files[@]}"
