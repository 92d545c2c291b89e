//! QUIC client Initial packets: the ClientHello (SNI, ALPN, ECH) a client sends before any key
//! exchange, and the gQUIC CHLO `SNI` tag.
//!
//! Initial packets are encrypted, but with keys anyone can derive from the client's Destination
//! Connection ID and a per-version public salt (RFC 9001 §5.2, RFC 9369 §3.3), so a passive
//! observer can read them. Per flow we keep a small [`QuicState`]: for each client datagram,
//! coalesced packets are walked, client Initials are unprotected and decrypted, and CRYPTO frame
//! data is placed by offset in a capped [`Reassembler`] until the handshake message is whole. A
//! ClientHello may span frames and packets in any order, and a client that got a Retry starts
//! over with a new DCID (so new keys) and the same ClientHello.
//!
//! Versions handled: v1, v2, drafts 22-34, mvfst's 0xfaceb001 (draft-22 salt) and draft-27 aliases, Google's T050/T051
//! (TLS inside IETF packets, own salts), Q050 (IETF-style encrypted Initial, gQUIC CHLO inside),
//! and the clear-text gQUIC CHLO of Q043/Q046 and the older public-header versions (found by
//! scanning the datagram for a well-formed `CHLO` tag map: the CHLO is padded to fill one packet,
//! so one datagram holds it).
//!
//! Everything on packet bytes is bounds-checked; a packet that fails authentication is counted
//! and skipped, never trusted.

use std::fmt;

use aes::cipher::BlockEncrypt;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;

use super::normalize_host;
use super::tls::{self, ClientHello};
use crate::flow::reassembly::{Insert, Inspect, Pool, QuicInspect, Reassembler};

pub const V1: u32 = 0x0000_0001;
pub const V2: u32 = 0x6b33_43cf;
pub const T050: u32 = 0x5430_3530;
pub const T051: u32 = 0x5430_3531;
pub const Q050: u32 = 0x5130_3530;

/// Most CRYPTO stream bytes buffered per flow (a ClientHello with a post-quantum key share is
/// ~2 KiB; 16 KiB leaves room for odd clients without letting one flow hold much).
pub const CRYPTO_CAP: usize = 16 * 1024;
/// Client datagrams looked at before giving up on a flow.
pub const MAX_CLIENT_DATAGRAMS: u8 = 8;
/// Coalesced packets walked per datagram at most.
const MAX_PACKETS_PER_DATAGRAM: usize = 8;
/// Longest connection ID in any version we decrypt.
const MAX_CID: usize = 20;
const TAG_LEN: usize = 16;
const SAMPLE_LEN: usize = 16;

const SALT_V1: [u8; 20] = hex20(*b"38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
const SALT_V2: [u8; 20] = hex20(*b"0dede3def700a6db819381be6e269dcbf9bd2ed9");
/// Drafts 23-28.
/// Draft 22; mvfst kept it for `0xfaceb001` (its draft-24-like transport).
const SALT_D22: [u8; 20] = hex20(*b"7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a");
const SALT_D23: [u8; 20] = hex20(*b"c3eef712c72ebb5a11a7d2432bb46365bef9f502");
/// Drafts 29-32.
const SALT_D29: [u8; 20] = hex20(*b"afbfec289993d24c9e9786f19c6111e04390a899");
const SALT_T050: [u8; 20] = hex20(*b"7ff579e5acd072915580304c43a2367c60488310");
const SALT_T051: [u8; 20] = hex20(*b"7a4edef4e7ccee5fa4506c19124fc8ccda6e033d");
const SALT_Q050: [u8; 20] = hex20(*b"504574efd066fe2f9d945cfcdbd3a7f0d3b56b45");

const fn hex20(s: [u8; 40]) -> [u8; 20] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("bad hex"),
        }
    }
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = nib(s[2 * i]) << 4 | nib(s[2 * i + 1]);
        i += 1;
    }
    out
}

/// How one version protects its Initial packets.
#[derive(Clone, Copy, Debug)]
struct Profile {
    salt: &'static [u8; 20],
    /// RFC 9369 labels ("quicv2 ...") and packet-type bits (Initial = 0b01).
    v2: bool,
    /// Q050: the plaintext carries a gQUIC CHLO, not TLS.
    gquic: bool,
    /// Google's versions keep gQUIC frame types inside IETF packets (CRYPTO = 0x08, PING = 0x07).
    google_frames: bool,
}

