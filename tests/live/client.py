#!/usr/bin/env python3
"""Drives the namespace test's client: DNS lookups, TLS with SNI, HTTP with Host headers and one
TLS connection without SNI to an address learned from DNS. Writes what it did (per host flow
counts) as JSON, which check_report.py holds the capture's report to.

usage: client.py DNS_IP CA_CERT OUT_JSON
"""
import http.client
import json
import random
import socket
import ssl
import struct
import sys
import time

# (name, TLS connections with SNI, HTTP requests with Host) -- every name is resolved first.
PLAN = [
    ("settings-win.data.microsoft.com", 3, 0),
    ("v10.events.data.microsoft.com", 2, 0),
    ("www.msftconnecttest.com", 0, 2),
    ("ctldl.windowsupdate.com", 0, 1),
]
# Resolved by DNS, then reached over TLS without SNI: only the DNS answer can name the flow.
NOSNI = "arc.msn.com"


def resolve(dns_ip, name):
    """One A query over UDP (a fresh socket, so a fresh flow); returns the answered address."""
    qid = random.randrange(1 << 16)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(q, (dns_ip, 53))
        msg, _ = s.recvfrom(4096)
    an = struct.unpack(">H", msg[6:8])[0]
    off = len(q)
    for _ in range(an):
        # owner name: pointer or labels
        while True:
            n = msg[off]
            if n & 0xC0:
                off += 2
                break
            off += 1 + n
            if n == 0:
                break
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off : off + 10])
        off += 10
        if rtype == 1:
            return socket.inet_ntoa(msg[off : off + 4])
        off += rdlen
    raise RuntimeError(f"no A record for {name}")


def tls_get(ip, sni, ca):
    ctx = ssl.create_default_context(cafile=ca)
    if sni is None:
        ctx.check_hostname = False
    with socket.create_connection((ip, 443), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            host = sni or ip
            s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            while s.recv(4096):
                pass


def http_get(ip, host, path):
    c = http.client.HTTPConnection(ip, 80, timeout=5)
    c.request("GET", path, headers={"Host": host, "Connection": "close"})
    c.getresponse().read()
    c.close()


def main():
    dns_ip, ca, out = sys.argv[1], sys.argv[2], sys.argv[3]
    did = {"tls": {}, "http": {}, "dns": {}, "nosni": None, "addresses": {}}
    for name, tls_n, http_n in PLAN:
        ip = resolve(dns_ip, name)
        did["dns"][name] = 1
        did["addresses"][name] = ip
        for _ in range(tls_n):
            tls_get(ip, name, ca)
            did["tls"][name] = did["tls"].get(name, 0) + 1
            time.sleep(0.05)
        for i in range(http_n):
            path = "/connecttest.txt" if "msftconnecttest" in name else f"/{i}.txt"
            http_get(ip, name, path)
            did["http"][name] = did["http"].get(name, 0) + 1
            time.sleep(0.05)
    ip = resolve(dns_ip, NOSNI)
    did["dns"][NOSNI] = 1
    did["addresses"][NOSNI] = ip
    tls_get(ip, None, ca)
    did["nosni"] = {"name": NOSNI, "ip": ip}
    with open(out, "w") as f:
        json.dump(did, f, indent=1)
    print(json.dumps(did))


if __name__ == "__main__":
    main()
