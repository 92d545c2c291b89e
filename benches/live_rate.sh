#!/usr/bin/env bash
# Live capture under increasing load (issue 14): `egressmap capture -j THREADS` on one end of a
# veth pair in a private network namespace, tcpreplay sending a capture into the other end at
# each rate in turn (a fresh capture per rate). Per rate it prints what tcpreplay sent, what the
# veth delivered, what the capture counted and dropped (per cause, from its own report), how
# many flows its periodic snapshots held while the replay ran, and each of its threads' CPU
# (share of one core over the replay, from /proc/PID/task/*/stat; the thread that nears 100%
# is the one that saturates). Nothing leaves the namespace.
# Needs root, tcpreplay, ethtool, python3 and a binary built with `--features live`.
#
# usage: benches/live_rate.sh PCAP [OUTDIR]
# env:   EGRESSMAP (binary; default target/release/egressmap), THREADS (default 2),
#        RATES (space-separated tcpreplay rates: `pps:N`, `mbps:N` or `top`; default
#        "pps:2000 pps:10000 pps:50000 pps:100000 pps:200000 top"), SECS (seconds per rate,
#        default 10), REPORT_EVERY (snapshot period, default 1s).
set -euo pipefail

pcap="$1"
outdir="${2:-/tmp/egressmap-live-rate}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="${EGRESSMAP:-$here/../target/release/egressmap}"
threads="${THREADS:-2}"
rates="${RATES:-pps:2000 pps:10000 pps:50000 pps:100000 pps:200000 top}"
secs="${SECS:-10}"
report_every="${REPORT_EVERY:-1s}"
ns="emrate$$"
# The namespace, the veth pair and the teardown: shared with tests/live/replay.sh.
# shellcheck source=../tests/live/veth.sh
. "$here/../tests/live/veth.sh"

[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release --features live)" >&2; exit 2; }
"$bin" capture --help >/dev/null 2>&1 || { echo "$bin lacks the live feature" >&2; exit 2; }
mkdir -p "$outdir"
chmod 0755 "$outdir"

veth_up

# "tid utime+stime ticks" per thread of PID.
thread_ticks() {
    local t
    for t in /proc/"$1"/task/*; do
        # Fields after the parenthesised name: state is $3, utime $14, stime $15.
        awk -v tid="${t##*/}" '{ sub(/^.*\) /, ""); print tid, $12 + $13 }' "$t/stat" 2>/dev/null || true
    done
}
# rx packets and rx dropped of rp1 (what the veth delivered to the socket layer).
veth_rx() {
    ip netns exec "$ns" cat /sys/class/net/rp1/statistics/rx_packets \
        /sys/class/net/rp1/statistics/rx_dropped | paste -sd' '
}
hz=$(getconf CLK_TCK)

results="$outdir/results.tsv"
printf 'rate\tsent\tsent_pps\tveth_rx\treceived\tkernel_dropped\tinterface_dropped\tqueue_dropped\tseen_pct\tsnapshots_with_flows\tmax_snapshot_flows\tfinal_flows\tthreads_cpu_pct\tsender_cpu_pct\tload\n' >"$results"

for rate in $rates; do
    case "$rate" in
    pps:*) rate_args=(--pps "${rate#pps:}") ;;
    mbps:*) rate_args=(--mbps "${rate#mbps:}") ;;
    top) rate_args=(--topspeed) ;;
    *) echo "bad rate $rate (pps:N, mbps:N or top)" >&2; exit 2 ;;
    esac
    run="$outdir/$rate"
    rm -rf "$run"
    mkdir -p "$run/reports"
    chmod 0750 "$run/reports"
    chown nobody "$run/reports"

    ip netns exec "$ns" "$bin" capture -i rp1 -j "$threads" --report-every "$report_every" \
        --out "$run/reports" --report table >"$run/capture.log" 2>&1 &
    cap=$!
    wait_first_report "$run/reports/report.json"
    read -r rx0 rxdrop0 < <(veth_rx)
    thread_ticks "$cap" >"$run/ticks0"
    t0=$EPOCHREALTIME

    # tcpreplay's own CPU (user+sys; the veth's receive path runs in the sender's context, so
    # this includes the kernel's work delivering to the capture socket).
    ip netns exec "$ns" /usr/bin/time -f "sender_cpu %U %S" tcpreplay -i rp0 "${rate_args[@]}" --loop 1000000 --duration "$secs" "$pcap" \
        >"$run/tcpreplay.log" 2>&1 &
    replay=$!
    # Snapshots while the replay runs: flows (open and ended) in each periodic report.json.
    : >"$run/snapshots.tsv"
    while kill -0 "$replay" 2>/dev/null; do
        sleep 0.5
        python3 - "$run/reports/report.json" >>"$run/snapshots.tsv" 2>/dev/null <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
c = r["capture"]
print(f'{c["running_seconds"]:.1f}\t{r["totals"]["flows"]}\t{c.get("open_flows", 0)}\t{c["packets_received"]}')
PY
    done
    wait "$replay" || true
    replay=""
    t1=$EPOCHREALTIME
    thread_ticks "$cap" >"$run/ticks1"
    # Let the capture drain its queues before reading the veth counters and stopping it.
    sleep 1
    read -r rx1 rxdrop1 < <(veth_rx)
    kill -INT "$cap"
    rc=0
    wait "$cap" || rc=$?
    cap=""
    [ "$rc" -eq 0 ] || echo "capture at $rate exited $rc (see $run/capture.log)" >&2

    sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$run/tcpreplay.log" | head -1)
    sent_pps=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$run/tcpreplay.log" | head -1)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    sender=$(awk -v dt="$dt" '$1 == "sender_cpu" { printf "%.0f", ($2 + $3) / dt * 100 }' "$run/tcpreplay.log")
    cpu=$(awk -v hz="$hz" -v dt="$dt" '
        NR == FNR { a[$1] = $2; next }
        { printf "%s%s:%.0f", sep, $1, ($2 - a[$1]) / hz / dt * 100; sep = "," }' \
        "$run/ticks0" "$run/ticks1")
    # Distinct snapshots (by running_seconds) that held a flow, of all taken during the replay.
    snaps=$(sort -u "$run/snapshots.tsv" | awk '$2 > 0 || $3 > 0 { n++ } $2 > m { m = $2 }
        END { printf "%d/%d\t%d", n, NR, m }')
    python3 - "$run/reports/report.json" "$rate" "${sent:-0}" "${sent_pps:-0}" \
        "$((rx1 - rx0))" "$snaps" "$cpu" "${sender:-?}" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$results" <<'PY'
import json, sys
path, rate, sent, sent_pps, rx, snaps, cpu, sender, load = sys.argv[1:10]
r = json.load(open(path))
c = r["capture"]
sent = int(sent)
seen = 100.0 * c["packets_received"] / sent if sent else 0.0
print("\t".join(str(x) for x in [rate, sent, sent_pps, rx, c["packets_received"], c["kernel_dropped"],
      c["interface_dropped"], c["queue_dropped"], f"{seen:.1f}", snaps, r["totals"]["flows"], cpu, sender, load]))
PY
    tail -1 "$results"
done

echo
echo "threads_cpu_pct: the capture's threads, tid:percent of one core over the replay (the first"
echo "tid is the main thread); sender_cpu_pct: tcpreplay's, including the kernel's delivery"
column -t -s $'\t' "$results"
