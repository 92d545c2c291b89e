#!/usr/bin/env bash
# Throughput and memory of `egressmap audit` against its peers, on the same generated capture,
# in the same session. Prints a markdown table (medians of RUNS runs) for BENCHMARKS.md.
#
#   benches/compare.sh [SIZE=1GiB] [RUNS=5] [DIR=/tmp/egressmap-bench]
#
# Needs: apt-get install -y libndpi-bin tshark tcpdump time
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1GiB}
RUNS=${2:-5}
DIR=${3:-/tmp/egressmap-bench}
mkdir -p "$DIR"
CAP="$DIR/traffic-$SIZE.pcap"
cargo build --release --quiet
cargo build --release --quiet --example gen_traffic
[ -f "$CAP" ] || target/release/examples/gen_traffic --size "$SIZE" --out "$CAP" --seed 1
cat "$CAP" > /dev/null # page cache warm
PACKETS=$(target/release/egressmap audit -q -j1 "$CAP" --report json -o "$DIR/r.json" >/dev/null; python3 -c "import json;print(json.load(open('$DIR/r.json'))['totals']['packets_read'])")

# run NAME CMD...: median wall seconds and max RSS (KiB) over RUNS runs
run() {
    local name=$1; shift
    local walls=() rss=0
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$DIR/time" "$@" >/dev/null 2>&1 || true
        read -r w m < "$DIR/time"
        walls+=("$w"); [ "$m" -gt "$rss" ] && rss=$m
    done
    local med
    med=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$name $med $rss"
}

{
run "egressmap-1-thread" target/release/egressmap audit -q -j1 --flows /dev/null "$CAP"
run "egressmap-2-threads" target/release/egressmap audit -q -j2 --flows /dev/null "$CAP"
run "ndpiReader" ndpiReader -q -i "$CAP"
run "tcpdump-read-floor" tcpdump -nr "$CAP" -w /dev/null
RUNS=1 run "tshark-fields" tshark -r "$CAP" -T fields -e tls.handshake.extensions_server_name -e http.host -e dns.qry.name
} > "$DIR/results"

python3 - "$DIR/results" "$PACKETS" "$CAP" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
pk = int(sys.argv[2]); size = __import__('os').path.getsize(sys.argv[3])
t = {r[0]: (float(r[1]), int(r[2])) for r in rows}
base = t["egressmap-1-thread"][0]
print(f"capture: {sys.argv[3]} ({size/2**30:.2f} GiB, {pk} packets)\n")
print("| tool | median wall (s) | packets/s | vs egressmap 1 thread | peak RSS (MiB) |")
print("|---|---|---|---|---|")
for name, (w, rss) in t.items():
    print(f"| {name} | {w:.2f} | {pk/w/1e6:.2f} M | {w/base:.2f}x the time | {rss/1024:.0f} |")
PY
