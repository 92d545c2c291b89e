//! QUIC client Initials: header parsing, key derivation, decryption, frame walk, CRYPTO
//! reassembly and the ClientHello behind it, plus gQUIC CHLO tags.
//!
//! Random bytes almost never pass AEAD authentication, so mode 1 seals the fuzzer's bytes as the
//! plaintext frames of real Initials (the test synthesizer, written independently of the parser):
//! that reaches the frame walker and the CRYPTO reassembler with hostile frames.
//!
//! Input: byte 0 selects the mode. Mode 0: datagrams as `[u16 LE length][bytes]`. Mode 1: byte 1
//! picks the version, then up to 4 `[u16 LE length][plaintext frames]` packets, each sealed with
//! packet number = its index and sent as its own datagram.
#![no_main]
use egressmap::proto::quic::{chlo_sni, Counters, Outcome, QuicState};
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../examples/synth/quic.rs"]
mod synth_quic;

const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

fn chunks(mut b: &[u8], max: usize) -> Vec<&[u8]> {
    let mut v = Vec::new();
    while v.len() < max && b.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([b[0], b[1]]));
        let rest = &b[2..];
        let n = n.min(rest.len());
        v.push(&rest[..n]);
        b = &rest[n..];
    }
    v
}

fn feed(datagrams: &[Vec<u8>]) {
    let mut st = QuicState::new();
    let mut c = Counters::default();
    for d in datagrams {
        match st.client_datagram(d, &mut c) {
            Outcome::Pending => {}
            Outcome::GiveUp => break,
            Outcome::Done(h) => {
                if let Some(s) = &h.hello.sni {
                    assert!(!s.is_empty() && s.len() <= egressmap::proto::MAX_HOST_LEN);
                    assert_eq!(s, &s.to_ascii_lowercase());
                }
                assert!(h.hello.alpn.len() <= 16);
                break;
            }
        }
    }
    assert!(c.initials_decrypted + c.decrypt_failed <= 8 * datagrams.len() as u64);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let ds: Vec<Vec<u8>> = chunks(rest, 8).into_iter().map(<[u8]>::to_vec).collect();
        feed(&ds);
        for d in &ds {
            if let Some(Some(s)) = chlo_sni(d) {
                assert!(!s.is_empty() && s.len() <= egressmap::proto::MAX_HOST_LEN);
            }
        }
    } else {
        let Some((&v, rest)) = rest.split_first() else {
            return;
        };
        let version = [synth_quic::V1, synth_quic::V2, synth_quic::DRAFT29][usize::from(v % 3)];
        let ds: Vec<Vec<u8>> = chunks(rest, 4)
            .into_iter()
            .enumerate()
            .map(|(i, frames)| {
                let frames = frames[..frames.len().min(8000)].to_vec();
                synth_quic::Initial::new(version, &DCID, &[1, 2, 3, 4], i as u32, frames).seal()
            })
            .collect();
        feed(&ds);
    }
});
