//! DHCPv4 (RFC 2131/2132): the host name a machine announces and the address it is given.
//!
//! A client's DISCOVER, REQUEST and INFORM carry its hardware address (`chaddr`) and usually
//! option 12 (Host Name, the Windows computer name) and option 81 (Client FQDN, RFC 4702); a
//! server's ACK binds `chaddr` to `yiaddr`. DISCOVER and the first REQUEST come from 0.0.0.0 to
//! the broadcast address, so the name is tied to the MAC, and the MAC to an address through the
//! machine's own frames or the ACK. Zero-copy: names borrow the datagram.

use std::net::{IpAddr, Ipv4Addr};

use super::identity::{IdentityKind, Mac, Observation, RawName};

/// Fixed BOOTP header before the magic cookie.
const FIXED: usize = 236;
const COOKIE: [u8; 4] = [99, 130, 83, 99];

pub const DISCOVER: u8 = 1;
pub const REQUEST: u8 = 3;
pub const ACK: u8 = 5;
pub const INFORM: u8 = 8;

/// The parts of a DHCP message that say who a machine is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DhcpMessage<'a> {
    /// 1: from a client (BOOTREQUEST), 2: from a server (BOOTREPLY).
    pub op: u8,
    /// Option 53.
    pub msg_type: Option<u8>,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    /// `chaddr` when the hardware type is Ethernet (1) with a 6-byte address.
    pub chaddr: Option<Mac>,
    /// Option 12.
    pub host_name: Option<&'a [u8]>,
    /// Option 81's domain name (wire format when its E flag is set).
    pub fqdn: Option<RawName<'a>>,
    /// Option 50 (Requested IP Address).
    pub requested: Option<Ipv4Addr>,
}

/// Whether a UDP datagram between these ports could be DHCP (client 68, server 67; a relay
/// sends from 67 to 67). Allocation-free.
pub fn probe(payload: &[u8], src_port: u16, dst_port: u16) -> bool {
    matches!((src_port, dst_port), (68, 67) | (67, 68) | (67, 67))
        && payload.get(FIXED..FIXED + 4) == Some(&COOKIE[..])
}

fn ipv4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    match b.get(at..at.checked_add(4)?)? {
        [a, b, c, d] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => None,
    }
}

/// Parse a DHCP message; `None` when it is not one (no cookie, bad op, options past the end).
/// The first instance of each option is used; option overload (52) into `sname`/`file` is not
/// followed (no Windows client sends it).
pub fn parse(b: &[u8]) -> Option<DhcpMessage<'_>> {
    if b.get(FIXED..FIXED + 4)? != COOKIE {
        return None;
    }
    let op = *b.first()?;
    if op != 1 && op != 2 {
        return None;
    }
    let (htype, hlen) = (*b.get(1)?, *b.get(2)?);
    let chaddr = match (htype, hlen, b.get(28..34)) {
        (1, 6, Some([a, c, d, e, f, g])) => Some([*a, *c, *d, *e, *f, *g]),
        _ => None,
    };
    let mut m = DhcpMessage {
        op,
        msg_type: None,
        ciaddr: ipv4(b, 12)?,
        yiaddr: ipv4(b, 16)?,
        chaddr,
        host_name: None,
        fqdn: None,
        requested: None,
    };
    let mut rest = b.get(FIXED + 4..)?;
    // Each option takes at least one byte: the walk is bounded by the datagram.
    loop {
        let (code, tail) = match rest {
            [] => break,
            [0, tail @ ..] => {
                rest = tail;
                continue;
            }
            [255, ..] => break,
            [code, tail @ ..] => (*code, tail),
        };
        let (len, tail) = match tail {
            [len, tail @ ..] => (usize::from(*len), tail),
            [] => return None,
        };
        let data = tail.get(..len)?;
        rest = tail.get(len..)?;
        match code {
            53 if m.msg_type.is_none() => m.msg_type = data.first().copied(),
            12 if m.host_name.is_none() => m.host_name = Some(data),
            50 if m.requested.is_none() => m.requested = ipv4(data, 0),
            81 if m.fqdn.is_none() => {
                // flags, RCODE1, RCODE2, then the name; E (0x04): DNS wire format.
                if let (Some(flags), Some(name)) = (data.first(), data.get(3..)) {
                    if !name.is_empty() {
                        m.fqdn = Some(if flags & 0x04 != 0 {
                            RawName::DnsWire(name)
                        } else {
                            RawName::Text(name)
                        });
                    }
                }
            }
            _ => {}
        }
    }
    Some(m)
}

