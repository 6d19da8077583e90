#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for
# a bounded time (FUZZ_SECONDS, default 20) from its seed corpus, through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build-fuzz "${generator[@]}" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
  -DMAILWARDEN_FUZZ=ON -DMAILWARDEN_BENCH=OFF -DMAILWARDEN_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target policy_request_fuzz config_fuzz mime_parser_fuzz archive_fuzz \
  tnef_fuzz arj_fuzz content_fuzz milter_session_fuzz text_extract_fuzz spam_fuzz
# One fuzzer per core: each is single-threaded.
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j "$(nproc)"
