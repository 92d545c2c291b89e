//! DNS messages (RFC 1035) with name compression, so parsers meet pointers in questions,
//! owner names and CNAME targets alike.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_HTTPS: u16 = 65;
pub const CLASS_IN: u16 = 1;

#[derive(Clone, Debug)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    /// A reverse-lookup answer: the name of the address in the question.
    Ptr(String),
    /// HTTPS record in service mode, target "." (the owner), with `alpn=h2,h3`, the hints, and
    /// an `ech` parameter when `ech` is non-empty (an ECHConfigList, see [`ech_config_list`]).
    Https {
        ipv4hint: Vec<Ipv4Addr>,
        ech: Vec<u8>,
    },
}

/// An ECHConfigList with one config (version 0xfe0d, X25519, HKDF-SHA256/AES-128-GCM) whose
/// `public_name` is `public_name`: the layout of draft-ietf-tls-esni-18 section 4.
pub fn ech_config_list(public_name: &str, seed: u8) -> Vec<u8> {
    let mut c = vec![seed, 0x00, 0x20]; // config_id, kem_id X25519
    c.extend_from_slice(&32u16.to_be_bytes());
    c.extend((0..32u8).map(|i| i.wrapping_mul(29).wrapping_add(seed)));
    c.extend_from_slice(&[0, 4, 0x00, 0x01, 0x00, 0x01]); // HKDF-SHA256, AES-128-GCM
    c.push(0); // maximum_name_length
    c.push(public_name.len() as u8);
    c.extend_from_slice(public_name.as_bytes());
    c.extend_from_slice(&[0, 0]); // no extensions
    let mut config = vec![0xfe, 0x0d];
    config.extend_from_slice(&(c.len() as u16).to_be_bytes());
    config.extend(c);
    let mut list = (config.len() as u16).to_be_bytes().to_vec();
    list.extend(config);
    list
}

#[derive(Clone, Debug)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

/// Writes one message; remembers every name suffix it wrote so later names can point back.
pub struct MessageBuilder {
    buf: Vec<u8>,
    compress: bool,
    suffixes: Vec<(String, u16)>,
}

impl MessageBuilder {
    pub fn new(id: u16, flags: u16, qd: u16, an: u16, compress: bool) -> Self {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        for n in [qd, an, 0, 0] {
            buf.extend_from_slice(&n.to_be_bytes());
        }
        MessageBuilder {
            buf,
            compress,
            suffixes: Vec::new(),
        }
    }

    pub fn name(&mut self, name: &str) {
        let name = name.trim_end_matches('.');
        let labels: Vec<&str> = if name.is_empty() {
            Vec::new()
        } else {
            name.split('.').collect()
        };
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".").to_ascii_lowercase();
            if self.compress {
                if let Some(&(_, off)) = self.suffixes.iter().find(|(s, _)| *s == suffix) {
                    self.buf.extend_from_slice(&(0xC000 | off).to_be_bytes());
                    return;
                }
                if self.buf.len() < 0x3FFF {
                    self.suffixes.push((suffix, self.buf.len() as u16));
                }
            }
            let l = labels[i].as_bytes();
            assert!(!l.is_empty() && l.len() < 64, "synth: bad DNS label");
            self.buf.push(l.len() as u8);
            self.buf.extend_from_slice(l);
        }
        self.buf.push(0);
    }

    pub fn question(&mut self, name: &str, qtype: u16) {
        self.name(name);
        self.buf.extend_from_slice(&qtype.to_be_bytes());
        self.buf.extend_from_slice(&CLASS_IN.to_be_bytes());
    }

    pub fn record(&mut self, r: &Record) {
        self.name(&r.name);
        let ty = match r.data {
            RData::A(_) => TYPE_A,
            RData::Aaaa(_) => TYPE_AAAA,
            RData::Cname(_) => TYPE_CNAME,
            RData::Ptr(_) => TYPE_PTR,
            RData::Https { .. } => TYPE_HTTPS,
        };
        self.buf.extend_from_slice(&ty.to_be_bytes());
        self.buf.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.buf.extend_from_slice(&r.ttl.to_be_bytes());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        match &r.data {
            RData::A(a) => self.buf.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => self.buf.extend_from_slice(&a.octets()),
            RData::Cname(n) | RData::Ptr(n) => self.name(n),
            RData::Https { ipv4hint, ech } => {
                self.buf.extend_from_slice(&[0, 1, 0]); // priority 1, target "."
                self.buf
                    .extend_from_slice(&[0, 1, 0, 6, 2, b'h', b'2', 2, b'h', b'3']);
                self.buf.extend_from_slice(&[0, 4]);
                self.buf
                    .extend_from_slice(&(4 * ipv4hint.len() as u16).to_be_bytes());
                for a in ipv4hint {
                    self.buf.extend_from_slice(&a.octets());
                }
                if !ech.is_empty() {
                    self.buf.extend_from_slice(&[0, 5]);
                    self.buf
                        .extend_from_slice(&(ech.len() as u16).to_be_bytes());
                    self.buf.extend_from_slice(ech);
                }
            }
        }
        let rdlen = (self.buf.len() - len_at - 2) as u16;
        self.buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Standard recursive query (RD set).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = MessageBuilder::new(id, 0x0100, 1, 0, true);
    m.question(name, qtype);
    m.finish()
}

/// Response (QR, RD, RA) echoing the question, with `answers` in order.
pub fn response(id: u16, qname: &str, qtype: u16, answers: &[Record], compress: bool) -> Vec<u8> {
    let mut m = MessageBuilder::new(id, 0x8180, 1, answers.len() as u16, compress);
    m.question(qname, qtype);
    for a in answers {
        m.record(a);
    }
    m.finish()
}

/// `chain[0]` CNAME `chain[1]` ... CNAME `chain[n-1]`, which has the addresses.
pub fn cname_chain(chain: &[&str], addrs: &[IpAddr], ttl: u32) -> Vec<Record> {
    let mut v = Vec::new();
    for w in chain.windows(2) {
        v.push(Record {
            name: w[0].to_string(),
            ttl,
            data: RData::Cname(w[1].to_string()),
        });
    }
    let last = chain.last().copied().unwrap_or_default();
    for a in addrs {
        let data = match a {
            IpAddr::V4(a) => RData::A(*a),
            IpAddr::V6(a) => RData::Aaaa(*a),
        };
        v.push(Record {
            name: last.to_string(),
            ttl,
            data,
        });
    }
    v
}

/// DNS over TCP framing: a two-byte length prefix (RFC 1035 4.2.2).
pub fn tcp_framed(msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(msg.len() + 2);
    v.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    v.extend_from_slice(msg);
    v
}
