#!/usr/bin/env bash
# Configures and builds mailwarden.
#   scripts/build.sh [release|debug|asan]   (default release)
# release -> build/, debug -> build-debug/, asan -> build-asan/ (AddressSanitizer +
# UndefinedBehaviorSanitizer, what the test suite runs under).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build;       flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug)   dir=build-debug; flags=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan)    dir=build-asan;  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILWARDEN_SANITIZE=ON) ;;
  *) echo "usage: $0 [release|debug|asan]" >&2; exit 2 ;;
esac
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" "${generator[@]}" "${flags[@]}"
else
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
echo "build.sh: $kind build in $dir/"
