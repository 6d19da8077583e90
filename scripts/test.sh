#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: unit tests on the release
# build, then unit, integration (a private Postfix on loopback, the real daemons, swaks)
# and system tests on the AddressSanitizer + UBSan build. Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
ctest --test-dir build -L unit --output-on-failure -j "$(nproc)" | tail -n 3
scripts/build.sh asan
# halt_on_error: any sanitizer report fails the test that caused it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 600
