//! IPv4/IPv6 (extension headers), tunnels, TCP/UDP headers, and a bounded IP fragment pool.
//!
//! Tunnels are followed to the innermost IP packet. A UDP payload on a tunnel port is only taken
//! as a tunnel when the inner packet really looks like IP; otherwise it stays plain UDP. When an
//! inner packet turns out malformed or truncated, the outer packet is returned instead, so the
//! record still counts towards the tunnel's own flow.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::link::{self, be16, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_PPP, ETHERTYPE_TEB};
use super::{DecodeError, Decoded, Transport, Vlans};
use crate::capture::Nanos;

/// Tunnels nested deeper than this are refused: real deployments nest 1-2 deep.
pub const MAX_TUNNEL_DEPTH: usize = 4;
/// IPv6 extension headers walked before giving up (RFC 8200 allows few; more is an attack).
const MAX_EXT_HEADERS: usize = 12;

const PROTO_HOPOPTS: u8 = 0;
const PROTO_IPIP: u8 = 4;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6: u8 = 41;
const PROTO_ROUTING: u8 = 43;
const PROTO_FRAGMENT: u8 = 44;
const PROTO_GRE: u8 = 47;
const PROTO_AH: u8 = 51;
const PROTO_DSTOPTS: u8 = 60;
const PROTO_HIP: u8 = 139;
const PROTO_SHIM6: u8 = 140;

const PORT_GTPU: u16 = 2152;
const PORT_TEREDO: u16 = 3544;
const PORT_GRE_UDP: u16 = 4754;
const PORT_VXLAN: u16 = 4789;
const PORT_CAPWAP_DATA: u16 = 5247;
const PORT_GENEVE: u16 = 6081;

#[inline]
fn be32(d: &[u8], at: usize) -> Option<u32> {
    match d.get(at..at.checked_add(4)?)? {
        [a, b, c, e] => Some(u32::from_be_bytes([*a, *b, *c, *e])),
        _ => None,
    }
}

#[inline]
fn byte(d: &[u8], at: usize) -> Option<u8> {
    d.get(at).copied()
}

/// Decode an IP packet (and any tunnel inside it) down to the innermost transport header.
pub fn decode<'a>(
    ip: &'a [u8],
    vlans: Vlans,
    ts: Nanos,
    frags: &'a mut FragmentPool,
) -> Result<Decoded<'a>, DecodeError> {
    let mut pool = Some(frags);
    let mut cur = ip;
    let mut outer: Option<Decoded<'a>> = None;
    for depth in 0..=MAX_TUNNEL_DEPTH {
        let step = match layer(cur, ts, &mut pool) {
            Ok(s) => s,
            Err(e @ (DecodeError::Truncated | DecodeError::BadIp | DecodeError::NotIp)) => {
                return outer.ok_or(e)
            }
            Err(e) => return Err(e),
        };
        let here = Decoded {
            vlans,
            src: step.src,
            dst: step.dst,
            ip_bytes: step.ip_bytes,
            transport: step.transport,
            payload: step.payload,
            tunneled: depth > 0,
        };
        match step.inner {
            None => return Ok(here),
            Some(inner) => {
                outer = Some(here);
                cur = inner;
            }
        }
    }
    Err(DecodeError::TooDeep)
}

/// Which flow a record belongs to, read from its outer IP and transport headers only (the
/// dispatcher's per-record work when workers share the flows, [`crate::pipeline`]).
///
/// `Flow` is given only when the full [`decode`] cannot reach another key: an unfragmented TCP
/// or UDP packet that is not a tunnel. DNS (port 53) is `Dns`: its flow's key, and a record
/// whose answers every worker must learn. Fragments, tunnels and other protocols are `All`
/// (stateful or deeper decoding); a header the full decode will reject is `Any` (one worker
/// counts it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Flow(super::FlowKey),
    Dns(super::FlowKey),
    All,
    Any,
}

pub fn route(cur: &[u8], vlans: Vlans) -> Route {
    let net = match byte(cur, 0).map(|b| b >> 4) {
        Some(4) => ipv4(cur),
        Some(6) => ipv6(cur),
        _ => return Route::Any,
    };
    let Ok(net) = net else { return Route::Any };
    if net.frag.is_some() || !matches!(net.proto, PROTO_TCP | PROTO_UDP) {
        return Route::All;
    }
    let (Some(sp), Some(dp)) = (be16(net.l4, 0), be16(net.l4, 2)) else {
        return Route::Any;
    };
    let tunnel = |p: u16| {
        net.proto == PROTO_UDP
            && matches!(
                p,
                PORT_GTPU
                    | PORT_TEREDO
                    | PORT_GRE_UDP
                    | PORT_VXLAN
                    | PORT_CAPWAP_DATA
                    | PORT_GENEVE
            )
    };
    if tunnel(sp) || tunnel(dp) {
        return Route::All;
    }
    let key = super::FlowKey::of_tuple(net.proto, (net.src, sp), (net.dst, dp), vlans).0;
    if sp == 53 || dp == 53 {
        return Route::Dns(key);
    }
    Route::Flow(key)
}

/// One IP layer: its addresses and transport, plus the inner IP packet if it is a tunnel.
struct Step<'a> {
    src: IpAddr,
    dst: IpAddr,
    ip_bytes: u32,
    transport: Transport,
    payload: &'a [u8],
    inner: Option<&'a [u8]>,
}

/// What the IP header says, before fragments are dealt with.
struct Net<'a> {
    src: IpAddr,
    dst: IpAddr,
    ip_bytes: u32,
    proto: u8,
    /// Transport bytes actually captured, clipped to the IP length.
    l4: &'a [u8],
    /// The capture holds less than the IP length says (snap length).
    snapped: bool,
    frag: Option<Frag>,
}

#[derive(Clone, Copy)]
struct Frag {
    id: u32,
    /// Byte offset of this fragment's data in the datagram.
    offset: u32,
    more: bool,
    /// IP header bytes in front of the fragmentable part (IPv6: up to the fragment header).
    hdr_len: u32,
}

fn layer<'a>(
    cur: &'a [u8],
    ts: Nanos,
    pool: &mut Option<&'a mut FragmentPool>,
) -> Result<Step<'a>, DecodeError> {
    let net = match byte(cur, 0).map(|b| b >> 4) {
        Some(4) => ipv4(cur)?,
        Some(6) => ipv6(cur)?,
        Some(_) => return Err(DecodeError::BadIp),
        None => return Err(DecodeError::Truncated),
    };
    let (proto, l4, snapped, ip_bytes) = match net.frag {
        None => (net.proto, net.l4, net.snapped, net.ip_bytes),
        Some(f) if net.snapped => {
            // A fragment clipped by the snap length can never be reassembled. The first one
            // still holds the transport header and a payload prefix, like any snapped packet.
            if let Some(p) = pool.as_deref_mut() {
                p.stats.fragments += 1;
                if f.offset == 0 {
                    p.stats.snapped_first += 1;
                } else {
                    p.stats.dropped_snapped += 1;
                }
            }
            if f.offset != 0 {
                return Err(DecodeError::FragmentDropped);
            }
            (net.proto, net.l4, true, net.ip_bytes)
        }
        Some(f) => {
            // A pool already lent out to an outer reassembly: nested fragmentation is not kept.
            let p = pool.take().ok_or(DecodeError::FragmentDropped)?;
            let key = FragKey {
                src: net.src,
                dst: net.dst,
                id: f.id,
                proto: net.proto,
            };
            let (data, ip_bytes) = p.insert(key, f, net.l4, ts)?;
            if net.src.is_ipv6() {
                // Extension headers after the fragment header are part of the datagram.
                let (proto, off, frag) = ipv6_ext(net.proto, data, 0)?;
                if frag.is_some() {
                    return Err(DecodeError::BadIp);
                }
                let l4 = data.get(off..).ok_or(DecodeError::Truncated)?;
                (proto, l4, false, ip_bytes)
            } else {
                (net.proto, data, false, ip_bytes)
            }
        }
    };
    let (transport, payload, inner) = transport(proto, l4, snapped)?;
    Ok(Step {
        src: net.src,
        dst: net.dst,
        ip_bytes,
        transport,
        payload,
        inner,
    })
}