fn profile(version: u32) -> Option<Profile> {
    let p = |salt, v2, gquic, google_frames| {
        Some(Profile {
            salt,
            v2,
            gquic,
            google_frames,
        })
    };
    match version {
        V1 | 0xff00_0021 | 0xff00_0022 => p(&SALT_V1, false, false, false),
        V2 => p(&SALT_V2, true, false, false),
        0xff00_001d..=0xff00_0020 => p(&SALT_D29, false, false, false),
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e => p(&SALT_D23, false, false, false),
        0xff00_0016 | 0xface_b001 => p(&SALT_D22, false, false, false),
        T050 => p(&SALT_T050, false, false, true),
        T051 => p(&SALT_T051, false, false, true),
        Q050 => p(&SALT_Q050, false, true, true),
        // Reserved versions that force Version Negotiation (RFC 9000 §15): the interop-era
        // clients that send them seal the Initial with draft-29 keys (Wireshark decrypts them
        // so too).
        _ if version & 0x0f0f_0f0f == 0x0a0a_0a0a => p(&SALT_D29, false, false, false),
        _ => None,
    }
}

/// A QUIC version as written in the flow log: `v1`, `v2`, `draft-29`, `T051`, `Q046`, `mvfst-22`,
/// `mvfst-27`; anything else as `0x` and 8 hex digits. Formats without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionName(pub u32);

impl fmt::Display for VersionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        let b = v.to_be_bytes();
        match v {
            V1 => f.write_str("v1"),
            V2 => f.write_str("v2"),
            0xff00_0001..=0xff00_00ff => write!(f, "draft-{}", v & 0xff),
            0xface_b001 => f.write_str("mvfst-22"),
            0xface_b002 | 0xface_b00e => f.write_str("mvfst-27"),
            _ if matches!(b[0], b'Q' | b'T') && b[1..].iter().all(u8::is_ascii_digit) => {
                write!(
                    f,
                    "{}{}{}{}",
                    b[0] as char, b[1] as char, b[2] as char, b[3] as char
                )
            }
            _ => write!(f, "{v:#010x}"),
        }
    }
}

impl serde::Serialize for VersionName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The client's Initial secrets (exposed for the RFC test vectors and the fixture writer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    pub client_initial_secret: [u8; 32],
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// TLS 1.3 HKDF-Expand-Label with an empty context. Labels here are at most 12 bytes.
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) -> Option<()> {
    let mut info = [0u8; 4 + 6 + 16];
    let n = 4 + 6 + label.len();
    let info = info.get_mut(..n)?;
    info[..2].copy_from_slice(&u16::try_from(out.len()).ok()?.to_be_bytes());
    info[2] = u8::try_from(6 + label.len()).ok()?;
    info[3..9].copy_from_slice(b"tls13 ");
    info.get_mut(9..9 + label.len())?.copy_from_slice(label);
    // The last byte (context length) is already 0.
    prk.expand(info, out).ok()
}

/// Client Initial secrets of `version` for the client's Destination Connection ID.
pub fn client_secrets(version: u32, dcid: &[u8]) -> Option<Secrets> {
    let p = profile(version)?;
    let (initial, _) = Hkdf::<Sha256>::extract(Some(p.salt), dcid);
    let initial = Hkdf::<Sha256>::from_prk(&initial).ok()?;
    let mut s = Secrets {
        client_initial_secret: [0; 32],
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&initial, b"client in", &mut s.client_initial_secret)?;
    let c = Hkdf::<Sha256>::from_prk(&s.client_initial_secret).ok()?;
    let (k, iv, hp): (&[u8], &[u8], &[u8]) = if p.v2 {
        (b"quicv2 key", b"quicv2 iv", b"quicv2 hp")
    } else {
        (b"quic key", b"quic iv", b"quic hp")
    };
    expand_label(&c, k, &mut s.key)?;
    expand_label(&c, iv, &mut s.iv)?;
    expand_label(&c, hp, &mut s.hp)?;
    Some(s)
}

