#!/usr/bin/env bash
# Rewrites the expectations of the MIME golden tests (tests/data/mime/*.expected) from the
# current parser. Run it only when a change of output is intended, then review the diff:
#   scripts/regen-golden.sh [build-dir]     (default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
cmake --build "$dir" --target mime_test
MW_REGEN_GOLDEN=1 "$dir/tests/unit/mime_test" --gtest_filter='MimeGoldenTest.*'
git --no-pager diff --stat -- tests/data/mime || true
echo "regen-golden.sh: review the changes in tests/data/mime before committing"
