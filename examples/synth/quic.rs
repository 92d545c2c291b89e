//! QUIC client Initial packets, sealed the way a client does (RFC 9001 §5: Initial secrets from
//! the DCID, AES-128-GCM payload, AES-128-ECB header protection; RFC 9369 for v2).
//!
//! Self-contained (std + the RustCrypto crates, no other synth module), so unit tests can
//! include it too. Written independently of `egressmap::proto::quic` so that a fixture is not
//! read back by the code that wrote it.

use aes::cipher::BlockEncrypt;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;

pub const V1: u32 = 1;
pub const V2: u32 = 0x6b33_43cf;
pub const DRAFT29: u32 = 0xff00_001d;
/// mvfst (Facebook): `MVFST_D24` keeps the draft-22 salt, `MVFST` the draft-23 one.
pub const MVFST_D24: u32 = 0xface_b001;
pub const MVFST: u32 = 0xface_b002;

fn salt(version: u32) -> [u8; 20] {
    let hex = match version {
        V1 => "38762cf7f55934b34d179ae6a4c80cadccbb7f0a",
        V2 => "0dede3def700a6db819381be6e269dcbf9bd2ed9",
        DRAFT29 => "afbfec289993d24c9e9786f19c6111e04390a899",
        MVFST_D24 => "7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a",
        MVFST => "c3eef712c72ebb5a11a7d2432bb46365bef9f502",
        _ => panic!("synth: no salt for QUIC version {version:#x}"),
    };
    let mut out = [0u8; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn expand_label(prk: &[u8], label: &str, len: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let mut info = (len as u16).to_be_bytes().to_vec();
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0u8; len];
    Hkdf::<Sha256>::from_prk(prk)
        .expect("synth: prk")
        .expand(&info, &mut out)
        .expect("synth: expand");
    out
}

/// (key, iv, hp) of the client's Initial packets.
pub fn client_keys(version: u32, dcid: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (prk, _) = Hkdf::<Sha256>::extract(Some(&salt(version)), dcid);
    let secret = expand_label(&prk, "client in", 32);
    let p = if version == V2 { "quicv2 " } else { "quic " };
    (
        expand_label(&secret, &format!("{p}key"), 16),
        expand_label(&secret, &format!("{p}iv"), 12),
        expand_label(&secret, &format!("{p}hp"), 16),
    )
}

/// QUIC variable-length integer.
pub fn varint(v: &mut Vec<u8>, x: u64) {
    match x {
        0..=63 => v.push(x as u8),
        64..=16383 => v.extend_from_slice(&(x as u16 | 0x4000).to_be_bytes()),
        16384..=1_073_741_823 => v.extend_from_slice(&(x as u32 | 0x8000_0000).to_be_bytes()),
        _ => v.extend_from_slice(&(x | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

/// A CRYPTO frame carrying `data` at stream offset `off`.
pub fn crypto_frame(off: u64, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x06];
    varint(&mut v, off);
    varint(&mut v, data.len() as u64);
    v.extend_from_slice(data);
    v
}

/// ACK frame acknowledging packet 0 (a client's later Initials carry these).
pub fn ack_frame() -> Vec<u8> {
    vec![0x02, 0x00, 0x00, 0x00, 0x00]
}

/// One client Initial packet.
#[derive(Clone, Debug)]
pub struct Initial {
    pub version: u32,
    pub dcid: Vec<u8>,
    pub scid: Vec<u8>,
    pub token: Vec<u8>,
    pub pn: u32,
    /// Packet number length on the wire (1-4).
    pub pn_len: usize,
    /// Plaintext frames (PADDING is added to reach `pad_to`).
    pub frames: Vec<u8>,
    /// Size of the whole packet after sealing (clients pad Initial datagrams to >= 1200).
    pub pad_to: usize,
    /// Derive the keys from this DCID instead of `dcid`: a client's Initials sent after the
    /// server's first Initial carry the server's CID but keep the original keys.
    pub keys_dcid: Option<Vec<u8>>,
}

impl Initial {
    pub fn new(version: u32, dcid: &[u8], scid: &[u8], pn: u32, frames: Vec<u8>) -> Self {
        Initial {
            version,
            dcid: dcid.to_vec(),
            scid: scid.to_vec(),
            token: Vec::new(),
            pn,
            pn_len: 2,
            frames,
            pad_to: 1200,
            keys_dcid: None,
        }
    }

    /// The protected packet bytes.
    pub fn seal(&self) -> Vec<u8> {
        let ty = if self.version == V2 { 0b01 } else { 0b00 };
        let first = 0xc0 | ty << 4 | (self.pn_len as u8 - 1);
        let mut h = vec![first];
        h.extend_from_slice(&self.version.to_be_bytes());
        h.push(self.dcid.len() as u8);
        h.extend_from_slice(&self.dcid);
        h.push(self.scid.len() as u8);
        h.extend_from_slice(&self.scid);
        varint(&mut h, self.token.len() as u64);
        h.extend_from_slice(&self.token);
        // Length as a 2-byte varint: header length is known before the payload size.
        let fixed = h.len() + 2 + self.pn_len + 16;
        let mut payload = self.frames.clone();
        if fixed + payload.len() < self.pad_to {
            payload.resize(self.pad_to - fixed, 0);
        }
        // The sample needs 4 bytes after the packet number start plus 16.
        if self.pn_len + payload.len() < 4 {
            payload.resize(4 - self.pn_len, 0);
        }
        let length = self.pn_len + payload.len() + 16;
        assert!(length < 16384, "synth: Initial too long");
        h.extend_from_slice(&(length as u16 | 0x4000).to_be_bytes());
        let pn_offset = h.len();
        let pn = self.pn.to_be_bytes();
        h.extend_from_slice(&pn[4 - self.pn_len..]);

        let (key, iv, hp) = client_keys(
            self.version,
            self.keys_dcid.as_deref().unwrap_or(&self.dcid),
        );
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&iv);
        for (n, p) in nonce[8..].iter_mut().zip(pn) {
            *n ^= p;
        }
        let aead = Aes128Gcm::new_from_slice(&key).expect("synth: key");
        let tag = aead
            .encrypt_in_place_detached(&nonce.into(), &h, &mut payload)
            .expect("synth: seal");
        let mut pkt = h;
        pkt.extend_from_slice(&payload);
        pkt.extend_from_slice(&tag);

        let hp = aes::Aes128::new_from_slice(&hp).expect("synth: hp");
        let mut mask = aes::Block::clone_from_slice(&pkt[pn_offset + 4..pn_offset + 20]);
        hp.encrypt_block(&mut mask);
        pkt[0] ^= mask[0] & 0x0f;
        for i in 0..self.pn_len {
            pkt[pn_offset + i] ^= mask[1 + i];
        }
        pkt
    }
}
