#!/usr/bin/env bash
# Run `egressmap audit FILE` (default options, --strict off) over every fixture and every capture
# of the shared corpus, one file at a time, and print a table: file, exit code, warnings (from
# the JSON report), and a summary of exit codes.
#
# Usage: scripts/audit_all.sh [BINARY]   (default target/release/egressmap)
# Env: EGRESSMAP_CORPUS (default ../shared/corpus beside the project). Needs jq.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/release/egressmap}
corpus=${EGRESSMAP_CORPUS:-$root/../shared/corpus}
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 2; }
files=("$root"/fixtures/*.pcap "$root"/fixtures/*.pcapng)
if [ -d "$corpus/pcaps" ]; then
    files+=("$corpus"/pcaps/*)
else
    echo "note: $corpus/pcaps not found, fixtures only" >&2
fi
declare -A codes
printf '%-70s %4s  %s\n' file exit warnings
for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    json=$("$bin" audit "$f" --report json 2>/dev/null)
    rc=$?
    codes[$rc]=$(( ${codes[$rc]:-0} + 1 ))
    # Warnings name the file by its full path: shorten to the base name for the table.
    w=$(printf '%s' "$json" | jq -r '.warnings // [] | join(" | ")' 2>/dev/null \
        | sed "s#$(dirname "$f")/##g")
    printf '%-70s %4s  %s\n' "$(basename "$f")" "$rc" "${w:--}"
done
echo
echo "exit codes (0 ok, 1 partial, 3 failed, 4 output):"
for c in "${!codes[@]}"; do echo "  $c: ${codes[$c]} files"; done | sort
