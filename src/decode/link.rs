//! Link layers: Ethernet (802.1Q, QinQ, PPPoE, MPLS, PBB, VN-Tag, E-Tag, Cisco MetaData,
//! cleartext MACsec), Linux SLL and SLL2, raw IP, BSD null/loop, PPP (with MPLS), Cisco HDLC,
//! FDDI, 802.11 (plain, radiotap, PPI), NFLOG, PKTAP, IP over InfiniBand, ARCNET.
//!
//! A frame is either IP (returned), known not to be IP (ARP, LLDP, STP, PPP control protocols:
//! [`DecodeError::NotIp`], normal traffic), or a framing we do not decode
//! ([`DecodeError::Unsupported`], counted by kind and reported: IP may hide inside).
//!
//! Every function only looks at headers and returns a sub-slice that starts at the IP header; the
//! IP layer itself is checked in [`super::ip`].

use super::{DecodeError, Framing, Vlans};
use crate::capture::LinkType;

/// How many VLAN tags / MPLS labels / nested encapsulations we walk before giving up: real
/// networks use 1-3; a long chain is a crafted packet meant to burn CPU.
const MAX_LINK_HOPS: usize = 8;

pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86dd;
pub(crate) const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_QINQ_OLD2: u16 = 0x9200;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MC: u16 = 0x8848;
pub(crate) const ETHERTYPE_PPP: u16 = 0x880b;
const ETHERTYPE_CISCO_METADATA: u16 = 0x8909;
const ETHERTYPE_PBB: u16 = 0x88e7;
const ETHERTYPE_VNTAG: u16 = 0x8926;
const ETHERTYPE_ETAG: u16 = 0x893f;
const ETHERTYPE_MACSEC: u16 = 0x88e5;

/// Ethertypes that are not IP and carry none: normal mirror-port traffic we skip (`NotIp`).
/// Anything else that is not decoded counts as an unsupported framing.
const NOT_IP_ETHERTYPES: &[u16] = &[
    0x010b, // Cisco PVST+ (SNAP)
    0x0806, // ARP
    0x0842, // Wake-on-LAN
    0x2000, // CDP (SNAP)
    0x2003, // VTP (SNAP)
    0x2004, // DTP (SNAP)
    0x22ea, // 802.1Qat SRP
    0x22f0, // AVTP
    0x6002, // DEC MOP
    0x8035, // RARP
    0x809b, // AppleTalk
    0x80f3, // AARP
    0x8137, // IPX
    0x8808, // Ethernet flow control
    0x8809, // slow protocols (LACP, OAM)
    0x8863, // PPPoE discovery
    0x886d, // Intel ANS probe
    0x888e, // EAPOL
    0x8892, // PROFINET
    0x889a, // HyperSCSI
    0x88a2, // AoE
    0x88a4, // EtherCAT
    0x88b5, // local experimental 1
    0x88b6, // local experimental 2
    0x88b8, // IEC 61850 GOOSE
    0x88ba, // IEC 61850 SV
    0x88c7, // 802.11i pre-authentication
    0x88cc, // LLDP
    0x88e1, // HomePlug AV
    0x88e3, // MRP
    0x88f5, // MVRP
    0x88f6, // MMRP
    0x88f7, // PTP
    0x88f8, // NC-SI
    0x8902, // CFM / Y.1731
    0x8906, // FCoE
    0x890d, // 802.11 TDLS
    0x8914, // FIP
    0x8915, // RoCE
    0x893a, // IEEE 1905.1
    0x9000, // loopback (CTP)
];

#[inline]
pub(crate) fn be16(d: &[u8], at: usize) -> Option<u16> {
    match d.get(at..at.checked_add(2)?)? {
        [a, b] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

#[inline]
fn le16(d: &[u8], at: usize) -> Option<u16> {
    be16(d, at).map(u16::swap_bytes)
}

#[inline]
fn le32(d: &[u8], at: usize) -> Option<u32> {
    match d.get(at..at.checked_add(4)?)? {
        [a, b, c, e] => Some(u32::from_le_bytes([*a, *b, *c, *e])),
        _ => None,
    }
}

#[inline]
fn tail(d: &[u8], at: usize) -> Result<&[u8], DecodeError> {
    d.get(at..).ok_or(DecodeError::Truncated)
}

/// Strip the link layer of a record: returns the bytes starting at the IP header (IPv4 or IPv6,
/// told apart by the version nibble), recording VLAN tags on the way.
pub fn strip<'a>(
    link: LinkType,
    data: &'a [u8],
    vlans: &mut Vlans,
) -> Result<&'a [u8], DecodeError> {
    strip_inner(link.0, data, vlans, true)
}

/// `wrappers`: PPI and PKTAP may be decoded (they name an inner link type; not recursively).
fn strip_inner<'a>(
    link: u32,
    data: &'a [u8],
    vlans: &mut Vlans,
    wrappers: bool,
) -> Result<&'a [u8], DecodeError> {
    match link {
        0 => null(data, false, vlans),
        1 => ethernet(data, vlans),
        7 => arcnet(data, 2, true),
        9 | 50 => ppp(data),
        10 => fddi(data),
        // LINKTYPE_RAW, plus the DLT_RAW values some OSes wrote into files (12, 14).
        12 | 14 | 101 => raw(data),
        104 => chdlc(data, vlans),
        105 => ieee80211(data),
        108 => null(data, true, vlans),
        113 => linux_sll(data, vlans),
        127 => radiotap(data),
        129 => arcnet(data, 4, false),
        // LINKTYPE_PKTAP, and DLT_USER2 as macOS writes PKTAP into files.
        149 | 258 if wrappers => pktap(data, vlans),
        192 if wrappers => ppi(data, vlans),
        228 => raw_version(data, 4),
        229 => raw_version(data, 6),
        239 => nflog(data),
        242 => ipoib(data, vlans),
        276 => linux_sll2(data, vlans),
        _ => Err(DecodeError::UnsupportedLink),
    }
}

