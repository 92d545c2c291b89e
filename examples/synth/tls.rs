//! TLS 1.3 ClientHello (Chrome/Edge-like extension set) and a plausible server flight.
//! The post-quantum key share (X25519MLKEM768, 1216 bytes) pushes the ClientHello to ~1.8 kB,
//! past one TCP segment: the case that breaks single-packet SNI extraction.

use super::rng::Rng;

pub const CT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPLICATION_DATA: u8 = 23;

pub const EXT_SERVER_NAME: u16 = 0;
pub const EXT_STATUS_REQUEST: u16 = 5;
pub const EXT_SUPPORTED_GROUPS: u16 = 10;
pub const EXT_EC_POINT_FORMATS: u16 = 11;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
pub const EXT_ALPN: u16 = 16;
pub const EXT_SCT: u16 = 18;
pub const EXT_PADDING: u16 = 21;
pub const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
pub const EXT_COMPRESS_CERTIFICATE: u16 = 27;
pub const EXT_SESSION_TICKET: u16 = 35;
pub const EXT_SUPPORTED_VERSIONS: u16 = 43;
pub const EXT_PSK_MODES: u16 = 45;
pub const EXT_KEY_SHARE: u16 = 51;
pub const EXT_ECH: u16 = 0xfe0d;
pub const EXT_RENEGOTIATION_INFO: u16 = 0xff01;

pub const GROUP_X25519: u16 = 0x001d;
pub const GROUP_SECP256R1: u16 = 0x0017;
pub const GROUP_SECP384R1: u16 = 0x0018;
pub const GROUP_X25519MLKEM768: u16 = 0x11ec;
/// ML-KEM-768 encapsulation key (1184) + X25519 share (32).
pub const X25519MLKEM768_CLIENT_SHARE: usize = 1216;
/// ML-KEM-768 ciphertext (1088) + X25519 share (32).
pub const X25519MLKEM768_SERVER_SHARE: usize = 1120;

#[derive(Clone, Debug)]
pub struct ClientHello {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub post_quantum: bool,
    /// Adds an outer encrypted_client_hello (0xfe0d); `sni` is then the public name.
    pub ech: bool,
    /// Pad (extension 21) the handshake message up to this many bytes, if smaller.
    pub pad_to: Option<usize>,
    /// Handshake-fragment sizes of the first records; the rest goes in one final record.
    pub record_sizes: Vec<usize>,
    pub seed: u64,
}

impl Default for ClientHello {
    fn default() -> Self {
        ClientHello {
            sni: None,
            alpn: vec!["h2".into(), "http/1.1".into()],
            post_quantum: false,
            ech: false,
            pad_to: None,
            record_sizes: Vec::new(),
            seed: 1,
        }
    }
}

fn u16be(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}

fn u24be(v: &mut Vec<u8>, x: usize) {
    let b = (x as u32).to_be_bytes();
    v.extend_from_slice(&b[1..]);
}

fn ext(v: &mut Vec<u8>, ty: u16, body: &[u8]) {
    u16be(v, ty);
    u16be(v, body.len() as u16);
    v.extend_from_slice(body);
}

/// A vector with a 2-byte length prefix.
fn vec16(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 2);
    u16be(&mut v, body.len() as u16);
    v.extend_from_slice(body);
    v
}

fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut b = Vec::new();
    for i in items {
        u16be(&mut b, *i);
    }
    b
}

impl ClientHello {
    fn extensions(&self, r: &mut Rng) -> Vec<u8> {
        let mut e = Vec::new();
        if let Some(name) = &self.sni {
            let mut entry = vec![0u8];
            entry.extend_from_slice(&vec16(name.as_bytes()));
            ext(&mut e, EXT_SERVER_NAME, &vec16(&entry));
        }
        ext(&mut e, EXT_EXTENDED_MASTER_SECRET, &[]);
        ext(&mut e, EXT_RENEGOTIATION_INFO, &[0]);
        let mut groups = Vec::new();
        if self.post_quantum {
            groups.push(GROUP_X25519MLKEM768);
        }
        groups.extend_from_slice(&[GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1]);
        ext(&mut e, EXT_SUPPORTED_GROUPS, &vec16(&u16_list(&groups)));
        ext(&mut e, EXT_EC_POINT_FORMATS, &[1, 0]);
        ext(&mut e, EXT_SESSION_TICKET, &[]);
        if !self.alpn.is_empty() {
            let mut l = Vec::new();
            for p in &self.alpn {
                l.push(p.len() as u8);
                l.extend_from_slice(p.as_bytes());
            }
            ext(&mut e, EXT_ALPN, &vec16(&l));
        }
        ext(&mut e, EXT_STATUS_REQUEST, &[1, 0, 0, 0, 0]);
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        ext(&mut e, EXT_SIGNATURE_ALGORITHMS, &vec16(&u16_list(&sigs)));
        ext(&mut e, EXT_SCT, &[]);
        let mut shares = Vec::new();
        if self.post_quantum {
            u16be(&mut shares, GROUP_X25519MLKEM768);
            shares.extend_from_slice(&vec16(&r.bytes(X25519MLKEM768_CLIENT_SHARE)));
        }
        u16be(&mut shares, GROUP_X25519);
        shares.extend_from_slice(&vec16(&r.bytes(32)));
        ext(&mut e, EXT_KEY_SHARE, &vec16(&shares));
        ext(&mut e, EXT_PSK_MODES, &[1, 1]);
        ext(&mut e, EXT_SUPPORTED_VERSIONS, &[4, 0x03, 0x04, 0x03, 0x03]);
        ext(&mut e, EXT_COMPRESS_CERTIFICATE, &[2, 0, 2]);
        if self.ech {
            // ECHClientHello, type outer: HPKE suite (HKDF-SHA256, AES-128-GCM), config id,
            // enc (X25519 public key), payload (the sealed inner ClientHello).
            let mut b = vec![0u8];
            u16be(&mut b, 0x0001);
            u16be(&mut b, 0x0001);
            b.push((r.next_u32() & 0xff) as u8);
            b.extend_from_slice(&vec16(&r.bytes(32)));
            b.extend_from_slice(&vec16(&r.bytes(208)));
            ext(&mut e, EXT_ECH, &b);
        }
        e
    }