fn ipv4(d: &[u8]) -> Result<Net<'_>, DecodeError> {
    let h: &[u8; 20] = d
        .get(..20)
        .and_then(|s| s.try_into().ok())
        .ok_or(DecodeError::Truncated)?;
    let hlen = usize::from(h[0] & 0x0f) * 4;
    if hlen < 20 {
        return Err(DecodeError::BadIp);
    }
    let mut total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total == 0 {
        // Segmentation offload: the NIC fills the length in later; trust the capture.
        total = d.len();
    }
    if total < hlen {
        return Err(DecodeError::BadIp);
    }
    let end = total.min(d.len());
    let l4 = d.get(hlen..end).ok_or(DecodeError::Truncated)?;
    let fl = u16::from_be_bytes([h[6], h[7]]);
    let more = fl & 0x2000 != 0;
    let offset = u32::from(fl & 0x1fff) * 8;
    let frag = (more || offset != 0).then_some(Frag {
        id: u32::from(u16::from_be_bytes([h[4], h[5]])),
        offset,
        more,
        hdr_len: hlen as u32,
    });
    Ok(Net {
        src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        ip_bytes: total as u32,
        proto: h[9],
        l4,
        snapped: total > d.len(),
        frag,
    })
}

fn ipv6(d: &[u8]) -> Result<Net<'_>, DecodeError> {
    let h: &[u8; 40] = d
        .get(..40)
        .and_then(|s| s.try_into().ok())
        .ok_or(DecodeError::Truncated)?;
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    // Payload length 0 is a jumbogram or segmentation offload: trust the capture.
    let total = if plen == 0 { d.len() } else { 40 + plen };
    let end = total.min(d.len());
    let pkt = d.get(..end).ok_or(DecodeError::Truncated)?;
    let (proto, off, frag) = ipv6_ext(h[6], pkt, 40)?;
    let l4 = pkt.get(off..).ok_or(DecodeError::Truncated)?;
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    Ok(Net {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        ip_bytes: total as u32,
        proto,
        l4,
        snapped: total > d.len(),
        frag,
    })
}

/// Walk IPv6 extension headers from `off`. Returns the upper-layer protocol (or, for a real
/// fragment, the header after the fragment header) and where it starts.
fn ipv6_ext(
    mut next: u8,
    pkt: &[u8],
    mut off: usize,
) -> Result<(u8, usize, Option<Frag>), DecodeError> {
    for _ in 0..MAX_EXT_HEADERS {
        let len = match next {
            PROTO_HOPOPTS | PROTO_ROUTING | PROTO_DSTOPTS | PROTO_HIP | PROTO_SHIM6 => {
                (usize::from(byte(pkt, off + 1).ok_or(DecodeError::Truncated)?) + 1) * 8
            }
            PROTO_AH => (usize::from(byte(pkt, off + 1).ok_or(DecodeError::Truncated)?) + 2) * 4,
            PROTO_FRAGMENT => {
                let fo = be16(pkt, off + 2).ok_or(DecodeError::Truncated)?;
                let id = be32(pkt, off + 4).ok_or(DecodeError::Truncated)?;
                let nh = byte(pkt, off).ok_or(DecodeError::Truncated)?;
                let offset = u32::from(fo >> 3) * 8;
                let more = fo & 1 != 0;
                if offset != 0 || more {
                    let frag = Frag {
                        id,
                        offset,
                        more,
                        hdr_len: off as u32,
                    };
                    return Ok((nh, off + 8, Some(frag)));
                }
                // Atomic fragment (RFC 6946): a whole packet.
                next = nh;
                off += 8;
                continue;
            }
            _ => return Ok((next, off, None)),
        };
        next = byte(pkt, off).ok_or(DecodeError::Truncated)?;
        off += len;
        if off > pkt.len() {
            return Err(DecodeError::Truncated);
        }
    }
    Err(DecodeError::BadIp)
}

/// A transport header, its payload, and the inner IP packet when the payload is a tunnel.
type L4<'a> = (Transport, &'a [u8], Option<&'a [u8]>);

/// Parse the transport header. Returns the transport, its payload, and the inner IP packet when
/// the payload is a tunnel.
fn transport(proto: u8, l4: &[u8], snapped: bool) -> Result<L4<'_>, DecodeError> {
    match proto {
        PROTO_TCP => {
            let h: &[u8; 20] = l4
                .get(..20)
                .and_then(|s| s.try_into().ok())
                .ok_or(DecodeError::Truncated)?;
            let doff = usize::from(h[12] >> 4) * 4;
            if doff < 20 {
                return Err(DecodeError::BadIp);
            }
            let payload = match l4.get(doff..) {
                Some(p) => p,
                // Options cut by the snap length: the fixed header is all flow tracking needs.
                None if snapped => &[],
                None => return Err(DecodeError::Truncated),
            };
            let t = Transport::Tcp {
                src_port: u16::from_be_bytes([h[0], h[1]]),
                dst_port: u16::from_be_bytes([h[2], h[3]]),
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                flags: h[13],
            };
            Ok((t, payload, None))
        }
        PROTO_UDP => {
            let h: &[u8; 8] = l4
                .get(..8)
                .and_then(|s| s.try_into().ok())
                .ok_or(DecodeError::Truncated)?;
            let src_port = u16::from_be_bytes([h[0], h[1]]);
            let dst_port = u16::from_be_bytes([h[2], h[3]]);
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            // Below 8 is a jumbogram or garbage; above what we have is the snap length.
            let end = if ulen >= 8 {
                ulen.min(l4.len())
            } else {
                l4.len()
            };
            let payload = l4.get(8..end).unwrap_or_default();
            let snapped = snapped || ulen > l4.len();
            let inner = udp_tunnel(dst_port, payload, snapped)
                .or_else(|| udp_tunnel(src_port, payload, snapped));
            Ok((Transport::Udp { src_port, dst_port }, payload, inner))
        }
        PROTO_IPIP | PROTO_IPV6 => {
            let version = if proto == PROTO_IPIP { 4 } else { 6 };
            let inner = looks_like_ip(l4, snapped).filter(|v| *v == version);
            Ok((Transport::Other { protocol: proto }, l4, inner.map(|_| l4)))
        }
        PROTO_GRE => {
            let inner = gre(l4).filter(|b| looks_like_ip(b, snapped).is_some());
            Ok((Transport::Other { protocol: proto }, l4, inner))
        }
        _ => Ok((Transport::Other { protocol: proto }, l4, None)),
    }
}

/// The IP version of `b` if it starts with a consistent IP header. Unless the capture was
/// snapped, the header's length must fit in what follows.
fn looks_like_ip(b: &[u8], snapped: bool) -> Option<u8> {
    match byte(b, 0)? >> 4 {
        4 => {
            let ihl = usize::from(byte(b, 0)? & 0x0f) * 4;
            let total = usize::from(be16(b, 2)?);
            (b.len() >= 20 && ihl >= 20 && total >= ihl && (total <= b.len() || snapped))
                .then_some(4)
        }
        6 => {
            let total = 40 + usize::from(be16(b, 4)?);
            (b.len() >= 40 && (total <= b.len() || snapped)).then_some(6)
        }
        _ => None,
    }
}