/// Ready-to-use ciphers for one (version, DCID).
struct Keys {
    version: u32,
    dcid: [u8; MAX_CID],
    dcid_len: u8,
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: aes::Aes128,
}

impl Keys {
    fn new(version: u32, dcid: &[u8]) -> Option<Keys> {
        let s = client_secrets(version, dcid)?;
        let mut d = [0u8; MAX_CID];
        d.get_mut(..dcid.len())?.copy_from_slice(dcid);
        Some(Keys {
            version,
            dcid: d,
            dcid_len: dcid.len() as u8,
            aead: Aes128Gcm::new(&s.key.into()),
            iv: s.iv,
            hp: aes::Aes128::new(&s.hp.into()),
        })
    }

    fn matches(&self, version: u32, dcid: &[u8]) -> bool {
        self.version == version && self.dcid.get(..usize::from(self.dcid_len)) == Some(dcid)
    }
}

/// A long-header packet at the start of a datagram remainder.
struct Long<'a> {
    version: u32,
    dcid: &'a [u8],
    initial: bool,
    /// Offset of the (protected) packet number.
    pn_offset: usize,
    /// Length of this packet within the datagram.
    len: usize,
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *b.get(*pos)?;
    let n = 1usize << (first >> 6);
    let bytes = b.get(*pos..*pos + n)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = v << 8 | u64::from(x);
    }
    *pos += n;
    Some(v)
}

/// Parse the long header of a packet of a version we decrypt. `None` for anything else (short
/// header, unknown version, Retry, truncated).
fn parse_long(b: &[u8]) -> Option<Long<'_>> {
    let first = *b.first()?;
    if first & 0xc0 != 0xc0 {
        return None;
    }
    let version = u32::from_be_bytes(b.get(1..5)?.try_into().ok()?);
    let p = profile(version)?;
    let ty = (first >> 4) & 3;
    let (initial_ty, retry_ty) = if p.v2 { (1, 0) } else { (0, 3) };
    if ty == retry_ty {
        return None;
    }
    let mut pos = 5;
    let dl = usize::from(*b.get(pos)?);
    if dl > MAX_CID {
        return None;
    }
    let dcid = b.get(pos + 1..pos + 1 + dl)?;
    pos += 1 + dl;
    let sl = usize::from(*b.get(pos)?);
    if sl > MAX_CID {
        return None;
    }
    pos += 1 + sl;
    let initial = ty == initial_ty;
    if initial {
        let token = usize::try_from(varint(b, &mut pos)?).ok()?;
        pos = pos.checked_add(token)?;
    }
    let length = usize::try_from(varint(b, &mut pos)?).ok()?;
    let len = pos.checked_add(length)?;
    if len > b.len() {
        return None;
    }
    Some(Long {
        version,
        dcid,
        initial,
        pn_offset: pos,
        len,
    })
}

/// Whether a datagram starts with a client Initial of a version we can decrypt (long header,
/// fixed bit, Initial type bits for that version, sane connection IDs, room for the sample).
pub fn probe(datagram: &[u8]) -> bool {
    parse_long(datagram).is_some_and(|l| l.initial && l.len >= l.pn_offset + 4 + SAMPLE_LEN)
}

/// A gQUIC version tag (`Q0dd`) in a client's first packet: the public header of Q043 and older
/// (flags with the version bit, optional 8-byte connection ID, version), or the long header of
/// Q046. Q050 is encrypted and goes through [`probe`].
pub fn gquic_version(datagram: &[u8]) -> Option<u32> {
    let first = *datagram.first()?;
    let at = if first & 0x80 != 0 {
        1
    } else if first & 0x01 != 0 {
        if first & 0x08 != 0 {
            9
        } else {
            1
        }
    } else {
        return None;
    };
    let v: [u8; 4] = datagram.get(at..at + 4)?.try_into().ok()?;
    (v[0] == b'Q' && v[1..].iter().all(u8::is_ascii_digit) && v != *b"Q050")
        .then(|| u32::from_be_bytes(v))
}

