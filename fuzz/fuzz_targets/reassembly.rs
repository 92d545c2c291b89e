//! TCP reassembly against a model. Input: `[cap: u16][mode: u8][isn: u32]` then segments
//! `[seq delta: i16][len: u8][bytes]`. With a SYN-fixed base (mode bit 0) the model is exact:
//! byte i of the stream is the last byte inserted at offset i (a later copy overwrites), and
//! `contiguous()` must equal the model up to its first hole (clipped at the cap). Without a SYN
//! only the bounds are checked (the start may move back).
#![no_main]
use egressmap::flow::reassembly::Reassembler;
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
    while let [a, b, n, tail @ ..] = rest {
        let delta = i16::from_le_bytes([*a, *b]);
        let n = usize::from(*n).min(tail.len());
        let (seg, t) = tail.split_at(n);
        rest = t;
        let seq = base.wrapping_add(delta as i32 as u32);
        r.insert(seq, seg);
        for (j, &byte) in seg.iter().enumerate() {
            let off = i64::from(delta) + j as i64;
            if let Some(m) = usize::try_from(off).ok().and_then(|o| model.get_mut(o)) {
                *m = Some(byte);
            }
        }
        assert!(r.buffered() <= cap, "buffered {} > cap {cap}", r.buffered());
        assert!(r.contiguous().len() <= r.buffered());
        if fixed {
            let want: Vec<u8> = model.iter().map_while(|b| *b).collect();
            assert_eq!(r.contiguous(), &want[..]);
        }
    }
});
