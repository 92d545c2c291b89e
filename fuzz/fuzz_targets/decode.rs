//! Link and IP decoding, including the stateful IP fragment pool. Input: byte 0 picks the link
//! type, then records as `[len: u16 le][bytes]` until the input ends (the last record takes
//! whatever is left).
#![no_main]
use egressmap::capture::{LinkType, Packet};
use egressmap::decode::Decoder;
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 13] = [
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::PPP,
    LinkType::IEEE802_11,
    LinkType::IEEE802_11_RADIOTAP,
    LinkType::PPI,
    LinkType::FDDI,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(sel) % LINKS.len()];
    // Small pool so that eviction paths are reached.
    let mut dec = Decoder::new(if sel & 0x80 != 0 { 4096 } else { 1 << 20 });
    let mut ts = 0u64;
    while !rest.is_empty() {
        let (rec, tail) = match rest {
            [a, b, tail @ ..] => {
                let n = usize::from(u16::from_le_bytes([*a, *b])).min(tail.len());
                tail.split_at(n)
            }
            _ => (rest, &[][..]),
        };
        rest = tail;
        ts += 1_000_000;
        let pkt = Packet {
            ts,
            link,
            data: rec,
            orig_len: rec.len() as u32,
        };
        if let Ok(d) = dec.decode(&pkt) {
            assert!(d.vlans.as_slice().len() <= egressmap::decode::MAX_VLAN_TAGS);
        }
    }
});
