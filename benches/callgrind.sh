#!/usr/bin/env bash
# Where the instructions go, per stage, for `egressmap audit -j1` on a generated capture
# (callgrind counts instructions exactly, so the figures do not depend on machine load).
#
#   benches/callgrind.sh [SIZE=30MiB] [DIR=/tmp/egressmap-bench]
#
# Needs: apt-get install -y valgrind
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-30MiB}
DIR=${2:-/tmp/egressmap-bench}
mkdir -p "$DIR"
CAP="$DIR/traffic-$SIZE.pcap"
cargo build --release --quiet
cargo build --release --quiet --example gen_traffic
[ -f "$CAP" ] || target/release/examples/gen_traffic --size "$SIZE" --out "$CAP" --seed 1 >/dev/null
OUT="$DIR/callgrind.out"
[ -f "$OUT" ] && [ "${REUSE:-0}" = 1 ] || valgrind --tool=callgrind --callgrind-out-file="$OUT" \
    target/release/egressmap audit -q -j1 --flows /dev/null --report json -o "$DIR/cg.json" "$CAP" 2>/dev/null
PACKETS=$(python3 -c "import json;print(json.load(open('$DIR/cg.json'))['totals']['packets_read'])")
callgrind_annotate --inclusive=yes --threshold=100 "$OUT" > "$DIR/callgrind.txt" 2>/dev/null
FLOWS=$(python3 -c "import json;print(json.load(open('$DIR/cg.json'))['totals']['flows_seen'])")
python3 - "$DIR/callgrind.txt" "$PACKETS" "$FLOWS" <<'PY'
import re, sys
text = open(sys.argv[1]).read().splitlines()
pk = int(sys.argv[2])
incl = {}
total = None
for l in text:
    m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S.*)$", l)
    if not m:
        m2 = re.match(r"\s*([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", l)
        if m2: total = int(m2.group(1).replace(",", ""))
        continue
    n = int(m.group(1).replace(",", "")); f = m.group(2)
    incl.setdefault(f, n)
    if "PROGRAM TOTALS" in f: total = n
def find(*pats):
    best = 0
    for f, n in incl.items():
        if all(p in f for p in pats): best = max(best, n)
    return best
total = total or max(incl.values())
def key(pat):
    """Largest inclusive count of an entry whose 'file:function' contains pat (callgrind lists
    inlined code under the file it came from, so a stage can appear under its caller)."""
    return find(pat)
worker = key("src/pipeline.rs:std::sys::backtrace::__rust_begin_short_backtrace")
process = key("/work/main/src/engine.rs:egressmap::engine::Engine::process")
flows = int(sys.argv[3])
stages = [
    ("whole run", total, "run"),
    ("startup: signature database (JSON) + aho-corasick DFA build", key("Database::builtin") + key("/work/main/src/signatures/matcher.rs:egressmap::signatures::matcher::Matcher::new"), "run"),
    ("worker loop: capture reader (mmap records) outside the engine", max(worker - process, 0), "pkt"),
    ("Engine::process (everything per packet below)", process, "pkt"),
    ("  decode: link + IP + transport headers", key("src/decode/mod.rs:egressmap::engine::Engine::process"), "pkt"),
    ("  flow table: hash lookup / insert", key("/work/main/src/flow/table.rs:egressmap::flow::table::FlowTable::lookup"), "pkt"),
    ("  flow table: expiry sweep", key("/work/main/src/flow/table.rs:egressmap::flow::table::FlowTable::sweep"), "pkt"),
    ("  DNS (parse + resolver)", key("src/engine.rs:egressmap::engine::handle_dns"), "pkt"),
    ("  TLS ClientHello parse", key("/work/main/src/proto/tls.rs:egressmap::proto::tls::parse_client_hello"), "pkt"),
    ("  QUIC Initial: keys, decrypt, CRYPTO, ClientHello", key("/work/main/src/proto/quic.rs:egressmap::proto::quic::QuicState::client_datagram"), "pkt"),
    ("per ended flow: match + aggregate + flow log line", key("/work/main/src/cli/audit.rs:egressmap::cli::audit::run::{{closure}}"), "flow"),
    ("  signature match (cached per name)", key("/work/main/src/signatures/matcher.rs:egressmap::signatures::matcher::Matcher::lookup_chain"), "flow"),
    ("  report aggregation", key("/work/main/src/report/aggregate.rs:egressmap::report::aggregate::Aggregator::add"), "flow"),
    ("  flow log record (timestamps, JSON)", key("/work/main/src/report/flowlog.rs:egressmap::report::flowlog::FlowRecord::new") + key("serde_json-1.0.154/src/ser.rs:egressmap::cli::audit::run::{{closure}}"), "flow"),
]
print(f"callgrind: {pk} packets, {flows} flows\n")
print("| stage | instructions (inclusive) | per packet | per flow | share of run |")
print("|---|---|---|---|---|")
for name, n, unit in stages:
    pp = f"{n/pk:.0f}" if unit == "pkt" else ""
    pf = f"{n/flows:.0f}" if unit == "flow" else ""
    print(f"| {name} | {n:,} | {pp} | {pf} | {100*n/total:.1f}% |")
PY
