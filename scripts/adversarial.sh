#!/usr/bin/env bash
# Generate the adversarial captures (examples/gen_adversarial.rs) and audit each one: exit code,
# wall time, peak RSS and the warnings the report gives (what was dropped and why).
#
# Usage: scripts/adversarial.sh [DIR=/tmp/egressmap-adversarial] [--small]
# Needs: jq, /usr/bin/time.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/tmp/egressmap-adversarial}
small=${2:-}
cd "$root"
cargo build --release --quiet --example gen_adversarial && cargo build --release --quiet || exit 2
[ -f "$dir/syn_flood.pcap" ] && [ "${REUSE:-0}" = 1 ] || target/release/examples/gen_adversarial "$dir" $small >/dev/null || exit 2
printf '| capture | size | exit | wall (s) | peak RSS (MiB) | report warnings |\n|---|---|---|---|---|---|\n'
for f in "$dir"/*.pcap "$dir"/*.pcapng; do
    [ -f "$f" ] || continue
    /usr/bin/time -f "%e %M" -o "$dir/.time" target/release/egressmap audit -q -j1 "$f" \
        --report json -o "$dir/.report.json" 2>/dev/null
    rc=$?
    read -r wall rss < <(tail -n 1 "$dir/.time")
    w=$(jq -r '.warnings // [] | join("; ")' "$dir/.report.json" 2>/dev/null | sed "s#$dir/##g")
    size=$(du -h "$f" | cut -f1)
    printf '| %s | %s | %s | %s | %d | %s |\n' "$(basename "$f")" "$size" "$rc" "$wall" \
        $((rss / 1024)) "${w:--}"
done
