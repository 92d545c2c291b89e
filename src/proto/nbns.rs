//! NetBIOS Name Service (RFC 1002, UDP 137): the computer name a Windows machine registers.
//!
//! At boot and then periodically a machine broadcasts a NAME REGISTRATION (or REFRESH) request
//! for each of its names, with its address in the additional record. Only unique names with
//! the workstation (0x00) or server (0x20) suffix name the machine; group names are workgroups
//! or domains. A name *query* names the machine looked for, not the sender, so it says nothing
//! about who sent it. Zero-copy apart from the 15-byte decoded name.

use std::net::{IpAddr, Ipv4Addr};

use super::identity::{IdentityKind, Observation, RawName};

const HEADER: usize = 12;
/// Opcodes of requests that register a name of the sender.
const REGISTRATION: u8 = 5;
const REFRESH: u8 = 8;
const REFRESH_ALT: u8 = 9;
const MULTIHOMED: u8 = 15;
const TYPE_NB: u16 = 0x0020;
/// Scope labels walked at most (RFC 1002 scopes are a DNS-like suffix; real ones have 0-3).
const MAX_LABELS: usize = 16;

/// A registration request's name and address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The 15 name bytes (space-padded), decoded from the first-level encoding.
    pub name: [u8; 15],
    /// The 16th byte: the NetBIOS suffix (service type).
    pub suffix: u8,
    /// The NB_FLAGS group bit.
    pub group: bool,
    /// NB_ADDRESS of the additional record.
    pub addr: Option<Ipv4Addr>,
}

/// Whether a UDP datagram could be a name-service request (sent to port 137).
pub fn probe(payload: &[u8], _src_port: u16, dst_port: u16) -> bool {
    dst_port == 137 && payload.len() >= HEADER
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at.checked_add(2)?)? {
        [x, y] => Some(u16::from_be_bytes([*x, *y])),
        _ => None,
    }
}

/// The first-level encoded name at `at` (length 32, then half-bytes as 'A'..'P'), its scope
/// skipped: (the 16 decoded bytes, offset after the name).
fn name_at(b: &[u8], at: usize) -> Option<([u8; 16], usize)> {
    if *b.get(at)? != 32 {
        return None;
    }
    let enc = b.get(at + 1..at + 33)?;
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(enc.chunks_exact(2)) {
        let hi = pair.first()?.checked_sub(b'A').filter(|v| *v < 16)?;
        let lo = pair.get(1)?.checked_sub(b'A').filter(|v| *v < 16)?;
        *o = hi << 4 | lo;
    }
    let mut off = at + 33;
    for _ in 0..MAX_LABELS {
        let len = usize::from(*b.get(off)?);
        if len == 0 {
            return Some((out, off + 1));
        }
        if len > 63 {
            return None;
        }
        off += 1 + len;
    }
    None
}

/// The name a registration, refresh or multi-homed registration request registers; `None` for
/// any other message.
pub fn parse_registration(b: &[u8]) -> Option<Registration> {
    let flags = be16(b, 2)?;
    let opcode = ((flags >> 11) & 0xf) as u8;
    if flags & 0x8000 != 0 || !matches!(opcode, REGISTRATION | REFRESH | REFRESH_ALT | MULTIHOMED) {
        return None;
    }
    if be16(b, 4)? != 1 || be16(b, 10)? < 1 {
        return None;
    }
    let (decoded, off) = name_at(b, HEADER)?;
    if be16(b, off)? != TYPE_NB {
        return None;
    }
    // The additional record: a pointer to the question name, or the name again.
    let mut rr = off + 4;
    match b.get(rr)? {
        c if c & 0xc0 == 0xc0 => rr += 2,
        _ => rr = name_at(b, rr)?.1,
    }
    if be16(b, rr)? != TYPE_NB {
        return None;
    }
    let rdlen = usize::from(be16(b, rr + 8)?);
    let rdata = b.get(rr + 10..rr + 10 + rdlen)?;
    let nb_flags = be16(rdata, 0)?;
    let addr = match rdata.get(2..6)? {
        [a, c, d, e] => Some(Ipv4Addr::new(*a, *c, *d, *e)),
        _ => None,
    };
    let mut name = [b' '; 15];
    name.copy_from_slice(decoded.get(..15)?);
    Some(Registration {
        name,
        suffix: *decoded.get(15)?,
        group: nb_flags & 0x8000 != 0,
        addr,
    })
}

