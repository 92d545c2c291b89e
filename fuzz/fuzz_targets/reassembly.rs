//! TCP reassembly against a model. Input: `[cap: u16][mode: u8][isn: u32]` then segments
//! `[seq delta: i16][len: u8][bytes]`. With a SYN-fixed base (mode bit 0) and consistent
//! retransmissions (every copy of a byte equal), `contiguous()` must be a prefix of the model up
//! to its first hole (clipped at the cap): the reassembler may hold less (segments past a hole
//! are bounded, a hole left open gives up) but never different bytes. Inconsistent copies (which
//! copy wins is the reassembler's choice) and streams without a SYN are checked for bounds only.
#![no_main]
use egressmap::flow::reassembly::{Insert, Reassembler};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, mut rest)) = data.split_at_checked(7) else {
        return;
    };
    let cap = usize::from(u16::from_le_bytes([head[0], head[1]])) % 4096 + 1;
    let fixed = head[2] & 1 != 0;
    let isn = u32::from_le_bytes([head[3], head[4], head[5], head[6]]);
    let mut r = Reassembler::new(cap);
    let base = isn.wrapping_add(1);
    if fixed {
        r.set_isn(isn);
    }
    let mut model: Vec<Option<u8>> = vec![None; cap];
    let mut inconsistent = false;
    while let [a, b, n, tail @ ..] = rest {
        let delta = i16::from_le_bytes([*a, *b]);
        let n = usize::from(*n).min(tail.len());
        let (seg, t) = tail.split_at(n);
        rest = t;
        let seq = base.wrapping_add(delta as i32 as u32);
        let gave_up = r.insert(seq, seg) == Insert::Gap;
        for (j, &byte) in seg.iter().enumerate() {
            let off = i64::from(delta) + j as i64;
            if let Some(m) = usize::try_from(off).ok().and_then(|o| model.get_mut(o)) {
                inconsistent |= m.is_some_and(|old| old != byte);
                m.get_or_insert(byte);
            }
        }
        // Bytes held past a hole may overlap each other: at most 16 such segments, each within
        // the cap, besides the contiguous prefix.
        assert!(r.buffered() <= cap * 17, "buffered {} > 17 x cap {cap}", r.buffered());
        assert!(r.contiguous().len() <= r.buffered());
        if fixed && !inconsistent {
            let want: Vec<u8> = model.iter().map_while(|b| *b).collect();
            assert!(want.starts_with(r.contiguous()), "contiguous bytes differ from the stream");
        }
        if gave_up {
            // The engine stops inspecting such a flow.
            break;
        }
    }
});
