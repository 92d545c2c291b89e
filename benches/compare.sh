#!/usr/bin/env bash
# Throughput and memory of `egressmap audit` against its peers, on the same generated capture,
# in the same session. Prints the markdown table of BENCHMARKS.md (medians of RUNS runs) and
# checks the five targets of the speed issue.
#
#   benches/compare.sh [SIZE=1GiB] [RUNS=5] [DIR=/tmp/egressmap-bench]
#   PEERS=0 benches/compare.sh 4GiB 3     # egressmap only (memory on a bigger capture)
#
# Needs: apt-get install -y libndpi-bin tshark tcpdump time
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1GiB}
RUNS=${2:-5}
DIR=${3:-/tmp/egressmap-bench}
PEERS=${PEERS:-1}
mkdir -p "$DIR"
CAP="$DIR/traffic-$SIZE.pcap"
cargo build --release --quiet
cargo build --release --quiet --example gen_traffic
[ -f "$CAP" ] || target/release/examples/gen_traffic --size "$SIZE" --out "$CAP" --seed 1
cat "$CAP" > /dev/null # page cache warm
BIN=target/release/egressmap
$BIN audit -q -j1 "$CAP" --report json -o "$DIR/r.json" --flows "$DIR/flows-j1.jsonl" >/dev/null
$BIN audit -q -j2 "$CAP" --report json -o "$DIR/r2.json" --flows "$DIR/flows-j2.jsonl" >/dev/null
PACKETS=$(python3 -c "import json;print(json.load(open('$DIR/r.json'))['totals']['packets_read'])")
# Target 5: the same flow log and report whatever --threads is.
if cmp -s "$DIR/flows-j1.jsonl" "$DIR/flows-j2.jsonl" && cmp -s "$DIR/r.json" "$DIR/r2.json"; then
    SAME=yes
else
    SAME=NO
fi
rm -f "$DIR/flows-j1.jsonl" "$DIR/flows-j2.jsonl"

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
    echo "$name $med $rss $(printf '%s,' "${walls[@]}")"
}

{
run "egressmap-1-thread" $BIN audit -q -j1 --flows /dev/null "$CAP"
run "egressmap-2-threads" $BIN audit -q -j2 --flows /dev/null "$CAP"
run "egressmap-1-thread-no-quic" $BIN audit -q -j1 --no-quic --flows /dev/null "$CAP"
if [ "$PEERS" = 1 ]; then
    run "tcpdump-read-floor" tcpdump -nr "$CAP" -w /dev/null
    run "ndpiReader" ndpiReader -q -i "$CAP"
    RUNS=1 run "tshark-fields" tshark -r "$CAP" -T fields -e tls.handshake.extensions_server_name -e http.host -e dns.qry.name
fi
} > "$DIR/results-$SIZE"

python3 - "$DIR/results-$SIZE" "$PACKETS" "$CAP" "$SAME" <<'PY'
import os, sys
rows = [l.split() for l in open(sys.argv[1])]
pk = int(sys.argv[2]); size = os.path.getsize(sys.argv[3]); same = sys.argv[4]
t = {r[0]: (float(r[1]), int(r[2]), r[3].rstrip(',')) for r in rows}
e1 = t["egressmap-1-thread"][0]
print(f"capture: {sys.argv[3]} ({size/2**30:.2f} GiB, {pk} packets), runs: wall seconds per run\n")
print("| tool | median wall (s) | runs (s) | packets/s | time vs egressmap 1 thread | peak RSS (MiB) |")
print("|---|---|---|---|---|---|")
for name, (w, rss, runs) in t.items():
    print(f"| {name} | {w:.2f} | {runs} | {pk/w/1e6:.2f} M | {w/e1:.2f}x | {rss/1024:.0f} |")
print()
def target(name, ok, detail):
    print(f"| {name} | {'met' if ok else 'MISSED'} | {detail} |")
print("| target | result | measured |\n|---|---|---|")
if "ndpiReader" in t:
    r = t["ndpiReader"][0] / e1
    target("1a. >= 3x ndpiReader packets/s (1 thread)", r >= 3, f"{r:.2f}x")
    r = t["tshark-fields"][0] / e1
    target("1b. >= 50x tshark fields packets/s (1 thread)", r >= 50, f"{r:.1f}x")
    r = e1 / t["tcpdump-read-floor"][0]
    target("2. within 3x of tcpdump read floor", r <= 3, f"{r:.2f}x the floor's time")
s = e1 / t["egressmap-2-threads"][0]
target("3. 2 threads >= 1.8x 1 thread", s >= 1.8, f"{s:.2f}x")
m = max(t["egressmap-1-thread"][1], t["egressmap-2-threads"][1]) / 1024
target("4. peak RSS <= 128 MiB", m <= 128, f"{m:.0f} MiB (max of 1 and 2 threads)")
target("5. identical flow log and report, -j1 vs -j2", same == "yes", same)
q = e1 / t["egressmap-1-thread-no-quic"][0]
print(f"\nQUIC parsing on / off (1 thread): {q:.2f}x the time")
PY