/// The identities a DHCP message states: a client's names (tied to its `chaddr`, and to its
/// address when it has or asks for one in a REQUEST), and a server ACK's binding of `chaddr`
/// to `yiaddr`. A DECLINE or RELEASE states nothing about who the machine is.
pub fn observe<'a>(m: &DhcpMessage<'a>, out: &mut dyn FnMut(Observation<'a>)) {
    let some = |a: Ipv4Addr| (!a.is_unspecified()).then_some(IpAddr::V4(a));
    if m.op == 1 {
        let addr = match m.msg_type {
            Some(REQUEST) => some(m.ciaddr).or(m.requested.map(IpAddr::V4)),
            Some(INFORM) => some(m.ciaddr),
            Some(DISCOVER) => None,
            _ => return,
        };
        if let Some(n) = m.host_name {
            out(Observation {
                kind: IdentityKind::DhcpHostName,
                name: Some(RawName::Text(n)),
                mac: m.chaddr,
                addr,
            });
        }
        if let Some(n) = m.fqdn {
            out(Observation {
                kind: IdentityKind::DhcpFqdn,
                name: Some(n),
                mac: m.chaddr,
                addr,
            });
        }
    } else if m.msg_type == Some(ACK) {
        if let Some(addr) = some(m.yiaddr) {
            out(Observation {
                kind: IdentityKind::DhcpLease,
                name: None,
                mac: m.chaddr,
                addr: Some(addr),
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A DHCP message as Windows sends it: BOOTP header, cookie, options, end.
    pub(crate) fn message(
        op: u8,
        kind: u8,
        ciaddr: Ipv4Addr,
        yiaddr: Ipv4Addr,
        mac: Mac,
        options: &[(u8, &[u8])],
    ) -> Vec<u8> {
        let mut p = vec![op, 1, 6, 0, 0x3d, 0x1e, 0x2f, 0x10, 0, 0, 0x80, 0];
        p.extend_from_slice(&ciaddr.octets());
        p.extend_from_slice(&yiaddr.octets());
        p.extend_from_slice(&[0; 8]); // siaddr, giaddr
        p.extend_from_slice(&mac);
        p.extend_from_slice(&[0; 10 + 64 + 128]);
        p.extend_from_slice(&COOKIE);
        p.extend_from_slice(&[53, 1, kind]);
        p.extend_from_slice(&[61, 7, 1]);
        p.extend_from_slice(&mac);
        for (code, data) in options {
            p.push(*code);
            p.push(data.len() as u8);
            p.extend_from_slice(data);
        }
        p.extend_from_slice(&[55, 4, 1, 3, 6, 15, 255, 0, 0]);
        p
    }

    const MAC: Mac = [0x00, 0x15, 0x5d, 0x0a, 0x00, 0x1f];

    fn collect(b: &[u8]) -> Vec<Observation<'_>> {
        let mut v = Vec::new();
        if let Some(m) = parse(b) {
            observe(&m, &mut |o| v.push(o));
        }
        v
    }

    #[test]
    fn a_windows_request_names_its_mac_and_address() {
        let fqdn = b"\x00\x00\x00WIN-PC31.corp.example";
        let req = message(
            1,
            REQUEST,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            MAC,
            &[(50, &[192, 168, 1, 31]), (12, b"WIN-PC31"), (81, fqdn)],
        );
        assert!(probe(&req, 68, 67));
        assert!(!probe(&req, 53, 67));
        let m = parse(&req).unwrap();
        assert_eq!(m.msg_type, Some(REQUEST));
        assert_eq!(m.chaddr, Some(MAC));
        assert_eq!(m.host_name, Some(&b"WIN-PC31"[..]));
        assert_eq!(m.requested, Some(Ipv4Addr::new(192, 168, 1, 31)));
        let v = collect(&req);
        assert_eq!(v.len(), 2);
        let addr = Some("192.168.1.31".parse().unwrap());
        assert_eq!(v[0].kind, IdentityKind::DhcpHostName);
        assert_eq!(v[0].mac, Some(MAC));
        assert_eq!(v[0].addr, addr);
        let id = v[1].to_identity().unwrap();
        assert_eq!(id.kind, IdentityKind::DhcpFqdn);
        assert_eq!(id.name.as_deref(), Some("WIN-PC31.corp.example"));
        // Wire-format FQDN (E flag).
        let wire = b"\x05\xff\xff\x08WIN-PC31\x04corp\x00";
        let req = message(
            1,
            DISCOVER,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            MAC,
            &[(81, wire)],
        );
        let v = collect(&req);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].addr, None, "a DISCOVER's wish is no address");
        assert_eq!(
            v[0].to_identity().unwrap().name.as_deref(),
            Some("WIN-PC31.corp")
        );
    }

    #[test]
    fn an_ack_binds_and_a_decline_says_nothing() {
        let yi = Ipv4Addr::new(192, 168, 1, 32);
        let ack = message(2, ACK, Ipv4Addr::UNSPECIFIED, yi, MAC, &[(12, b"srv-echo")]);
        let v = collect(&ack);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, IdentityKind::DhcpLease);
        assert_eq!(v[0].addr, Some(IpAddr::V4(yi)));
        assert_eq!(v[0].name, None);
        let decline = message(1, 4, Ipv4Addr::UNSPECIFIED, yi, MAC, &[(12, b"pc")]);
        assert!(collect(&decline).is_empty());
    }

    #[test]
    fn malformed_messages_are_refused() {
        let req = message(
            1,
            REQUEST,
            Ipv4Addr::new(192, 168, 1, 31),
            Ipv4Addr::UNSPECIFIED,
            MAC,
            &[(12, b"WIN-PC31")],
        );
        // Every truncation either fails or parses without reading past the end.
        for n in 0..req.len() {
            let _ = parse(&req[..n]);
        }
        assert!(parse(&req[..239]).is_none());
        // An option running past the end.
        let mut bad = req[..244].to_vec();
        bad.extend_from_slice(&[12, 200, b'a']);
        assert!(parse(&bad).is_none());
        let mut bad = req.clone();
        bad[0] = 3;
        assert!(parse(&bad).is_none());
        // Not Ethernet: no MAC.
        let mut tr = req.clone();
        tr[1] = 6;
        assert_eq!(parse(&tr).unwrap().chaddr, None);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Some(m) = parse(&b) {
                observe(&m, &mut |o| {
                    if let Some(id) = o.to_identity() {
                        if let Some(n) = id.name {
                            assert!(n.len() <= 4 * crate::proto::identity::MAX_NAME_BYTES);
                            assert!(n.bytes().all(|c| (0x20..0x7f).contains(&c)));
                        }
                    }
                });
            }
        }

        #[test]
        fn names_and_addresses_round_trip(
            name in proptest::collection::vec(any::<u8>(), 1..64),
            mac in any::<[u8; 6]>(),
            octet in 1u8..255,
            junk in proptest::collection::vec((1u8..255, proptest::collection::vec(any::<u8>(), 0..20)), 0..6),
        ) {
            let addr = Ipv4Addr::new(10, 0, 0, octet);
            let mut opts: Vec<(u8, &[u8])> = junk
                .iter()
                .filter(|(c, _)| ![12, 50, 53, 81, 255].contains(c))
                .map(|(c, d)| (*c, d.as_slice()))
                .collect();
            opts.push((12, &name));
            let b = message(1, REQUEST, addr, Ipv4Addr::UNSPECIFIED, mac, &opts);
            let m = parse(&b).unwrap();
            prop_assert_eq!(m.host_name, Some(&name[..]));
            prop_assert_eq!(m.chaddr, Some(mac));
            let v = collect(&b);
            prop_assert_eq!(v.len(), 1);
            prop_assert_eq!(v[0].addr, Some(IpAddr::V4(addr)));
        }
    }
}