/// The machine's own name from a registration: unique, workstation or server suffix. Its
/// address is the record's NB_ADDRESS (the sender's when the record has none).
pub fn observe<'a>(b: &'a [u8], src: IpAddr, out: &mut dyn FnMut(Observation<'a>)) {
    let Some(r) = parse_registration(b) else {
        return;
    };
    if r.group || !matches!(r.suffix, 0x00 | 0x20) {
        return;
    }
    out(Observation {
        kind: IdentityKind::Netbios,
        name: Some(RawName::Netbios(r.name)),
        mac: None,
        addr: Some(r.addr.map_or(src, IpAddr::V4)),
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A registration request as Windows broadcasts it (opcode 5, B-node, pointer in the
    /// additional record).
    pub(crate) fn registration(name: &[u8], suffix: u8, group: bool, addr: Ipv4Addr) -> Vec<u8> {
        let mut p = vec![0x80, 0x1d, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
        let mut n = [b' '; 16];
        for (d, s) in n.iter_mut().zip(name.iter().take(15)) {
            *d = *s;
        }
        n[15] = suffix;
        p.push(32);
        for c in n {
            p.push(b'A' + (c >> 4));
            p.push(b'A' + (c & 0xf));
        }
        p.push(0);
        p.extend_from_slice(&[0, 0x20, 0, 1]);
        p.extend_from_slice(&[0xc0, 0x0c, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6]);
        p.extend_from_slice(&[if group { 0x80 } else { 0 }, 0]);
        p.extend_from_slice(&addr.octets());
        p
    }

    fn names(b: &[u8]) -> Vec<(Option<Box<str>>, Option<IpAddr>)> {
        let mut v = Vec::new();
        observe(b, "192.168.1.99".parse().unwrap(), &mut |o| {
            let id = o.to_identity().unwrap();
            v.push((id.name, id.addr));
        });
        v
    }

    #[test]
    fn a_workstation_registration_names_the_machine() {
        let a = Ipv4Addr::new(192, 168, 1, 33);
        let p = registration(b"WIN-PC33", 0x00, false, a);
        assert!(probe(&p, 137, 137));
        let r = parse_registration(&p).unwrap();
        assert_eq!(&r.name[..8], b"WIN-PC33");
        assert_eq!(r.suffix, 0);
        assert_eq!(
            names(&p),
            vec![(Some("WIN-PC33".into()), Some(IpAddr::V4(a)))]
        );
        // The server-service name counts too; the workgroup (group) and the browser names
        // (suffix 0x1d, 0x1e) do not.
        assert_eq!(names(&registration(b"WIN-PC33", 0x20, false, a)).len(), 1);
        assert!(names(&registration(b"WORKGROUP", 0x00, true, a)).is_empty());
        assert!(names(&registration(b"WORKGROUP", 0x1e, true, a)).is_empty());
        assert!(names(&registration(b"WIN-PC33", 0x1d, false, a)).is_empty());
    }

    #[test]
    fn queries_and_responses_name_nobody() {
        let a = Ipv4Addr::new(192, 168, 1, 33);
        let mut q = registration(b"OTHER-PC", 0, false, a);
        q[2] = 0x01; // opcode 0 (query), RD
        assert!(names(&q).is_empty());
        let mut resp = registration(b"WIN-PC33", 0, false, a);
        resp[2] |= 0x80;
        assert!(names(&resp).is_empty());
        // A name not in the first-level encoding.
        let mut bad = registration(b"WIN-PC33", 0, false, a);
        bad[13] = b'Z';
        assert!(names(&bad).is_empty());
        let p = registration(b"WIN-PC33", 0, false, a);
        for n in 0..p.len() {
            assert!(parse_registration(&p[..n]).is_none());
        }
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            observe(&b, "10.0.0.1".parse().unwrap(), &mut |o| {
                if let Some(id) = o.to_identity() {
                    assert!(id.name.is_some_and(|n| n.len() <= 60));
                }
            });
        }

        #[test]
        fn registered_names_round_trip(
            name in proptest::collection::vec(0x21u8..0x7f, 1..15),
            octet in 1u8..255,
        ) {
            let a = Ipv4Addr::new(10, 1, 2, octet);
            let p = registration(&name, 0, false, a);
            let got = names(&p);
            let want: Box<str> = name
                .iter()
                .map(|&c| if c == b'\\' { "\\\\".to_string() } else { char::from(c).to_string() })
                .collect::<String>()
                .into();
            prop_assert_eq!(got, vec![(Some(want), Some(IpAddr::V4(a)))]);
        }
    }
}
