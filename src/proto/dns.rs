//! DNS messages: the names clients ask for and the addresses and aliases they are given.
//!
//! One wire parser serves well-formed and malformed messages alike. Captures hold truncated
//! records, odd label bytes, over-long names and compression loops, and the question names must
//! still come out (tshark shows them). simple-dns rejects such messages whole, so a lenient parser
//! is needed anyway; since it also decodes every field we use (A, AAAA, CNAME, HTTPS/SVCB hints),
//! a second, stricter path through simple-dns would only add allocations per packet (a Vec per
//! name and record, every RR type decoded) and a second name rendering to keep in sync. The
//! tests use simple-dns as an independent encoder and check that both agree.
//!
//! Names come out as tshark displays them, lowercased: labels joined by `.`, no trailing dot,
//! the root as `""` (the engine does not take it as a name), control bytes as C escapes (`\r`)
//! or octal `\ddd`, valid UTF-8 kept, and bytes that are not valid UTF-8 as octal `\ddd` too
//! (tshark shows U+FFFD there; we keep the bytes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest name on the wire (RFC 1035 section 3.1).
const MAX_NAME_WIRE: usize = 255;
/// Labels plus pointer jumps followed for one name: a name has at most 127 labels, so more
/// steps than this means a compression loop.
const MAX_NAME_STEPS: usize = 160;
const MAX_QUESTIONS: usize = 16;
const MAX_ANSWERS: usize = 64;
const MAX_HINTS: usize = 16;

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_PTR: u16 = 12;
const TYPE_AAAA: u16 = 28;
const TYPE_SVCB: u16 = 64;
const TYPE_HTTPS: u16 = 65;

/// One parsed DNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    pub is_response: bool,
    pub rcode: u8,
    /// (name, qtype); questions whose name cannot be read are left out.
    pub questions: Vec<(String, u16)>,
    /// Records of the answer section that could be read, in order.
    pub answers: Vec<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub name: String,
    pub ttl: u32,
    pub data: AnswerData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerData {
    Addr(IpAddr),
    Cname(String),
    /// A PTR record's target (the name of the address a reverse name stands for).
    Ptr(String),
    /// HTTPS or SVCB record in service mode. `target` is the owner name when the record says
    /// `.` (RFC 9460 section 2.5.2), so the hints can be attributed to a name.
    Https {
        target: String,
        ipv4hint: Vec<Ipv4Addr>,
        ipv6hint: Vec<Ipv6Addr>,
        ech: bool,
        /// `public_name` of the first ECHConfig in the `ech` parameter: the outer SNI a client
        /// will send, which links an ECH ClientHello back to the name it was looking up.
        ech_public_name: Option<String>,
    },
    /// Any other record type (or an A/AAAA/CNAME/HTTPS record whose data is malformed).
    Other(u16),
}

/// The address a reverse-lookup name stands for: `4.3.2.1.in-addr.arpa` is 1.2.3.4, and
/// 32 nibbles under `ip6.arpa` an IPv6 address. `None` for any other name (a partial reverse
/// name names a network, not an address).
pub fn reverse_name_addr(name: &str) -> Option<IpAddr> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let lower = name.to_ascii_lowercase();
    if let Some(v4) = lower.strip_suffix(".in-addr.arpa") {
        let mut o = [0u8; 4];
        let mut parts = v4.split('.');
        for slot in o.iter_mut().rev() {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = p.parse().ok()?;
        }
        return parts.next().is_none().then_some(IpAddr::from(o));
    }
    let v6 = lower.strip_suffix(".ip6.arpa")?;
    let mut o = [0u8; 16];
    let mut parts = v6.split('.');
    for i in (0..32).rev() {
        let p = parts.next()?;
        let [c] = p.as_bytes() else { return None };
        let v = char::from(*c).to_digit(16)? as u8;
        let byte = o.get_mut(i / 2)?;
        *byte |= if i % 2 == 0 { v << 4 } else { v };
    }
    parts.next().is_none().then_some(IpAddr::from(o))
}

