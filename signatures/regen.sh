#!/bin/sh
# Regenerate the per-build files from Microsoft's pages (MANIFEST.tsv says which page is which
# build). Usage: signatures/regen.sh [MSDOCS_DIR]   (default ../shared/msdocs)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
docs=${1:-$here/../../shared/msdocs}
bin=${EGRESSMAP:-$here/../target/debug/egressmap}
for b in 1709 1803 1809 1903 1909 2004 20H2 21H1 21H2 11; do
  pages=$(awk -F'\t' -v b="$b" 'NR>1 && $8 != "" { split($6, a, " "); if (tolower(a[1]) == tolower(b)) print $1 }' "$docs/MANIFEST.tsv")
  set --
  for p in $pages; do set -- "$@" "$docs/$p"; done
  "$bin" signatures import "$@" --build "$b" --out "$here/$b.jsonl"
done
