#!/usr/bin/env bash
# Live-capture test on real traffic: network namespaces joined by a Linux bridge whose traffic
# tc mirrors to a monitor veth, real DNS/HTTPS/HTTP servers and a client that uses them, and
# `egressmap capture` on the monitor port. Asserts the report against what the client did.
# Needs root. Only addresses inside the namespaces (10.77.0.0/24) are used.
#
# usage: tests/live/netns.sh [path/to/egressmap]     (default: target/release/egressmap)
# env:   EGRESSMAP_LIVE_KEEP=1 keeps the work directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/release/egressmap}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "netns.sh: no egressmap binary at $bin (cargo build --release --features live)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "netns.sh: needs root" >&2; exit 2; }

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v tc >/dev/null || need+=(iproute2)
command -v ethtool >/dev/null || need+=(ethtool)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tag="em$$"
NS_SW="$tag-sw" NS_C="$tag-cli" NS_S="$tag-srv"
work="$(mktemp -d /tmp/egressmap-live.XXXXXX)"
chmod 0711 "$work"  # the capture drops root: it must reach $work/out
pids=()

cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    for ns in "$NS_C" "$NS_S" "$NS_SW"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ "${EGRESSMAP_LIVE_KEEP:-}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
    [ $rc = 0 ] && echo "netns.sh: PASS" || echo "netns.sh: FAIL (exit $rc)"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_sw() { ip netns exec "$NS_SW" "$@"; }