/// The label bytes a presented name stands for: the inverse of the escapes names are shown
/// with (`\a`..`\r`, octal `\ddd`; README "Names"). `None` when an escape is malformed. The
/// property tests and the `dns_names` fuzz target check the rendering against it.
pub fn unescape_presented(name: &str) -> Option<Vec<u8>> {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let named = match b.get(i + 1) {
            Some(b'a') => Some(7),
            Some(b'b') => Some(8),
            Some(b't') => Some(9),
            Some(b'n') => Some(10),
            Some(b'v') => Some(11),
            Some(b'f') => Some(12),
            Some(b'r') => Some(13),
            _ => None,
        };
        if let Some(c) = named {
            out.push(c);
            i += 2;
            continue;
        }
        let digits = b.get(i + 1..i + 4)?;
        let mut v: u16 = 0;
        for d in digits {
            if !(b'0'..=b'7').contains(d) {
                return None;
            }
            v = v * 8 + u16::from(d - b'0');
        }
        out.push(u8::try_from(v).ok()?);
        i += 4;
    }
    Some(out)
}

/// Parse one DNS message (a UDP payload, or one TCP message without its length prefix).
///
/// Returns `None` when the header is short, or when the header announces records but none of
/// them could be read.
pub fn parse(msg: &[u8]) -> Option<DnsMessage> {
    let h = msg.get(..12)?;
    let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let flags = be(2);
    let (qdcount, ancount) = (usize::from(be(4)), usize::from(be(6)));
    let mut out = DnsMessage {
        id: be(0),
        is_response: flags & 0x8000 != 0,
        rcode: (flags & 0x000f) as u8,
        questions: Vec::new(),
        answers: Vec::new(),
    };
    let mut pos = 12;
    let mut name = Vec::new();
    let mut complete = true;
    for _ in 0..qdcount {
        name.clear();
        let Some((end, ok)) = read_name(msg, pos, &mut name) else {
            complete = false;
            break;
        };
        let Some(qtype) = msg.get(end..end + 2) else {
            complete = false;
            break;
        };
        if ok && out.questions.len() < MAX_QUESTIONS {
            out.questions
                .push((render(&name), u16::from_be_bytes([qtype[0], qtype[1]])));
        }
        pos = end + 4; // qtype, qclass
    }
    if complete {
        for _ in 0..ancount.min(MAX_ANSWERS) {
            match read_record(msg, pos, &mut name) {
                Some((next, answer)) => {
                    out.answers.extend(answer);
                    pos = next;
                }
                None => break,
            }
        }
    }
    if out.questions.is_empty() && out.answers.is_empty() && qdcount + ancount > 0 {
        return None;
    }
    Some(out)
}

/// One resource record at `pos`: the position after it, and the answer if its owner name is
/// readable. `None` when the record runs past the message (nothing after it can be trusted).
fn read_record(msg: &[u8], pos: usize, name: &mut Vec<u8>) -> Option<(usize, Option<Answer>)> {
    name.clear();
    let (end, ok) = read_name(msg, pos, name)?;
    let fixed = msg.get(end..end + 10)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rd_start = end + 10;
    let rdata = msg.get(rd_start..rd_start + rdlen)?;
    let next = rd_start + rdlen;
    if !ok {
        return Some((next, None));
    }
    let owner = render(name);
    let data = match rtype {
        TYPE_A => <[u8; 4]>::try_from(rdata)
            .ok()
            .map(|a| AnswerData::Addr(IpAddr::from(a))),
        TYPE_AAAA => <[u8; 16]>::try_from(rdata)
            .ok()
            .map(|a| AnswerData::Addr(IpAddr::from(a))),
        TYPE_CNAME | TYPE_PTR => {
            name.clear();
            match read_name(msg, rd_start, name) {
                Some((_, true)) if rtype == TYPE_CNAME => Some(AnswerData::Cname(render(name))),
                Some((_, true)) => Some(AnswerData::Ptr(render(name))),
                _ => None,
            }
        }
        TYPE_HTTPS | TYPE_SVCB => read_svcb(msg, rd_start, rdata, &owner, name),
        _ => None,
    };
    let data = data.unwrap_or(AnswerData::Other(rtype));
    Some((
        next,
        Some(Answer {
            name: owner,
            ttl,
            data,
        }),
    ))
}

