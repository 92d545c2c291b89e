//! IPv4/IPv6 + TCP/UDP with correct lengths and checksums (written by hand: we need full control
//! over sequence numbers, IP ids and odd segments, which a generic builder gets in the way of).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// One's-complement sum over big-endian 16-bit words (odd tail padded with zero).
fn sum16(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

pub fn ipv4_header_checksum(hdr: &[u8]) -> u16 {
    fold(sum16(hdr, 0))
}

/// TCP/UDP checksum over the pseudo-header and `segment` (whose checksum field must be zero).
pub fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let mut acc = 0u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum16(&s.octets(), acc);
            acc = sum16(&d.octets(), acc);
            acc += u64::from(proto);
            acc += segment.len() as u64;
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = sum16(&s.octets(), acc);
            acc = sum16(&d.octets(), acc);
            acc += segment.len() as u64;
            acc += u64::from(proto);
        }
        _ => panic!("synth: mixed address families"),
    }
    let c = fold(sum16(segment, acc));
    // UDP transmits an all-zero checksum as 0xffff; harmless for TCP.
    if c == 0 && proto == PROTO_UDP {
        0xffff
    } else {
        c
    }
}

pub fn ipv4_packet(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = 20 + payload.len();
    assert!(total <= 0xffff, "synth: IPv4 packet too large");
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0x00]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
    p.extend_from_slice(&[ttl, proto, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = ipv4_header_checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

pub fn ipv6_packet(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    assert!(payload.len() <= 0xffff, "synth: IPv6 payload too large");
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&0x6000_0000u32.to_be_bytes());
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// IP packet of the family of `src`/`dst`; `ident` is ignored for IPv6.
pub fn ip_packet(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ident: u16,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4_packet(s, d, proto, ident, ttl, payload),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6_packet(s, d, proto, ttl, payload),
        _ => panic!("synth: mixed address families"),
    }
}

/// The IP-layer length a flow counter should add for this packet: IPv4 total length, or IPv6
/// 40 + payload length (what the header says, not what was captured).
pub fn ip_layer_len(ip: &[u8]) -> u64 {
    match ip.first().map(|b| b >> 4) {
        Some(4) => u64::from(u16::from_be_bytes([ip[2], ip[3]])),
        Some(6) => 40 + u64::from(u16::from_be_bytes([ip[4], ip[5]])),
        _ => panic!("synth: not an IP packet"),
    }
}

pub struct TcpSeg<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Raw option bytes; padded to a multiple of 4 with EOL.
    pub options: &'a [u8],
    pub payload: &'a [u8],
}

/// TCP header + payload with a correct checksum.
pub fn tcp_segment(s: &TcpSeg) -> Vec<u8> {
    let opt_len = s.options.len().div_ceil(4) * 4;
    let hdr_len = 20 + opt_len;
    assert!(hdr_len <= 60, "synth: TCP options too long");
    let mut t = Vec::with_capacity(hdr_len + s.payload.len());
    t.extend_from_slice(&s.src.port().to_be_bytes());
    t.extend_from_slice(&s.dst.port().to_be_bytes());
    t.extend_from_slice(&s.seq.to_be_bytes());
    t.extend_from_slice(&s.ack.to_be_bytes());
    t.push(((hdr_len / 4) as u8) << 4);
    t.push(s.flags);
    t.extend_from_slice(&s.window.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    t.extend_from_slice(s.options);
    t.resize(hdr_len, 0);
    t.extend_from_slice(s.payload);
    let c = transport_checksum(s.src.ip(), s.dst.ip(), PROTO_TCP, &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// UDP header + payload with a correct checksum.
pub fn udp_datagram(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    assert!(len <= 0xffff, "synth: UDP datagram too large");
    let mut u = Vec::with_capacity(len);
    u.extend_from_slice(&src.port().to_be_bytes());
    u.extend_from_slice(&dst.port().to_be_bytes());
    u.extend_from_slice(&(len as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let c = transport_checksum(src.ip(), dst.ip(), PROTO_UDP, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

pub fn udp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    ident: u16,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let u = udp_datagram(src, dst, payload);
    ip_packet(src.ip(), dst.ip(), PROTO_UDP, ident, ttl, &u)
}