/// Whether a client datagram is worth a [`QuicState`]: a gQUIC version tag, a long header of a
/// version we decrypt (Initial or not: a reordered capture may show 0-RTT first), or an unknown
/// version's long header in a datagram big enough to be a client's first flight (RFC 9000
/// §14.1), which may be followed by an Initial in a version we know.
pub fn looks_like_quic(datagram: &[u8]) -> bool {
    if gquic_version(datagram).is_some() {
        return true;
    }
    match datagram {
        [first, v0, v1, v2, v3, ..] if first & 0xc0 == 0xc0 => {
            profile(u32::from_be_bytes([*v0, *v1, *v2, *v3])).is_some() || datagram.len() >= 1200
        }
        _ => false,
    }
}

/// Remove header protection and decrypt one Initial packet (`pkt` is exactly the packet) into
/// `out`. Returns the plaintext range within `out`.
fn open(
    keys: &Keys,
    pkt: &[u8],
    pn_offset: usize,
    out: &mut Vec<u8>,
) -> Option<std::ops::Range<usize>> {
    let sample = pkt.get(pn_offset + 4..pn_offset + 4 + SAMPLE_LEN)?;
    let mut mask = aes::Block::clone_from_slice(sample);
    keys.hp.encrypt_block(&mut mask);
    let first = pkt.first()? ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 3) + 1;
    let header_len = pn_offset + pn_len;
    if header_len + TAG_LEN > pkt.len() {
        return None;
    }
    out.clear();
    out.extend_from_slice(pkt);
    out[0] = first;
    let mut pn = 0u64;
    for i in 0..pn_len {
        let b = out.get_mut(pn_offset + i)?;
        *b ^= mask[1 + i];
        pn = pn << 8 | u64::from(*b);
    }
    // Truncated packet number taken as is: a client's first Initials are numbered from 0.
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let (aad, rest) = out.split_at_mut(header_len);
    let (ct, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
    let tag: [u8; TAG_LEN] = (&*tag).try_into().ok()?;
    keys.aead
        .decrypt_in_place_detached(&nonce.into(), aad, ct, &tag.into())
        .ok()?;
    Some(header_len..pkt.len() - TAG_LEN)
}

/// Walk the frames of a decrypted Initial payload, handing each CRYPTO frame's (offset, data)
/// to `crypto`. Stops (returning false) at a malformed or unexpected frame.
fn walk_frames(p: &[u8], google: bool, mut crypto: impl FnMut(u64, &[u8]) -> bool) -> bool {
    let mut pos = 0usize;
    while pos < p.len() {
        let Some(ty) = varint(p, &mut pos) else {
            return false;
        };
        // Google's frame numbering: only PADDING, PING and CRYPTO are expected in a first flight.
        let ty = match (google, ty) {
            (false, _) | (true, 0x00) => ty,
            (true, 0x07) => 0x01,
            (true, 0x08) => 0x06,
            (true, _) => return false,
        };
        match ty {
            0x00 => {
                // PADDING runs are long: skip them at once.
                pos += p
                    .get(pos..)
                    .map_or(0, |r| r.iter().take_while(|&&b| b == 0).count());
            }
            0x01 => {}
            0x02 | 0x03 => {
                let ok = (|| {
                    varint(p, &mut pos)?;
                    varint(p, &mut pos)?;
                    let ranges = varint(p, &mut pos)?;
                    varint(p, &mut pos)?;
                    // Each range takes at least 2 bytes: a count beyond that is malformed.
                    if ranges > p.len() as u64 {
                        return None;
                    }
                    for _ in 0..ranges * 2 {
                        varint(p, &mut pos)?;
                    }
                    if ty == 0x03 {
                        for _ in 0..3 {
                            varint(p, &mut pos)?;
                        }
                    }
                    Some(())
                })();
                if ok.is_none() {
                    return false;
                }
            }
            0x06 => {
                let (Some(off), Some(len)) = (varint(p, &mut pos), varint(p, &mut pos)) else {
                    return false;
                };
                let Some(end) = usize::try_from(len).ok().and_then(|l| pos.checked_add(l)) else {
                    return false;
                };
                let Some(data) = p.get(pos..end) else {
                    return false;
                };
                pos = end;
                if !crypto(off, data) {
                    return false;
                }
            }
            0x1c => {
                // CONNECTION_CLOSE: the client is abandoning the attempt.
                return true;
            }
            _ => return false,
        }
    }
    true
}

