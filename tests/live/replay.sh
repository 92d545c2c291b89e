#!/usr/bin/env bash
# Load and soak runs for `egressmap capture`: a veth pair inside a private network namespace,
# tcpreplay sending a capture file into one end, egressmap capturing on the other. Samples the
# capture's resident memory and its latest report.json every SAMPLE seconds.
# Needs root, tcpreplay, ethtool. Nothing leaves the namespace.
#
# usage: tests/live/replay.sh PCAP SECONDS OUTDIR [--topspeed | --mbps N]
# env:   EGRESSMAP (binary; default target/release/egressmap), REPORT_EVERY (default 10s),
#        SAMPLE (seconds between samples, default 10), KILL9=1 (end with kill -9, not SIGINT),
#        THREADS (egressmap -j), KILL_AT=S (with KILL9=1: kill -9 the capture S seconds in,
#        while the replay still runs).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
pcap="$1" secs="$2" outdir="$3"
shift 3
rate=("${@:---topspeed}")
bin="${EGRESSMAP:-$here/../../target/release/egressmap}"
report_every="${REPORT_EVERY:-10s}"
sample="${SAMPLE:-10}"
ns="emreplay$$"
# shellcheck source=veth.sh
. "$here/veth.sh"

mkdir -p "$outdir"
chmod 0755 "$outdir"
out="$outdir/reports"
mkdir -p "$out"
chmod 0750 "$out"
chown nobody "$out"

veth_up

threads=()
[ -n "${THREADS:-}" ] && threads=(-j "$THREADS")
ip netns exec "$ns" "$bin" capture -i rp1 --report-every "$report_every" --out "$out" \
    --report table "${threads[@]}" >"$outdir/capture.log" 2>&1 &
cap=$!
wait_first_report "$out/report.json"

start=$(date +%s)
ip netns exec "$ns" tcpreplay -i rp0 "${rate[@]}" --loop 100000 --duration "$secs" -K "$pcap" \
    >"$outdir/tcpreplay.log" 2>&1 &
replay=$!

samples="$outdir/samples.tsv"
printf 't_s\trss_kib\tpeak_rss_bytes\tpackets_received\tkernel_dropped\tqueue_dropped\tflows\tjson_ok\n' >"$samples"
while kill -0 "$replay" 2>/dev/null; do
    sleep "$sample"
    t=$(($(date +%s) - start))
    rss=$(ps -o rss= -p "$cap" 2>/dev/null | tr -d ' ' || echo 0)
    python3 - "$out/report.json" "$t" "${rss:-0}" >>"$samples" <<'PY' || printf '%s\t%s\t-\t-\t-\t-\t-\tINVALID\n' "$t" "${rss:-0}" >>"$samples"
import json, sys
path, t, rss = sys.argv[1:4]
with open(path) as f:
    r = json.load(f)
c = r["capture"]
print(f"{t}\t{rss}\t{c['peak_rss_bytes']}\t{c['packets_received']}\t{c['kernel_dropped']}\t{c['queue_dropped']}\t{r['totals']['flows']}\tok")
PY
    tail -1 "$samples"
    if [ "${KILL9:-}" = 1 ] && [ -n "${KILL_AT:-}" ] && [ "$t" -ge "$KILL_AT" ]; then break; fi
done
if [ "${KILL9:-}" = 1 ] && kill -0 "$replay" 2>/dev/null; then
    echo "--- kill -9 the capture at t=$(($(date +%s) - start))s, replay still running"
    cp "$out/report.json" "$outdir/before-kill.json" 2>/dev/null || true
    kill -9 "$cap"
    wait "$cap" 2>/dev/null || true
    cap=""
    kill -INT "$replay" 2>/dev/null || true
fi
wait "$replay" || true
replay=""
echo "--- tcpreplay"
cat "$outdir/tcpreplay.log"
if [ "${KILL9:-}" = 1 ]; then
    if [ -n "$cap" ]; then
        cp "$out/report.json" "$outdir/before-kill.json" 2>/dev/null || true
        kill -9 "$cap"
        wait "$cap" 2>/dev/null || true
        cap=""
    fi
    echo "--- killed with SIGKILL; last snapshot:"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("valid JSON; capture:", r["capture"])' "$out/report.json"
    "$bin" report "$out/report.json" --report table >"$outdir/report-after-kill.txt"
    echo "egressmap report loads it: $(wc -l <"$outdir/report-after-kill.txt") lines"
    ls -la "$out"
else
    kill -INT "$cap"
    rc=0
    wait "$cap" || rc=$?
    cap=""
    echo "--- capture exited $rc"
    cat "$outdir/capture.log"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r["capture"], indent=1)); print("flows", r["totals"]["flows"], "packets_read", r["totals"]["packets_read"])' "$out/report.json"
fi