fn udp_tunnel(port: u16, p: &[u8], snapped: bool) -> Option<&[u8]> {
    let inner = match port {
        PORT_VXLAN => vxlan(p),
        PORT_GENEVE => geneve(p),
        PORT_TEREDO => teredo(p).filter(|b| byte(b, 0).map(|v| v >> 4) == Some(6)),
        PORT_GTPU => gtpu(p),
        PORT_GRE_UDP => gre(p),
        PORT_CAPWAP_DATA => capwap(p),
        _ => None,
    }?;
    looks_like_ip(inner, snapped).map(|_| inner)
}

/// An Ethernet frame inside a tunnel. Inner VLAN tags are not recorded: the outer ones name the
/// capture point.
fn inner_ethernet(b: &[u8]) -> Option<&[u8]> {
    link::ethernet(b, &mut Vlans::default()).ok()
}

/// VXLAN (RFC 7348): 8-byte header with the I flag, then Ethernet.
fn vxlan(p: &[u8]) -> Option<&[u8]> {
    if byte(p, 0)? & 0x08 == 0 {
        return None;
    }
    inner_ethernet(p.get(8..)?)
}

/// Geneve (RFC 8926): version 0, options length in 4-byte words, protocol type.
fn geneve(p: &[u8]) -> Option<&[u8]> {
    let b0 = byte(p, 0)?;
    if b0 >> 6 != 0 {
        return None;
    }
    let body = p.get(8 + usize::from(b0 & 0x3f) * 4..)?;
    match be16(p, 2)? {
        ETHERTYPE_TEB => inner_ethernet(body),
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(body),
        _ => None,
    }
}

/// Teredo (RFC 4380): optional authentication and origin indication headers, then IPv6.
fn teredo(p: &[u8]) -> Option<&[u8]> {
    let mut off = 0usize;
    if p.get(..2)? == [0, 1] {
        // Authentication: type, id length, auth length, id, auth value, nonce (8), confirmation.
        let id_len = usize::from(byte(p, 2)?);
        let auth_len = usize::from(byte(p, 3)?);
        off = 4 + id_len + auth_len + 9;
    }
    if p.get(off..off + 2)? == [0, 0] {
        off += 8; // origin indication: type, port, address
    }
    p.get(off..)
}

/// GTP-U version 1 T-PDU (3GPP TS 29.281), with optional sequence/N-PDU/extension headers.
fn gtpu(p: &[u8]) -> Option<&[u8]> {
    let flags = byte(p, 0)?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || byte(p, 1)? != 0xff {
        return None;
    }
    let mut off = 8usize;
    if flags & 0x07 != 0 {
        let mut next = byte(p, 11)?;
        off = 12;
        if flags & 0x04 != 0 {
            for _ in 0..8 {
                if next == 0 {
                    break;
                }
                let len = usize::from(byte(p, off)?) * 4;
                if len == 0 {
                    return None;
                }
                off += len;
                next = byte(p, off - 1)?;
            }
            if next != 0 {
                return None;
            }
        }
    }
    p.get(off..)
}

/// CAPWAP data channel (RFC 5415): the header's HLEN says its length in 4-byte words; the T bit
/// says whether the frame is native to the wireless binding (WBID 1: 802.11) or 802.3.
/// DTLS-protected and fragmented packets are not followed.
fn capwap(p: &[u8]) -> Option<&[u8]> {
    let w = be32(p, 0)?;
    if w >> 24 != 0 {
        return None; // version 0, type 0 (a type of 1 is DTLS)
    }
    let hlen = ((w >> 19) & 0x1f) as usize * 4;
    let wbid = (w >> 9) & 0x1f;
    let native = (w >> 8) & 1 == 1;
    let fragment = (w >> 7) & 1 == 1;
    if hlen < 8 || fragment {
        return None;
    }
    let body = p.get(hlen..)?;
    match (native, wbid) {
        (false, _) => inner_ethernet(body),
        (true, 1) => link::ieee80211(body).ok(),
        _ => None,
    }
}