/// The sender's 6-byte hardware address, for the link types that carry one at a fixed place:
/// Ethernet (source MAC at offset 6, VLAN tags come after it) and Linux cooked captures of an
/// Ethernet device (SLL and SLL2 record the sender's address). `None` for every other link.
pub fn source_mac(link: LinkType, data: &[u8]) -> Option<[u8; 6]> {
    let (at, hatype, halen) = match link.0 {
        1 => return six(data, 6),
        113 => (6, be16(data, 2)?, be16(data, 4)?),
        276 => (12, be16(data, 8)?, u16::from(*data.get(11)?)),
        _ => return None,
    };
    // ARPHRD_ETHER with a 6-byte address.
    if hatype != 1 || halen != 6 {
        return None;
    }
    six(data, at)
}

fn six(d: &[u8], at: usize) -> Option<[u8; 6]> {
    match d.get(at..at.checked_add(6)?)? {
        [a, b, c, e, f, g] => Some([*a, *b, *c, *e, *f, *g]),
        _ => None,
    }
}

fn raw(data: &[u8]) -> Result<&[u8], DecodeError> {
    match data.first().map(|b| b >> 4) {
        Some(4 | 6) => Ok(data),
        Some(_) => Err(DecodeError::BadIp),
        None => Err(DecodeError::Truncated),
    }
}

fn raw_version(data: &[u8], version: u8) -> Result<&[u8], DecodeError> {
    match data.first() {
        Some(b) if b >> 4 == version => Ok(data),
        Some(_) => Err(DecodeError::BadIp),
        None => Err(DecodeError::Truncated),
    }
}

/// BSD loopback: a 4-byte address family, in the capturing host's byte order for `NULL` (so we
/// accept either order) and network order for `LOOP`. Some writers put an ethertype there
/// instead (values above the largest 802.3 length); that is followed like Ethernet's.
fn null<'a>(
    data: &'a [u8],
    network_order: bool,
    vlans: &mut Vlans,
) -> Result<&'a [u8], DecodeError> {
    let fam = le32(data, 0).ok_or(DecodeError::Truncated)?;
    let fam = if network_order || fam > 0xffff {
        fam.swap_bytes()
    } else {
        fam
    };
    match fam {
        // AF_INET everywhere; AF_INET6 on NetBSD/OpenBSD, FreeBSD, macOS.
        2 | 24 | 28 | 30 => tail(data, 4),
        0x0600..=0xffff => ethertype(fam as u16, tail(data, 4)?, vlans),
        _ => Err(DecodeError::NotIp),
    }
}

/// Linux NFLOG (what iptables/nftables `log group` writes): family, version, resource id, then
/// TLVs in host byte order, 4-byte aligned; the packet is the `NFULA_PAYLOAD` (9) TLV.
fn nflog(data: &[u8]) -> Result<&[u8], DecodeError> {
    const NFULA_PAYLOAD: u16 = 9;
    let family = *data.first().ok_or(DecodeError::Truncated)?;
    if data.len() < 4 {
        return Err(DecodeError::Truncated);
    }
    // A bounded walk: every TLV is at least 4 bytes.
    let mut off = 4usize;
    while off + 4 <= data.len() {
        // Host byte order: take whichever reading gives a length that fits.
        let (mut len, mut ty) = (le16(data, off), le16(data, off + 2));
        let fits = |l: Option<u16>| l.is_some_and(|l| l >= 4 && off + usize::from(l) <= data.len());
        if !fits(len) {
            len = be16(data, off);
            ty = be16(data, off + 2);
        }
        let (Some(len), Some(ty)) = (len, ty) else {
            return Err(DecodeError::Truncated);
        };
        if len < 4 {
            return Err(DecodeError::Truncated);
        }
        let len = usize::from(len);
        if ty & 0x3fff == NFULA_PAYLOAD {
            let value = data
                .get(off + 4..(off + len).min(data.len()))
                .ok_or(DecodeError::Truncated)?;
            return match family {
                2 => raw_version(value, 4),
                10 => raw_version(value, 6),
                // AF_UNSPEC (bridge, netdev families): the version nibble says.
                0 | 7 => raw(value),
                f => Err(DecodeError::Unsupported(Framing::NflogFamily(f))),
            };
        }
        off += (len + 3) & !3;
    }
    // No payload TLV (a log prefix only, or cut by the snap length).
    Err(DecodeError::Truncated)
}

/// PKTAP (macOS `-k`, `pktap` interfaces): a little-endian header whose length is at 0 and
/// whose inner link type is at 8, then the frame.
fn pktap<'a>(data: &'a [u8], vlans: &mut Vlans) -> Result<&'a [u8], DecodeError> {
    let len = le32(data, 0).ok_or(DecodeError::Truncated)?;
    let dlt = le32(data, 8).ok_or(DecodeError::Truncated)?;
    if len < 12 {
        return Err(DecodeError::Truncated);
    }
    let body = data.get(len as usize..).ok_or(DecodeError::Truncated)?;
    strip_inner(dlt, body, vlans, false)
}

/// IP over InfiniBand (RFC 4391): a 2-byte ethertype and 2 reserved bytes.
fn ipoib<'a>(data: &'a [u8], vlans: &mut Vlans) -> Result<&'a [u8], DecodeError> {
    let et = be16(data, 0).ok_or(DecodeError::Truncated)?;
    ethertype(et, tail(data, 4)?, vlans)
}

