#!/usr/bin/env python3
"""Holds a live capture's report to what the namespace test's client did.

usage: check_report.py REPORT_JSON FLOWS_JSONL DID_JSON SNAPSHOTS_SEEN
"""
import json
import sys

# Areas the client's names belong to (signatures/*.jsonl).
AREAS = {
    "settings-win.data.microsoft.com": "settings",
    "v10.events.data.microsoft.com": "diagnostic-data",
    "www.msftconnecttest.com": "ncsi",
    "ctldl.windowsupdate.com": "certificates",
    "arc.msn.com": "spotlight",
}

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def main():
    report_path, flows_path, did_path, seen = sys.argv[1:5]
    with open(report_path) as f:
        report = json.load(f)
    with open(did_path) as f:
        did = json.load(f)
    flows = []
    with open(flows_path) as f:
        for line in f:
            flows.append(json.loads(line))

    # What the client did, per name: one DNS flow per lookup, one TCP flow per TLS/HTTP request.
    want = {}
    for kind in ("dns", "tls", "http"):
        for host, n in did[kind].items():
            want[host] = want.get(host, 0) + n
    nosni = did["nosni"]
    want[nosni["name"]] = want.get(nosni["name"], 0) + 1

    # Counters
    cap = report.get("capture") or {}
    check(cap.get("interface") == "mon1", f"capture.interface is mon1 ({cap.get('interface')})")
    check(cap.get("packets_received", 0) > 0, f"packets_received > 0 ({cap.get('packets_received')})")
    for k in ("kernel_dropped", "queue_dropped", "interface_dropped", "flows_evicted"):
        check(cap.get(k) == 0, f"{k} == 0 ({cap.get(k)})")
    check(cap.get("peak_rss_bytes", 0) > 0, f"peak_rss_bytes > 0 ({cap.get('peak_rss_bytes')})")
    check(int(seen) >= 2, f"snapshots written more than once (saw {seen} distinct report.json)")

    # Areas and per-host flow counts
    # A host documented in several areas is listed (with all its flows) under each.
    got = {}
    area_of = {}
    for a in report["areas"]:
        for d in a["destinations"]:
            got.setdefault(d["host"], {})[a["area"]] = d["flows"]
            area_of.setdefault(d["host"], set()).add(a["area"])
    for host, area in AREAS.items():
        check(area in area_of.get(host, set()), f"{host} reported under area {area} ({sorted(area_of.get(host, []))})")
    for host, n in sorted(want.items()):
        per_area = got.get(host, {})
        check(per_area and all(v == n for v in per_area.values()), f"{host}: {n} flows ({per_area})")
    extra = sorted(set(got) - set(want))
    check(not extra, f"no hosts the client did not touch ({extra})")
    tot = report["totals"]
    check(tot["flows"] == sum(want.values()), f"totals.flows == {sum(want.values())} ({tot['flows']})")
    check(tot["unattributed_flows"] == 0, f"no unattributed flows ({tot['unattributed_flows']})")

    # The flow log: every TLS/HTTP flow named from its own payload, the no-SNI one from DNS.
    by_source = {}
    for fl in flows:
        by_source.setdefault((fl.get("host"), fl.get("host_source")), []).append(fl)
    ns = [fl for fl in flows if fl["server_ip"] == nosni["ip"] and fl["server_port"] == 443]
    check(len(ns) == 1, f"one flow to the no-SNI server {nosni['ip']}:443 ({len(ns)})")
    if ns:
        fl = ns[0]
        check(fl.get("host") == nosni["name"] and fl.get("host_source") == "dns",
              f"no-SNI flow named {nosni['name']} via dns ({fl.get('host')}, {fl.get('host_source')})")
        check(fl.get("app") == "tls", f"no-SNI flow is TLS ({fl.get('app')})")
    for host, n in did["tls"].items():
        k = len(by_source.get((host, "tls-sni"), []))
        check(k == n, f"{host}: {n} flows named by tls-sni ({k})")
    for host, n in did["http"].items():
        k = len(by_source.get((host, "http-host"), []))
        check(k == n, f"{host}: {n} flows named by http-host ({k})")
    for host, n in did["dns"].items():
        k = len(by_source.get((host, "dns-query"), []))
        check(k == n, f"{host}: {n} DNS flows ({k})")
    # Real frame sizes: a TLS flow carries a full handshake (server certificate > 500 bytes down).
    for fl in flows:
        if fl.get("host_source") == "tls-sni":
            check(fl["bytes_down"] > 1000 and fl["packets_up"] >= 5,
                  f"{fl['client_port']}->{fl['host']}: whole TLS exchange seen ({fl['packets_up']} up, {fl['bytes_down']} B down)")
            break
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
