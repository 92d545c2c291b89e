//! Who a client machine is: the names and link-layer address its own traffic announces (DHCP
//! host name and FQDN, NetBIOS name registrations, a DNS PTR answer for its address).
//!
//! Parsers return borrowed [`Observation`]s; only what is kept becomes an owned [`Identity`],
//! whose name is bounded and made of printable ASCII (every other byte written as `\xNN`), so
//! that no renderer ever sees a control character from the wire. The names are still chosen by
//! whoever sent the packet: renderers escape them like any other name.

use std::net::IpAddr;

/// The data a flow keeps, defined by [`crate::flow`]; the parsers here fill it in.
pub use crate::flow::identity::{Identity, IdentityKind, Mac};

/// Longest name kept, in bytes of the wire form (a DHCP option or a DNS name cannot be longer;
/// escaping may make the text up to four times longer).
pub const MAX_NAME_BYTES: usize = 255;

/// A name as it is on the wire (borrowed from the packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawName<'a> {
    /// Bytes meant as text (DHCP option 12, option 81 without the E flag).
    Text(&'a [u8]),
    /// DNS wire format, uncompressed (option 81 with the E flag).
    DnsWire(&'a [u8]),
    /// The 15 name bytes of a decoded NetBIOS name (padding included).
    Netbios([u8; 15]),
    /// Already text (a DNS name the DNS parser presented).
    Presented(&'a str),
}

impl RawName<'_> {
    /// The name as bounded printable text; `None` when nothing is left (empty, only padding,
    /// or a malformed wire name).
    pub fn to_text(&self) -> Option<Box<str>> {
        let mut o = String::new();
        match self {
            RawName::Text(b) => {
                // Some clients count a terminating NUL in the option.
                let b = trim(b, |c| c == 0 || c == b' ');
                push_escaped(&mut o, b.get(..b.len().min(MAX_NAME_BYTES)).unwrap_or(b));
            }
            RawName::Netbios(b) => push_escaped(&mut o, trim(b, |c| c == b' ' || c == 0)),
            RawName::Presented(s) => {
                let b = s.as_bytes();
                push_escaped(&mut o, b.get(..b.len().min(MAX_NAME_BYTES)).unwrap_or(b));
            }
            RawName::DnsWire(b) => {
                let mut rest: &[u8] = b;
                let mut used = 0usize;
                while let [len, tail @ ..] = rest {
                    let len = usize::from(*len);
                    if len == 0 {
                        break;
                    }
                    // A pointer (0xc0) or reserved label type: not allowed in option 81.
                    if len > 63 {
                        return None;
                    }
                    let label = tail.get(..len)?;
                    used += len + 1;
                    if used > MAX_NAME_BYTES {
                        return None;
                    }
                    if !o.is_empty() {
                        o.push('.');
                    }
                    push_escaped(&mut o, label);
                    rest = tail.get(len..)?;
                }
            }
        }
        (!o.is_empty()).then(|| o.into_boxed_str())
    }
}

fn trim(mut b: &[u8], pad: impl Fn(u8) -> bool) -> &[u8] {
    while let [rest @ .., last] = b {
        if pad(*last) {
            b = rest;
        } else {
            break;
        }
    }
    while let [first, rest @ ..] = b {
        if *first == b' ' {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Printable ASCII as is, `\` doubled, every other byte as `\xNN`.
fn push_escaped(o: &mut String, b: &[u8]) {
    for &c in b {
        match c {
            b'\\' => o.push_str("\\\\"),
            0x20..=0x7e => o.push(char::from(c)),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                o.push_str("\\x");
                o.push(char::from(HEX[usize::from(c >> 4)]));
                o.push(char::from(HEX[usize::from(c & 0xf)]));
            }
        }
    }
}

/// What one datagram says about a machine: a name, its hardware address, its IP address (any
/// may be missing: a DHCP DISCOVER names a MAC that has no address yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation<'a> {
    pub kind: IdentityKind,
    pub name: Option<RawName<'a>>,
    pub mac: Option<Mac>,
    pub addr: Option<IpAddr>,
}

impl Observation<'_> {
    /// The owned, bounded form; `None` when it carries nothing usable (a name that is empty
    /// once trimmed and no binding, or neither a MAC nor an address to attach it to).
    pub fn to_identity(&self) -> Option<Identity> {
        let name = self.name.and_then(|n| n.to_text());
        if self.name.is_some() && name.is_none() {
            return None;
        }
        let addr = self.addr.filter(usable_addr);
        let mac = self.mac.filter(usable_mac);
        if addr.is_none() && mac.is_none() {
            return None;
        }
        if name.is_none() && (addr.is_none() || mac.is_none()) {
            return None;
        }
        Some(Identity {
            kind: self.kind,
            name,
            mac,
            addr,
            at: 0,
        })
    }
}

/// An address that can be one machine's (not 0.0.0.0, broadcast or multicast).
pub fn usable_addr(a: &IpAddr) -> bool {
    !a.is_unspecified() && !a.is_multicast() && *a != IpAddr::V4(std::net::Ipv4Addr::BROADCAST)
}

/// A MAC that can be one machine's: not all zeros, not a group (multicast/broadcast) address.
pub fn usable_mac(m: &Mac) -> bool {
    *m != [0; 6] && m[0] & 1 == 0
}

/// `00:15:5d:0a:00:1f`.
pub fn mac_text(m: &Mac) -> String {
    let mut o = String::with_capacity(17);
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            o.push(':');
        }
        o.push_str(&format!("{b:02x}"));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_bounded_printable_text() {
        let t = |b: &[u8]| RawName::Text(b).to_text().map(String::from);
        assert_eq!(t(b"WIN-PC31").as_deref(), Some("WIN-PC31"));
        assert_eq!(t(b"WIN-PC31\0").as_deref(), Some("WIN-PC31"));
        assert_eq!(t(b"a\x1b[31mb\\").as_deref(), Some("a\\x1b[31mb\\\\"));
        assert_eq!(t("J\u{f6}rg".as_bytes()).as_deref(), Some("J\\xc3\\xb6rg"));
        assert_eq!(t(b"\0\0"), None);
        assert_eq!(t(b"   "), None);
        let long = vec![b'a'; 400];
        assert_eq!(t(&long).map(|s| s.len()), Some(MAX_NAME_BYTES));
        let w = |b: &[u8]| RawName::DnsWire(b).to_text().map(String::from);
        assert_eq!(
            w(b"\x08WIN-PC31\x04corp\x07example\x00").as_deref(),
            Some("WIN-PC31.corp.example")
        );
        assert_eq!(w(b"\x08WIN-PC31\xc0\x0c"), None);
        assert_eq!(w(b"\x09WIN-PC31"), None);
        let mut nb = [b' '; 15];
        nb[..4].copy_from_slice(b"PC01");
        assert_eq!(RawName::Netbios(nb).to_text().as_deref(), Some("PC01"));
        assert_eq!(
            mac_text(&[0, 0x15, 0x5d, 0x0a, 0, 0x1f]),
            "00:15:5d:0a:00:1f"
        );
    }

    #[test]
    fn an_observation_needs_something_to_attach_to() {
        let o = |name, mac, addr| {
            Observation {
                kind: IdentityKind::DhcpHostName,
                name,
                mac,
                addr,
            }
            .to_identity()
        };
        let m = Some([0, 0x15, 0x5d, 1, 2, 3]);
        let a = Some("192.168.1.31".parse().unwrap());
        assert!(o(Some(RawName::Text(b"pc")), m, None).is_some());
        assert!(o(Some(RawName::Text(b"pc")), None, a).is_some());
        assert!(o(Some(RawName::Text(b"pc")), None, None).is_none());
        assert!(o(Some(RawName::Text(b"pc")), Some([0xff; 6]), None).is_none());
        assert!(o(
            Some(RawName::Text(b"pc")),
            None,
            Some("0.0.0.0".parse().unwrap())
        )
        .is_none());
        assert!(o(Some(RawName::Text(b"\0")), m, a).is_none());
        assert!(o(None, m, a).is_some());
        assert!(o(None, m, None).is_none());
    }
}