/// ARCNET: source and destination IDs (plus a 2-byte offset on Linux, so the protocol ID is at
/// `at`), then the protocol ID. RFC 1201 framing adds a split flag and a sequence number (and a
/// 4-byte exception header when the flag is 0xff, BSD only); RFC 1051 framing adds nothing.
fn arcnet(data: &[u8], at: usize, exceptions: bool) -> Result<&[u8], DecodeError> {
    let proto = *data.get(at).ok_or(DecodeError::Truncated)?;
    match proto {
        // RFC 1051 IP.
        0xf0 => raw_version(tail(data, at + 1)?, 4),
        // RFC 1201 IP, IPv6.
        0xd4 | 0xc4 => {
            let flag = *data.get(at + 1).ok_or(DecodeError::Truncated)?;
            let off = if exceptions && flag == 0xff {
                at + 8
            } else {
                at + 4
            };
            raw_version(tail(data, off)?, if proto == 0xd4 { 4 } else { 6 })
        }
        // ARP (1051, 1201), RARP, diagnostics, AppleTalk, Banyan, IPX.
        0xf1 | 0xd5 | 0xd6 | 0x80 | 0xdd | 0xf7 | 0xfa => Err(DecodeError::NotIp),
        p => Err(DecodeError::Unsupported(Framing::Arcnet(p))),
    }
}

/// An Ethernet II / 802.3 frame.
pub(crate) fn ethernet<'a>(data: &'a [u8], vlans: &mut Vlans) -> Result<&'a [u8], DecodeError> {
    let et = be16(data, 12).ok_or(DecodeError::Truncated)?;
    ethertype(et, tail(data, 14)?, vlans)
}

/// Follow an ethertype (or 802.3 length) through VLAN tags, PPPoE and MPLS to an IP header.
pub(crate) fn ethertype<'a>(
    mut et: u16,
    mut data: &'a [u8],
    vlans: &mut Vlans,
) -> Result<&'a [u8], DecodeError> {
    for _ in 0..MAX_LINK_HOPS {
        match et {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(data),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD | ETHERTYPE_QINQ_OLD2 => {
                let tci = be16(data, 0).ok_or(DecodeError::Truncated)?;
                vlans.push(tci & 0x0fff);
                et = be16(data, 2).ok_or(DecodeError::Truncated)?;
                data = tail(data, 4)?;
            }
            ETHERTYPE_PPPOE_SESSION => {
                // ver/type, code, session id, length; then the PPP protocol.
                if data.len() < 6 {
                    return Err(DecodeError::Truncated);
                }
                return ppp_protocol(tail(data, 6)?);
            }
            ETHERTYPE_PPP => return ppp(data),
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MC => return mpls(data, vlans),
            // Cisco MetaData (TrustSec SGT): version, length, option, SGT, then an ethertype.
            ETHERTYPE_CISCO_METADATA => {
                et = be16(data, 6).ok_or(DecodeError::Truncated)?;
                data = tail(data, 8)?;
            }
            // Cisco VN-Tag: 4 bytes of tag, then an ethertype.
            ETHERTYPE_VNTAG => {
                et = be16(data, 4).ok_or(DecodeError::Truncated)?;
                data = tail(data, 6)?;
            }
            // 802.1BR E-Tag: 6 bytes of tag, then an ethertype.
            ETHERTYPE_ETAG => {
                et = be16(data, 6).ok_or(DecodeError::Truncated)?;
                data = tail(data, 8)?;
            }
            // 802.1ah provider backbone bridging: I-TAG, then the customer's Ethernet header.
            ETHERTYPE_PBB => {
                et = be16(data, 16).ok_or(DecodeError::Truncated)?;
                data = tail(data, 18)?;
            }
            ETHERTYPE_MACSEC => {
                let (inner_et, rest) = macsec(data)?;
                et = inner_et;
                data = rest;
            }
            // 802.3 length field: LLC follows; only SNAP can carry IP.
            0..=0x05ff => {
                let (snap_et, rest) = llc_snap(data)?;
                et = snap_et;
                data = rest;
            }
            e if NOT_IP_ETHERTYPES.binary_search(&e).is_ok() => return Err(DecodeError::NotIp),
            e => return Err(DecodeError::Unsupported(Framing::Ethertype(e))),
        }
    }
    Err(DecodeError::TooDeep)
}

/// 802.1AE SecTAG: TCI/AN, short length, packet number, optional SCI. Integrity-only frames
/// (neither E nor C set) carry the original ethertype and payload in clear (the 16-byte ICV at
/// the end is left in place: IP lengths bound the packet).
fn macsec(data: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    let tci = *data.first().ok_or(DecodeError::Truncated)?;
    if tci & 0x0c != 0 {
        return Err(DecodeError::Unsupported(Framing::MacsecEncrypted));
    }
    let hdr = if tci & 0x20 != 0 { 14 } else { 6 };
    let et = be16(data, hdr).ok_or(DecodeError::Truncated)?;
    Ok((et, tail(data, hdr + 2)?))
}

/// LLC header with SNAP (`AA AA 03` + OUI + ethertype); anything else is not IP.
fn llc_snap(data: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    match data.get(..3) {
        None => Err(DecodeError::Truncated),
        Some([0xaa, 0xaa, 0x03]) => {
            let et = be16(data, 6).ok_or(DecodeError::Truncated)?;
            Ok((et, tail(data, 8)?))
        }
        Some(_) => Err(DecodeError::NotIp),
    }
}

/// MPLS label stack; after bottom-of-stack the payload has no type, so guess from the first
/// nibble (IPv4/IPv6), or a pseudowire control word (nibble 0) followed by Ethernet.
fn mpls<'a>(mut data: &'a [u8], vlans: &mut Vlans) -> Result<&'a [u8], DecodeError> {
    for _ in 0..MAX_LINK_HOPS {
        let bos = data.get(2).ok_or(DecodeError::Truncated)? & 1 == 1;
        data = tail(data, 4)?;
        if bos {
            return match data.first().map(|b| b >> 4) {
                Some(4 | 6) => Ok(data),
                Some(0) => ethernet(tail(data, 4)?, vlans),
                Some(_) => Err(DecodeError::NotIp),
                None => Err(DecodeError::Truncated),
            };
        }
    }
    Err(DecodeError::TooDeep)
}