/// What a client's Initials said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicHello {
    pub version: u32,
    /// IETF/T05x: the TLS ClientHello. gQUIC: only `sni` is filled.
    pub hello: ClientHello,
}

/// Result of feeding one client datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not complete yet: feed the next client datagram.
    Pending,
    Done(QuicHello),
    /// Nothing more to learn from this flow.
    GiveUp,
}

/// Counters the engine adds to its stats.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub initials_decrypted: u64,
    pub decrypt_failed: u64,
    pub crypto_cap_hit: u64,
}

/// Per-flow state while a client's Initials are read. Boxed in the flow; dropped when done.
pub struct QuicState {
    crypto: Reassembler,
    /// Keys of the first DCID that decrypted: later Initials (after the server's first Initial
    /// changed the DCID) still use them.
    first: Option<Keys>,
    /// Decryption buffer, reused across the flow's packets.
    scratch: Vec<u8>,
    /// Version of the last Initial that decrypted.
    pub version: Option<u32>,
    datagrams: u8,
}

impl fmt::Debug for QuicState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicState")
            .field("version", &self.version)
            .field("buffered", &self.crypto.buffered())
            .field("datagrams", &self.datagrams)
            .finish()
    }
}

impl QuicInspect for QuicState {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl Default for QuicState {
    fn default() -> Self {
        Self::new()
    }
}

impl QuicState {
    pub fn new() -> Self {
        Self::with(Reassembler::new(CRYPTO_CAP))
    }

    /// CRYPTO buffer charged to the engine's reassembly budget.
    pub fn in_pool(pool: &Pool) -> Self {
        Self::with(Reassembler::in_pool(CRYPTO_CAP, pool))
    }

    /// The state of a flow whose Initials are being read (`None` for any other inspection).
    pub fn of(inspect: &mut Inspect) -> Option<&mut QuicState> {
        match inspect {
            Inspect::Quic(st) => st.as_any_mut().downcast_mut(),
            _ => None,
        }
    }

    fn with(mut crypto: Reassembler) -> Self {
        // Stream offset 0 is sequence number 0.
        crypto.set_isn(u32::MAX);
        QuicState {
            crypto,
            first: None,
            scratch: Vec::new(),
            version: None,
            datagrams: 0,
        }
    }

    /// Feed one datagram from the client.
    pub fn client_datagram(&mut self, dgram: &[u8], c: &mut Counters) -> Outcome {
        self.datagrams = self.datagrams.saturating_add(1);
        if let Some(v) = gquic_version(dgram) {
            if let Some(sni) = chlo_sni(dgram) {
                return done_gquic(v, sni);
            }
        } else {
            let out = self.ietf_datagram(dgram, c);
            if out != Outcome::Pending {
                return out;
            }
        }
        if self.datagrams >= MAX_CLIENT_DATAGRAMS {
            Outcome::GiveUp
        } else {
            Outcome::Pending
        }
    }

    fn ietf_datagram(&mut self, dgram: &[u8], c: &mut Counters) -> Outcome {
        let mut rest = dgram;
        for _ in 0..MAX_PACKETS_PER_DATAGRAM {
            let Some(l) = parse_long(rest) else {
                break;
            };
            let (pkt, next) = rest.split_at(l.len);
            rest = next;
            if !l.initial {
                continue;
            }
            let Some(range) = self.decrypt(&l, pkt) else {
                c.decrypt_failed += 1;
                continue;
            };
            c.initials_decrypted += 1;
            self.version = Some(l.version);
            let plain = self.scratch.get(range).unwrap_or(&[]);
            let Some(prof) = profile(l.version) else {
                continue;
            };
            if prof.gquic {
                if let Some(sni) = chlo_sni(plain) {
                    return done_gquic(l.version, sni);
                }
                continue;
            }
            let crypto = &mut self.crypto;
            let mut overflow = false;
            walk_frames(plain, prof.google_frames, |off, data| {
                let fits = u32::try_from(off).is_ok_and(|o| (o as usize) < CRYPTO_CAP);
                if !fits || crypto.insert(off as u32, data) == Insert::Overflow {
                    overflow = true;
                    return false;
                }
                true
            });
            if overflow {
                c.crypto_cap_hit += 1;
                return Outcome::GiveUp;
            }
            match hello_state(self.crypto.contiguous()) {
                HelloState::Incomplete => {}
                HelloState::Invalid => return Outcome::GiveUp,
                HelloState::Complete(n) => {
                    let msg = self.crypto.contiguous().get(..n).unwrap_or(&[]);
                    return match tls::parse_client_hello_message(msg) {
                        Some(hello) => Outcome::Done(QuicHello {
                            version: l.version,
                            hello,
                        }),
                        None => Outcome::GiveUp,
                    };
                }
            }
        }
        Outcome::Pending
    }

