#!/usr/bin/env bash
# Live snapshots count open connections (issue 13): a TCP connection kept open across several
# `--report-every` periods appears in every snapshot with growing bytes, and after `kill -9`
# the last snapshot still holds its bytes up to then. Two namespaces joined by a veth pair; the
# capture runs on the client's end. Needs root.
#
# usage: tests/live/open_flows.sh [path/to/egressmap]   (built with --features live)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/release/egressmap}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "open_flows.sh: no egressmap binary at $bin" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "open_flows.sh: needs root" >&2; exit 2; }
tag="eo$$" NS_C="eo$$-c" NS_S="eo$$-s"
work="$(mktemp -d /tmp/egressmap-open.XXXXXX)"
chmod 0711 "$work"
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for ns in "$NS_C" "$NS_S"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
    [ $rc = 0 ] && echo "open_flows.sh: PASS" || echo "open_flows.sh: FAIL (exit $rc)"
    exit $rc
}
trap cleanup EXIT
for ns in "$NS_C" "$NS_S"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
done
ip link add c0 netns "$NS_C" type veth peer name s0 netns "$NS_S"
ip -n "$NS_C" addr add 10.78.0.100/24 dev c0
ip -n "$NS_S" addr add 10.78.0.2/24 dev s0
ip -n "$NS_C" link set c0 up
ip -n "$NS_S" link set s0 up
ip netns exec "$NS_S" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.78.0.2", 5222)); s.listen(1); print("ready", flush=True)
c, _ = s.accept()
while c.recv(65536): c.sendall(b"k" * 200)
' >"$work/srv.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/srv.log" 2>/dev/null && break; sleep 0.1; done
out="$work/out"
ip netns exec "$NS_C" "$bin" capture -i c0 --report-every 2s --out "$out" --all-destinations \
    --report json >"$work/capture.log" 2>&1 &
cap=$!
pids+=($cap)
for _ in $(seq 100); do [ -f "$out/report.json" ] && break; sleep 0.1; done
[ -f "$out/report.json" ] || { cat "$work/capture.log"; exit 1; }
# One connection, 1000 bytes every 0.3 s, never closed while we watch.
ip netns exec "$NS_C" python3 -c '
import socket, time
s = socket.create_connection(("10.78.0.2", 5222))
while True:
    s.sendall(b"x" * 1000); s.recv(65536); time.sleep(0.3)
' &
pids+=($!)
# Snapshots with the connection open: (open_flows, bytes) each time report.json changes.
seen=()
last=""
for _ in $(seq 200); do
    m="$(md5sum <"$out/report.json")"
    if [ "$m" != "$last" ]; then
        last="$m"
        s="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["capture"]["open_flows"], r["totals"]["bytes_up"]+r["totals"]["bytes_down"])' "$out/report.json")"
        set -- $s
        echo "snapshot: $1 open flow(s), $2 bytes"
        [ "$1" -ge 1 ] && seen+=("$2")
    fi
    [ ${#seen[@]} -ge 3 ] && break
    sleep 0.1
done
[ ${#seen[@]} -ge 3 ] || { echo "FAIL  fewer than 3 snapshots with the connection open"; cat "$work/capture.log"; exit 1; }
[ "${seen[0]}" -gt 0 ] && [ "${seen[1]}" -gt "${seen[0]}" ] && [ "${seen[2]}" -gt "${seen[1]}" ] ||
    { echo "FAIL  bytes do not grow across snapshots: ${seen[*]}"; exit 1; }
kill -9 "$cap"
sleep 0.5
after="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["totals"]["bytes_up"]+r["totals"]["bytes_down"])' "$out/report.json")"
[ "$after" -ge "${seen[2]}" ] || { echo "FAIL  after kill -9 the report holds $after bytes < ${seen[2]}"; exit 1; }
echo "ok    open connection in 3 snapshots with growing bytes (${seen[*]}); after kill -9 the last snapshot holds $after bytes"