/// PPP with optional address/control bytes (`FF 03`).
pub(crate) fn ppp(data: &[u8]) -> Result<&[u8], DecodeError> {
    match data.get(..2) {
        Some([0xff, 0x03]) => ppp_protocol(tail(data, 2)?),
        Some(_) => ppp_protocol(data),
        None => Err(DecodeError::Truncated),
    }
}

/// PPP protocol field, possibly compressed to one byte (an odd first byte, RFC 1661 6.5).
fn ppp_protocol(data: &[u8]) -> Result<&[u8], DecodeError> {
    let first = *data.first().ok_or(DecodeError::Truncated)?;
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), tail(data, 1)?)
    } else {
        (be16(data, 0).ok_or(DecodeError::Truncated)?, tail(data, 2)?)
    };
    match proto {
        0x0021 | 0x0057 => Ok(rest),
        // MPLS unicast and multicast over PPP (RFC 3032). Inner VLAN tags are not recorded.
        0x0281 | 0x0283 => mpls(rest, &mut Vlans::default()),
        // Link and network control protocols (LCP, PAP, CHAP, LQR, EAP, IPCP, IPV6CP, CCP,
        // MPLSCP, BAP/BACP, CDPCP), compressed-datagram and multilink fragments are not IP.
        0xc021 | 0xc023 | 0xc025 | 0xc223 | 0xc227 | 0x8021 | 0x8057 | 0x80fd | 0x80fb | 0x8281
        | 0xc02d | 0xc02b | 0x8207 | 0x00fd | 0x00fb | 0x003d => Err(DecodeError::NotIp),
        p => Err(DecodeError::Unsupported(Framing::PppProtocol(p))),
    }
}

/// Cisco HDLC: address, control, ethertype.
fn chdlc<'a>(data: &'a [u8], vlans: &mut Vlans) -> Result<&'a [u8], DecodeError> {
    let et = be16(data, 2).ok_or(DecodeError::Truncated)?;
    ethertype(et, tail(data, 4)?, vlans)
}

/// FDDI: frame control + two addresses (13 bytes), then LLC/SNAP. "Swapped" FDDI only differs
/// in the bit order of the addresses, which we skip.
fn fddi(data: &[u8]) -> Result<&[u8], DecodeError> {
    let body = tail(data, 13)?;
    let (et, rest) = llc_snap(body)?;
    match et {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(rest),
        _ => Err(DecodeError::NotIp),
    }
}

/// Linux cooked capture v1: 16-byte header, protocol at offset 14.
fn linux_sll<'a>(data: &'a [u8], vlans: &mut Vlans) -> Result<&'a [u8], DecodeError> {
    let proto = be16(data, 14).ok_or(DecodeError::Truncated)?;
    sll_protocol(proto, tail(data, 16)?, vlans)
}

/// Linux cooked capture v2: 20-byte header, protocol at offset 0.
fn linux_sll2<'a>(data: &'a [u8], vlans: &mut Vlans) -> Result<&'a [u8], DecodeError> {
    let proto = be16(data, 0).ok_or(DecodeError::Truncated)?;
    sll_protocol(proto, tail(data, 20)?, vlans)
}

fn sll_protocol<'a>(
    proto: u16,
    data: &'a [u8],
    vlans: &mut Vlans,
) -> Result<&'a [u8], DecodeError> {
    // Values below 0x0600 are Linux `ETH_P_*` pseudo-protocols (802.2, CAN, ...), not lengths.
    if proto < 0x0600 {
        return Err(DecodeError::NotIp);
    }
    ethertype(proto, data, vlans)
}

/// Radiotap: version 0, pad, little-endian total length, then an 802.11 frame.
fn radiotap(data: &[u8]) -> Result<&[u8], DecodeError> {
    let len = le16(data, 2).ok_or(DecodeError::Truncated)?;
    if data.first() != Some(&0) || len < 8 {
        return Err(DecodeError::NotIp);
    }
    ieee80211(tail(data, usize::from(len))?)
}

/// PPI: little-endian header length at 2 and the inner DLT at 4.
fn ppi<'a>(data: &'a [u8], vlans: &mut Vlans) -> Result<&'a [u8], DecodeError> {
    let len = le16(data, 2).ok_or(DecodeError::Truncated)?;
    let dlt = le32(data, 4).ok_or(DecodeError::Truncated)?;
    if len < 8 {
        return Err(DecodeError::NotIp);
    }
    strip_inner(dlt, tail(data, usize::from(len))?, vlans, false)
}

