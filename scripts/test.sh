#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: unit tests on the release
# build; the libFuzzer targets for a bounded time (clang); then unit, integration (a
# private Postfix on loopback, the real daemons, swaks), bench smoke and system tests on
# the AddressSanitizer + UBSan build. Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

# Runs a step with its output in a log: the log's tail when it passes, all of it when not.
step() {
  local name=$1; shift
  local log
  log=$(mktemp "/tmp/mailwarden-$name.XXXXXX.log")
  echo "== $name"
  if ! "$@" > "$log" 2>&1; then
    cat "$log"
    echo "== $name FAILED (log: $log)"
    exit 1
  fi
  tail -n 4 "$log"
}

step install-deps scripts/install-deps.sh
step build-release scripts/build.sh release
step unit-release ctest --test-dir build -L unit --output-on-failure -j "$(nproc)"
step fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-20}" scripts/fuzz.sh
step build-asan scripts/build.sh asan
# halt_on_error: any sanitizer report fails the test that caused it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== all tests (AddressSanitizer + UBSan build)"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 600
