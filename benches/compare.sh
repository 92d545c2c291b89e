#!/usr/bin/env bash
# Throughput and memory of `egressmap audit` against its peers, on the same generated capture,
# in the same run, paired: RUNS rounds, each running every tool once in a rotated order; prints
# the markdown table of BENCHMARKS.md (median wall and CPU per tool, and each tool's time as a
# ratio to egressmap's in the same round, median over the rounds) and checks the five targets of
# the speed issue. egressmap runs with its default thread count, --threads 1 and --threads 2.
#
#   benches/compare.sh [SIZE=1GiB] [RUNS=5] [DIR=/tmp/egressmap-bench]
#   PEERS=0 benches/compare.sh 4GiB 3     # egressmap only (memory on a bigger capture)
#   TSHARK_RUNS=5 PROFILE=ci benches/compare.sh   # tshark in every round; the ci profile's build
#
# Needs: apt-get install -y libndpi-bin tshark tcpdump time; suricata (-t bookworm-backports)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1GiB}
RUNS=${2:-5}
DIR=${3:-/tmp/egressmap-bench}
PEERS=${PEERS:-1}
mkdir -p "$DIR"
CAP="$DIR/traffic-$SIZE.pcap"
# PROFILE=ci reuses the test command's build when a release build is too slow to wait for: a
# check that the script runs end to end, not figures to quote (the ci profile builds egressmap
# at -O0 without LTO since issue 17). BENCHMARKS.md's figures are the release profile's.
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" --quiet
cargo build --profile "$PROFILE" --quiet --example gen_traffic
[ -f "$CAP" ] || "target/$PROFILE/examples/gen_traffic" --size "$SIZE" --out "$CAP" --seed 1
cat "$CAP" > /dev/null # page cache warm
BIN=target/$PROFILE/egressmap
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

# The tools, each `NAME|COMMAND` (run through bash). Paired: every round runs every tool once,
# in an order rotated by one each round, so a burst of load from elsewhere on a shared machine
# lands on all tools alike; ratios are taken within each round, then their median is quoted.
SURI="$DIR/suricata-logs"
tools=(
    "egressmap-default|$BIN audit -q --flows /dev/null $CAP"
    "egressmap-1-thread|$BIN audit -q --threads 1 --flows /dev/null $CAP"
    "egressmap-2-threads|$BIN audit -q --threads 2 --flows /dev/null $CAP"
    "egressmap-1-thread-no-quic|$BIN audit -q --threads 1 --no-quic --flows /dev/null $CAP"
)
if [ "$PEERS" = 1 ]; then
    tools+=(
        "tcpdump-read-floor|tcpdump -nr $CAP -w /dev/null"
        "ndpiReader|ndpiReader -q -i $CAP"
        # No rules (-S /dev/null), no checksum checks: flow tracking, app-layer parsing and
        # eve.json (flow, tls, dns, http, quic events), which is what the audit needs from it.
        "suricata-single|rm -rf $SURI && mkdir -p $SURI && suricata -r $CAP -l $SURI -k none --runmode single -S /dev/null"
        "suricata-autofp|rm -rf $SURI && mkdir -p $SURI && suricata -r $CAP -l $SURI -k none -S /dev/null"
    )
fi
# tshark takes ~85 s a run on 1 GiB: TSHARK_RUNS rounds only (default 1), still paired.
TSHARK_RUNS=${TSHARK_RUNS:-1}
[ "$PEERS" = 1 ] && tools+=("tshark-fields|tshark -r $CAP -T fields -e tls.handshake.extensions_server_name -e http.host -e dns.qry.name")

