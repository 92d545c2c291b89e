#!/usr/bin/env python3
"""Tiny authoritative DNS server for the namespace test: answers A queries for a fixed set of
Microsoft endpoint names (some through a CNAME), NXDOMAIN for everything else.

usage: dnsd.py BIND_IP ZONE_JSON   (ZONE_JSON: {"name": "ip" | {"cname": "...", "ip": "..."}})
"""
import json
import socket
import struct
import sys


def read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0:
            raise ValueError("compression in question")
        labels.append(msg[off + 1 : off + 1 + n].decode("ascii"))
        off += 1 + n


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def rr(name_bytes, rtype, rdata, ttl=300):
    return name_bytes + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def answer(msg, zone):
    qid, flags, qd = struct.unpack(">HHH", msg[:6])
    qname, off = read_name(msg, 12)
    qtype, qclass = struct.unpack(">HH", msg[off : off + 4])
    question = msg[12 : off + 4]
    entry = zone.get(qname.lower())
    answers = []
    rcode = 0
    if entry is None:
        rcode = 3
    elif qtype == 1:
        owner = b"\xc0\x0c"  # pointer to the question name
        if isinstance(entry, dict):
            target = encode_name(entry["cname"])
            answers.append(rr(owner, 5, target))
            owner = target
            ip = entry["ip"]
        else:
            ip = entry
        answers.append(rr(owner, 1, socket.inet_aton(ip)))
    rflags = 0x8400 | (flags & 0x0100) | rcode  # QR, AA, copy RD
    header = struct.pack(">HHHHHH", qid, rflags, 1, len(answers), 0, 0)
    return header + question + b"".join(answers)


def main():
    bind, zone_file = sys.argv[1], sys.argv[2]
    with open(zone_file) as f:
        zone = {k.lower(): v for k, v in json.load(f).items()}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((bind, 53))
    print("dnsd ready", flush=True)
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            s.sendto(answer(msg, zone), peer)
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            continue


if __name__ == "__main__":
    main()