/// GRE (RFC 2784/2890, and the PPTP variant of RFC 2637) to the IP packet it carries.
fn gre(p: &[u8]) -> Option<&[u8]> {
    let flags = be16(p, 0)?;
    let proto = be16(p, 2)?;
    let mut off = 4usize;
    match flags & 0x7 {
        0 => {
            if flags & 0x4000 != 0 {
                return None; // source routing (RFC 1701), obsolete
            }
            for bit in [0x8000, 0x2000, 0x1000] {
                if flags & bit != 0 {
                    off += 4;
                }
            }
        }
        1 => {
            // Enhanced GRE: key (payload length + call id) always present, then seq, ack.
            if proto != ETHERTYPE_PPP || flags & 0x2000 == 0 {
                return None;
            }
            off += 4;
            for bit in [0x1000, 0x0080] {
                if flags & bit != 0 {
                    off += 4;
                }
            }
        }
        _ => return None,
    }
    let body = p.get(off..)?;
    match proto {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(body),
        ETHERTYPE_TEB => inner_ethernet(body),
        ETHERTYPE_PPP => link::ppp(body).ok(),
        // ERSPAN type II has a sequence number and an 8-byte header; type I has neither.
        0x88be if flags & 0x1000 != 0 => inner_ethernet(body.get(8..)?),
        0x88be => inner_ethernet(body),
        // ERSPAN type III: 12 bytes, plus 8 of platform data when the O bit is set; frame
        // type 0 is Ethernet.
        0x22eb => {
            let b11 = byte(body, 11)?;
            if (byte(body, 10)? >> 2) & 0x1f != 0 {
                return None;
            }
            let hlen = if b11 & 1 != 0 { 20 } else { 12 };
            inner_ethernet(body.get(hlen..)?)
        }
        0x8847 | 0x8848 => link::ethertype(proto, body, &mut Vlans::default()).ok(),
        // Aruba access points tunnel 802.11 frames to their controller.
        0x8200 => link::ieee80211(body).ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Fragment reassembly

/// How long an incomplete datagram waits for its other fragments (capture time).
pub const FRAGMENT_TIMEOUT: Nanos = 30_000_000_000;
/// Largest reassembled payload: the IPv4 offset field cannot address more.
const MAX_DATAGRAM: usize = 65_535;
/// Disjoint pieces kept per datagram: in-order fragments merge into one; many holes mean a
/// crafted stream (tiny overlapping fragments).
const MAX_PIECES: usize = 32;
/// Spare buffers kept for reuse, so steady fragment traffic does not allocate.
const MAX_SPARE: usize = 8;

/// What the fragment pool did, for reports. Every fragment that never made it into a datagram
/// is counted in exactly one `dropped_*` or `expired`/`evicted` bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FragmentStats {
    /// Fragments offered to the pool.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Exact duplicates of data already held (ignored, not an error).
    pub duplicates: u64,
    /// Datagrams discarded because fragments overlapped with different data (RFC 5722).
    pub dropped_overlap: u64,
    /// Fragments or datagrams with inconsistent lengths/offsets, or too large.
    pub dropped_invalid: u64,
    /// Non-first fragments clipped by the snap length.
    pub dropped_snapped: u64,
    /// First fragments clipped by the snap length, decoded alone (headers + payload prefix).
    pub snapped_first: u64,
    /// Datagrams cut into too many separate pieces.
    pub dropped_too_many_pieces: u64,
    /// Incomplete datagrams removed to make room (byte or entry cap).
    pub evicted: u64,
    /// Incomplete datagrams that waited longer than [`FRAGMENT_TIMEOUT`].
    pub expired: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

struct Entry {
    key: FragKey,
    first_ts: Nanos,
    buf: Vec<u8>,
    /// Received byte ranges, sorted, disjoint and not adjacent (merged on insert).
    pieces: Vec<(u32, u32)>,
    /// Datagram length, known once the last fragment arrived.
    total: Option<u32>,
    hdr_len: u32,
}

/// Holds IP fragments until their datagram is complete. Bounded by bytes and entries; stale
/// entries expire by capture time.
pub struct FragmentPool {
    max_bytes: usize,
    max_entries: usize,
    used_bytes: usize,
    entries: Vec<Entry>,
    spare_bufs: Vec<Vec<u8>>,
    spare_pieces: Vec<Vec<(u32, u32)>>,
    /// The last completed datagram; decoded packets borrow it.
    done: Vec<u8>,
    stats: FragmentStats,
}

enum Outcome {
    Held,
    Duplicate,
    Complete(usize),
    /// Remove the entry, counting it in the given bucket.
    Drop(fn(&mut FragmentStats) -> &mut u64),
}

impl FragmentPool {
    pub const DEFAULT_MAX_BYTES: usize = 4 << 20;

    pub fn new(max_bytes: usize) -> Self {
        FragmentPool {
            max_bytes,
            // A datagram needs at least one minimum-size fragment; cap the linear scan too.
            max_entries: (max_bytes / 512).clamp(1, 1024),
            used_bytes: 0,
            entries: Vec::new(),
            spare_bufs: Vec::new(),
            spare_pieces: Vec::new(),
            done: Vec::new(),
            stats: FragmentStats::default(),
        }
    }

    pub fn stats(&self) -> FragmentStats {
        self.stats
    }

    /// Incomplete datagrams currently held.
    pub fn pending(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of fragment data currently held.
    pub fn held_bytes(&self) -> usize {
        self.used_bytes
    }

    fn remove(&mut self, i: usize) -> Option<Entry> {
        if i >= self.entries.len() {
            return None;
        }
        let e = self.entries.swap_remove(i);
        self.used_bytes = self.used_bytes.saturating_sub(e.buf.len());
        Some(e)
    }

    fn recycle(&mut self, mut e: Entry) {
        if self.spare_bufs.len() < MAX_SPARE {
            e.buf.clear();
            self.spare_bufs.push(e.buf);
        }
        if self.spare_pieces.len() < MAX_SPARE {
            e.pieces.clear();
            self.spare_pieces.push(e.pieces);
        }
    }

    fn discard(&mut self, i: usize, bucket: fn(&mut FragmentStats) -> &mut u64) {
        if let Some(e) = self.remove(i) {
            *bucket(&mut self.stats) += 1;
            self.recycle(e);
        }
    }

    fn expire(&mut self, now: Nanos) {
        let mut i = 0;
        while i < self.entries.len() {
            let stale = self
                .entries
                .get(i)
                .is_some_and(|e| now.saturating_sub(e.first_ts) > FRAGMENT_TIMEOUT);
            if stale {
                self.discard(i, |s| &mut s.expired);
            } else {
                i += 1;
            }
        }
    }

    /// Index of the oldest entry other than `keep`.
    fn oldest_except(&self, keep: Option<usize>) -> Option<usize> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != keep)
            .min_by_key(|(_, e)| e.first_ts)
            .map(|(i, _)| i)
    }

    /// Add one fragment. Returns the whole datagram (transport bytes, or for IPv6 the bytes
    /// after the fragment header) and its IP length once every piece is there.
    fn insert<'a>(
        &'a mut self,
        key: FragKey,
        f: Frag,
        data: &[u8],
        ts: Nanos,
    ) -> Result<(&'a [u8], u32), DecodeError> {
        self.stats.fragments += 1;
        self.expire(ts);
        let start = f.offset as usize;
        let end = start + data.len();
        // Non-last fragments carry a multiple of 8 bytes; nothing reaches past 64 KiB.
        if end > MAX_DATAGRAM || (f.more && (!data.len().is_multiple_of(8) || data.is_empty())) {
            self.stats.dropped_invalid += 1;
            return Err(DecodeError::FragmentDropped);
        }
        let idx = match self.entries.iter().position(|e| e.key == key) {
            Some(i) => i,
            None => {
                if self.entries.len() >= self.max_entries {
                    if let Some(old) = self.oldest_except(None) {
                        self.discard(old, |s| &mut s.evicted);
                    }
                }
                let buf = self.spare_bufs.pop().unwrap_or_default();
                let pieces = self.spare_pieces.pop().unwrap_or_default();
                self.entries.push(Entry {
                    key,
                    first_ts: ts,
                    buf,
                    pieces,
                    total: None,
                    hdr_len: f.hdr_len,
                });
                self.entries.len() - 1
            }
        };
        // Make room for the bytes this fragment adds, evicting older datagrams first.
        let have = self.entries.get(idx).map_or(0, |e| e.buf.len());
        let grow = end.saturating_sub(have);
        let mut idx = idx;
        while self.used_bytes + grow > self.max_bytes {
            let Some(old) = self.oldest_except(Some(idx)) else {
                self.discard(idx, |s| &mut s.evicted);
                return Err(DecodeError::FragmentDropped);
            };
            // swap_remove moves the last entry into `old`; follow ours if it was last.
            let last = self.entries.len() - 1;
            self.discard(old, |s| &mut s.evicted);
            if idx == last {
                idx = old;
            }
        }
        let outcome = match self.entries.get_mut(idx) {
            Some(e) => add_piece(e, f, start, end, data),
            None => return Err(DecodeError::FragmentDropped),
        };
        // Account for what the buffer really grew by, before the entry may go away.
        let now_len = self.entries.get(idx).map_or(have, |e| e.buf.len());
        self.used_bytes += now_len.saturating_sub(have);
        match outcome {
            Outcome::Held => Err(DecodeError::FragmentHeld),
            Outcome::Duplicate => {
                self.stats.duplicates += 1;
                Err(DecodeError::FragmentHeld)
            }
            Outcome::Drop(bucket) => {
                self.discard(idx, bucket);
                Err(DecodeError::FragmentDropped)
            }
            Outcome::Complete(total) => {
                let Some(mut e) = self.remove(idx) else {
                    return Err(DecodeError::FragmentDropped);
                };
                self.stats.reassembled += 1;
                std::mem::swap(&mut self.done, &mut e.buf);
                let ip_bytes = e.hdr_len.saturating_add(total as u32);
                self.recycle(e);
                let data = self.done.get(..total).ok_or(DecodeError::FragmentDropped)?;
                Ok((data, ip_bytes))
            }
        }
    }
}