RAW="$DIR/raw-$SIZE"
: > "$RAW"
n=${#tools[@]}
for round in $(seq "$RUNS"); do
    for k in $(seq 0 $((n - 1))); do
        entry=${tools[$(((k + round - 1) % n))]}
        name=${entry%%|*}
        cmd=${entry#*|}
        if [ "$name" = tshark-fields ] && [ "$round" -gt "$TSHARK_RUNS" ]; then continue; fi
        /usr/bin/time -f "%e %M %U %S" -o "$DIR/time" bash -c "$cmd" >/dev/null 2>&1 || true
        read -r w m u sy < "$DIR/time"
        echo "$round $name $w $m $u $sy" >> "$RAW"
    done
    echo "round $round of $RUNS done" >&2
done
rm -rf "$SURI"

python3 - "$RAW" "$PACKETS" "$CAP" "$SAME" "$(cut -d' ' -f1-3 /proc/loadavg)" "$PROFILE" <<'PY'
import os, statistics, sys
from collections import defaultdict
pk = int(sys.argv[2]); size = os.path.getsize(sys.argv[3]); same = sys.argv[4]
runs = defaultdict(dict)   # tool -> round -> (wall, rss KiB, cpu s)
order = []
for line in open(sys.argv[1]):
    rnd, name, w, m, u, s = line.split()
    if name not in order:
        order.append(name)
    runs[name][int(rnd)] = (float(w), int(m), float(u) + float(s))
med = statistics.median
def wall(name): return med(v[0] for v in runs[name].values())
def paired(name, base):
    # median over the rounds both ran of name's time / base's time
    rs = [runs[name][r][0] / runs[base][r][0] for r in runs[name] if r in runs[base] and runs[base][r][0] > 0]
    return med(rs) if rs else float("nan")
e1 = wall("egressmap-1-thread")
nr = max(len(v) for v in runs.values())
print(f"capture: {sys.argv[3]} ({size/2**30:.2f} GiB, {pk} packets), {nr} paired rounds, profile {sys.argv[6]}, load at end {sys.argv[5]}\n")
print("| tool | median wall (s) | runs (s) | median cpu (s) | packets/s | time vs egressmap --threads 1 (paired median) | time vs egressmap default (paired median) | peak RSS (MiB) |")
print("|---|---|---|---|---|---|---|---|")
for name in order:
    v = runs[name]; w = wall(name)
    walls = ",".join(f"{v[r][0]:.2f}" for r in sorted(v))
    cpu = med(x[2] for x in v.values()); rss = max(x[1] for x in v.values())
    print(f"| {name} | {w:.2f} | {walls} | {cpu:.2f} | {pk/w/1e6:.2f} M | {paired(name, 'egressmap-1-thread'):.2f}x | {paired(name, 'egressmap-default'):.2f}x | {rss/1024:.0f} |")
print()
def target(name, ok, detail):
    print(f"| {name} | {'met' if ok else 'MISSED'} | {detail} |")
print("| target | result | measured (paired medians) |\n|---|---|---|")
if "ndpiReader" in runs:
    r = paired("ndpiReader", "egressmap-1-thread")
    target("1a. >= 3x ndpiReader packets/s (1 thread)", r >= 3, f"{r:.2f}x")
    r = paired("tshark-fields", "egressmap-1-thread")
    target("1b. >= 50x tshark fields packets/s (1 thread)", r >= 50, f"{r:.1f}x")
    r = paired("egressmap-1-thread", "tcpdump-read-floor")
    target("2. within 3x of tcpdump read floor", r <= 3, f"{r:.2f}x the floor's time")
s = 1 / paired("egressmap-2-threads", "egressmap-1-thread")
target("3. 2 threads >= 1.8x 1 thread", s >= 1.8, f"{s:.2f}x")
m = max(max(x[1] for x in runs[t].values()) for t in ("egressmap-1-thread", "egressmap-2-threads")) / 1024
target("4. peak RSS <= 128 MiB", m <= 128, f"{m:.0f} MiB (max of 1 and 2 threads)")
target("5. identical flow log and report, -j1 vs -j2", same == "yes", same)
if "suricata-single" in runs:
    print(f"\nsuricata --runmode single / egressmap --threads 1: {paired('suricata-single', 'egressmap-1-thread'):.2f}x the time;"
          f" suricata autofp / egressmap default: {paired('suricata-autofp', 'egressmap-default'):.2f}x")
q = paired("egressmap-1-thread", "egressmap-1-thread-no-quic")
print(f"QUIC parsing on / off (1 thread): {q:.2f}x the time")
PY
