#!/usr/bin/env bash
# Rewrites the expectations of the golden tests from the current code: the MIME structure
# (tests/data/mime/*.expected) and the verdicts under the shipped rules
# (tests/data/verdicts/*.expected). Run it only when a change of output is intended, then review the diff:
#   scripts/regen-golden.sh [build-dir]     (default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
cmake --build "$dir" --target mime_test mailwarden-milter
MW_REGEN_GOLDEN=1 "$dir/tests/unit/mime_test" --gtest_filter='MimeGoldenTest.*'
python3 tests/verdicts/check_verdicts.py "$dir/milter/mailwarden-milter" --update
git --no-pager diff --stat -- tests/data/mime tests/data/verdicts || true
echo "regen-golden.sh: review the changes in tests/data before committing"