    /// The Handshake message (type 1, 24-bit length, body).
    pub fn handshake_message(&self) -> Vec<u8> {
        let mut r = Rng::new(self.seed);
        let mut body = Vec::new();
        u16be(&mut body, 0x0303);
        body.extend_from_slice(&r.bytes(32));
        body.push(32);
        body.extend_from_slice(&r.bytes(32));
        let suites = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ];
        body.extend_from_slice(&vec16(&u16_list(&suites)));
        body.extend_from_slice(&[1, 0]);
        let mut exts = self.extensions(&mut r);
        if let Some(target) = self.pad_to {
            // 4 (hs header) + body + 2 (extensions length) + exts + 4 (padding ext header)
            let now = 4 + body.len() + 2 + exts.len() + 4;
            if now <= target {
                ext(&mut exts, EXT_PADDING, &vec![0u8; target - now]);
            }
        }
        body.extend_from_slice(&vec16(&exts));
        let mut hs = vec![1u8];
        u24be(&mut hs, body.len());
        hs.extend_from_slice(&body);
        hs
    }

    /// The ClientHello as TLS records, fragmented per `record_sizes`.
    pub fn records(&self) -> Vec<u8> {
        let hs = self.handshake_message();
        let mut sizes = self.record_sizes.clone();
        let used: usize = sizes.iter().sum();
        assert!(
            used < hs.len(),
            "synth: record sizes cover the whole ClientHello"
        );
        sizes.push(hs.len() - used);
        let mut out = Vec::new();
        let mut off = 0;
        for s in sizes {
            out.extend_from_slice(&record(CT_HANDSHAKE, 0x0301, &hs[off..off + s]));
            off += s;
        }
        out
    }
}

/// One TLS record.
pub fn record(content_type: u8, version: u16, fragment: &[u8]) -> Vec<u8> {
    assert!(fragment.len() <= 16384 + 256, "synth: record too large");
    let mut v = vec![content_type];
    u16be(&mut v, version);
    v.extend_from_slice(&vec16(fragment));
    v
}

/// ServerHello + ChangeCipherSpec + encrypted handshake (random bytes as application data
/// records of the given sizes).
pub fn server_flight(seed: u64, post_quantum: bool, encrypted: &[usize]) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut body = Vec::new();
    u16be(&mut body, 0x0303);
    body.extend_from_slice(&r.bytes(32));
    body.push(32);
    body.extend_from_slice(&r.bytes(32));
    u16be(&mut body, 0x1301);
    body.push(0);
    let mut e = Vec::new();
    ext(&mut e, EXT_SUPPORTED_VERSIONS, &[0x03, 0x04]);
    let (group, len) = if post_quantum {
        (GROUP_X25519MLKEM768, X25519MLKEM768_SERVER_SHARE)
    } else {
        (GROUP_X25519, 32)
    };
    let mut ks = Vec::new();
    u16be(&mut ks, group);
    ks.extend_from_slice(&vec16(&r.bytes(len)));
    ext(&mut e, EXT_KEY_SHARE, &ks);
    body.extend_from_slice(&vec16(&e));
    let mut hs = vec![2u8];
    u24be(&mut hs, body.len());
    hs.extend_from_slice(&body);
    let mut out = record(CT_HANDSHAKE, 0x0303, &hs);
    out.extend_from_slice(&record(CT_CHANGE_CIPHER_SPEC, 0x0303, &[1]));
    for &n in encrypted {
        out.extend_from_slice(&record(CT_APPLICATION_DATA, 0x0303, &r.bytes(n)));
    }
    out
}

/// Client's second flight: ChangeCipherSpec + encrypted Finished.
pub fn client_finished(seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = record(CT_CHANGE_CIPHER_SPEC, 0x0303, &[1]);
    out.extend_from_slice(&record(CT_APPLICATION_DATA, 0x0303, &r.bytes(53)));
    out
}

/// Application data records (random bytes) of the given sizes.
pub fn app_data(seed: u64, sizes: &[usize]) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    for &n in sizes {
        out.extend_from_slice(&record(CT_APPLICATION_DATA, 0x0303, &r.bytes(n)));
    }
    out
}