/// SVCB/HTTPS rdata (RFC 9460): priority, target name, then key/length/value parameters.
fn read_svcb(
    msg: &[u8],
    rd_start: usize,
    rdata: &[u8],
    owner: &str,
    name: &mut Vec<u8>,
) -> Option<AnswerData> {
    let priority = u16::from_be_bytes([*rdata.first()?, *rdata.get(1)?]);
    name.clear();
    let (end, ok) = read_name(msg, rd_start + 2, name)?;
    let mut params = rdata.get(end.checked_sub(rd_start)?..)?;
    if !ok || priority == 0 {
        // Alias mode carries no hints; report it as an ordinary record.
        return None;
    }
    let target = if name.is_empty() {
        owner.to_owned()
    } else {
        render(name)
    };
    let (mut ipv4hint, mut ipv6hint, mut ech) = (Vec::new(), Vec::new(), false);
    let mut ech_public_name = None;
    while let [k0, k1, l0, l1, rest @ ..] = params {
        let key = u16::from_be_bytes([*k0, *k1]);
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let Some(value) = rest.get(..len) else { break };
        params = rest.get(len..).unwrap_or(&[]);
        match key {
            4 => ipv4hint.extend(
                value
                    .chunks_exact(4)
                    .take(MAX_HINTS)
                    .map(|a| Ipv4Addr::new(a[0], a[1], a[2], a[3])),
            ),
            5 => {
                ech = true;
                ech_public_name = ech_public_name.or_else(|| ech_config_public_name(value));
            }
            6 => ipv6hint.extend(
                value
                    .chunks_exact(16)
                    .take(MAX_HINTS)
                    .filter_map(|a| <[u8; 16]>::try_from(a).ok())
                    .map(Ipv6Addr::from),
            ),
            _ => {}
        }
    }
    Some(AnswerData::Https {
        target,
        ipv4hint,
        ipv6hint,
        ech,
        ech_public_name,
    })
}

/// ECHConfig version this parser reads (draft-ietf-tls-esni-18 onwards, what browsers deploy).
const ECH_VERSION: u16 = 0xfe0d;

/// The `public_name` of the first well-formed ECHConfig of version 0xfe0d in an ECHConfigList
/// (draft-ietf-tls-esni section 4): a u16 list length, then configs of (version, u16 length,
/// contents). Contents: config id (1), KEM id (2), public key (u16 length), cipher suites (u16
/// length), maximum name length (1), public name (u8 length), extensions.
pub fn ech_config_public_name(list: &[u8]) -> Option<String> {
    let be = |b: &[u8], i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    let total = usize::from(be(list, 0)?);
    let mut configs = list.get(2..2 + total)?;
    while configs.len() >= 4 {
        let version = be(configs, 0)?;
        let len = usize::from(be(configs, 2)?);
        let body = configs.get(4..4 + len)?;
        configs = configs.get(4 + len..)?;
        if version != ECH_VERSION {
            continue;
        }
        let key_len = usize::from(be(body, 3)?);
        let suites_at = 5 + key_len;
        let suites_len = usize::from(be(body, suites_at)?);
        let name_at = suites_at + 2 + suites_len + 1;
        let name_len = usize::from(*body.get(name_at)?);
        let name = body.get(name_at + 1..name_at + 1 + name_len)?;
        if let Some(n) = super::normalize_host(name) {
            return Some(n);
        }
    }
    None
}

/// Read the name at `pos`, appending its presentation bytes (escaped, lowercased) to `out`.
///
/// Returns the position after the name where it starts (not where a pointer led) and whether
/// the name is usable: a name longer than 255 octets is walked to its end, so parsing can
/// continue, but reported unusable. `None` when the name runs off the message, uses a reserved
/// label type, or loops.
fn read_name(msg: &[u8], mut pos: usize, out: &mut Vec<u8>) -> Option<(usize, bool)> {
    let mut end = None;
    let mut wire = 1usize; // the root label
    for _ in 0..MAX_NAME_STEPS {
        let len = *msg.get(pos)?;
        match len >> 6 {
            0 if len == 0 => return Some((end.unwrap_or(pos + 1), wire <= MAX_NAME_WIRE)),
            0 => {
                let n = usize::from(len);
                let label = msg.get(pos + 1..pos + 1 + n)?;
                wire += n + 1;
                if wire <= MAX_NAME_WIRE {
                    if !out.is_empty() {
                        out.push(b'.');
                    }
                    escape_label(label, out);
                }
                pos += n + 1;
            }
            3 => {
                let lo = *msg.get(pos + 1)?;
                end.get_or_insert(pos + 2);
                pos = usize::from(len & 0x3f) << 8 | usize::from(lo);
            }
            // 0b01 (extended label, RFC 6891) and 0b10 are not names we can read.
            _ => return None,
        }
    }
    None
}

/// Escape like tshark's `format_text`: C escapes for common controls, octal for other
/// controls and DEL; everything else (space and bytes >= 0x80 included) kept.
fn escape_label(label: &[u8], out: &mut Vec<u8>) {
    for &b in label {
        let named = match b {
            0x07 => b'a',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0b => b'v',
            0x0c => b'f',
            0x0d => b'r',
            _ => 0,
        };
        if named != 0 {
            out.extend_from_slice(&[b'\\', named]);
        } else if b < 0x20 || b == 0x7f {
            out.extend_from_slice(&[b'\\', b'0' + (b >> 6), b'0' + (b >> 3 & 7), b'0' + (b & 7)]);
        } else {
            out.push(b.to_ascii_lowercase());
        }
    }
}

