# Sourced (not run) by tests/live/replay.sh and benches/live_rate.sh: the private network
# namespace both replay into, holding one veth pair (tcpreplay sends into rp0, `egressmap capture`
# listens on rp1), and the teardown both need on every exit, error and signal.
#
# The sourcing script sets `ns` (a name unique to it, e.g. with $$) before calling veth_up, and
# keeps the pids of the capture and of tcpreplay in `cap` and `replay` (empty when not running):
# the EXIT trap installed here stops both and deletes the namespace, whatever the exit path.
#
#   veth_up                 create $ns with rp0 <-> rp1 (IPv4 only, MTU 9000, no offloads)
#   wait_first_report FILE  wait (up to 10 s) for the capture's first report.json, then 1 s more
cap="" replay=""

veth_up() {
    ip netns add "$ns"
    # No IPv6 autoconfiguration chatter (router solicitations, MLD) among the replayed packets.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link add rp0 type veth peer name rp1
    local d
    for d in rp0 rp1; do
        ip -n "$ns" link set "$d" mtu 9000 up
        # Frames keep their captured sizes: no segmentation or checksum offload on either end.
        ip netns exec "$ns" ethtool -K "$d" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
    done
}

wait_first_report() {
    local _
    for _ in $(seq 100); do [ -f "$1" ] && break; sleep 0.1; done
    sleep 1
}

veth_cleanup() {
    local rc=$? p
    for p in $replay $cap; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in $replay $cap; do kill -9 "$p" 2>/dev/null || true; done
    [ -n "${ns:-}" ] && ip netns del "$ns" 2>/dev/null
    exit "$rc"
}
trap veth_cleanup EXIT
trap 'exit 130' INT TERM