in_c() { ip netns exec "$NS_C" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

# --- topology: client --- [bridge in "sw", mirrored to mon0 -> mon1] --- server
# IPv4 only: no IPv6 autoconfiguration chatter (router solicitations, MLD) among the flows.
for ns in "$NS_SW" "$NS_C" "$NS_S"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
done
ip link add c0 netns "$NS_C" type veth peer name swc netns "$NS_SW"
ip link add s0 netns "$NS_S" type veth peer name sws netns "$NS_SW"
ip link add mon0 netns "$NS_SW" type veth peer name mon1 netns "$NS_SW"
in_sw ip link add br0 type bridge
for p in swc sws; do in_sw ip link set "$p" master br0; done
for dev in br0 swc sws mon0 mon1; do in_sw ip link set "$dev" up; done
in_c ip addr add 10.77.0.100/24 dev c0
in_s ip addr add 10.77.0.2/24 dev s0
for i in 10 11 12 13 14; do in_s ip addr add "10.77.0.$i/24" dev s0; done
in_c ip link set c0 up
in_s ip link set s0 up

# Real frame sizes on the wire: no segmentation or checksum offload anywhere on the path.
off() { "$@" tso off gso off gro off tx off rx off >/dev/null 2>&1 || "$@" tso off gso off gro off >/dev/null 2>&1 || true; }
off in_c ethtool -K c0
off in_s ethtool -K s0
for dev in swc sws mon0 mon1; do off in_sw ethtool -K "$dev"; done

# Every frame enters the bridge through exactly one port: mirroring the ports' ingress sees each
# frame once, in both directions.
for p in swc sws; do
    in_sw tc qdisc add dev "$p" clsact
    # matchall where the kernel has it, else the equivalent u32 "match everything".
    in_sw tc filter add dev "$p" ingress matchall action mirred egress mirror dev mon0 2>/dev/null ||
        in_sw tc filter add dev "$p" ingress protocol all u32 match u32 0 0 \
            action mirred egress mirror dev mon0
done

# --- servers. Started with `ip netns exec` itself (it execs), so $! is the server's own pid.
cat >"$work/openssl.cnf" <<CNF
[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = settings-win.data.microsoft.com
[ext]
subjectAltName = DNS:settings-win.data.microsoft.com,DNS:v10.events.data.microsoft.com,DNS:www.msftconnecttest.com,DNS:ctldl.windowsupdate.com,DNS:arc.msn.com
basicConstraints = critical,CA:true
CNF
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$work/key.pem" -out "$work/cert.pem" \
    -config "$work/openssl.cnf" >/dev/null 2>&1
mkdir -p "$work/www"
printf 'Microsoft Connect Test' >"$work/www/connecttest.txt"
echo 0 >"$work/www/0.txt"

ip netns exec "$NS_S" python3 "$here/dnsd.py" 10.77.0.2 "$here/zone.json" >"$work/dnsd.log" 2>&1 &
pids+=($!)
ip netns exec "$NS_S" python3 "$here/tlsd.py" "$work/cert.pem" "$work/key.pem" >"$work/tlsd.log" 2>&1 &
pids+=($!)
ip netns exec "$NS_S" python3 -m http.server 80 --bind 0.0.0.0 --directory "$work/www" >"$work/httpd.log" 2>&1 &
pids+=($!)
for log in dnsd tlsd; do
    for _ in $(seq 50); do grep -q ready "$work/$log.log" 2>/dev/null && break; sleep 0.1; done
    grep -q ready "$work/$log.log" || { echo "$log did not start:"; cat "$work/$log.log"; exit 1; }
done
for _ in $(seq 50); do in_c bash -c 'exec 3<>/dev/tcp/10.77.0.2/80' 2>/dev/null && break; sleep 0.1; done

# --- command-line validation: clear errors, non-zero exits, nothing captured.
expect_error() {
    local what="$1" pattern="$2" rc=0
    shift 2
    ip netns exec "$NS_SW" "$bin" capture "$@" >"$work/err.log" 2>&1 || rc=$?
    if [ "$rc" = 0 ] || ! grep -q "$pattern" "$work/err.log"; then
        echo "FAIL  $what: exit $rc, expected an error matching '$pattern':"; cat "$work/err.log"; exit 1
    fi
    echo "ok    $what (exit $rc: $(head -1 "$work/err.log"))"
}
expect_error "unknown interface" "no interface" -i nosuch0 --out "$work/e1" --duration 1s
expect_error "option-like interface name" "invalid interface" -i=-x --out "$work/e2" --duration 1s
expect_error "bad BPF filter" "invalid capture filter" -i mon1 -f "port and and" --out "$work/e3" --duration 1s
mkdir -m 0777 "$work/open"
expect_error "world-writable report directory" "other users can write" -i mon1 --out "$work/open" --duration 1s

# --- capture on the monitor port. It creates the report directory for the user it drops to.
out="$work/out"
duration=15
ip netns exec "$NS_SW" "$bin" capture -i mon1 --report-every 2s --duration "${duration}s" --out "$out" \
    --all-destinations --flows "$out/flows.jsonl" --report table \
    --write-pcap "$work/pcaps" --rotate-size 8K --rotate-keep 1000 >"$work/capture.log" 2>&1 &
cap=$!
pids+=($cap)
# Started when it has written its first snapshot (right after opening the interface).
for _ in $(seq 100); do [ -f "$out/report.json" ] && break; sleep 0.1; done
[ -f "$out/report.json" ] || { echo "capture did not start:"; cat "$work/capture.log"; exit 1; }
# The handshake above happened before the capture: start counting from here.
sleep 1

in_c python3 "$here/client.py" 10.77.0.2 "$work/cert.pem" "$work/did.json"

# Count the distinct snapshots seen while the capture runs out its duration.
snapshots=0
last=""
for _ in $(seq $((duration * 10 + 100))); do
    kill -0 "$cap" 2>/dev/null || break
    m="$(md5sum <"$out/report.json" 2>/dev/null || true)"
    if [ -n "$m" ] && [ "$m" != "$last" ]; then snapshots=$((snapshots + 1)); last="$m"; fi
    sleep 0.2
done
rc=0
wait "$cap" || rc=$?
pids=("${pids[@]/$cap}")
echo "--- capture log"
cat "$work/capture.log"
[ "$rc" = 0 ] || { echo "capture exited $rc"; exit 1; }
[ -s "$out/report.txt" ] || { echo "no report.txt (the --report table snapshot)"; exit 1; }
"$bin" report "$out/report.json" --report table >/dev/null || { echo "egressmap report cannot load report.json"; exit 1; }
echo "--- report.txt written by the capture"
cat "$out/report.txt"
echo "---"
python3 "$here/check_report.py" "$out/report.json" "$out/flows.jsonl" "$work/did.json" "$snapshots"

# --- what the capture wrote with --write-pcap, rotated, audited as one dataset, is what it saw.
npcap=$(ls "$work/pcaps" | wc -l)
[ "$npcap" -ge 2 ] || { echo "FAIL  --write-pcap --rotate-size 8K wrote $npcap file(s)"; exit 1; }
rc=0
"$bin" audit $(ls "$work/pcaps"/*.pcap | sort) --all-destinations --report json >"$work/audit.json" || rc=$?
[ "$rc" = 0 ] || { echo "FAIL  audit of the --write-pcap files exited $rc"; exit 1; }
python3 - "$out/report.json" "$work/audit.json" "$npcap" <<'PY'
import json, sys
live, audit = (json.load(open(p)) for p in sys.argv[1:3])
def hosts(r):
    return sorted((a["area"], d["host"], d["flows"], d["packets"], d["bytes_up"], d["bytes_down"])
                  for a in r["areas"] for d in a["destinations"])
assert live["capture"]["packets_received"] == audit["totals"]["packets_read"], \
    (live["capture"]["packets_received"], audit["totals"]["packets_read"])
assert hosts(live) == hosts(audit), (hosts(live), hosts(audit))
print(f"ok    --write-pcap: {sys.argv[3]} rotated files, {audit['totals']['packets_read']} packets; "
      "audit of them reports the same areas, hosts, flows, packets and bytes")
PY

# --- SIGTERM on a silent link: stops within seconds, exit 0, final report written.
ip netns exec "$NS_SW" "$bin" capture -i mon1 --report-every 1h --out "$work/term" >"$work/term.log" 2>&1 &
cap=$!
pids+=($cap)
for _ in $(seq 100); do [ -f "$work/term/report.json" ] && break; sleep 0.1; done
sleep 1
kill -TERM "$cap"
for _ in $(seq 50); do kill -0 "$cap" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$cap" 2>/dev/null; then echo "FAIL  capture still running 5 s after SIGTERM on a silent link"; exit 1; fi
rc=0
wait "$cap" || rc=$?
pids=("${pids[@]/$cap}")
[ "$rc" = 0 ] || { echo "FAIL  capture exited $rc after SIGTERM"; cat "$work/term.log"; exit 1; }
grep -q "2 snapshots" "$work/term.log" || { echo "FAIL  no final snapshot after SIGTERM"; cat "$work/term.log"; exit 1; }
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/term/report.json"
echo "ok    SIGTERM on a silent link: exit 0 within 5 s, final report written"