/// The presentation bytes as text: valid UTF-8 is kept (as tshark shows it), every byte that
/// is not part of valid UTF-8 is written as an octal `\ddd` escape, so the original bytes stay
/// recoverable (tshark substitutes U+FFFD and loses them).
fn render(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for &b in bad.iter().take(n) {
                    out.push('\\');
                    for shift in [6, 3, 0] {
                        out.push(char::from(b'0' + (b >> shift & 7)));
                    }
                }
                rest = bad.get(n..).unwrap_or_default();
            }
        }
    }
}

/// DNS over TCP: messages each preceded by a 2-byte length (RFC 1035 section 4.2.2).
pub struct TcpMessages<'a> {
    stream: &'a [u8],
    pos: usize,
}

impl<'a> TcpMessages<'a> {
    pub fn new(stream: &'a [u8]) -> Self {
        TcpMessages { stream, pos: 0 }
    }

    /// Bytes taken by the complete messages returned so far; the rest awaits more data.
    pub fn consumed(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for TcpMessages<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.stream.get(self.pos..)?;
        let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
        let msg = rest.get(2..2 + len)?;
        self.pos += 2 + len;
        Some(msg)
    }
}

/// Complete messages in a DNS-over-TCP stream and the bytes they take.
pub fn split_tcp(stream: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut it = TcpMessages::new(stream);
    let msgs: Vec<&[u8]> = it.by_ref().collect();
    (msgs, it.consumed())
}