/// An 802.11 data frame with LLC/SNAP. Encrypted, management and control frames are not IP to
/// us.
pub(crate) fn ieee80211(data: &[u8]) -> Result<&[u8], DecodeError> {
    let (fc0, fc1) = match data.get(..2) {
        Some([a, b]) => (*a, *b),
        _ => return Err(DecodeError::Truncated),
    };
    let ftype = (fc0 >> 2) & 0x3;
    let subtype = fc0 >> 4;
    if fc0 & 0x3 != 0 || ftype != 2 {
        return Err(DecodeError::NotIp);
    }
    // Null-function subtypes (bit 2 of the subtype) carry no body; protected bodies are
    // encrypted.
    if subtype & 0x4 != 0 || fc1 & 0x40 != 0 {
        return Err(DecodeError::NotIp);
    }
    let mut hlen = 24usize;
    if fc1 & 0x03 == 0x03 {
        hlen += 6; // 4-address (WDS) frame
    }
    if subtype & 0x8 != 0 {
        hlen += 2; // QoS control
        if fc1 & 0x80 != 0 {
            hlen += 4; // HT control, only present in QoS frames with the Order bit
        }
    }
    let (et, rest) = llc_snap(tail(data, hlen)?)?;
    match et {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(rest),
        _ => Err(DecodeError::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPV4: [u8; 20] = [
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    const IPV6_START: [u8; 4] = [0x60, 0, 0, 0];

    fn strip_ok(link: u32, frame: &[u8]) -> (Vec<u8>, Vlans) {
        let mut v = Vlans::default();
        let out = strip(LinkType(link), frame, &mut v).expect("decodes");
        (out.to_vec(), v)
    }

    fn eth(et: u16, body: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn ethernet_ipv4_and_ipv6() {
        assert_eq!(strip_ok(1, &eth(0x0800, &IPV4)).0, IPV4);
        assert_eq!(strip_ok(1, &eth(0x86dd, &IPV6_START)).0, IPV6_START);
    }

    #[test]
    fn ethernet_arp_is_not_ip() {
        let mut v = Vlans::default();
        let f = eth(0x0806, &[0; 28]);
        assert_eq!(strip(LinkType(1), &f, &mut v), Err(DecodeError::NotIp));
    }

    #[test]
    fn vlan_qinq_and_stacks() {
        // 802.1Q, vid 100 with PCP bits set (must be masked off).
        let f = eth(0x8100, &cat(&[&[0xe0, 100, 0x08, 0x00], &IPV4]));
        let (out, v) = strip_ok(1, &f);
        assert_eq!(out, IPV4);
        assert_eq!(v.as_slice(), &[100]);
        // QinQ 0x88a8 outer 10, 0x8100 inner 20, then 0x9100 30 (Q-in-Q-in-Q).
        let f = eth(
            0x88a8,
            &cat(&[
                &[0, 10, 0x81, 0x00],
                &[0, 20, 0x91, 0x00],
                &[0, 30, 0x86, 0xdd],
                &IPV6_START,
            ]),
        );
        let (out, v) = strip_ok(1, &f);
        assert_eq!(out, IPV6_START);
        assert_eq!(v.as_slice(), &[10, 20, 30]);
        // Six tags: all walked, the first MAX_VLAN_TAGS recorded.
        let mut body = Vec::new();
        for i in 1..=6u8 {
            let next: u16 = if i == 6 { 0x0800 } else { 0x8100 };
            body.extend_from_slice(&[0, i]);
            body.extend_from_slice(&next.to_be_bytes());
        }
        body.extend_from_slice(&IPV4);
        let (out, v) = strip_ok(1, &eth(0x8100, &body));
        assert_eq!(out, IPV4);
        assert_eq!(v.as_slice(), &[1, 2, 3, 4]);
        // Twenty tags: a crafted stack, refused.
        let mut body = Vec::new();
        for _ in 0..20 {
            body.extend_from_slice(&[0, 1, 0x81, 0x00]);
        }
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(1), &eth(0x8100, &body), &mut v),
            Err(DecodeError::TooDeep)
        );
    }

    #[test]
    fn pppoe_session() {
        let hdr = [0x11, 0x00, 0x12, 0x34, 0x00, 22];
        let f = eth(0x8864, &cat(&[&hdr, &[0x00, 0x21], &IPV4]));
        assert_eq!(strip_ok(1, &f).0, IPV4);
        let f = eth(0x8864, &cat(&[&hdr, &[0x00, 0x57], &IPV6_START]));
        assert_eq!(strip_ok(1, &f).0, IPV6_START);
        // LCP is not IP.
        let mut v = Vlans::default();
        let f = eth(0x8864, &cat(&[&hdr, &[0xc0, 0x21, 1, 1, 0, 4]]));
        assert_eq!(strip(LinkType(1), &f, &mut v), Err(DecodeError::NotIp));
    }

    #[test]
    fn mpls_stack() {
        // Two labels, the second with bottom-of-stack.
        let labels = [0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
        let f = eth(0x8847, &cat(&[&labels, &IPV4]));
        assert_eq!(strip_ok(1, &f).0, IPV4);
        // Ethernet pseudowire with control word.
        let inner = eth(0x86dd, &IPV6_START);
        let f = eth(0x8847, &cat(&[&[0, 1, 1, 64], &[0, 0, 0, 0], &inner]));
        assert_eq!(strip_ok(1, &f).0, IPV6_START);
    }

    #[test]
    fn llc_snap_on_8023() {
        let f = eth(28, &cat(&[&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00], &IPV4]));
        assert_eq!(strip_ok(1, &f).0, IPV4);
        // STP (LLC 42 42 03) is not IP.
        let mut v = Vlans::default();
        let f = eth(38, &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
        assert_eq!(strip(LinkType(1), &f, &mut v), Err(DecodeError::NotIp));
    }

    #[test]
    fn linux_sll_v1_and_v2() {
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&IPV4);
        assert_eq!(strip_ok(113, &sll).0, IPV4);
        let mut sll2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(&IPV6_START);
        assert_eq!(strip_ok(276, &sll2).0, IPV6_START);
        // SLL carrying an 802.2 frame (ETH_P_802_2 = 4).
        let mut v = Vlans::default();
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x00, 0x04];
        sll.extend_from_slice(&[0x42, 0x42, 3]);
        assert_eq!(strip(LinkType(113), &sll, &mut v), Err(DecodeError::NotIp));
    }

    #[test]
    fn raw_links() {
        for lt in [101, 12, 14] {
            assert_eq!(strip_ok(lt, &IPV4).0, IPV4);
            assert_eq!(strip_ok(lt, &IPV6_START).0, IPV6_START);
        }
        assert_eq!(strip_ok(228, &IPV4).0, IPV4);
        assert_eq!(strip_ok(229, &IPV6_START).0, IPV6_START);
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(228), &IPV6_START, &mut v),
            Err(DecodeError::BadIp)
        );
        assert_eq!(
            strip(LinkType(101), &[], &mut v),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn null_and_loop() {
        // Host order: little-endian and big-endian writers.
        assert_eq!(strip_ok(0, &cat(&[&[2, 0, 0, 0], &IPV4])).0, IPV4);
        assert_eq!(strip_ok(0, &cat(&[&[0, 0, 0, 2], &IPV4])).0, IPV4);
        for fam in [24u8, 28, 30] {
            assert_eq!(
                strip_ok(0, &cat(&[&[fam, 0, 0, 0], &IPV6_START])).0,
                IPV6_START
            );
        }
        assert_eq!(
            strip_ok(108, &cat(&[&[0, 0, 0, 30], &IPV6_START])).0,
            IPV6_START
        );
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(108), &cat(&[&[30, 0, 0, 0], &IPV6_START]), &mut v),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn ppp_variants() {
        assert_eq!(
            strip_ok(9, &cat(&[&[0xff, 0x03, 0x00, 0x21], &IPV4])).0,
            IPV4
        );
        assert_eq!(
            strip_ok(9, &cat(&[&[0x00, 0x57], &IPV6_START])).0,
            IPV6_START
        );
        // Compressed one-byte protocol field.
        assert_eq!(strip_ok(9, &cat(&[&[0x21], &IPV4])).0, IPV4);
        assert_eq!(
            strip_ok(50, &cat(&[&[0xff, 0x03, 0x00, 0x21], &IPV4])).0,
            IPV4
        );
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(9), &[0xff, 0x03, 0xc0, 0x21, 1], &mut v),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn fddi_frame() {
        // From zeek__dns-inverse-query.pcap: FC 0x50, addresses, SNAP.
        let hdr = [
            0x50, 0xaa, 0x00, 0x04, 0x00, 0x83, 0xa7, 0xaa, 0x00, 0x04, 0x00, 0x82, 0xa7, 0xaa,
            0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00,
        ];
        assert_eq!(strip_ok(10, &cat(&[&hdr, &IPV4])).0, IPV4);
    }

    fn wifi_data(fc0: u8, fc1: u8, extra: usize, et: u16, body: &[u8]) -> Vec<u8> {
        let mut f = vec![fc0, fc1];
        f.extend_from_slice(&[0; 22]);
        f.extend(std::iter::repeat_n(0, extra));
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn ieee80211_frames() {
        // Plain data frame, from-DS.
        assert_eq!(
            strip_ok(105, &wifi_data(0x08, 0x02, 0, 0x0800, &IPV4)).0,
            IPV4
        );
        // QoS data (+2).
        assert_eq!(
            strip_ok(105, &wifi_data(0x88, 0x01, 2, 0x0800, &IPV4)).0,
            IPV4
        );
        // QoS + Order (+2 +4) in a 4-address frame (+6).
        assert_eq!(
            strip_ok(105, &wifi_data(0x88, 0x83, 12, 0x86dd, &IPV6_START)).0,
            IPV6_START
        );
        let mut v = Vlans::default();
        // Protected.
        let f = wifi_data(0x08, 0x41, 0, 0x0800, &IPV4);
        assert_eq!(strip(LinkType(105), &f, &mut v), Err(DecodeError::NotIp));
        // Beacon (management).
        let f = wifi_data(0x80, 0x00, 0, 0x0800, &IPV4);
        assert_eq!(strip(LinkType(105), &f, &mut v), Err(DecodeError::NotIp));
        // QoS null.
        let f = wifi_data(0xc8, 0x01, 2, 0x0800, &IPV4);
        assert_eq!(strip(LinkType(105), &f, &mut v), Err(DecodeError::NotIp));
    }

    #[test]
    fn radiotap_and_ppi() {
        let wifi = wifi_data(0x88, 0x02, 2, 0x0800, &IPV4);
        let rt = cat(&[&[0, 0, 12, 0, 0x04, 0, 0, 0, 0x02, 0, 0, 0], &wifi]);
        assert_eq!(strip_ok(127, &rt).0, IPV4);
        // PPI around Ethernet, as in ndpi__someip_sd_sample.pcap.
        let ppi = cat(&[&[0, 0, 8, 0, 1, 0, 0, 0], &eth(0x0800, &IPV4)]);
        assert_eq!(strip_ok(192, &ppi).0, IPV4);
        // PPI around 802.11.
        let ppi = cat(&[&[0, 0, 8, 0, 105, 0, 0, 0], &wifi]);
        assert_eq!(strip_ok(192, &ppi).0, IPV4);
        // PPI inside PPI is refused rather than recursed.
        let mut v = Vlans::default();
        let nested = cat(&[&[0, 0, 8, 0, 192, 0, 0, 0], &ppi]);
        assert_eq!(
            strip(LinkType(192), &nested, &mut v),
            Err(DecodeError::UnsupportedLink)
        );
    }

    #[test]
    fn unsupported_link() {
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(147), &IPV4, &mut v),
            Err(DecodeError::UnsupportedLink)
        );
    }

    #[test]
    fn every_prefix_of_valid_frames_is_handled() {
        let frames: Vec<(u32, Vec<u8>)> = vec![
            (
                1,
                eth(
                    0x88a8,
                    &cat(&[&[0, 10, 0x81, 0x00], &[0, 20, 0x08, 0x00], &IPV4]),
                ),
            ),
            (
                1,
                eth(0x8864, &cat(&[&[0x11, 0, 0, 1, 0, 22], &[0, 0x21], &IPV4])),
            ),
            (1, eth(0x8847, &cat(&[&[0, 1, 1, 64], &IPV4]))),
            (
                113,
                cat(&[&[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 8, 0], &IPV4]),
            ),
            (
                127,
                cat(&[
                    &[0, 0, 8, 0, 0, 0, 0, 0],
                    &wifi_data(0x08, 0, 0, 0x0800, &IPV4),
                ]),
            ),
        ];
        for (lt, f) in frames {
            let mut v = Vlans::default();
            let full = strip(LinkType(lt), &f, &mut v).expect("full frame decodes");
            assert_eq!(full, &IPV4[..]);
            for cut in 0..f.len() {
                let mut v = Vlans::default();
                match strip(LinkType(lt), &f[..cut], &mut v) {
                    Err(DecodeError::Truncated) => {}
                    Ok(rest) => assert_eq!(rest, &IPV4[..rest.len()], "lt {lt} cut {cut}"),
                    Err(e) => panic!("lt {lt} cut {cut}: {e:?}"),
                }
            }
        }
    }

    #[test]
    fn not_ip_list_is_sorted() {
        assert!(NOT_IP_ETHERTYPES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn nflog_payload_tlv_in_either_byte_order() {
        // Little-endian TLVs: a prefix (type 10, "abc\0"), a hardware header (type 1), payload.
        let mut f = vec![2, 0, 0, 5];
        f.extend_from_slice(&[8, 0, 10, 0, b'a', b'b', b'c', 0]);
        f.extend_from_slice(&[8, 0, 1, 0, 8, 0, 3, 0]);
        f.extend_from_slice(&(4 + IPV4.len() as u16).to_le_bytes());
        f.extend_from_slice(&[9, 0]);
        f.extend_from_slice(&IPV4);
        assert_eq!(strip_ok(239, &f).0, IPV4);
        // Big-endian host, IPv6, a TLV length that needs padding (7 -> 8).
        let mut f = vec![10, 0, 0, 0];
        f.extend_from_slice(&[0, 7, 0, 10, b'x', b'y', b'\0', 0]);
        f.extend_from_slice(&(4 + IPV6_START.len() as u16).to_be_bytes());
        f.extend_from_slice(&[0, 9]);
        f.extend_from_slice(&IPV6_START);
        assert_eq!(strip_ok(239, &f).0, IPV6_START);
        // Another family is reported as such; no payload TLV is a truncated record.
        let mut v = Vlans::default();
        let mut g = vec![7u8 + 1, 0, 0, 0];
        g.extend_from_slice(&(4 + IPV4.len() as u16).to_le_bytes());
        g.extend_from_slice(&[9, 0]);
        g.extend_from_slice(&IPV4);
        assert_eq!(
            strip(LinkType(239), &g, &mut v),
            Err(DecodeError::Unsupported(Framing::NflogFamily(8)))
        );
        assert_eq!(
            strip(
                LinkType(239),
                &[2, 0, 0, 0, 8, 0, 10, 0, 1, 2, 3, 4],
                &mut v
            ),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn pktap_wraps_another_link_type() {
        for lt in [149, 258] {
            let mut f = vec![0u8; 108];
            f[0] = 108;
            f[8] = 1; // DLT_EN10MB
            f.extend_from_slice(&eth(0x0800, &IPV4));
            assert_eq!(strip_ok(lt, &f).0, IPV4);
            // Raw IP inside.
            f[8] = 12;
            f.truncate(108);
            f.extend_from_slice(&IPV6_START);
            assert_eq!(strip_ok(lt, &f).0, IPV6_START);
        }
        // PKTAP inside PKTAP is not followed.
        let mut f = vec![0u8; 12];
        f[0] = 12;
        f[8] = 0x02;
        f[9] = 0x01; // 258
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(258), &cat(&[&f, &f, &IPV4]), &mut v),
            Err(DecodeError::UnsupportedLink)
        );
    }

    #[test]
    fn ipoib_and_arcnet() {
        assert_eq!(strip_ok(242, &cat(&[&[0x08, 0x00, 0, 0], &IPV4])).0, IPV4);
        assert_eq!(
            strip_ok(242, &cat(&[&[0x86, 0xdd, 0, 0], &IPV6_START])).0,
            IPV6_START
        );
        // Linux ARCNET: src, dst, 2-byte offset, protocol ID.
        assert_eq!(
            strip_ok(129, &cat(&[&[1, 2, 0, 0, 0xd4, 0, 0, 7], &IPV4])).0,
            IPV4
        );
        assert_eq!(strip_ok(129, &cat(&[&[1, 2, 0, 0, 0xf0], &IPV4])).0, IPV4);
        assert_eq!(
            strip_ok(129, &cat(&[&[1, 2, 0, 0, 0xc4, 0, 0, 7], &IPV6_START])).0,
            IPV6_START
        );
        // BSD ARCNET with an exception header.
        assert_eq!(
            strip_ok(7, &cat(&[&[1, 2, 0xd4, 0xff, 0xd4, 0, 0, 0, 0, 7], &IPV4])).0,
            IPV4
        );
        assert_eq!(strip_ok(7, &cat(&[&[1, 2, 0xd4, 0, 0, 7], &IPV4])).0, IPV4);
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(129), &[1, 2, 0, 0, 0xd5, 0, 0, 0], &mut v),
            Err(DecodeError::NotIp)
        );
        assert_eq!(
            strip(LinkType(129), &[1, 2, 0, 0, 0x42, 0, 0, 0], &mut v),
            Err(DecodeError::Unsupported(Framing::Arcnet(0x42)))
        );
    }

    #[test]
    fn null_holding_an_ethertype() {
        assert_eq!(strip_ok(0, &cat(&[&[0x00, 0x08, 0, 0], &IPV4])).0, IPV4);
        assert_eq!(strip_ok(0, &cat(&[&[0, 0, 0x08, 0x00], &IPV4])).0, IPV4);
        assert_eq!(
            strip_ok(0, &cat(&[&[0xdd, 0x86, 0, 0], &IPV6_START])).0,
            IPV6_START
        );
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(0), &cat(&[&[0x06, 0x08, 0, 0], &[0; 28]]), &mut v),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn tags_in_front_of_the_ethertype() {
        // Cisco MetaData: version 1, length 1, option 0x0001, SGT 16, ethertype.
        let cmd = [1, 1, 0, 1, 0, 16, 0x08, 0x00];
        assert_eq!(strip_ok(1, &eth(0x8909, &cat(&[&cmd, &IPV4]))).0, IPV4);
        // Inside a VLAN, and a VLAN inside it.
        let f = eth(
            0x8100,
            &cat(&[
                &[0, 5, 0x89, 0x09],
                &cmd[..6],
                &[0x81, 0x00, 0, 6, 0x08, 0x00],
                &IPV4,
            ]),
        );
        let (out, v) = strip_ok(1, &f);
        assert_eq!(out, IPV4);
        assert_eq!(v.as_slice(), &[5, 6]);
        // VN-Tag, E-Tag.
        assert_eq!(
            strip_ok(
                1,
                &eth(0x8926, &cat(&[&[0x80, 1, 0, 2, 0x08, 0x00], &IPV4]))
            )
            .0,
            IPV4
        );
        assert_eq!(
            strip_ok(
                1,
                &eth(
                    0x893f,
                    &cat(&[&[0, 0, 0, 1, 0, 0, 0x86, 0xdd], &IPV6_START])
                )
            )
            .0,
            IPV6_START
        );
        // 802.1ah: I-TAG, customer MACs, ethertype.
        let pbb = cat(&[&[0, 0, 0x10, 0x01], &[0xaa; 12], &[0x08, 0x00], &IPV4]);
        assert_eq!(strip_ok(1, &eth(0x88e7, &pbb)).0, IPV4);
        // MACsec: integrity only (with and without SCI) is read; encrypted is reported.
        let clear = cat(&[&[0x00, 0, 0, 0, 0, 1], &[0x08, 0x00], &IPV4, &[0; 16]]);
        assert_eq!(strip_ok(1, &eth(0x88e5, &clear)).0[..20], IPV4);
        let sci = cat(&[&[0x20, 0, 0, 0, 0, 1], &[9; 8], &[0x08, 0x00], &IPV4]);
        assert_eq!(strip_ok(1, &eth(0x88e5, &sci)).0, IPV4);
        let mut v = Vlans::default();
        let enc = cat(&[&[0x0c, 0, 0, 0, 0, 1], &[0x5a; 40]]);
        assert_eq!(
            strip(LinkType(1), &eth(0x88e5, &enc), &mut v),
            Err(DecodeError::Unsupported(Framing::MacsecEncrypted))
        );
    }

    #[test]
    fn unknown_framings_are_reported_by_kind() {
        let mut v = Vlans::default();
        assert_eq!(
            strip(LinkType(1), &eth(0x1234, &IPV4), &mut v),
            Err(DecodeError::Unsupported(Framing::Ethertype(0x1234)))
        );
        // Known non-IP stays NotIp: ARP, LLDP, LACP, EAPOL.
        for et in [0x0806, 0x88cc, 0x8809, 0x888e] {
            assert_eq!(
                strip(LinkType(1), &eth(et, &[0; 30]), &mut v),
                Err(DecodeError::NotIp)
            );
        }
        assert_eq!(
            strip(LinkType(9), &[0xff, 0x03, 0x00, 0x29, 1, 2], &mut v),
            Err(DecodeError::Unsupported(Framing::PppProtocol(0x0029)))
        );
        assert_eq!(
            strip(LinkType(9), &[0xff, 0x03, 0x80, 0x21, 1, 2], &mut v),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn mpls_over_ppp() {
        let f = cat(&[&[0xff, 0x03, 0x02, 0x81], &[0, 1, 1, 64], &IPV4]);
        assert_eq!(strip_ok(9, &f).0, IPV4);
        // Inside PPPoE.
        let hdr = [0x11, 0x00, 0x12, 0x34, 0x00, 30];
        let f = eth(0x8864, &cat(&[&hdr, &[0x02, 0x81], &[0, 1, 1, 64], &IPV4]));
        assert_eq!(strip_ok(1, &f).0, IPV4);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_on_any_new_link_type_are_handled(
            lt in proptest::sample::select(vec![0u32, 1, 7, 9, 129, 149, 239, 242, 258]),
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let mut v = Vlans::default();
            if let Ok(rest) = strip(LinkType(lt), &data, &mut v) {
                proptest::prop_assert!(rest.len() <= data.len());
            }
        }
    }

    #[test]
    fn source_macs_of_ethernet_and_cooked_captures() {
        let mac = [0x00, 0x15, 0x5d, 0x0a, 0x00, 0x1f];
        let mut eth = vec![0xff; 6];
        eth.extend_from_slice(&mac);
        eth.extend_from_slice(&[0x08, 0x00, 0x45]);
        assert_eq!(source_mac(LinkType(1), &eth), Some(mac));
        assert_eq!(source_mac(LinkType(1), &eth[..11]), None);
        // SLL: packet type, ARPHRD_ETHER, address length 6, address (8 bytes), protocol.
        let mut sll = vec![0, 4, 0, 1, 0, 6];
        sll.extend_from_slice(&mac);
        sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
        assert_eq!(source_mac(LinkType(113), &sll), Some(mac));
        sll[3] = 0x18; // not Ethernet (ARPHRD_IEEE80211 ...)
        assert_eq!(source_mac(LinkType(113), &sll), None);
        // SLL2: protocol, reserved, interface index, ARPHRD, packet type, length, address.
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6];
        sll2.extend_from_slice(&mac);
        sll2.extend_from_slice(&[0, 0]);
        assert_eq!(source_mac(LinkType(276), &sll2), Some(mac));
        assert_eq!(source_mac(LinkType(101), &eth), None);
    }
}