    /// Decrypt with keys from the packet's own DCID (a first Initial, or one after a Retry),
    /// then with the first DCID's keys (an Initial sent after the server picked a new DCID).
    fn decrypt(&mut self, l: &Long<'_>, pkt: &[u8]) -> Option<std::ops::Range<usize>> {
        if let Some(k) = self.first.as_ref().filter(|k| k.matches(l.version, l.dcid)) {
            return open(k, pkt, l.pn_offset, &mut self.scratch);
        }
        let own = Keys::new(l.version, l.dcid)?;
        if let Some(r) = open(&own, pkt, l.pn_offset, &mut self.scratch) {
            if self.first.is_none() {
                self.first = Some(own);
            }
            return Some(r);
        }
        let k = self.first.as_ref()?;
        open(k, pkt, l.pn_offset, &mut self.scratch)
    }
}

fn done_gquic(version: u32, sni: Option<String>) -> Outcome {
    Outcome::Done(QuicHello {
        version,
        hello: ClientHello {
            sni,
            ..Default::default()
        },
    })
}

enum HelloState {
    Incomplete,
    Complete(usize),
    Invalid,
}

/// Whether the CRYPTO stream prefix holds a whole ClientHello.
fn hello_state(s: &[u8]) -> HelloState {
    match s {
        [t, ..] if *t != 1 => HelloState::Invalid,
        [_, a, b, c, ..] => {
            let n = 4 + (usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c));
            if n > CRYPTO_CAP {
                HelloState::Invalid
            } else if s.len() >= n {
                HelloState::Complete(n)
            } else {
                HelloState::Incomplete
            }
        }
        _ => HelloState::Incomplete,
    }
}

/// Most tag/value entries a CHLO may have (real ones have ~20).
const CHLO_MAX_TAGS: usize = 128;

/// Find a gQUIC `CHLO` handshake message in `b` and return its `SNI` value. `Some(None)` for a
/// well-formed CHLO without a usable SNI. The message is a tag map: `CHLO`, u16 count, u16
/// padding, then (tag, u32 end offset) pairs, little-endian, then the values back to back.
pub fn chlo_sni(b: &[u8]) -> Option<Option<String>> {
    let mut from = 0usize;
    while let Some(i) = b
        .get(from..)
        .and_then(|r| r.windows(4).position(|w| w == b"CHLO"))
    {
        let at = from + i;
        from = at + 1;
        if let Some(found) = parse_chlo(b.get(at..).unwrap_or(&[])) {
            return Some(found);
        }
    }
    None
}

fn parse_chlo(m: &[u8]) -> Option<Option<String>> {
    let n = usize::from(u16::from_le_bytes(m.get(4..6)?.try_into().ok()?));
    if n == 0 || n > CHLO_MAX_TAGS {
        return None;
    }
    let index = m.get(8..8 + n * 8)?;
    let values = m.get(8 + n * 8..)?;
    let mut prev = 0usize;
    let mut sni = None;
    for e in index.chunks_exact(8) {
        let end = u32::from_le_bytes(e[4..8].try_into().ok()?) as usize;
        if end < prev || end > values.len() {
            return None;
        }
        if &e[..4] == b"SNI\0" {
            sni = normalize_host(values.get(prev..end)?).filter(|h| !super::is_ip_literal(h));
        }
        prev = end;
    }
    Some(sni)
}

#[cfg(test)]
mod tests;