/// Whether a UDP payload should be parsed as DNS: a DNS/mDNS/LLMNR port with a full header, or
/// on other ports a header that looks like a standard query or response.
pub fn probe_udp(payload: &[u8], src_port: u16, dst_port: u16) -> bool {
    let Some(h) = payload.get(..13) else {
        return false;
    };
    let ports = [src_port, dst_port];
    if ports.iter().any(|p| matches!(p, 53 | 5353 | 5355)) {
        return true;
    }
    // NetBIOS name service shares the DNS header layout but is not DNS.
    if ports.iter().any(|p| matches!(p, 137 | 138)) {
        return false;
    }
    let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let flags = be(2);
    let opcode = (flags >> 11) & 0xf;
    let z = flags & 0x0040;
    let (qd, an, ns, ar) = (be(4), be(6), be(8), be(10));
    let is_response = flags & 0x8000 != 0;
    opcode == 0
        && z == 0
        && qd == 1
        && an <= 64
        && ns <= 64
        && ar <= 64
        && (is_response || (an == 0 && flags & 0x000f == 0))
        && (h[12] < 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Header + raw sections.
    fn msg(id: u16, flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            v.extend_from_slice(&c.to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    fn wire_name(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    fn rr(name: &[u8], ty: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut v = name.to_vec();
        v.extend_from_slice(&ty.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(rdata);
        v
    }

    /// RFC 1035 section 4.1.4 style response: the question name at offset 12 is referenced by
    /// pointers (0xc00c); the CNAME target is then reused by the A/AAAA records.
    fn cname_chain_response() -> Vec<u8> {
        let mut body = wire_name("WWW.Example.com");
        body.extend_from_slice(&[0, 1, 0, 1]);
        // www.example.com CNAME edge.cdn.example.net (written after the question)
        let cname_target_off = 12 + body.len() + 12; // name ptr(2)+type/class/ttl/len(10)
        let cname_rdata = wire_name("edge.cdn.example.net");
        body.extend(rr(&[0xc0, 12], TYPE_CNAME, 300, &cname_rdata));
        // edge.cdn.example.net A 192.0.2.10, AAAA 2001:db8::10 (owner by pointer)
        let ptr = [0xc0 | (cname_target_off >> 8) as u8, cname_target_off as u8];
        body.extend(rr(&ptr, TYPE_A, 60, &[192, 0, 2, 10]));
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6[15] = 0x10;
        body.extend(rr(&ptr, TYPE_AAAA, 60, &v6));
        msg(0xbeef, 0x8180, [1, 3, 0, 0], &body)
    }

    #[test]
    fn query() {
        let mut body = wire_name("login.live.com");
        body.extend_from_slice(&[0, 28, 0, 1]);
        let m = parse(&msg(7, 0x0100, [1, 0, 0, 0], &body)).unwrap();
        assert_eq!(m.id, 7);
        assert!(!m.is_response);
        assert_eq!(m.questions, vec![("login.live.com".to_string(), 28)]);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn cname_chain_with_compression() {
        let m = parse(&cname_chain_response()).unwrap();
        assert!(m.is_response);
        assert_eq!(m.rcode, 0);
        assert_eq!(m.questions, vec![("www.example.com".to_string(), 1)]);
        let got: Vec<(&str, u32, &AnswerData)> = m
            .answers
            .iter()
            .map(|a| (a.name.as_str(), a.ttl, &a.data))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "www.example.com",
                    300,
                    &AnswerData::Cname("edge.cdn.example.net".into())
                ),
                (
                    "edge.cdn.example.net",
                    60,
                    &AnswerData::Addr("192.0.2.10".parse().unwrap())
                ),
                (
                    "edge.cdn.example.net",
                    60,
                    &AnswerData::Addr("2001:db8::10".parse().unwrap())
                ),
            ]
        );
    }

    /// An ECHConfigList: an unknown-version config first (skipped), then a 0xfe0d config with
    /// an X25519 key, one cipher suite and `public_name`.
    fn ech_config_list(public_name: &[u8]) -> Vec<u8> {
        let mut c = vec![7, 0, 0x20, 0, 32];
        c.extend([0x11; 32]);
        c.extend_from_slice(&[0, 4, 0, 1, 0, 1, 0]);
        c.push(public_name.len() as u8);
        c.extend_from_slice(public_name);
        c.extend_from_slice(&[0, 0]);
        let mut configs = vec![0xfe, 0x0a, 0, 2, 9, 9];
        configs.extend_from_slice(&ECH_VERSION.to_be_bytes());
        configs.extend_from_slice(&(c.len() as u16).to_be_bytes());
        configs.extend(c);
        let mut list = (configs.len() as u16).to_be_bytes().to_vec();
        list.extend(configs);
        list
    }

    #[test]
    fn ech_public_name_from_config_list() {
        let list = ech_config_list(b"cloudflare-ech.com");
        assert_eq!(
            ech_config_public_name(&list).as_deref(),
            Some("cloudflare-ech.com")
        );
        // Every truncation is rejected, never read past the end.
        for n in 0..list.len() {
            assert_eq!(ech_config_public_name(&list[..n]), None, "cut at {n}");
        }
        // Opaque bytes (an old test vector) give no name.
        assert_eq!(ech_config_public_name(&[0xaa, 0xbb, 0xcc]), None);
    }

    #[test]
    fn https_record_with_hints_and_ech() {
        let mut body = wire_name("svc.example");
        body.extend_from_slice(&[0, 65, 0, 1]);
        let mut rdata = vec![0, 1, 0]; // priority 1, target "."
        rdata.extend_from_slice(&[0, 1, 0, 3, 2, b'h', b'2']); // alpn
        rdata.extend_from_slice(&[0, 4, 0, 8, 192, 0, 2, 1, 192, 0, 2, 2]); // ipv4hint
        let ech = ech_config_list(b"Public.Example.");
        rdata.extend_from_slice(&[0, 5]);
        rdata.extend_from_slice(&(ech.len() as u16).to_be_bytes());
        rdata.extend_from_slice(&ech);
        let mut v6 = vec![0, 6, 0, 16, 0x20, 0x01, 0x0d, 0xb8];
        v6.extend([0; 11]);
        v6.push(1);
        rdata.extend_from_slice(&v6);
        body.extend(rr(&[0xc0, 12], TYPE_HTTPS, 30, &rdata));
        // Alias mode record with an explicit target: reported as Other.
        let mut alias = vec![0, 0];
        alias.extend(wire_name("alias.example"));
        body.extend(rr(&[0xc0, 12], TYPE_HTTPS, 30, &alias));
        let m = parse(&msg(1, 0x8180, [1, 2, 0, 0], &body)).unwrap();
        assert_eq!(
            m.answers[0].data,
            AnswerData::Https {
                target: "svc.example".into(),
                ipv4hint: vec![Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)],
                ipv6hint: vec!["2001:db8::1".parse().unwrap()],
                ech: true,
                ech_public_name: Some("public.example".into()),
            }
        );
        assert_eq!(m.answers[1].data, AnswerData::Other(TYPE_HTTPS));
    }

    #[test]
    fn pointer_loops_do_not_hang() {
        // Question name is a pointer to itself.
        let m = msg(1, 0x0100, [1, 0, 0, 0], &[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse(&m), None);
        // Two labels pointing at each other, in an answer after a good question.
        let mut body = wire_name("ok.example");
        body.extend_from_slice(&[0, 1, 0, 1]);
        let a = 12 + body.len();
        body.extend_from_slice(&[1, b'x', 0xc0, (a + 4) as u8, 1, b'y', 0xc0, a as u8]);
        body.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        let m = parse(&msg(1, 0x8180, [1, 1, 0, 0], &body)).unwrap();
        assert_eq!(m.questions, vec![("ok.example".to_string(), 1)]);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn odd_bytes_are_escaped_like_tshark() {
        // From ndpi__fuzz-2006-06-26-2594: tshark shows 0x1a as \032 (octal) and CR as \r.
        let mut body = vec![
            3, b'w', b'w', b'w', 10, b'a', b'l', 1, 2, 0x1a, b' ', b'O', 0xff,
        ];
        body.extend_from_slice(&[13, 0x7f, 2, b'c', b'n', 0, 0, 1, 0, 1]);
        let m = parse(&msg(1, 0x0100, [1, 0, 0, 0], &body)).unwrap();
        assert_eq!(m.questions[0].0, "www.al\\001\\002\\032 o\\377\\r\\177.cn");
    }

    #[test]
    fn utf8_is_kept_and_other_high_bytes_are_escaped() {
        // "café" in UTF-8, a lone continuation byte, a cut 3-byte sequence, then ASCII.
        let mut body = vec![
            10, b'c', b'a', b'f', 0xc3, 0xa9, 0x80, 0xe2, 0x82, b'x', b'Y',
        ];
        body.extend_from_slice(&[0, 0, 1, 0, 1]);
        let m = parse(&msg(1, 0x0100, [1, 0, 0, 0], &body)).unwrap();
        assert_eq!(m.questions[0].0, "caf\u{e9}\\200\\342\\202xy");
    }

    #[test]
    fn long_name_is_skipped_but_parsing_continues() {
        // 5 labels of 63 bytes: 321 octets, over the 255 limit.
        let long = vec!["a".repeat(63); 5].join(".");
        let mut body = wire_name(&long);
        body.extend_from_slice(&[0, 1, 0, 1]);
        body.extend(wire_name("www.xt.com"));
        body.extend_from_slice(&[0, 1, 0, 1]);
        let m = parse(&msg(1, 0x0100, [2, 0, 0, 0], &body)).unwrap();
        assert_eq!(m.questions, vec![("www.xt.com".to_string(), 1)]);
    }

    #[test]
    fn truncated_answers_keep_questions() {
        let full = cname_chain_response();
        let m = parse(&full[..full.len() - 3]).unwrap();
        assert_eq!(m.questions.len(), 1);
        assert_eq!(m.answers.len(), 2);
        assert_eq!(parse(&full[..11]), None);
        // A root query (e.g. NS .) gives the empty name.
        let m = parse(&msg(1, 0x0100, [1, 0, 0, 0], &[0, 0, 2, 0, 1])).unwrap();
        assert_eq!(m.questions, vec![(String::new(), 2)]);
    }

    #[test]
    fn tcp_stream_split_mid_message() {
        let a = cname_chain_response();
        let mut body = wire_name("second.example");
        body.extend_from_slice(&[0, 1, 0, 1]);
        let b = msg(2, 0x0100, [1, 0, 0, 0], &body);
        let mut stream = Vec::new();
        for m in [&a, &b] {
            stream.extend_from_slice(&(m.len() as u16).to_be_bytes());
            stream.extend_from_slice(m);
        }
        let cut = 2 + a.len() + 2 + 5;
        let (msgs, used) = split_tcp(&stream[..cut]);
        assert_eq!(msgs, vec![&a[..]]);
        assert_eq!(used, 2 + a.len());
        let (msgs, used) = split_tcp(&stream[used..]);
        assert_eq!(msgs, vec![&b[..]]);
        assert_eq!(used, 2 + b.len());
        let names: Vec<String> = msgs
            .iter()
            .filter_map(|m| parse(m))
            .flat_map(|m| m.questions)
            .map(|q| q.0)
            .collect();
        assert_eq!(names, vec!["second.example".to_string()]);
        assert_eq!(split_tcp(&[0]), (vec![], 0));
    }

    #[test]
    fn udp_probe() {
        let q = {
            let mut body = wire_name("a.example");
            body.extend_from_slice(&[0, 1, 0, 1]);
            msg(9, 0x0100, [1, 0, 0, 0], &body)
        };
        assert!(probe_udp(&q, 40000, 53));
        assert!(probe_udp(&q, 40000, 5555));
        assert!(probe_udp(&cname_chain_response(), 5555, 40000));
        assert!(!probe_udp(&q[..12], 40000, 53));
        assert!(!probe_udp(
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00",
            1,
            2
        ));
        let mut bad = q.clone();
        bad[2] = 0x28; // opcode 5 (update)
        assert!(!probe_udp(&bad, 40000, 5555));
        // NetBIOS name service looks like DNS but is not.
        assert!(!probe_udp(&q, 137, 137));
    }

    /// simple-dns as an independent encoder: what it builds (with name compression), we read.
    #[test]
    fn agrees_with_simple_dns_encoder() {
        use simple_dns::rdata::{RData, A, AAAA, CNAME, HTTPS, SVCB};
        use simple_dns::{Name, Packet, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE};
        let mut p = Packet::new_reply(0x1234);
        let qn = Name::new_unchecked("dl.delivery.mp.microsoft.com");
        p.questions.push(Question::new(
            qn.clone(),
            QTYPE::TYPE(TYPE::A),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        let cn = Name::new_unchecked("dl.delivery.mp.microsoft.com.edgesuite.net");
        p.answers.push(ResourceRecord::new(
            qn.clone(),
            CLASS::IN,
            3600,
            RData::CNAME(CNAME(cn.clone())),
        ));
        p.answers.push(ResourceRecord::new(
            cn.clone(),
            CLASS::IN,
            20,
            RData::A(A {
                address: 0xc000_0221,
            }),
        ));
        p.answers.push(ResourceRecord::new(
            cn.clone(),
            CLASS::IN,
            20,
            RData::AAAA(AAAA { address: 1 }),
        ));
        let mut svcb = SVCB::new(1, Name::new_unchecked("svc.microsoft.com"));
        svcb.set_ipv4hint(&[0x0a00_0001]);
        p.answers.push(ResourceRecord::new(
            qn.clone(),
            CLASS::IN,
            5,
            RData::HTTPS(HTTPS(svcb)),
        ));
        let bytes = p.build_bytes_vec_compressed().unwrap();
        let m = parse(&bytes).unwrap();
        assert_eq!(m.id, 0x1234);
        assert_eq!(
            m.questions,
            vec![("dl.delivery.mp.microsoft.com".into(), 1)]
        );
        let data: Vec<&AnswerData> = m.answers.iter().map(|a| &a.data).collect();
        assert_eq!(
            data,
            vec![
                &AnswerData::Cname("dl.delivery.mp.microsoft.com.edgesuite.net".into()),
                &AnswerData::Addr("192.0.2.33".parse().unwrap()),
                &AnswerData::Addr("::1".parse().unwrap()),
                &AnswerData::Https {
                    target: "svc.microsoft.com".into(),
                    ipv4hint: vec![Ipv4Addr::new(10, 0, 0, 1)],
                    ipv6hint: vec![],
                    ech: false,
                    ech_public_name: None
                },
            ]
        );
        assert_eq!(
            m.answers[1].name,
            "dl.delivery.mp.microsoft.com.edgesuite.net"
        );
        assert_eq!(m.answers[1].ttl, 20);
    }

    #[test]
    fn reverse_names_give_addresses() {
        let r = |n: &str| reverse_name_addr(n);
        assert_eq!(
            r("31.1.168.192.in-addr.arpa"),
            Some("192.168.1.31".parse().unwrap())
        );
        assert_eq!(
            r("31.1.168.192.IN-ADDR.ARPA."),
            Some("192.168.1.31".parse().unwrap())
        );
        assert_eq!(r("1.168.192.in-addr.arpa"), None);
        assert_eq!(r("1.31.1.168.192.in-addr.arpa"), None);
        assert_eq!(r("256.1.168.192.in-addr.arpa"), None);
        assert_eq!(r("+1.1.168.192.in-addr.arpa"), None);
        let v6 = "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa";
        assert_eq!(r(v6), Some("4321:0:1:2:3:4:567:89ab".parse().unwrap()));
        assert_eq!(r("example.com"), None);
        assert_eq!(r("a.ip6.arpa"), None);
    }

    const DEL: char = '\u{7f}';

    /// A query for the name made of these raw labels (any bytes).
    fn query_of_labels(labels: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        for l in labels {
            body.push(l.len() as u8);
            body.extend_from_slice(l);
        }
        body.extend_from_slice(&[0, 0, 1, 0, 1]);
        msg(7, 0x0100, [1, 0, 0, 0], &body)
    }

    /// The bytes a presented name stands for; a malformed escape fails the test.
    fn unescape(name: &str) -> Vec<u8> {
        super::unescape_presented(name).unwrap_or_else(|| panic!("bad escape in {name:?}"))
    }

    /// A label's bytes: anything but `.` and `\`, which tshark's rendering (and ours) leaves
    /// as is, so a name holding them cannot be read back unambiguously.
    fn label() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            any::<u8>().prop_filter("not . or \\", |b| *b != b'.' && *b != b'\\'),
            1..=63,
        )
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&data);
            let _ = probe_udp(&data, 1, 2);
            for m in TcpMessages::new(&data) {
                let _ = parse(m);
            }
            // Same bytes behind a plausible header, so the name/record code is reached.
            let mut with_hdr = msg(1, 0x8180, [2, 3, 0, 0], &[]);
            with_hdr.extend_from_slice(&data);
            let _ = parse(&with_hdr);
        }

        /// Every label byte survives: the presented name decodes back to the wire bytes
        /// (ASCII lowercased), holds no control character, keeps valid UTF-8 as is, and has
        /// U+FFFD only where the bytes spelled it.
        #[test]
        fn names_keep_their_bytes(labels in proptest::collection::vec(label(), 1..=4)) {
            let m = parse(&query_of_labels(&labels)).unwrap();
            prop_assert_eq!(m.questions.len(), 1);
            let name = &m.questions[0].0;
            let mut wire: Vec<u8> = labels.join(&b'.').to_ascii_lowercase();
            prop_assert_eq!(unescape(name), wire.clone());
            let control = name.chars().any(|c| c < ' ' || c == DEL);
            prop_assert!(!control, "control character in {:?}", name);
            let spelled = wire.windows(3).any(|w| w == [0xef, 0xbf, 0xbd]);
            prop_assert_eq!(name.contains('\u{fffd}'), spelled);
            if !wire.iter().any(|b| *b < 0x20 || *b == 0x7f) {
                if let Ok(text) = String::from_utf8(std::mem::take(&mut wire)) {
                    prop_assert_eq!(name, &text);
                }
            }
        }

        /// Any label bytes at all (`.` and `\` too): no panic, no control character, at most
        /// four presented bytes per wire byte.
        #[test]
        fn any_label_bytes_render_safely(
            labels in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..=63), 1..=5),
        ) {
            if let Some(m) = parse(&query_of_labels(&labels)) {
                for (name, _) in &m.questions {
                    let control = name.chars().any(|c| c < ' ' || c == DEL);
                    prop_assert!(!control, "control character in {:?}", name);
                    prop_assert!(name.len() <= 4 * 255);
                }
            }
        }

        /// Names simple-dns encodes (with compression) come back identical, lowercased.
        #[test]
        fn reads_what_simple_dns_writes(
            names in proptest::collection::vec("[a-zA-Z0-9_-]{1,12}(\\.[a-zA-Z0-9-]{1,12}){0,4}", 1..5),
            addrs in proptest::collection::vec(any::<u32>(), 1..5),
        ) {
            use simple_dns::rdata::{RData, A};
            use simple_dns::{Name, Packet, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE};
            let mut p = Packet::new_reply(1);
            for n in &names {
                p.questions.push(Question::new(Name::new_unchecked(n), QTYPE::TYPE(TYPE::A), QCLASS::CLASS(CLASS::IN), false));
            }
            for (i, a) in addrs.iter().enumerate() {
                let n = Name::new_unchecked(&names[i % names.len()]);
                p.answers.push(ResourceRecord::new(n, CLASS::IN, 1, RData::A(A { address: *a })));
            }
            let bytes = p.build_bytes_vec_compressed().unwrap();
            let m = parse(&bytes).unwrap();
            let q: Vec<String> = m.questions.iter().map(|q| q.0.clone()).collect();
            let want: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
            prop_assert_eq!(q, want.clone());
            prop_assert_eq!(m.answers.len(), addrs.len());
            for (i, (ans, a)) in m.answers.iter().zip(&addrs).enumerate() {
                prop_assert_eq!(&ans.name, &want[i % want.len()]);
                prop_assert_eq!(&ans.data, &AnswerData::Addr(IpAddr::from(Ipv4Addr::from(*a))));
            }
            // Every truncation still parses without panicking and never invents names.
            for k in 0..bytes.len() {
                if let Some(t) = parse(&bytes[..k]) {
                    for (n, _) in &t.questions {
                        prop_assert!(want.contains(n));
                    }
                }
            }
        }
    }
}