/// Merge one fragment into an entry. Exact duplicates are ignored; any other overlap or a
/// length contradiction condemns the whole datagram.
fn add_piece(e: &mut Entry, f: Frag, start: usize, end: usize, data: &[u8]) -> Outcome {
    let (s32, e32) = (start as u32, end as u32);
    if !f.more {
        if e.total.is_some_and(|t| t != e32) || e.pieces.iter().any(|&(_, pe)| pe > e32) {
            return Outcome::Drop(|s| &mut s.dropped_invalid);
        }
        e.total = Some(e32);
    } else if e.total.is_some_and(|t| e32 > t) {
        return Outcome::Drop(|s| &mut s.dropped_invalid);
    }
    for &(ps, pe) in e.pieces.iter() {
        if s32 < pe && ps < e32 {
            let same =
                ps <= s32 && e32 <= pe && e.buf.get(start..end).is_some_and(|held| held == data);
            if same {
                return Outcome::Duplicate;
            }
            return Outcome::Drop(|s| &mut s.dropped_overlap);
        }
    }
    if e.buf.len() < end {
        e.buf.resize(end, 0);
    }
    match e.buf.get_mut(start..end) {
        Some(dst) => dst.copy_from_slice(data),
        None => return Outcome::Drop(|s| &mut s.dropped_invalid),
    }
    if start == 0 {
        e.hdr_len = f.hdr_len;
    }
    // Insert keeping order, then merge neighbours that now touch.
    let pos = e.pieces.partition_point(|&(ps, _)| ps < s32);
    e.pieces.insert(pos, (s32, e32));
    let mut i = 0;
    while i + 1 < e.pieces.len() {
        match (e.pieces.get(i).copied(), e.pieces.get(i + 1).copied()) {
            (Some((a, b)), Some((c, d))) if b == c => {
                if let Some(p) = e.pieces.get_mut(i) {
                    *p = (a, d);
                }
                e.pieces.remove(i + 1);
            }
            _ => i += 1,
        }
    }
    if e.pieces.len() > MAX_PIECES {
        return Outcome::Drop(|s| &mut s.dropped_too_many_pieces);
    }
    match (e.total, e.pieces.as_slice()) {
        (Some(t), [(0, pe)]) if *pe == t => Outcome::Complete(t as usize),
        _ => Outcome::Held,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{LinkType, Packet};
    use crate::decode::Decoder;
    use proptest::prelude::*;

    const A4: [u8; 4] = [192, 0, 2, 1];
    const B4: [u8; 4] = [198, 51, 100, 7];
    const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    fn ip4(proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
        ip4_opts(proto, id, frag, &[], payload)
    }

    fn ip4_opts(proto: u8, id: u16, frag: u16, opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let hlen = 20 + opts.len();
        let total = (hlen + payload.len()) as u16;
        let mut v = vec![0x40 | (hlen / 4) as u8, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&frag.to_be_bytes());
        v.extend_from_slice(&[64, proto, 0, 0]);
        v.extend_from_slice(&A4);
        v.extend_from_slice(&B4);
        v.extend_from_slice(opts);
        v.extend_from_slice(payload);
        v
    }

    fn ip6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[next, 64]);
        v.extend_from_slice(&A6);
        v.extend_from_slice(&B6);
        v.extend_from_slice(payload);
        v
    }

    fn tcp(sport: u16, dport: u16, flags: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let doff = (20 + opts.len()) / 4;
        let mut v = Vec::new();
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&1000u32.to_be_bytes());
        v.extend_from_slice(&2000u32.to_be_bytes());
        v.extend_from_slice(&[(doff as u8) << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend_from_slice(opts);
        v.extend_from_slice(payload);
        v
    }

    fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        v
    }

    fn eth(et: u16, body: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    fn dec(ip: &[u8]) -> Result<Decoded<'static>, DecodeError> {
        // Leaked so the result can outlive temporaries; tests only.
        let ip: &'static [u8] = Box::leak(ip.to_vec().into_boxed_slice());
        let pool = Box::leak(Box::new(FragmentPool::new(FragmentPool::DEFAULT_MAX_BYTES)));
        decode(ip, Vlans::default(), 0, pool)
    }

    fn feed(pool: &mut FragmentPool, pkt: &[u8], ts: Nanos) -> Result<(), DecodeError> {
        decode(pkt, Vlans::default(), ts, pool).map(|_| ())
    }

    fn udp_ports(d: &Decoded<'_>) -> (u16, u16) {
        match d.transport {
            Transport::Udp { src_port, dst_port } => (src_port, dst_port),
            t => panic!("not UDP: {t:?}"),
        }
    }

    #[test]
    fn ipv4_tcp_with_options_and_ethernet_padding() {
        let seg = tcp(443, 50000, 0x18, &[2, 4, 5, 0xb4, 1, 1, 1, 0], b"hello");
        let mut pkt = ip4_opts(6, 1, 0x4000, &[1, 1, 1, 0], &seg);
        let total = pkt.len();
        pkt.extend_from_slice(&[0; 6]); // Ethernet minimum-size padding
        let d = dec(&pkt).unwrap();
        assert_eq!(d.src, IpAddr::from(A4));
        assert_eq!(d.dst, IpAddr::from(B4));
        assert_eq!(d.ip_bytes as usize, total);
        assert_eq!(
            d.transport,
            Transport::Tcp {
                src_port: 443,
                dst_port: 50000,
                seq: 1000,
                ack: 2000,
                flags: 0x18
            }
        );
        assert_eq!(d.payload, b"hello");
        assert!(!d.tunneled);
    }

    #[test]
    fn snapped_payload_is_clipped_not_an_error() {
        let pkt = ip4(17, 1, 0, &udp(5353, 53, &[7; 100]));
        let d = dec(&pkt[..60]).unwrap();
        assert_eq!(udp_ports(&d), (5353, 53));
        assert_eq!(d.payload, &[7; 32][..]);
        assert_eq!(d.ip_bytes, 128);
        // But a cut TCP header is an error...
        let pkt = ip4(6, 1, 0, &tcp(1, 2, 2, &[2, 4, 5, 0xb4], &[]));
        assert_eq!(dec(&pkt[..30]).unwrap_err(), DecodeError::Truncated);
        // ...except for options cut by the snap length.
        let d = dec(&pkt[..40]).unwrap();
        assert!(matches!(d.transport, Transport::Tcp { src_port: 1, .. }));
        assert!(d.payload.is_empty());
        // Options running past the IP length (not snapped) are malformed.
        let mut seg = tcp(1, 2, 2, &[], &[]);
        seg[12] = 0x60;
        assert_eq!(
            dec(&ip4(6, 1, 0, &seg)).unwrap_err(),
            DecodeError::Truncated
        );
    }

    #[test]
    fn bad_headers() {
        let mut pkt = ip4(17, 1, 0, &udp(1, 2, b"x"));
        pkt[0] = 0x44; // IHL 16 bytes
        assert_eq!(dec(&pkt).unwrap_err(), DecodeError::BadIp);
        let mut pkt = ip4(17, 1, 0, &udp(1, 2, b"x"));
        pkt[3] = 10; // total length below header length
        assert_eq!(dec(&pkt).unwrap_err(), DecodeError::BadIp);
        assert_eq!(dec(&[0x50; 40]).unwrap_err(), DecodeError::BadIp);
        let mut seg = tcp(1, 2, 2, &[], &[]);
        seg[12] = 0x40; // data offset 16
        assert_eq!(dec(&ip4(6, 1, 0, &seg)).unwrap_err(), DecodeError::BadIp);
    }

    #[test]
    fn icmp_is_other() {
        let d = dec(&ip4(1, 1, 0, &[8, 0, 0, 0, 0, 1, 0, 1])).unwrap();
        assert_eq!(d.transport, Transport::Other { protocol: 1 });
    }

    #[test]
    fn ipv6_extension_headers() {
        let u = udp(5353, 5353, b"q");
        // Hop-by-hop (8) -> routing (24) -> destination options (8) -> AH (16) -> UDP.
        let mut p = vec![43, 0, 1, 4, 0, 0, 0, 0];
        p.extend_from_slice(&[60, 2, 0, 1, 0, 0, 0, 0]);
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[51, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[17, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        p.extend_from_slice(&u);
        let pkt = ip6(0, &p);
        let d = dec(&pkt).unwrap();
        assert_eq!(udp_ports(&d), (5353, 5353));
        assert_eq!(d.payload, b"q");
        assert_eq!(d.ip_bytes as usize, pkt.len());
        assert_eq!(d.src, IpAddr::from(A6));
        // Atomic fragment (offset 0, M=0) is a whole packet.
        let mut p = vec![17, 0, 0, 0, 0, 0, 0, 9];
        p.extend_from_slice(&u);
        assert_eq!(udp_ports(&dec(&ip6(44, &p)).unwrap()), (5353, 5353));
        // No next header.
        let d = dec(&ip6(59, &[])).unwrap();
        assert_eq!(d.transport, Transport::Other { protocol: 59 });
        // An extension header claiming more than the packet holds.
        let pkt = ip6(60, &[17, 200, 0, 0, 0, 0, 0, 0]);
        assert_eq!(dec(&pkt).unwrap_err(), DecodeError::Truncated);
    }

    #[test]
    fn endless_extension_chain_is_refused() {
        let mut p = Vec::new();
        for _ in 0..20 {
            p.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        }
        assert_eq!(dec(&ip6(60, &p)).unwrap_err(), DecodeError::BadIp);
    }

    fn inner_tcp4() -> Vec<u8> {
        let mut v = ip4(6, 9, 0, &tcp(40000, 80, 0x02, &[], &[]));
        v[12..16].copy_from_slice(&[10, 1, 1, 1]);
        v[16..20].copy_from_slice(&[10, 2, 2, 2]);
        v
    }

    fn assert_inner_tcp4(d: &Decoded<'_>) {
        assert!(d.tunneled);
        assert_eq!(d.src, IpAddr::from([10, 1, 1, 1]));
        assert_eq!(d.dst, IpAddr::from([10, 2, 2, 2]));
        assert!(matches!(d.transport, Transport::Tcp { dst_port: 80, .. }));
    }

    #[test]
    fn ip_in_ip() {
        // 4in6 and 6in4.
        let pkt = ip6(4, &inner_tcp4());
        assert_inner_tcp4(&dec(&pkt).unwrap());
        let pkt = ip4(41, 1, 0, &ip6(17, &udp(1, 53, b"z")));
        let d = dec(&pkt).unwrap();
        assert!(d.tunneled);
        assert_eq!(d.src, IpAddr::from(A6));
        assert_eq!(udp_ports(&d), (1, 53));
        // Protocol 4 but an IPv6 inside: not a consistent tunnel, kept as the outer packet.
        let d = dec(&ip4(4, 1, 0, &ip6(59, &[]))).unwrap();
        assert!(!d.tunneled);
        assert_eq!(d.transport, Transport::Other { protocol: 4 });
    }

    #[test]
    fn gre_variants() {
        // Plain GRE carrying IPv4.
        let g = [&[0u8, 0, 0x08, 0x00][..], &inner_tcp4()].concat();
        assert_inner_tcp4(&dec(&ip4(47, 1, 0, &g)).unwrap());
        // Checksum + key + sequence.
        let g = [
            &[0xb0u8, 0, 0x08, 0x00][..],
            &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5],
            &inner_tcp4(),
        ]
        .concat();
        assert_inner_tcp4(&dec(&ip4(47, 1, 0, &g)).unwrap());
        // Transparent Ethernet bridging with a key.
        let g = [
            &[0x20u8, 0, 0x65, 0x58, 0, 0, 0, 1][..],
            &eth(0x0800, &inner_tcp4()),
        ]
        .concat();
        assert_inner_tcp4(&dec(&ip4(47, 1, 0, &g)).unwrap());
        // ERSPAN type II (sequence bit, 8-byte ERSPAN header).
        let g = [
            &[0x10u8, 0, 0x88, 0xbe, 0, 0, 0, 1][..],
            &[0x10, 0, 0, 1, 0, 0, 0, 0],
            &eth(0x0800, &inner_tcp4()),
        ]
        .concat();
        assert_inner_tcp4(&dec(&ip4(47, 1, 0, &g)).unwrap());
        // ERSPAN type III.
        let g = [
            &[0x10u8, 0, 0x22, 0xeb, 0, 0, 0, 1][..],
            &[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            &eth(0x0800, &inner_tcp4()),
        ]
        .concat();
        assert_inner_tcp4(&dec(&ip4(47, 1, 0, &g)).unwrap());
        // PPTP enhanced GRE (version 1) carrying PPP/IP.
        let g = [
            &[
                0x30u8, 0x81, 0x88, 0x0b, 0, 40, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0,
            ][..],
            &[0xff, 0x03, 0x00, 0x21],
            &inner_tcp4(),
        ]
        .concat();
        assert_inner_tcp4(&dec(&ip4(47, 1, 0, &g)).unwrap());
        // GRE keepalive-ish junk: stays the outer GRE packet.
        let d = dec(&ip4(47, 1, 0, &[0, 0, 0x08, 0x00, 1, 2, 3])).unwrap();
        assert!(!d.tunneled);
        assert_eq!(d.transport, Transport::Other { protocol: 47 });
    }

    /// An 802.11 QoS data frame (from-DS) with LLC/SNAP around `ip`.
    fn wifi(ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0x88, 0x02];
        f.extend_from_slice(&[0; 24]);
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(ip);
        f
    }

    #[test]
    fn aruba_gre_gre_in_udp_and_capwap() {
        // Aruba: GRE protocol 0x8200 carrying an 802.11 frame.
        let g = [&[0u8, 0, 0x82, 0x00][..], &wifi(&inner_tcp4())].concat();
        assert_inner_tcp4(&dec(&ip4(47, 1, 0, &g)).unwrap());
        // GRE-in-UDP (RFC 8086): a GRE header as the UDP payload.
        let g = [&[0u8, 0, 0x08, 0x00][..], &inner_tcp4()].concat();
        assert_inner_tcp4(&dec(&ip4(17, 1, 0, &udp(50000, 4754, &g))).unwrap());
        // CAPWAP data, HLEN 2 (8 bytes), 802.3 payload (T = 0).
        let cw = [
            &[0u8, 0x10, 0x02, 0x00, 0, 0, 0, 0][..],
            &eth(0x0800, &inner_tcp4()),
        ]
        .concat();
        assert_inner_tcp4(&dec(&ip4(17, 1, 0, &udp(5247, 12222, &cw))).unwrap());
        // Native 802.11 (T = 1, WBID 1), HLEN 4 (with a radio MAC field).
        let cw = [&[0u8, 0x20, 0x03, 0x00][..], &[0; 12], &wifi(&inner_tcp4())].concat();
        assert_inner_tcp4(&dec(&ip4(17, 1, 0, &udp(12222, 5247, &cw))).unwrap());
        // DTLS-protected (type 1) and fragmented packets stay plain UDP.
        for hdr in [[1u8, 0x10, 0x02, 0x00], [0, 0x10, 0x02, 0x80]] {
            let cw = [&hdr[..], &[0; 4], &eth(0x0800, &inner_tcp4())].concat();
            let d = dec(&ip4(17, 1, 0, &udp(5247, 12222, &cw))).unwrap();
            assert!(!d.tunneled);
        }
    }

    #[test]
    fn vxlan_and_geneve() {
        let vx = [
            &[0x08u8, 0, 0, 0, 0, 0, 42, 0][..],
            &eth(0x0800, &inner_tcp4()),
        ]
        .concat();
        assert_inner_tcp4(&dec(&ip4(17, 1, 0, &udp(51234, 4789, &vx))).unwrap());
        // Geneve with one 8-byte option, carrying Ethernet, then carrying IPv4 directly.
        let opt = [1u8, 2, 3, 2, 0, 0, 0, 0];
        let gn = [
            &[0x02u8, 0, 0x65, 0x58, 0, 0, 1, 0][..],
            &opt,
            &eth(0x0800, &inner_tcp4()),
        ]
        .concat();
        assert_inner_tcp4(&dec(&ip4(17, 1, 0, &udp(1234, 6081, &gn))).unwrap());
        let gn = [&[0x00u8, 0, 0x08, 0x00, 0, 0, 1, 0][..], &inner_tcp4()].concat();
        assert_inner_tcp4(&dec(&ip4(17, 1, 0, &udp(1234, 6081, &gn))).unwrap());
        // Something else on the VXLAN port stays UDP.
        let d = dec(&ip4(17, 1, 0, &udp(1, 4789, b"not a vxlan header at all"))).unwrap();
        assert!(!d.tunneled);
        assert_eq!(udp_ports(&d), (1, 4789));
        // VXLAN carrying ARP: not IP inside, stays UDP.
        let vx = [&[0x08u8, 0, 0, 0, 0, 0, 42, 0][..], &eth(0x0806, &[0; 28])].concat();
        let d = dec(&ip4(17, 1, 0, &udp(1, 4789, &vx))).unwrap();
        assert!(!d.tunneled);
    }

    #[test]
    fn teredo() {
        let inner = ip6(17, &udp(1, 53, b"q"));
        // Plain, then with origin indication, then with authentication + origin.
        for prefix in [
            vec![],
            vec![0, 0, 0x12, 0x34, 1, 2, 3, 4],
            [
                &[0u8, 1, 2, 0, 0xaa, 0xbb][..],
                &[0; 9],
                &[0, 0, 0x12, 0x34, 1, 2, 3, 4],
            ]
            .concat(),
        ] {
            let p = [&prefix[..], &inner].concat();
            let d = dec(&ip4(17, 1, 0, &udp(3544, 61000, &p))).unwrap();
            assert!(d.tunneled, "prefix {prefix:?}");
            assert_eq!(udp_ports(&d), (1, 53));
        }
        // IPv4 inside Teredo is not Teredo.
        let d = dec(&ip4(17, 1, 0, &udp(3544, 61000, &inner_tcp4()))).unwrap();
        assert!(!d.tunneled);
    }

    #[test]
    fn gtp_u() {
        let inner = inner_tcp4();
        let mut g = vec![0x30, 0xff];
        g.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        g.extend_from_slice(&[0, 0, 0, 1]);
        g.extend_from_slice(&inner);
        assert_inner_tcp4(&dec(&ip4(17, 1, 0, &udp(2152, 2152, &g))).unwrap());
        // Sequence flag + one extension header (PDU session container, 4 bytes).
        let mut g = vec![0x36, 0xff, 0, 0, 0, 0, 0, 1, 0, 7, 0, 0x85];
        g.extend_from_slice(&[1, 0x10, 9, 0]);
        g.extend_from_slice(&inner);
        assert_inner_tcp4(&dec(&ip4(17, 1, 0, &udp(2152, 2152, &g))).unwrap());
        // Echo request (type 1) is not a T-PDU.
        let g = [&[0x32u8, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0][..], &inner].concat();
        assert!(!dec(&ip4(17, 1, 0, &udp(2152, 2152, &g))).unwrap().tunneled);
    }

    #[test]
    fn tunnel_depth_is_capped() {
        let mut pkt = inner_tcp4();
        for _ in 0..MAX_TUNNEL_DEPTH {
            pkt = ip4(4, 1, 0, &pkt);
        }
        assert_inner_tcp4(&dec(&pkt).unwrap());
        let pkt = ip4(4, 1, 0, &pkt);
        assert_eq!(dec(&pkt).unwrap_err(), DecodeError::TooDeep);
    }

    #[test]
    fn broken_inner_packet_falls_back_to_outer() {
        // Inner IPv4 claims TCP but the TCP header is cut: the outer UDP flow is kept.
        let mut inner = ip4(6, 1, 0, &[0; 10]);
        inner[2..4].copy_from_slice(&30u16.to_be_bytes());
        let vx = [&[0x08u8, 0, 0, 0, 0, 0, 42, 0][..], &eth(0x0800, &inner)].concat();
        let d = dec(&ip4(17, 1, 0, &udp(1, 4789, &vx))).unwrap();
        assert!(!d.tunneled);
        assert_eq!(udp_ports(&d), (1, 4789));
    }

    fn frag4(id: u16, off: usize, more: bool, data: &[u8]) -> Vec<u8> {
        let fl = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        ip4(17, id, fl, data)
    }

    fn dgram() -> Vec<u8> {
        udp(5353, 53, &(0..100u8).collect::<Vec<_>>())
    }

    #[test]
    fn ipv4_fragments_in_and_out_of_order() {
        let d = dgram(); // 108 bytes: 48 + 48 + 12
        let parts = [
            frag4(7, 0, true, &d[..48]),
            frag4(7, 48, true, &d[48..96]),
            frag4(7, 96, false, &d[96..]),
        ];
        for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]] {
            let mut pool = FragmentPool::new(1 << 16);
            for &i in &order[..2] {
                let r = decode(&parts[i], Vlans::default(), 0, &mut pool).map(|_| ());
                assert_eq!(r, Err(DecodeError::FragmentHeld));
            }
            let out = decode(&parts[order[2]], Vlans::default(), 1, &mut pool).unwrap();
            assert_eq!(udp_ports(&out), (5353, 53));
            assert_eq!(out.payload, &d[8..]);
            assert_eq!(out.ip_bytes, 20 + 108);
            assert_eq!(pool.pending(), 0);
            assert_eq!(pool.held_bytes(), 0);
            assert_eq!(pool.stats().reassembled, 1);
        }
    }

    #[test]
    fn duplicate_and_overlapping_fragments() {
        let d = dgram();
        let mut pool = FragmentPool::new(1 << 16);
        let a = frag4(8, 0, true, &d[..48]);
        for _ in 0..2 {
            let r = decode(&a, Vlans::default(), 0, &mut pool).map(|_| ());
            assert_eq!(r, Err(DecodeError::FragmentHeld));
        }
        assert_eq!(pool.stats().duplicates, 1);
        let b = frag4(8, 48, false, &d[48..]);
        let done = decode(&b, Vlans::default(), 0, &mut pool).unwrap();
        assert_eq!(done.payload, &d[8..]);

        // Overlap with different bytes drops the datagram.
        let mut pool = FragmentPool::new(1 << 16);
        let _ = feed(&mut pool, &frag4(9, 0, true, &d[..48]), 0);
        let evil = frag4(9, 40, false, &[0xee; 20]);
        let r = decode(&evil, Vlans::default(), 0, &mut pool).map(|_| ());
        assert_eq!(r, Err(DecodeError::FragmentDropped));
        assert_eq!(pool.stats().dropped_overlap, 1);
        assert_eq!(pool.pending(), 0);
        assert_eq!(pool.held_bytes(), 0);

        // Two different "last" fragments contradict each other.
        let mut pool = FragmentPool::new(1 << 16);
        let _ = feed(&mut pool, &frag4(10, 48, false, &d[48..]), 0);
        let r = feed(&mut pool, &frag4(10, 96, false, &d[96..100]), 0);
        assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentDropped));
        assert_eq!(pool.stats().dropped_invalid, 1);
        // A non-final fragment whose length is not a multiple of 8.
        let r = feed(&mut pool, &frag4(11, 0, true, &d[..13]), 0);
        assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentDropped));
        // A snapped fragment cannot be reassembled; the first one is still decoded alone.
        let f = frag4(12, 48, true, &d[48..96]);
        let r = decode(&f[..40], Vlans::default(), 0, &mut pool);
        assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentDropped));
        assert_eq!(pool.stats().dropped_snapped, 1);
        let f = frag4(12, 0, true, &d[..48]);
        let first = decode(&f[..40], Vlans::default(), 0, &mut pool).unwrap();
        assert_eq!(udp_ports(&first), (5353, 53));
        assert_eq!(first.payload, &d[8..20]);
        assert_eq!(pool.stats().snapped_first, 1);
        assert_eq!(pool.pending(), 0);
    }

    #[test]
    fn pool_is_bounded_and_expires() {
        let big = [0u8; 1024];
        let mut pool = FragmentPool::new(4096);
        for id in 0..10u16 {
            let r = feed(&mut pool, &frag4(id, 0, true, &big), u64::from(id));
            assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentHeld));
            assert!(pool.held_bytes() <= 4096);
        }
        assert_eq!(pool.pending(), 4);
        assert_eq!(pool.stats().evicted, 6);
        // The oldest went first: id 9 completes, id 0 does not.
        let last = frag4(9, 1024, false, &[1; 8]);
        assert!(decode(&last, Vlans::default(), 10, &mut pool).is_ok());
        // A datagram larger than the whole pool is dropped.
        let mut small = FragmentPool::new(1000);
        let r = feed(&mut small, &frag4(1, 0, true, &big), 0);
        assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentDropped));
        assert_eq!(small.held_bytes(), 0);
        // Expiry by capture time.
        let mut pool = FragmentPool::new(1 << 16);
        let _ = feed(&mut pool, &frag4(3, 0, true, &big), 0);
        let later = 31_000_000_000;
        let r = feed(&mut pool, &frag4(3, 1024, false, &[1; 8]), later);
        assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentHeld));
        assert_eq!(pool.stats().expired, 1);
        // Offsets past 64 KiB.
        let r = feed(&mut pool, &frag4(4, 65528, false, &big), later);
        assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentDropped));
    }

    fn frag6(id: u32, off: usize, more: bool, data: &[u8]) -> Vec<u8> {
        // Hop-by-hop header in the unfragmentable part, then the fragment header.
        let fo = (off as u16) | u16::from(more);
        let mut p = vec![44, 0, 1, 4, 0, 0, 0, 0, 17, 0];
        p.extend_from_slice(&fo.to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(data);
        ip6(0, &p)
    }

    #[test]
    fn ipv6_fragments() {
        let d = dgram();
        let mut pool = FragmentPool::new(1 << 16);
        let b = frag6(0xdead, 56, false, &d[56..]);
        let a = frag6(0xdead, 0, true, &d[..56]);
        let r = decode(&b, Vlans::default(), 0, &mut pool).map(|_| ());
        assert_eq!(r, Err(DecodeError::FragmentHeld));
        let out = decode(&a, Vlans::default(), 0, &mut pool).unwrap();
        assert_eq!(udp_ports(&out), (5353, 53));
        assert_eq!(out.payload, &d[8..]);
        assert_eq!(out.src, IpAddr::from(A6));
        // 40 + hop-by-hop 8 + datagram.
        assert_eq!(out.ip_bytes, 48 + 108);
    }

    #[test]
    fn fragmented_outer_tunnel_is_followed() {
        // GTP-U in an IPv4 datagram fragmented in two (as in the GTP corpus file).
        let inner = inner_tcp4();
        let mut g = vec![0x30, 0xff];
        g.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        g.extend_from_slice(&[0, 0, 0, 1]);
        g.extend_from_slice(&inner);
        let u = udp(2152, 2152, &g);
        let mut pool = FragmentPool::new(1 << 16);
        let r = feed(&mut pool, &frag4(5, 0, true, &u[..32]), 0);
        assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentHeld));
        let b = frag4(5, 32, false, &u[32..]);
        let out = decode(&b, Vlans::default(), 0, &mut pool).unwrap();
        assert_inner_tcp4(&out);
    }

    /// Every prefix of a valid packet is either a clean decode or `Truncated`, never a panic or
    /// a wrong kind of error.
    #[test]
    fn every_prefix_is_truncated_or_valid() {
        let vx = [
            &[0x08u8, 0, 0, 0, 0, 0, 42, 0][..],
            &eth(0x0800, &inner_tcp4()),
        ]
        .concat();
        let gre = [&[0xb0u8, 0, 0x08, 0x00][..], &[0; 12], &inner_tcp4()].concat();
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&tcp(1, 2, 2, &[1, 1, 1, 0], b"data"));
        let pkts = [
            ip4_opts(
                6,
                1,
                0,
                &[1, 1, 1, 0],
                &tcp(1, 2, 2, &[1, 1, 1, 0], b"data"),
            ),
            ip6(0, &ext),
            ip4(17, 1, 0, &udp(1, 4789, &vx)),
            ip4(47, 1, 0, &gre),
            ip6(4, &inner_tcp4()),
        ];
        for pkt in &pkts {
            assert!(dec(pkt).is_ok());
            for cut in 0..pkt.len() {
                match dec(&pkt[..cut]) {
                    Ok(_) | Err(DecodeError::Truncated) => {}
                    Err(e) => panic!("cut {cut} of {pkt:?}: {e:?}"),
                }
            }
        }
    }

    const LINKS: [u32; 23] = [
        0, 1, 7, 9, 10, 12, 50, 101, 104, 105, 108, 113, 127, 129, 149, 192, 228, 229, 239, 242,
        258, 276, 999,
    ];

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(link in proptest::sample::select(&LINKS[..]),
                                       data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut dec = Decoder::new(1 << 16);
            let pkt = Packet { ts: 0, link: LinkType(link), data: &data, orig_len: data.len() as u32 };
            if let Ok(d) = dec.decode(&pkt) {
                // A single record never completes a datagram, so views point into the record.
                let r = data.as_ptr_range();
                let p = d.payload.as_ptr_range();
                prop_assert!(d.payload.is_empty() || (r.start <= p.start && p.end <= r.end));
            }
        }

        #[test]
        fn arbitrary_bytes_after_ip_header_never_panic(v6 in any::<bool>(), proto in proptest::sample::select(vec![0u8, 4, 6, 17, 41, 43, 44, 47, 51, 60]),
                                                       body in proptest::collection::vec(any::<u8>(), 0..120)) {
            let pkt = if v6 { ip6(proto, &body) } else { ip4(proto, 1, 0, &body) };
            let _ = dec(&pkt);
        }

        #[test]
        fn udp_roundtrip_through_vlan_and_padding(sport in any::<u16>(), dport in 1u16..2000, vid in 0u16..4096,
                                                  body in proptest::collection::vec(any::<u8>(), 0..64),
                                                  pad in 0usize..20) {
            let mut ipb = ip4(17, 1, 0, &udp(sport, dport, &body));
            let ip_len = ipb.len();
            ipb.extend(std::iter::repeat_n(0, pad));
            let mut tag = vid.to_be_bytes().to_vec();
            tag.extend_from_slice(&[0x08, 0x00]);
            let frame = eth(0x8100, &[&tag[..], &ipb].concat());
            let mut dec = Decoder::default();
            let pkt = Packet { ts: 0, link: LinkType::ETHERNET, data: &frame, orig_len: frame.len() as u32 };
            let d = dec.decode(&pkt).unwrap();
            prop_assert_eq!(d.transport, Transport::Udp { src_port: sport, dst_port: dport });
            prop_assert_eq!(d.payload, &body[..]);
            prop_assert_eq!(d.ip_bytes as usize, ip_len);
            prop_assert_eq!(d.vlans.as_slice(), &[vid][..]);
        }

        /// Fragments of any datagram, cut at any 8-byte boundaries and delivered in any order,
        /// reassemble to the original payload.
        #[test]
        fn fragments_reassemble_in_any_order(body in proptest::collection::vec(any::<u8>(), 1..300),
                                             cuts in proptest::collection::vec(1usize..40, 1..6),
                                             seed in any::<u64>()) {
            let d = udp(9, 10, &body);
            let mut bounds = vec![0usize];
            for c in cuts {
                let next = bounds.last().copied().unwrap_or(0) + c * 8;
                if next >= d.len() { break; }
                bounds.push(next);
            }
            bounds.push(d.len());
            let mut frags: Vec<Vec<u8>> = bounds.windows(2)
                .map(|w| frag4(77, w[0], w[1] != d.len(), &d[w[0]..w[1]]))
                .collect();
            // Deterministic shuffle from the seed.
            let mut s = seed;
            for i in (1..frags.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                frags.swap(i, (s >> 33) as usize % (i + 1));
            }
            let mut pool = FragmentPool::new(1 << 16);
            let n = frags.len();
            for (i, f) in frags.iter().enumerate() {
                let r = decode(f, Vlans::default(), 0, &mut pool);
                if i + 1 < n {
                    prop_assert_eq!(r.map(|_| ()), Err(DecodeError::FragmentHeld));
                } else if n == 1 {
                    prop_assert_eq!(r.unwrap().payload, &body[..]);
                } else {
                    let out = r.unwrap();
                    prop_assert_eq!(out.payload, &body[..]);
                    prop_assert_eq!(out.transport, Transport::Udp { src_port: 9, dst_port: 10 });
                }
            }
        }
    }
}
